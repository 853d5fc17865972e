/// Rows of `width` elements, `stride` elements apart, in memory someone else owns: one field of
/// interleaved records (a table row inside a fused row record, a row's moments, its step record)
/// or a plain dense array (stride = width). It keeps the record arithmetic in one place, so
/// loops over either layout are the same code.
///
/// Like `BufferView`, a view does not keep its memory alive; debug builds check every row index.
@frozen
public struct StridedRows<Element: BitwiseCopyable>: BitwiseCopyable {
    @usableFromInline let start: UnsafeMutablePointer<Element>
    public let count: Int
    public let stride: Int

    @inlinable
    public init(start: UnsafeMutablePointer<Element>, count: Int, stride: Int) {
        precondition(count >= 0 && stride > 0)
        self.start = start
        self.count = count
        self.stride = stride
    }

    /// A dense buffer's elements taken `width` at a time.
    @inlinable
    public init(_ buffer: AlignedBuffer<Element>, width: Int) {
        precondition(width > 0 && buffer.count % width == 0)
        self.init(start: buffer.base, count: buffer.count / width, stride: width)
    }

    /// Row `r`'s first element.
    @inlinable
    public func row(_ r: Int) -> UnsafeMutablePointer<Element> {
        assert(r >= 0 && r < count, "row \(r) outside 0..<\(count)")
        return start + r * stride
    }

    /// The whole span as a raw pointer, for kernels that take the base and stride themselves.
    @inlinable public var base: UnsafeMutablePointer<Element> { start }
}
