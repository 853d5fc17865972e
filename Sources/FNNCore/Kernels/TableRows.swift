/// A table's rows where the kernels read them: row r's embedding at `embedding + r * rowStride`,
/// its linear weight (FM's first-order term, or FNN's `embedding+linear` input) at
/// `linearWeights + r * linearStride`.
///
/// Why strides: a model's tensors and a sharded lookup's compact rows are dense (strides `width`
/// and 1), but training keeps a large table in fused row records (`RowRecords`), each row
/// beside its linear weight and optimizer state in consecutive cache lines, so the same kernels
/// read either without a copy.
public struct TableRows: BitwiseCopyable {
    public let embedding: UnsafePointer<Float>
    public let rowStride: Int
    public let linearWeights: UnsafePointer<Float>?
    public let linearStride: Int

    public init(embedding: UnsafePointer<Float>, rowStride: Int, linear: UnsafePointer<Float>?, linearStride: Int) {
        precondition(rowStride > 0 && (linear == nil || linearStride > 0))
        self.embedding = embedding
        self.rowStride = rowStride
        linearWeights = linear
        self.linearStride = linearStride
    }

    /// Dense tensors: rows of `width` floats, one linear weight per row.
    public init(embedding: UnsafePointer<Float>, width: Int, linear: UnsafePointer<Float>?) {
        self.init(embedding: embedding, rowStride: width, linear: linear, linearStride: 1)
    }

    public var hasLinear: Bool { linearWeights != nil }

    /// Whether these are dense tensors of `width`-float rows (linear weights, if any, one apart).
    @inlinable public func isDense(width: Int) -> Bool { rowStride == width && (linearWeights == nil || linearStride == 1) }

    /// The same rows with the dense strides written as the constants they are: in a kernel
    /// inlined at a call with a literal `width`, a row's address is then a shift of its index.
    @inlinable @inline(__always) public func dense(width: Int) -> TableRows {
        TableRows(unchecked: embedding, rowStride: width, linear: linearWeights, linearStride: 1)
    }

    @usableFromInline init(unchecked embedding: UnsafePointer<Float>, rowStride: Int, linear: UnsafePointer<Float>?, linearStride: Int) {
        self.embedding = embedding
        self.rowStride = rowStride
        linearWeights = linear
        self.linearStride = linearStride
    }

    @inlinable @inline(__always) public func row(_ r: Int) -> UnsafePointer<Float> { embedding + r * rowStride }

    /// Row r's linear weight; only where the table has them (the kernels that call it check once).
    @inlinable @inline(__always) public func linear(_ r: Int) -> Float { linearWeights.unsafelyUnwrapped[r * linearStride] }

    @inlinable @inline(__always) public func linearAddress(_ r: Int) -> UnsafePointer<Float> {
        linearWeights.unsafelyUnwrapped + r * linearStride
    }
}
