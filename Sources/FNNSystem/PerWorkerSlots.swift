/// One slot per worker, each on its own cache lines: per-thread counters, futex words, claim
/// blocks and version stamps that one thread writes while others write theirs. Two writers on
/// one cache line would make the line bounce between their cores (false sharing), which costs
/// more than the padding. Slots start zeroed; the memory lives as long as this object.
public final class PerWorkerSlots<Element: BitwiseCopyable>: @unchecked Sendable {
    public let count: Int
    /// Bytes from one slot to the next: the element rounded up to whole cache lines.
    public let slotBytes: Int
    private let memory: UnsafeMutableRawPointer

    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        slotBytes = (MemoryLayout<Element>.stride + cacheLineBytes - 1) / cacheLineBytes * cacheLineBytes
        let bytes = max(1, count) * slotBytes
        memory = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: cacheLineBytes)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit { memory.deallocate() }

    /// Slot `index`'s element, for the one thread that owns it (or atomics that share it).
    @inline(__always)
    public func slot(_ index: Int) -> UnsafeMutablePointer<Element> {
        assert(index >= 0 && index < count, "slot \(index) outside 0..<\(count)")
        return (memory + index * slotBytes).assumingMemoryBound(to: Element.self)
    }

    /// The slots as a value, for code that runs on every worker: reaching them through this
    /// class would retain and release it on each access, an atomic count whose cache line then
    /// bounces between the workers' cores. Valid while this object lives.
    public var view: View { View(memory: memory, slotBytes: slotBytes, count: count) }

    @frozen
    public struct View: BitwiseCopyable {
        @usableFromInline let memory: UnsafeMutableRawPointer
        @usableFromInline let slotBytes: Int
        public let count: Int

        @usableFromInline init(memory: UnsafeMutableRawPointer, slotBytes: Int, count: Int) {
            self.memory = memory
            self.slotBytes = slotBytes
            self.count = count
        }

        @inlinable
        public func slot(_ index: Int) -> UnsafeMutablePointer<Element> {
            assert(index >= 0 && index < count, "slot \(index) outside 0..<\(count)")
            return (memory + index * slotBytes).assumingMemoryBound(to: Element.self)
        }

        @inlinable
        public subscript(index: Int) -> Element {
            get { slot(index).pointee }
            nonmutating set { slot(index).pointee = newValue }
        }
    }

    @inline(__always)
    public subscript(index: Int) -> Element {
        get { slot(index).pointee }
        set { slot(index).pointee = newValue }
    }
}
