/// A fixed-size, 64-byte-aligned, zero-initialised array of trivial values that can be handed to
/// worker threads.
///
/// Training shares large numeric buffers between threads that each write a disjoint slice; Swift
/// arrays would copy on write and check exclusivity. This type is the one place that owns raw
/// memory: callers take a `view` (or, inside the package, the base pointer) and promise disjoint writes, which the phase structure of
/// the trainer guarantees (every write happens in a phase that owns the slice, every read after
/// the barrier that ends it).
public final class AlignedBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    public let count: Int
    /// Inside the package only: other code takes a bounds-checked `view`.
    @usableFromInline package let base: UnsafeMutablePointer<Element>
    /// Set when the memory belongs to someone else (a memory-mapped cache file), which this
    /// buffer keeps alive instead of freeing.
    private let owner: AnyObject?

    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Element>.stride
        let raw = Self.allocate(bytes: bytes)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        base = raw.bindMemory(to: Element.self, capacity: max(1, count))
        owner = nil
    }

    /// Large buffers (embedding tables, their moments) are read at random rows: with 4 KiB pages
    /// nearly every row access also misses the TLB and walks page tables that are themselves out
    /// of cache. They are placed on 2 MiB boundaries and asked for transparent huge pages, which
    /// cover them with a few hundred TLB entries instead of tens of thousands.
    private static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= MemoryAdvice.hugePageThreshold else {
            return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: cacheLineBytes)
        }
        let huge = MemoryAdvice.hugePageBytes
        let rounded = (bytes + huge - 1) / huge * huge
        let raw = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: huge)
        MemoryAdvice.preferHugePages(raw, byteCount: rounded)
        return raw
    }

    /// A view of `count` elements at `pointer`, valid as long as `owner` lives (which this keeps).
    public init(viewing pointer: UnsafeMutablePointer<Element>, count: Int, owner: AnyObject) {
        self.count = count
        base = pointer
        self.owner = owner
    }

    /// Memory left untouched, for workspace that is always written before it is read: its pages
    /// are then placed on the NUMA node of the thread that first writes them.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0)
        self.count = count
        let raw = Self.allocate(bytes: max(1, count) * MemoryLayout<Element>.stride)
        base = raw.bindMemory(to: Element.self, capacity: max(1, count))
        owner = nil
    }

    public convenience init(_ values: [Element]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let s = source.baseAddress { base.update(from: s, count: values.count) }
        }
    }

    deinit {
        if owner == nil { UnsafeMutableRawPointer(base).deallocate() }
    }

    @inlinable public subscript(index: Int) -> Element {
        get {
            assert(index >= 0 && index < count, "index \(index) outside 0..<\(count)")
            return base[index]
        }
        set {
            assert(index >= 0 && index < count, "index \(index) outside 0..<\(count)")
            base[index] = newValue
        }
    }

    /// Pointer and count, for loops that must not touch this class per element.
    @inlinable public var view: BufferView<Element> { BufferView(start: base, count: count) }

    @inlinable public func pointer(at offset: Int) -> UnsafeMutablePointer<Element> { base + offset }

    public var byteCount: Int { count * MemoryLayout<Element>.stride }

    public var array: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func copy(from other: AlignedBuffer<Element>) {
        precondition(other.count == count)
        base.update(from: other.base, count: count)
    }

    public func fill(_ value: Element) { base.update(repeating: value, count: count) }

    public func clone() -> AlignedBuffer<Element> {
        let c = AlignedBuffer<Element>(count: count)
        c.copy(from: self)
        return c
    }

    /// Whether this views a memory-mapped file.
    public var isMapped: Bool { owner is MappedFile }

    /// Gives the pages wholly inside elements `range` back to the kernel when this views a
    /// mapped file (they are read again from the file if touched later); nothing otherwise.
    public func releasePages(_ range: Range<Int>) {
        guard owner is MappedFile, !range.isEmpty else { return }
        let page = pageBytes
        let start = Int(bitPattern: UnsafeRawPointer(base + range.lowerBound))
        let end = Int(bitPattern: UnsafeRawPointer(base + range.upperBound))
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
        MemoryAdvice.dropPages(p, byteCount: last - first)
    }

    /// Byte-exact comparison: the determinism contract is about bits, not tolerances.
    public func bitwiseEqual(_ other: AlignedBuffer<Element>) -> Bool {
        count == other.count
            && memcmp(UnsafeRawPointer(base), UnsafeRawPointer(other.base), count * MemoryLayout<Element>.stride) == 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
