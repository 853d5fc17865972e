import FNNSystem

/// Examples whose rows hold any number of (field, id, value) entries: multi-hot and real-valued
/// fields. Row r's entries are `starts[r] ..< starts[r + 1]`, in increasing field order (a
/// field's ids together, so a mean field's count is the length of its run). Ids are field-local,
/// as in the fixed-width form. Flat arrays rather than per-row arrays so that the form maps from
/// the cache like the one-hot ids do, and a split or shuffle stays an index array.
public struct VariableRows: Sendable {
    /// rowCount + 1 entry offsets; starts[0] == 0.
    public let starts: AlignedBuffer<Int>
    public let ids: AlignedBuffer<UInt32>
    public let fields: AlignedBuffer<UInt32>
    public let values: AlignedBuffer<Float>

    public init(starts: AlignedBuffer<Int>, ids: AlignedBuffer<UInt32>, fields: AlignedBuffer<UInt32>, values: AlignedBuffer<Float>) {
        precondition(ids.count == fields.count && ids.count == values.count && starts.count >= 1)
        self.starts = starts
        self.ids = ids
        self.fields = fields
        self.values = values
    }

    public var rowCount: Int { starts.count - 1 }
    public var entryCount: Int { ids.count }

    /// Bytes of the four arrays: what has to be resident to touch every example.
    public var byteCount: Int { starts.byteCount + ids.count * 12 }

    public func entries(ofRow r: Int) -> Range<Int> { starts[r]..<starts[r + 1] }

    /// Lets the kernel drop the pages of rows `rows` (file order) when mapped.
    public func releasePages(rows: Range<Int>) {
        guard !rows.isEmpty else { return }
        let entries = starts[rows.lowerBound]..<starts[rows.upperBound]
        ids.releasePages(entries)
        fields.releasePages(entries)
        values.releasePages(entries)
        starts.releasePages(rows)
    }

    /// The first structural problem of row-major entries against `schema` and field sizes
    /// `fieldDims`: offsets not increasing, fields out of order or out of range, an id beyond its
    /// field, a value not finite, a field with more ids than its kind allows. Returns the row and
    /// the problem; nil when every row is sound. Loaders check as they go, with line numbers;
    /// this is for rows read from a binary file, which may be damaged or crafted.
    public func firstProblem(schema: FieldSchema, fieldDims: [Int]) -> (row: Int, problem: String)? {
        let fieldCount = fieldDims.count
        guard starts[0] == 0, starts[rowCount] == entryCount else { return (0, "entry offsets do not cover the entries") }
        for r in 0..<rowCount {
            let lo = starts[r], hi = starts[r + 1]
            guard lo <= hi, hi <= entryCount else { return (r, "entry offsets decrease") }
            var previous = -1, run = 0
            for k in lo..<hi {
                let f = Int(fields[k])
                guard f < fieldCount else { return (r, "field \(f + 1) does not exist (\(fieldCount) fields)") }
                guard f >= previous else { return (r, "fields out of order") }
                run = f == previous ? run + 1 : 1
                previous = f
                if run > schema.fields[f].maxIds {
                    return (r, "field \(f + 1) (\(schema.fields[f].name)) has more than \(schema.fields[f].maxIds) ids")
                }
                guard Int(ids[k]) < fieldDims[f] else {
                    return (r, "field \(f + 1) id \(ids[k]) is not below its size \(fieldDims[f])")
                }
                guard values[k].isFinite else { return (r, "field \(f + 1) has a value that is not finite") }
            }
        }
        return nil
    }

    /// Rows of the fixed-width one-hot form as entries (one per field, value 1): for tests and
    /// for one-hot data that must join variable data.
    public static func fromOneHot(ids: UnsafePointer<UInt32>, rowCount: Int, fieldCount: Int) -> VariableRows {
        var builder = Builder()
        for r in 0..<rowCount {
            for f in 0..<fieldCount { builder.append(field: f, id: ids[r * fieldCount + f], value: 1) }
            builder.endRow()
        }
        return builder.finish()
    }

    /// Collects rows one entry at a time, in field order.
    public struct Builder {
        public private(set) var starts: [Int] = [0]
        public private(set) var ids: [UInt32] = []
        public private(set) var fields: [UInt32] = []
        public private(set) var values: [Float] = []

        public init(reservingEntries n: Int = 0) {
            ids.reserveCapacity(n); fields.reserveCapacity(n); values.reserveCapacity(n)
        }

        public var rowCount: Int { starts.count - 1 }

        public mutating func append(field: Int, id: UInt32, value: Float) {
            fields.append(UInt32(field))
            ids.append(id)
            values.append(value)
        }

        public mutating func endRow() { starts.append(ids.count) }

        /// Drops the entries appended since the last `endRow` (a line left out).
        public mutating func discardRow() {
            let keep = starts[starts.count - 1]
            ids.removeSubrange(keep...); fields.removeSubrange(keep...); values.removeSubrange(keep...)
        }

        public func finish() -> VariableRows {
            VariableRows(starts: AlignedBuffer(starts), ids: AlignedBuffer(ids), fields: AlignedBuffer(fields),
                         values: AlignedBuffer(values))
        }
    }
}
