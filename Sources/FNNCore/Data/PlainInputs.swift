import FNNExecution
import FNNSystem
import Foundation

/// The data files a command names, as plain files the readers can map and cut into chunks:
/// `-` (standard input: a pipe from zcat, a query, another tool) is copied once, a megabyte at a
/// time, to a temporary file, and a gzip or zstd file (recognised by its magic bytes, also on
/// standard input) is decompressed to one. Copies are made when first asked for, so a run whose
/// binary cache is current never decompresses its data, and removed when the command's work is
/// done (a mapping made from one stays valid). Errors from reading a copy name the file the user
/// gave, with the line in its decompressed text.
public final class PlainInputs {
    /// Receives a line per copy made (what was read, how large, where it is kept).
    private let note: (String) -> Void
    /// Given path -> its plain copy.
    private var copies: [String: String] = [:]

    public init(note: @escaping (String) -> Void) { self.note = note }

    deinit { for copy in copies.values { removeFile(copy) } }

    /// Standard input, and a pipe, device or socket named as data (read once, it is gone: format
    /// detection would consume what parsing then misses), is copied to a file first.
    static func isStream(_ path: String) -> Bool { path == "-" || isPipeOrDevice(path) }

    /// How `path` reads: plain, or compressed (a copy is needed).
    public func compression(of path: String) throws(InputError) -> CompressedFile.Kind? {
        if Self.isStream(path) { _ = try readable(path); return nil }
        switch try CompressedFile.detect(path: path) {
        case .plain: return nil
        case .compressed(let kind): return kind
        case .unsupported(let name): throw unsupported(name, path: path)
        }
    }

    private func unsupported(_ name: String, path: String) -> InputError {
        let tool = ["zip": "unzip -p", "bzip2": "bzcat", "xz": "xzcat"][name] ?? "lz4cat"
        return InputError(path: self.name(of: path), "is \(name)-compressed, which fnn-par does not read; gzip and zstd files are read directly (or decompress it: \(tool) FILE | fnn-par ... --data -)")
    }

    /// The data's format by content: from the decompressed first megabyte of a compressed file
    /// (no copy is made for that), else from the file itself.
    public func detectFormat(of path: String) throws(InputError) -> DataFormat {
        if let kind = try compression(of: path) {
            if let copy = copies[path] { return try FNNCore.detectFormat(path: copy) }
            let prefix = try CompressedFile.prefix(path: path, kind: kind, bytes: 1 << 20)
            return try FNNCore.detectFormat(prefix: prefix, path: path)
        }
        return try FNNCore.detectFormat(path: try readable(path))
    }

    /// A plain file with `path`'s content: `path` itself when it is one.
    public func readable(_ path: String) throws(InputError) -> String {
        if let copy = copies[path] { return copy }
        var source = path
        if Self.isStream(path) {
            source = try saveStream(path)
            copies[path] = source
        }
        let kind: CompressedFile.Kind
        switch try CompressedFile.detect(path: source) {
        case .plain: return source
        case .unsupported(let name): throw unsupported(name, path: path)
        case .compressed(let compression): kind = compression
        }
        let (file, copy) = try temporaryFile(for: path)
        defer { file.close() }
        copies[path] = copy
        let start = PhaseProfile.now()
        let bytes: Int
        do {
            bytes = try CompressedFile.decompress(path: source, kind: kind, into: file)
        } catch {
            throw InputError(path: name(of: path), line: error.line, error.message)
        }
        if source != path { removeFile(source) }
        note(String(format: "decompressed %@ (%@) to %.1f MB in %.2f s, kept in %@ while it is read",
                       path == "-" ? "standard input" : path, kind.rawValue, Double(bytes) / 1e6, PhaseProfile.now() - start, copy))
        return copy
    }

    /// The error with the path the user gave in place of a copy's.
    public func displayed(_ error: InputError) -> InputError {
        guard let (given, _) = copies.first(where: { $0.value == error.path }) else { return error }
        return InputError(path: given == "-" ? "standard input" : given, line: error.line, error.message)
    }

    /// The name a data set read from `path` should carry.
    public func name(of path: String) -> String { path == "-" ? "standard input" : path }

    private func temporaryFile(for path: String) throws(InputError) -> (FileDescriptor, String) {
        let directory = temporaryFilesDirectory
        do { return try FileDescriptor.makeTemporary(prefix: "\(directory)/fnn-par-input-") } catch {
            throw InputError(path: name(of: path), "cannot make a temporary copy in \(directory): \(error) (set TMPDIR to a writable directory)")
        }
    }

    /// Copies standard input, or the stream at `path`, to a temporary file. The first megabyte
    /// must look like data (compressed, fnn-par binary, or text), so a stream that never ends and
    /// never was data (/dev/zero, /dev/urandom) stops there.
    private func saveStream(_ path: String) throws(InputError) -> String {
        let (file, temporary) = try temporaryFile(for: path)
        var keep = false
        let shown = name(of: path)
        let input: FileDescriptor
        do { input = path == "-" ? .standardInput : try .open(path, O_RDONLY) } catch {
            file.close(); removeFile(temporary)
            throw InputError(path: shown, "cannot open: \(error)")
        }
        defer {
            file.close()
            if input != .standardInput { input.close() }
            if !keep { removeFile(temporary) }
        }
        var start: [UInt8] = []
        var checked = false
        func check() throws(InputError) {
            checked = true
            if case .compressed = CompressedFile.detect(prefix: start) { return }
            if DatasetCache.isDataFile(prefix: start) { return }
            do { try refuseBinaryContent(prefix: start, path: shown) } catch {
                throw InputError(path: shown, line: error.line, error.message + " (read as a stream: its first megabyte is not data)")
            }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n: Int
            do { n = try input.read(into: &buffer, range: 0..<buffer.count) } catch {
                throw InputError(path: shown, "cannot read: \(error)")
            }
            if n == 0 { break }
            if !checked {
                start += buffer.prefix(min(n, (1 << 20) - start.count))
                if start.count == 1 << 20 { try check() }
            }
            do { try file.writeAll(buffer, range: 0..<n) } catch {
                throw InputError(path: shown, "cannot save it to \(temporary): \(error)")
            }
            total += n
        }
        guard total > 0 else { throw InputError(path: shown, "is empty\(path == "-" ? " (--data -)" : ""): no data rows") }
        if !checked { try check() }
        note(String(format: "read %.1f MB from %@ (kept in %@ while it is read)", Double(total) / 1e6, shown, temporary))
        keep = true
        return temporary
    }
}
