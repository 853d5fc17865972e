import FNNSystem

/// One entry of a variable row, packed: an example's entries lie side by side, so the gather,
/// which reads each example at a random place, touches one or two cache lines per example
/// instead of that many in each of three arrays (measured: the three-array form spent 45% of a
/// multi-hot FM step in the gather).
public struct VariableEntry: Sendable, Equatable, BitwiseCopyable {
    public var id: UInt32
    public var field: UInt32
    public var value: Float

    public init(id: UInt32, field: UInt32, value: Float) {
        self.id = id
        self.field = field
        self.value = value
    }
}

/// Examples whose rows hold any number of (field, id, value) entries: multi-hot and real-valued
/// fields. Row r's entries are `starts[r] ..< starts[r + 1]`, in increasing field order (a
/// field's ids together, so a mean field's count is the length of its run). Ids are field-local,
/// as in the fixed-width form. Flat arrays rather than per-row arrays so that the form maps from
/// the cache like the one-hot ids do, and a split or shuffle stays an index array.
public struct VariableRows: Sendable {
    /// rowCount + 1 entry offsets; starts[0] == 0.
    public let starts: AlignedBuffer<Int>
    public let table: AlignedBuffer<VariableEntry>

    public init(starts: AlignedBuffer<Int>, table: AlignedBuffer<VariableEntry>) {
        precondition(starts.count >= 1)
        self.starts = starts
        self.table = table
    }

    /// From separate arrays of equal length (packed here).
    public init(starts: AlignedBuffer<Int>, ids: [UInt32], fields: [UInt32], values: [Float]) {
        precondition(ids.count == fields.count && ids.count == values.count)
        let table = AlignedBuffer<VariableEntry>(uninitializedCount: ids.count)
        for e in ids.indices { table.base[e] = VariableEntry(id: ids[e], field: fields[e], value: values[e]) }
        self.init(starts: starts, table: table)
    }

    public var rowCount: Int { starts.count - 1 }
    public var entryCount: Int { table.count }

    /// The entries' ids, fields and values, each read in place.
    public var ids: Column<UInt32> { Column(table: table, offset: 0) }
    public var fields: Column<UInt32> { Column(table: table, offset: 4) }
    public var values: Column<Float> { Column(table: table, offset: 8) }

    /// One member of every entry, read in place (not a copy).
    public struct Column<Value: BitwiseCopyable> {
        let table: AlignedBuffer<VariableEntry>
        let offset: Int

        public var count: Int { table.count }

        public subscript(e: Int) -> Value {
            precondition(e >= 0 && e < table.count)
            return UnsafeRawPointer(table.base + e).load(fromByteOffset: offset, as: Value.self)
        }

        public var array: [Value] { (0..<count).map { self[$0] } }
    }

    /// Bytes of the offsets and entries: what has to be resident to touch every example.
    public var byteCount: Int { starts.byteCount + table.byteCount }

    public func entries(ofRow r: Int) -> Range<Int> { starts[r]..<starts[r + 1] }

    /// Lets the kernel drop the pages of rows `rows` (file order) when mapped.
    public func releasePages(rows: Range<Int>) {
        guard !rows.isEmpty else { return }
        table.releasePages(starts[rows.lowerBound]..<starts[rows.upperBound])
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
        let entries = table.base
        for r in 0..<rowCount {
            let lo = starts[r], hi = starts[r + 1]
            guard lo <= hi, hi <= entryCount else { return (r, "entry offsets decrease") }
            var previous = -1, run = 0
            for k in lo..<hi {
                let entry = entries[k]
                let f = Int(entry.field)
                guard f < fieldCount else { return (r, "field \(f + 1) does not exist (\(fieldCount) fields)") }
                guard f >= previous else { return (r, "fields out of order") }
                run = f == previous ? run + 1 : 1
                previous = f
                if run > schema.fields[f].maxIds {
                    return (r, "field \(f + 1) (\(schema.fields[f].name)) has more than \(schema.fields[f].maxIds) ids")
                }
                guard Int(entry.id) < fieldDims[f] else {
                    return (r, "field \(f + 1) id \(entry.id) is not below its size \(fieldDims[f])")
                }
                guard entry.value.isFinite else { return (r, "field \(f + 1) has a value that is not finite") }
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
        public private(set) var entries: [VariableEntry] = []

        public init(reservingEntries n: Int = 0) { entries.reserveCapacity(n) }

        public var rowCount: Int { starts.count - 1 }

        public mutating func append(field: Int, id: UInt32, value: Float) {
            entries.append(VariableEntry(id: id, field: UInt32(field), value: value))
        }

        public mutating func endRow() { starts.append(entries.count) }

        /// Drops the entries appended since the last `endRow` (a line left out).
        public mutating func discardRow() { entries.removeSubrange(starts[starts.count - 1]...) }

        public func finish() -> VariableRows {
            VariableRows(starts: AlignedBuffer(starts), table: AlignedBuffer(entries))
        }
    }
}
