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
    let file: FileDescriptor
    do { file = try .open(path, O_RDONLY) } catch { throw InputError(path: path, "cannot open: \(error)") }
    defer { file.close() }
    let info: FileStatus
    do { info = try file.status() } catch { throw InputError(path: path, "cannot stat: \(error)") }
    if info.kind == .directory { throw InputError(path: path, "is a directory, not a data file") }
    // A device or pipe may never end (/dev/zero): read whole, it would take all memory. Data
    // from one is copied to a file first (PlainInputs); models and maps must be files.
    if info.kind != .regular && limit == Int.max {
        throw InputError(path: path, "is not a regular file (a device, pipe or socket); give a file")
    }
    var capacity = min(max(info.size, 0), limit) + 1
    var bytes = [UInt8](repeating: 0, count: capacity)
    var used = 0
    while true {
        if used >= limit { break }
        if used == capacity {
            capacity *= 2
            bytes.append(contentsOf: repeatElement(0, count: capacity - used))
        }
        let n: Int
        do {
            n = try file.read(into: &bytes, range: used..<min(capacity, limit))
        } catch { throw InputError(path: path, "cannot read: \(error)") }
        if n == 0 { break }
        used += n
    }
    bytes.removeSubrange(used...)
    return bytes
}
