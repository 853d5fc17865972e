import FNNSystem

/// A batch's examples as positions: the table row each (example, id) reads, and its value.
/// The gather that fills it is the one step between the data's layout and the kernels: the
/// forward pass, the gradients, the row grouping and the table update all read positions, never
/// examples.
///
/// Example i owns positions `i * stride ..< i * stride + count(i)`. One-hot data has exactly
/// `fieldCount` positions per example, value 1, and no per-position arrays (the fast path:
/// `values`, `fields` and `counts` are nil). Variable data (multi-hot, numeric) reserves the
/// schema's `positionsPerExample` per example and records each position's value (the data's value,
/// divided by the field's id count for a mean-pooled field), field and the example's count; a
/// reserved position past the count is never read.
public final class BatchPositions: @unchecked Sendable {
    public let fieldCount: Int
    /// Positions reserved per example.
    public let stride: Int
    /// Examples the batch may hold.
    public let capacity: Int
    /// Global table row of each position, example-major.
    public let rows: AlignedBuffer<UInt32>
    /// Variable data only: each position's value, with mean pooling applied.
    public let values: AlignedBuffer<Float>?
    /// Variable data only: each position's field.
    public let fields: AlignedBuffer<UInt32>?
    /// Variable data only: each example's position count.
    public let counts: AlignedBuffer<Int32>?
    /// Field f's first global row (the model's field offsets, as pytorch-fm's `offsets`).
    private let offsets: AlignedBuffer<Int>
    /// Variable data only: per field, 1 when mean-pooled.
    private let meanPooled: AlignedBuffer<UInt8>?
    /// Variable data whose runs repeat: the rows as run indices (see `InternedRows`), gathered
    /// from instead of the entries when the gather's data is the one they were built from.
    public let interned: InternedRows?

    /// `schema`: the data's, when its rows are variable (nil: one-hot rows). `interned`: those
    /// rows re-expressed as run indices, for the gather.
    public init(fieldOffsets: [Int], capacity: Int, schema: FieldSchema? = nil, interned: InternedRows? = nil) {
        precondition(interned == nil || (schema != nil && interned!.fieldCount == fieldOffsets.count))
        self.interned = interned
        fieldCount = fieldOffsets.count
        self.capacity = capacity
        offsets = AlignedBuffer(fieldOffsets)
        if let schema {
            precondition(schema.count == fieldOffsets.count)
            stride = schema.positionsPerExample
            values = AlignedBuffer(count: capacity * stride)
            fields = AlignedBuffer(count: capacity * stride)
            counts = AlignedBuffer(count: capacity)
            meanPooled = AlignedBuffer(schema.meanPooled.map { $0 ? 1 : 0 })
        } else {
            stride = fieldOffsets.count
            values = nil
            fields = nil
            counts = nil
            meanPooled = nil
        }
        rows = AlignedBuffer(count: capacity * stride)
    }

    /// The positions of `data`'s examples for a model with `fieldOffsets`. `interning`: variable
    /// rows are interned (`InternedRows.build`) where that pays; off, the gather always reads the
    /// entries (for tests that compare the two).
    public convenience init(fieldOffsets: [Int], capacity: Int, for data: Dataset, interning: Bool = true) {
        let interned = interning ? data.variable.flatMap { InternedRows.build(from: $0, fieldCount: fieldOffsets.count) } : nil
        self.init(fieldOffsets: fieldOffsets, capacity: capacity, schema: data.variable == nil ? nil : data.schema,
                  interned: interned)
    }

    public var isVariable: Bool { counts != nil }

    /// Positions reserved per example (`fieldCount` while fields are one-hot).
    public var positionsPerExample: Int { stride }

    /// The first position of example `i` of the batch.
    @inline(__always) public func firstPosition(ofExample i: Int) -> Int { i * stride }

    /// The rows of the positions from example `i` on.
    @inline(__always) public func rows(fromExample i: Int) -> UnsafeMutablePointer<UInt32> {
        rows.base + firstPosition(ofExample: i)
    }

    /// The workspace it adds to an engine (the field offsets are a few bytes, counted with the model).
    public var byteCount: Int {
        rows.byteCount + (values?.byteCount ?? 0) + (fields?.byteCount ?? 0) + (counts?.byteCount ?? 0)
            + (interned?.byteCount ?? 0)
    }

    /// The variable layout of the first `examples` examples, for kernels and the row grouping;
    /// nil for one-hot positions.
    public func variableLayout(examples: Int) -> VariablePositions? {
        guard let values, let fields, let counts else { return nil }
        return VariablePositions(stride: stride, examples: examples, counts: counts.base, values: values.base,
                                 fields: fields.base)
    }

    /// The gather for batch examples `range` (a slice): `examples` are the data's row numbers of
    /// the whole batch; with `batchLabels`, their labels are gathered too.
    @inline(__always)
    public func gather(from data: Dataset, examples: UnsafePointer<Int>, range: Range<Int>,
                       batchLabels: UnsafeMutablePointer<Float>? = nil) {
        if let variable = data.variable, let values, let fields, let counts, let meanPooled {
            if let interned, interned.isBuilt(from: variable) {
                EmbeddingKernels.internedTableRows(
                    runIndices: interned.runIndices.base, fieldCount: fieldCount,
                    entries: interned.entries.base, direct: interned.direct.base, examples: examples + range.lowerBound,
                    rows: range.count, stride: stride,
                    offsets: offsets.base, meanPooled: meanPooled.base, rowIds: rows(fromExample: range.lowerBound),
                    positionValues: values.base + firstPosition(ofExample: range.lowerBound),
                    positionFields: fields.base + firstPosition(ofExample: range.lowerBound),
                    counts: counts.base + range.lowerBound,
                    labels: batchLabels == nil ? nil : data.labels.base, batchLabels: batchLabels.map { $0 + range.lowerBound })
                return
            }
            EmbeddingKernels.variableTableRows(
                starts: variable.starts.base, entries: variable.table.base,
                examples: examples + range.lowerBound, rows: range.count, stride: stride, offsets: offsets.base,
                meanPooled: meanPooled.base, rowIds: rows(fromExample: range.lowerBound),
                positionValues: values.base + firstPosition(ofExample: range.lowerBound),
                positionFields: fields.base + firstPosition(ofExample: range.lowerBound),
                counts: counts.base + range.lowerBound,
                labels: batchLabels == nil ? nil : data.labels.base, batchLabels: batchLabels.map { $0 + range.lowerBound })
            return
        }
        EmbeddingKernels.tableRows(ids: data.ids.base, examples: examples + range.lowerBound, rows: range.count,
                                   fieldCount: fieldCount, offsets: offsets.base, rowIds: rows(fromExample: range.lowerBound),
                                   labels: batchLabels == nil ? nil : data.labels.base,
                                   batchLabels: batchLabels.map { $0 + range.lowerBound })
    }
}

/// Where a batch's variable positions are, as raw pointers: example i's positions are
/// `i * stride ..< i * stride + counts[i]`, each with its value and field.
public struct VariablePositions {
    public var stride: Int
    public var examples: Int
    public var counts: UnsafePointer<Int32>
    public var values: UnsafePointer<Float>
    public var fields: UnsafePointer<UInt32>

    /// The same layout from example `i` on (a slice's view).
    @inline(__always) public func from(example i: Int) -> VariablePositions {
        VariablePositions(stride: stride, examples: examples - i, counts: counts + i, values: values + i * stride,
                          fields: fields + i * stride)
    }
}
