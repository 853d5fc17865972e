import CMemoryHints

/// The (example, field) positions of a batch grouped by table row: which rows the batch touched
/// (in order of first occurrence) and, for each, the gradient entries of its positions in
/// increasing order (position p's entry is p / positionsPerEntry, see `RowGradients`). Summing a
/// row's gradient over its entries in that order gives the same bits however the update work is
/// split.
public final class RowGrouping: @unchecked Sendable {
    /// Per table row: its index among the last batch's unique rows, or -1. May be shared by the
    /// groupings of disjoint row ranges (`PartitionedRowGrouping`).
    @usableFromInline let slotOfRow: AlignedBuffer<Int32>
    public let uniqueRows: AlignedBuffer<UInt32>
    /// uniqueCount + 1 offsets into `entries`.
    public let starts: AlignedBuffer<Int32>
    public let entries: AlignedBuffer<Int32>
    /// The last build's in-range positions in order: their rows' slots and their entries.
    private let keptSlots: AlignedBuffer<Int32>
    private let keptEntries: AlignedBuffer<Int32>
    public private(set) var uniqueCount = 0

    /// Bytes of the per-batch arrays (not the row-slot table, which may be shared).
    var listBytes: Int { uniqueRows.byteCount + starts.byteCount + entries.byteCount + keptSlots.byteCount + keptEntries.byteCount }
    public var byteCount: Int { slotOfRow.byteCount + listBytes }

    public convenience init(tableRows: Int, maxPositions: Int) {
        let slots = AlignedBuffer<Int32>(count: tableRows)
        slots.fill(-1)
        self.init(sharing: slots, maxPositions: maxPositions)
    }

    /// A grouping over `slotOfRow`, whose entries must be -1 for every row this one will see.
    init(sharing slotOfRow: AlignedBuffer<Int32>, maxPositions: Int) {
        self.slotOfRow = slotOfRow
        uniqueRows = AlignedBuffer(count: maxPositions)
        starts = AlignedBuffer(count: maxPositions + 2)
        entries = AlignedBuffer(count: maxPositions)
        keptSlots = AlignedBuffer(count: maxPositions)
        keptEntries = AlignedBuffer(count: maxPositions)
    }

    /// Groups the positions 0 ..< count whose row lies in `rows` (all rows by default): a
    /// counting sort of the positions by the order of their rows' first occurrence.
    public func build(rowIds: UnsafePointer<UInt32>, count: Int, rows: Range<Int>? = nil, positionsPerEntry: Int = 1) {
        precondition(count <= entries.count && positionsPerEntry > 0)
        clearSlots()
        let slots = slotOfRow.base, unique = uniqueRows.base, starts = starts.base
        let keptSlots = keptSlots.base, keptEntries = keptEntries.base
        let lo = UInt32(rows?.lowerBound ?? 0), span = UInt32(rows.map { $0.count } ?? slotOfRow.count)
        var u = 0, kept = 0
        // Row s's count goes to starts[s + 2]; the prefix sums then leave row s's first place in
        // starts[s + 1], which the second pass advances as a cursor to row s's end, that is to
        // row s + 1's start: the offsets come out in place, with no cursor array.
        starts[0] = 0
        starts[1] = 0
        // The slot table is as long as the embedding table, so each lookup is a likely cache
        // miss: they are requested well ahead. The first pass keeps each in-range position's slot
        // and entry, so the second reads only those (a part of a partitioned update skips the
        // other parts' positions once) and nothing at random but the per-row cursors. The entry
        // is counted alongside the position rather than divided out of it.
        let ahead = 32
        // Only this build's rows: another part's slot lines are that part's to write.
        for p in 0..<min(ahead, count) where rowIds[p] &- lo < span { fnnpar_prefetch(slots + Int(rowIds[p])) }
        var entry: Int32 = 0, withinEntry = 0
        for p in 0..<count {
            if p + ahead < count, rowIds[p + ahead] &- lo < span { fnnpar_prefetch(slots + Int(rowIds[p + ahead])) }
            let r = rowIds[p]
            // One unsigned comparison tests both ends of the range.
            if r &- lo < span {
                var s = slots[Int(r)]
                if s < 0 {
                    s = Int32(u)
                    slots[Int(r)] = s
                    unique[u] = r
                    starts[u + 2] = 0
                    u += 1
                }
                keptSlots[kept] = s
                keptEntries[kept] = entry
                kept += 1
                starts[Int(s) + 2] += 1
            }
            withinEntry += 1
            if withinEntry == positionsPerEntry { withinEntry = 0; entry += 1 }
        }
        if u >= 2 { for k in 2...u { starts[k] += starts[k - 1] } }
        let entries = entries.base
        for k in 0..<kept {
            let s = Int(keptSlots[k])
            entries[Int(starts[s + 1])] = keptEntries[k]
            starts[s + 1] += 1
        }
        uniqueCount = u
    }

