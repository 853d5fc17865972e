#if canImport(Glibc)
import Glibc
#endif

/// The `madvise` hints the trainer gives the kernel, each wrapped once. Hints only: a kernel that
/// declines one (huge pages disabled, an old kernel) leaves the memory working as before.
enum MemoryAdvice {
    static let hugePageBytes = 2 << 20
    /// Smaller buffers fit the TLB anyway and would waste much of a 2 MiB page; at 4 MiB the
    /// rounding wastes at most a third. (At 8 MiB, ML-1M's 8.0 MB id array, read at random rows
    /// every step, stayed on 4 KiB pages.)
    static let hugePageThreshold = 4 << 20

    /// Asks for transparent huge pages (honoured when THP is "always" or "madvise").
    static func preferHugePages(_ address: UnsafeMutableRawPointer, byteCount: Int) {
        #if os(Linux)
        _ = madvise(address, byteCount, MADV_HUGEPAGE)
        #endif
    }

    /// Hands file-backed pages back to the kernel; they are read again from the file if touched.
    static func dropPages(_ address: UnsafeMutableRawPointer, byteCount: Int) {
        _ = madvise(address, byteCount, MADV_DONTNEED)
    }
}
