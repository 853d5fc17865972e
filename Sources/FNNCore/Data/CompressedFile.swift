import CZlib
import CZstd
import FNNSystem

/// Data files compressed with gzip or zstd, recognised by their magic bytes (users name files as
/// they like) and decompressed as a stream: the readers need a plain file they can map and cut
/// into chunks, so callers decompress to a temporary file (`decompress(path:into:)`), or just a
/// prefix for format detection (`prefix(path:bytes:)`). Other compressions are named in the
/// error rather than parsed as text (which would print binary bytes as a "line").
public enum CompressedFile {
    public enum Kind: String, Sendable {
        case gzip, zstd
    }

    /// What a file's first bytes say about its compression.
    public enum Detected: Equatable, Sendable {
        case plain
        case compressed(Kind)
        /// A compression we do not read, by name (xz, bzip2, zip, lz4).
        case unsupported(String)
    }

    /// At most 6 bytes are looked at.
    public static func detect(prefix: [UInt8]) -> Detected {
        func starts(_ magic: [UInt8]) -> Bool { prefix.count >= magic.count && Array(prefix.prefix(magic.count)) == magic }
        if starts([0x1F, 0x8B]) { return .compressed(.gzip) }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .compressed(.zstd) }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .unsupported("xz") }
        if starts([0x42, 0x5A, 0x68]) { return .unsupported("bzip2") }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return .unsupported("zip") }
        if starts([0x04, 0x22, 0x4D, 0x18]) { return .unsupported("lz4") }
        return .plain
    }

    /// The compression of the file at `path` (its first bytes).
    public static func detect(path: String) throws(InputError) -> Detected {
        detect(prefix: try readFileBytes(path, limit: 8))
    }

    /// Decompresses the whole file into the open file descriptor `out`; returns the bytes written.
    public static func decompress(path: String, kind: Kind, into out: FileDescriptor) throws(InputError) -> Int {
        var written = 0
        try decompress(path: path, kind: kind) { (chunk: UnsafeRawBufferPointer) throws(InputError) -> Bool in
            do { try out.writeAll(chunk) } catch {
                throw InputError(path: path, "cannot write its decompressed copy: \(error)")
            }
            written += chunk.count
            return true
        }
        return written
    }

    /// The first `bytes` bytes of the decompressed content (fewer if it is shorter).
    public static func prefix(path: String, kind: Kind, bytes limit: Int) throws(InputError) -> [UInt8] {
        var result: [UInt8] = []
        try decompress(path: path, kind: kind) { (chunk: UnsafeRawBufferPointer) throws(InputError) -> Bool in
            result.append(contentsOf: chunk.prefix(limit - result.count))
            return result.count < limit
        }
        return result
    }

    /// Streams the decompressed content to `sink` a buffer at a time until the input ends or the
    /// sink returns false. Concatenated streams (pigz, bgzip, `cat a.gz b.gz`; several zstd
    /// frames) are read as one. A stream cut short or damaged is an error naming the file.
    static func decompress(path: String, kind: Kind,
                           sink: (UnsafeRawBufferPointer) throws(InputError) -> Bool) throws(InputError) {
        let file: FileDescriptor
        do { file = try .openForReading(path) } catch { throw InputError(path: path, "cannot open: \(error)") }
        defer { file.close() }
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { input.deallocate(); output.deallocate() }
        /// Reads the next compressed bytes; 0 at the end of the file.
        func refill() throws(InputError) -> Int {
            do { return try file.read(into: input) } catch { throw InputError(path: path, "cannot read: \(error)") }
        }
        switch kind {
        case .gzip: try inflateGzip(path: path, input: input, output: output, refill: refill, sink: sink)
        case .zstd: try decompressZstd(path: path, input: input, output: output, refill: refill, sink: sink)
        }
    }

    private static func inflateGzip(path: String, input: UnsafeMutableRawBufferPointer, output: UnsafeMutableRawBufferPointer,
                                    refill: () throws(InputError) -> Int,
                                    sink: (UnsafeRawBufferPointer) throws(InputError) -> Bool) throws(InputError) {
        var stream = z_stream()
        guard fnnpar_inflate_init_gzip(&stream) == Z_OK else { throw InputError(path: path, "cannot start gzip decompression (zlib)") }
        defer { inflateEnd(&stream) }
        var atStreamEnd = false
        var sawInput = false
        var inputEnded = false
        while true {
            if stream.avail_in == 0 && !inputEnded {
                let n = try refill()
                if n == 0 {
                    inputEnded = true
                } else {
                    sawInput = true
                    stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = uInt(n)
                }
            }
            if atStreamEnd {
                if stream.avail_in == 0 {
                    if inputEnded { break }
                    continue
                }
                // Another gzip member follows the one that ended.
                guard inflateReset(&stream) == Z_OK else { throw InputError(path: path, "cannot continue gzip decompression (zlib)") }
                atStreamEnd = false
            }
            stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(output.count)
            let status = inflate(&stream, Z_NO_FLUSH)
            let produced = output.count - Int(stream.avail_out)
            if produced > 0, try !sink(UnsafeRawBufferPointer(rebasing: output[0..<produced])) { return }
            switch status {
            case Z_STREAM_END: atStreamEnd = true
            case Z_OK: break
            case Z_BUF_ERROR:
                // No progress was possible: with the input at its end, the stream is cut short.
                if inputEnded && produced == 0 { break }
            default:
                let detail = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw InputError(path: path, "is damaged gzip data (\(detail))")
            }
            if status == Z_BUF_ERROR && inputEnded && produced == 0 { break }
        }
        guard sawInput, atStreamEnd else { throw InputError(path: path, "is gzip data cut short (the stream does not end): a truncated or partly copied file") }
    }

    private static func decompressZstd(path: String, input: UnsafeMutableRawBufferPointer, output: UnsafeMutableRawBufferPointer,
                                       refill: () throws(InputError) -> Int,
                                       sink: (UnsafeRawBufferPointer) throws(InputError) -> Bool) throws(InputError) {
        guard let context = ZSTD_createDCtx() else { throw InputError(path: path, "cannot start zstd decompression") }
        defer { ZSTD_freeDCtx(context) }
        var pending = 0  // zstd's hint: 0 once a frame is complete
        var sawInput = false
        while true {
            let n = try refill()
            if n == 0 { break }
            sawInput = true
            var source = ZSTD_inBuffer(src: input.baseAddress, size: n, pos: 0)
            // Until the input is consumed and nothing is left buffered inside zstd.
            repeat {
                var target = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
                let result = ZSTD_decompressStream(context, &target, &source)
                if ZSTD_isError(result) != 0 {
                    throw InputError(path: path, "is damaged zstd data (\(String(cString: ZSTD_getErrorName(result))))")
                }
                pending = result
                if target.pos > 0, try !sink(UnsafeRawBufferPointer(rebasing: output[0..<target.pos])) { return }
                if source.pos == source.size && target.pos < target.size { break }
            } while true
        }
        guard sawInput, pending == 0 else { throw InputError(path: path, "is zstd data cut short (the last frame does not end): a truncated or partly copied file") }
    }
}
