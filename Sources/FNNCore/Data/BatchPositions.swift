import FNNSystem

/// A batch's examples as positions: the table row each (example, field) reads, and its value.
/// The gather that fills it is the one step between the data's layout and the kernels: the
/// forward pass, the gradients, the row grouping and the table update all read positions, never
/// examples. Today every field is one-hot (one id per field per row, value 1), so an example has
/// exactly `fieldCount` positions at `i * fieldCount` and `values` is nil; multi-hot and
/// real-valued fields change this type and its gather (per-example position ranges, a value per
/// position), not the data-parallel machinery around it.
public final class BatchPositions: @unchecked Sendable {
    public let fieldCount: Int
    /// Examples the batch may hold.
    public let capacity: Int
    /// Global table row of each position, example-major.
    public let rows: AlignedBuffer<UInt32>
    /// Each position's value; nil while every field is one-hot (value 1).
    public let values: AlignedBuffer<Float>? = nil
    /// Field f's first global row (the model's field offsets, as pytorch-fm's `offsets`).
    private let offsets: AlignedBuffer<Int>

    public init(fieldOffsets: [Int], capacity: Int) {
        fieldCount = fieldOffsets.count
        self.capacity = capacity
        rows = AlignedBuffer(count: capacity * fieldOffsets.count)
        offsets = AlignedBuffer(fieldOffsets)
    }

    /// Positions per example (uniform while fields are one-hot).
    public var positionsPerExample: Int { fieldCount }

    /// The first position of example `i` of the batch.
    @inline(__always) public func firstPosition(ofExample i: Int) -> Int { i * fieldCount }

    /// The rows of the positions from example `i` on.
    @inline(__always) public func rows(fromExample i: Int) -> UnsafeMutablePointer<UInt32> {
        rows.base + firstPosition(ofExample: i)
    }

    /// The workspace it adds to an engine (the field offsets are a few bytes, counted with the model).
    public var byteCount: Int { rows.byteCount }

    /// The gather for batch examples `range` (a slice): `examples` are the data's row numbers of
    /// the whole batch; with `batchLabels`, their labels are gathered too.
    @inline(__always)
    public func gather(from data: Dataset, examples: UnsafePointer<Int>, range: Range<Int>,
                       batchLabels: UnsafeMutablePointer<Float>? = nil) {
        EmbeddingKernels.tableRows(ids: data.ids.base, examples: examples + range.lowerBound, rows: range.count,
                                   fieldCount: fieldCount, offsets: offsets.base, rowIds: rows(fromExample: range.lowerBound),
                                   labels: batchLabels == nil ? nil : data.labels.base,
                                   batchLabels: batchLabels.map { $0 + range.lowerBound })
    }
}
