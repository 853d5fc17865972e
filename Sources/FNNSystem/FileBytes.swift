#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file with POSIX calls: one allocation, no String or Data conversion, and an error
/// that names the file and the system's reason.
/// `limit`: read at most that many bytes from the start (format detection needs only a sample, and
/// the file may be larger than memory).
public func readFileBytes(_ path: String, limit: Int = Int.max) throws(InputError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw InputError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) != 0 { throw InputError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError(path: path, "is a directory, not a data file") }
    // A device or pipe may never end (/dev/zero): read whole, it would take all memory. Data
    // from one is copied to a file first (the CLI's PlainInputs); models and maps must be files.
    if (info.st_mode & S_IFMT) != S_IFREG && limit == Int.max {
        throw InputError(path: path, "is not a regular file (a device, pipe or socket); give a file")
    }
    var capacity = min(max(Int(info.st_size), 0), limit) + 1
    var bytes = [UInt8](repeating: 0, count: capacity)
    var used = 0
    while true {
        if used >= limit { break }
        if used == capacity {
            capacity *= 2
            bytes.append(contentsOf: repeatElement(0, count: capacity - used))
        }
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, min(capacity, limit) - used) }
        if n < 0 {
            if errno == EINTR { continue }
            throw InputError(path: path, "cannot read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        used += n
    }
    bytes.removeSubrange(used...)
    return bytes
}
