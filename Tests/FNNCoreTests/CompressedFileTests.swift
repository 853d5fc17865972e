import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

/// gzip and zstd data files: recognised by magic bytes, decompressed as streams (concatenated
/// members and frames included), and refused with the file's name when cut short or damaged.
@Suite struct CompressedFileTests {
    /// Runs `tool` (gzip, zstd) on `input`, writing its standard output to `output`.
    func compress(_ tool: String, _ arguments: [String], input: String, output: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments + ["-c", input]
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(tool) failed")
    }

    func decompressed(_ path: String, _ kind: CompressedFile.Kind) throws -> [UInt8] {
        let copy = path + ".out"
        _ = FileManager.default.createFile(atPath: copy, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy))
        let written = try CompressedFile.decompress(path: path, kind: kind, into: FileDescriptor(rawValue: handle.fileDescriptor))
        try handle.close()
        let bytes = try readFileBytes(copy)
        #expect(written == bytes.count)
        return bytes
    }

    /// Text large enough for several output buffers of the decompressor (4 MiB each).
    static let text: [UInt8] = {
        var rng = Xoshiro256(seed: 3)
        var lines = ""
        for i in 0..<400_000 { lines += "\(i % 2)\t\(rng.nextInt(below: 100_000))\t\(rng.nextInt(below: 977))\n" }
        return Array(lines.utf8)
    }()

    @Test(arguments: [("gzip", CompressedFile.Kind.gzip), ("zstd", .zstd)])
    func roundTripsAndConcatenations(tool: String, kind: CompressedFile.Kind) throws {
        let dir = temporaryDirectory()
        let plain = dir + "/data.tsv"
        _ = FileManager.default.createFile(atPath: plain, contents: Data(Self.text))
        let packed = dir + "/data.z"
        try compress(tool, ["-q"], input: plain, output: packed)
        #expect(try CompressedFile.detect(path: packed) == .compressed(kind))
        #expect(try CompressedFile.detect(path: plain) == .plain)
        let whole = try decompressed(packed, kind)
        #expect(whole == Self.text)
        let start = try CompressedFile.prefix(path: packed, kind: kind, bytes: 1000)
        #expect(start == Array(Self.text.prefix(1000)))
        // Two streams one after the other (pigz, bgzip, cat a.gz b.gz; several zstd frames) read as one.
        let twice = dir + "/twice.z"
        let bytes = try readFileBytes(packed)
        _ = FileManager.default.createFile(atPath: twice, contents: Data(bytes + bytes))
        let both = try decompressed(twice, kind)
        #expect(both == Self.text + Self.text)
        // Cut short, or damaged in the middle: an error naming the file, never a silent short read.
        let cut = dir + "/cut.z"
        _ = FileManager.default.createFile(atPath: cut, contents: Data(bytes.prefix(bytes.count / 2)))
        let short = #expect(throws: InputError.self) { try decompressed(cut, kind) }
        #expect(short?.path == cut && short?.message.contains("cut short") == true)
        var damaged = bytes
        for i in stride(from: 200, to: min(damaged.count - 20, 5000), by: 7) { damaged[i] ^= 0x5A }
        let bad = dir + "/bad.z"
        _ = FileManager.default.createFile(atPath: bad, contents: Data(damaged))
        let broken = #expect(throws: InputError.self) { try decompressed(bad, kind) }
        #expect(broken?.path == bad && broken?.message.contains("damaged") == true)
    }

    @Test func otherCompressionsAreNamed() {
        #expect(CompressedFile.detect(prefix: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1]) == .unsupported("xz"))
        #expect(CompressedFile.detect(prefix: Array("BZh91AY".utf8)) == .unsupported("bzip2"))
        #expect(CompressedFile.detect(prefix: [0x50, 0x4B, 0x03, 0x04]) == .unsupported("zip"))
        #expect(CompressedFile.detect(prefix: Array("1\t2\t3\n".utf8)) == .plain)
        #expect(CompressedFile.detect(prefix: [0x1F]) == .plain)
    }
}
