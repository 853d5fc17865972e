#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct FileWriteError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// Writes to a temporary name beside `path`, fsyncs, then renames over it, so a reader (or a
/// crash) never sees a half-written file.
public func writeFileAtomically(path: String, bytes: [UInt8]) throws {
    let temporary = "\(path).tmp-\(getpid())"
    func fail(_ what: String) -> FileWriteError {
        FileWriteError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { throw fail("cannot create \(temporary)") }
    var written = 0
    let ok: Bool = bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 { if errno == EINTR { continue }; return false }
            written += n
        }
        return true
    }
    if !ok || fsync(fd) != 0 {
        let error = fail("cannot write")
        close(fd); unlink(temporary)
        throw error
    }
    close(fd)
    if rename(temporary, path) != 0 {
        let error = fail("cannot rename \(temporary) into place")
        unlink(temporary)
        throw error
    }
}
