#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only (private copy-on-write), unmapped when the last buffer viewing it
/// goes away. Lets a cached data set be used without reading it: pages come in as training
/// touches them, and the kernel may drop them again under memory pressure.
public final class MappedFile: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let size: Int

    public init(path: String) throws(InputError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw InputError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { throw InputError(path: path, "cannot map an empty or unreadable file") }
        size = Int(info.st_size)
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw InputError(path: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = p
    }

    deinit { munmap(base, size) }

    /// Hands back the pages wholly inside bytes `range` (read again from the file if touched).
    public func releasePages(_ range: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (range.lowerBound + page - 1) / page * page, last = min(range.upperBound, size) / page * page
        guard last > first else { return }
        MemoryAdvice.dropPages(base + first, byteCount: last - first)
    }
}