    /// Resets the row slots of the last build to -1, so another grouping sharing them may use
    /// these rows next.
    public func clearSlots() {
        for k in 0..<uniqueCount { slotOfRow[Int(uniqueRows[k])] = -1 }
        uniqueCount = 0
    }

    /// The index of `row` among the unique rows of the last build, or -1 if the batch missed it.
    @inlinable public func slot(ofRow row: Int) -> Int { Int(slotOfRow[row]) }
}

/// The touched rows of a batch split among update tasks by contiguous ranges of the table, each
/// task grouping its own rows: the grouping is then as parallel as the update, with no serial
/// pass between the backward pass and the update. Every task reads the batch's row ids (a
/// sequential scan) and keeps only its range.
///
/// Range boundaries are multiples of 64 rows: neighbouring rows share cache lines in the narrow
/// arrays (linear weights, row states, row slots), so each line must have a single writer. They
/// follow where the batches' rows fall: each step counts the update work per block of the table,
/// and the next step cuts the blocks so every range holds about the same amount (popular rows
/// cluster, so equal ranges would leave one task with most of the work). Which task updates a
/// row never changes the result.
public final class PartitionedRowGrouping: @unchecked Sendable {
    public let tableRows: Int
    let maxPositions: Int
    let slotOfRow: AlignedBuffer<Int32>
    /// Rows per balancing block: a multiple of 64, at most about 1024 blocks.
    let blockRows: Int
    /// The update work per block in the last step (each task counts its own blocks): sixteen units
    /// per unique row and one per position.
    let blockCounts: AlignedBuffer<Int32>
    public private(set) var parts: [RowGrouping] = []
    /// parts.count + 1 row boundaries.
    public private(set) var boundaries: [Int] = []

    public init(tableRows: Int, maxPositions: Int) {
        self.tableRows = tableRows
        self.maxPositions = maxPositions
        slotOfRow = AlignedBuffer(count: tableRows)
        slotOfRow.fill(-1)
        blockRows = max(64, ((tableRows + 1023) / 1024 + 63) / 64 * 64)
        blockCounts = AlignedBuffer(count: (tableRows + blockRows - 1) / blockRows)
    }

    public var byteCount: Int { slotOfRow.byteCount + blockCounts.byteCount + parts.map(\.listBytes).reduce(0, +) }

    /// On the calling thread before a step's update: `count` parts, with ranges balanced on the
    /// last step's counts.
    public func prepare(parts count: Int) {
        if parts.count != count {
            for part in parts { part.clearSlots() }
            parts = (0..<count).map { _ in RowGrouping(sharing: slotOfRow, maxPositions: maxPositions) }
        }
        let blocks = blockCounts.count
        var total = 0
        for b in 0..<blocks { total += Int(blockCounts[b]) }
        var cuts = [0]
        if total == 0 {
            for p in 1..<count { cuts.append(blocks * p / count) }
        } else {
            var running = 0, b = 0
            for p in 1..<count {
                let target = (total * p + count - 1) / count
                while b < blocks && running + Int(blockCounts[b]) <= target { running += Int(blockCounts[b]); b += 1 }
                cuts.append(max(b, cuts.last!))
            }
        }
        cuts.append(blocks)
        boundaries = cuts.map { min($0 * blockRows, tableRows) }
    }

    public func rows(ofPart p: Int) -> Range<Int> { boundaries[p]..<boundaries[p + 1] }

    /// Task `p`: groups the batch positions whose rows lie in its range, and counts them per block.
    @discardableResult
    public func build(part p: Int, rowIds: UnsafePointer<UInt32>, count: Int, positionsPerEntry: Int = 1) -> RowGrouping {
        let grouping = parts[p]
        let range = rows(ofPart: p)
        grouping.build(rowIds: rowIds, count: count, rows: range, positionsPerEntry: positionsPerEntry)
        // An empty range at the table's end would still name the last (partial) block, which
        // another part owns.
        guard !range.isEmpty else { return grouping }
        let firstBlock = range.lowerBound / blockRows, endBlock = (range.upperBound + blockRows - 1) / blockRows
        for b in firstBlock..<endBlock { blockCounts[b] = 0 }
        // A row's update (its lines fetched, two Adam steps with square roots and divisions)
        // costs about as much as sixteen additions of cache-resident gradient entries.
        for u in 0..<grouping.uniqueCount {
            let positions = grouping.starts[u + 1] - grouping.starts[u]
            blockCounts[Int(grouping.uniqueRows[u]) / blockRows] += 16 + positions
        }
        return grouping
    }

    /// The slot `row` holds in its part's last build, or -1 (always -1 between steps).
    public func slot(ofRow row: Int) -> Int { Int(slotOfRow[row]) }

    /// Task `p`, after its update: frees its rows' slots for whichever part owns them next step.
    public func finish(part p: Int) { parts[p].clearSlots() }
}
