import CMappingFaults

#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only (private copy-on-write), unmapped when the last buffer viewing it
/// goes away. Lets a cached data set be used without reading it: pages come in as training
/// touches them, and the kernel may drop them again under memory pressure.
public final class MappedFile: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let size: Int
    /// The fault table's slot for this mapping (see `CMappingFaults`), -1 if none.
    private let faultSlot: Int32

    public init(path: String) throws(InputError) {
        let file: FileDescriptor
        do { file = try .open(path, O_RDONLY) } catch { throw InputError(path: path, "cannot open: \(error)") }
        defer { file.close() }
        guard let info = try? file.status(), info.size > 0 else { throw InputError(path: path, "cannot map an empty or unreadable file") }
        size = info.size
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.rawValue, 0), p != MAP_FAILED else {
            throw InputError(path: path, "cannot map: \(SystemError.current)")
        }
        base = p
        // Truncated or rewritten while mapped, the file's vanished pages fault when touched: the
        // run then stops with this message rather than a crash.
        fnnpar_install_mapping_fault_handler()
        faultSlot = fnnpar_register_mapping(
            p, size, "fnn-par: \(path) changed while it was being read (truncated or rewritten under the run; a data or cache file must stay as it is while fnn-par uses it); stopping")
    }

    deinit {
        fnnpar_unregister_mapping(faultSlot)
        munmap(base, size)
    }

    /// Hands back the pages wholly inside bytes `range` (read again from the file if touched).
    public func releasePages(_ range: Range<Int>) {
        let page = pageBytes
        let first = (range.lowerBound + page - 1) / page * page, last = min(range.upperBound, size) / page * page
        guard last > first else { return }
        MemoryAdvice.dropPages(base + first, byteCount: last - first)
    }
}
