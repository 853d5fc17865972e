/// A buffer's memory as loops take it: pointer and count, copied by value. `AlignedBuffer` is a
/// class, so touching it inside a per-row loop costs a reference-count retain and release, and
/// with several workers those atomic counts on shared objects bounce their cache line between
/// cores (they doubled the FM update's time at two threads). Hot loops take a view once, outside
/// the loop, and index it; debug builds check every index against the count, release builds
/// compile the checks away.
///
/// A view does not keep its buffer alive: it is valid while the buffer it came from is (every
/// use here is inside a phase whose owner holds the buffer).
@frozen
public struct BufferView<Element: BitwiseCopyable>: BitwiseCopyable {
    @usableFromInline let start: UnsafeMutablePointer<Element>
    public let count: Int

    @inlinable
    public init(start: UnsafeMutablePointer<Element>, count: Int) {
        self.start = start
        self.count = count
    }

    @inlinable
    public subscript(index: Int) -> Element {
        get {
            assert(index >= 0 && index < count, "index \(index) outside 0..<\(count)")
            return start[index]
        }
        nonmutating set {
            assert(index >= 0 && index < count, "index \(index) outside 0..<\(count)")
            start[index] = newValue
        }
    }

    /// The address of element `offset`, for kernels that take `length` elements from there.
    @inlinable
    public func pointer(at offset: Int, length: Int = 1) -> UnsafeMutablePointer<Element> {
        assert(offset >= 0 && length >= 0 && offset + length <= count, "elements \(offset)..<\(offset + length) outside 0..<\(count)")
        return start + offset
    }
}
