/// The (example, field) positions of a batch grouped by table row: which rows the batch touched
/// (in order of first occurrence) and, for each, its positions in increasing order. Summing a
/// row's gradient over its positions in that order gives the same bits however the update work is
/// split.
public final class RowGrouping: @unchecked Sendable {
    /// Per table row: its index among the last batch's unique rows, or -1.
    @usableFromInline let slotOfRow: AlignedBuffer<Int32>
    public let uniqueRows: AlignedBuffer<UInt32>
    /// uniqueCount + 1 offsets into `positions`.
    public let starts: AlignedBuffer<Int32>
    public let positions: AlignedBuffer<Int32>
    private let cursor: AlignedBuffer<Int32>
    public private(set) var uniqueCount = 0
    /// The unique indices in update order: by default 0 ..< uniqueCount; after `bucket`, grouped by
    /// the worker that owns each row.
    public let order: AlignedBuffer<Int32>
    /// After `bucket(parts:tableRows:)`: part p updates order[partStarts[p] ..< partStarts[p + 1]].
    public private(set) var partStarts: [Int] = []

    public var byteCount: Int {
        slotOfRow.byteCount + uniqueRows.byteCount + starts.byteCount + positions.byteCount + cursor.byteCount + order.byteCount
    }

    public init(tableRows: Int, maxPositions: Int) {
        slotOfRow = AlignedBuffer(count: tableRows)
        slotOfRow.fill(-1)
        order = AlignedBuffer(count: maxPositions)
        uniqueRows = AlignedBuffer(count: maxPositions)
        starts = AlignedBuffer(count: maxPositions + 1)
        positions = AlignedBuffer(count: maxPositions)
        cursor = AlignedBuffer(count: maxPositions)
    }

    public func build(rowIds: UnsafePointer<UInt32>, count: Int) {
        precondition(count <= positions.count)
        for k in 0..<uniqueCount { slotOfRow[Int(uniqueRows[k])] = -1 }
        var u = 0
        starts[0] = 0
        for p in 0..<count {
            let r = Int(rowIds[p])
            var s = slotOfRow[r]
            if s < 0 {
                s = Int32(u)
                slotOfRow[r] = s
                uniqueRows[u] = UInt32(r)
                starts[u + 1] = 0
                u += 1
            }
            starts[Int(s) + 1] += 1
        }
        for k in 0..<u { starts[k + 1] += starts[k] }
        for k in 0..<u { cursor[k] = starts[k] }
        for p in 0..<count {
            let s = Int(slotOfRow[Int(rowIds[p])])
            positions[Int(cursor[s])] = Int32(p)
            cursor[s] += 1
        }
        uniqueCount = u
        for k in 0..<u { order[k] = Int32(k) }
        partStarts = [0, u]
    }

    /// Splits the touched rows among `parts` workers by contiguous ranges of the table, with
    /// boundaries on multiples of 64 rows: neighbouring rows share cache lines in the narrow
    /// arrays (linear weights, step counts), so each must have a single writer, or the workers
    /// would fight over those lines. Which worker updates a row never changes the result.
    public func bucket(parts: Int, tableRows: Int) {
        // Parts of whole 64-row blocks. The owner is estimated with a multiplication (a division
        // per row would cost more than the rest of this pass) and corrected where the estimate
        // rounded across a boundary.
        let rowsPerPart = max(64, ((tableRows + parts - 1) / parts + 63) / 64 * 64)
        let scale = 1.0 / Double(rowsPerPart)
        var counts = [Int](repeating: 0, count: parts + 1)
        for k in 0..<uniqueCount {
            let row = Int(uniqueRows[k])
            var p = Int(Double(row) * scale)
            if (p + 1) * rowsPerPart <= row { p += 1 } else if p * rowsPerPart > row { p -= 1 }
            p = min(parts - 1, p)
            cursor[k] = Int32(p)
            counts[p + 1] += 1
        }
        for p in 0..<parts { counts[p + 1] += counts[p] }
        partStarts = counts
        var next = counts
        for k in 0..<uniqueCount {
            let p = Int(cursor[k])
            order[next[p]] = Int32(k)
            next[p] += 1
        }
    }

    /// The index of `row` among the unique rows of the last build, or -1 if the batch missed it.
    @inlinable public func slot(ofRow row: Int) -> Int { Int(slotOfRow[row]) }
}
