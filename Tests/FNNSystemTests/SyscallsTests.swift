import FNNSystem
import Foundation
import Testing

@Suite struct SyscallsTests {
    /// A temporary file written in pieces reads back whole, at offsets too; its status says what
    /// it is; removing it makes opening fail with the system's own reason.
    @Test func fileDescriptorRoundTrip() throws {
        let (file, path) = try FileDescriptor.makeTemporary(prefix: temporaryFilesDirectory + "/fnn-par-syscalls-")
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try file.writeAll(bytes, range: 0..<60_000)
        try file.writeAll(bytes, range: 60_000..<100_000)
        try file.synchronize()
        file.close()
        let status = try FileStatus.of(path)
        #expect(status.kind == .regular && status.size == bytes.count)
        #expect(isRegularFile(path) && !isPipeOrDevice(path) && sameFile(path, path))
        let input = try FileDescriptor.open(path, O_RDONLY)
        var back = [UInt8](repeating: 0, count: bytes.count)
        var done = 0
        while done < back.count {
            let n = try input.read(into: &back, range: done..<back.count)
            if n == 0 { break }
            done += n
        }
        #expect(done == bytes.count && back == bytes)
        var tail = [UInt8](repeating: 0, count: 10)
        #expect(try input.read(into: &tail, range: 0..<10, at: 99_995) == 5)
        #expect(Array(tail.prefix(5)) == Array(bytes.suffix(5)))
        input.close()
        #expect(removeFile(path))
        #expect(throws: SystemError(code: ENOENT)) { try FileDescriptor.open(path, O_RDONLY) }
        #expect(SystemError(code: ENOENT).description == "No such file or directory")
    }

    /// Devices are streams, directories are directories; a missing path is neither.
    @Test func fileKinds() throws {
        #expect(try FileStatus.of("/dev/null").kind == .stream)
        #expect(isPipeOrDevice("/dev/null") && !isRegularFile("/dev/null"))
        #expect(try FileStatus.of("/").kind == .directory)
        #expect(!isRegularFile("/no/such/file") && !isPipeOrDevice("/no/such/file"))
        #expect(!sameFile("/", "/dev/null"))
    }
}
