import FNNCore
import FNNSystem

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
///
/// The ranges cut `table.owned`, the rows this process holds: the whole table, or a shard's
/// local rows (`TableRowRange(shardOf:)`), whose positions of other ranks' rows name the unowned
/// row past them, which no range covers: those are their owners' to update.
public final class PartitionedRowGrouping: @unchecked Sendable {
    public let tableRows: Int
    /// The rows these parts cover.
    public let table: TableRowRange
    let maxPositions: Int
    let width: Int
    /// The parts' row slots when the table's optimizer keeps none in its records; made at the
    /// first step that needs them.
    private var ownSlots: AlignedBuffer<Float>?
    let slotsInRecords: Bool
    /// The slots the parts use now.
    private var slots: RowSlots?
    /// Rows per balancing block: a multiple of 64, at most about 1024 blocks.
    let blockRows: Int
    /// The update work per block in the last step (each task counts its own blocks): sixteen units
    /// per unique row and one per position.
    let blockCounts: AlignedBuffer<Int32>
    public private(set) var parts: [RowGrouping] = []
    /// parts.count + 1 row boundaries.
    public private(set) var boundaries: [Int] = []

    public convenience init(tableRows: Int, maxPositions: Int, width: Int) {
        self.init(table: TableRowRange(wholeTableOf: tableRows), maxPositions: maxPositions, width: width)
    }

    /// `slotsInRecords`: the table's optimizer keeps the row slots in its records (the parts
    /// then hold none of their own).
    public init(table: TableRowRange, maxPositions: Int, width: Int, slotsInRecords: Bool = false) {
        self.slotsInRecords = slotsInRecords
        precondition(table.owned.lowerBound % TableRowRange.alignment == 0)
        self.table = table
        tableRows = table.tableRows
        self.maxPositions = maxPositions
        self.width = width
        let rows = table.owned.count
        blockRows = max(64, ((rows + 1023) / 1024 + 63) / 64 * 64)
        blockCounts = AlignedBuffer(count: (rows + blockRows - 1) / blockRows)
    }

    public var byteCount: Int {
        (slotsInRecords ? 0 : tableRows * MemoryLayout<Float>.stride) + blockCounts.byteCount + parts.map(\.listBytes).reduce(0, +)
    }

    /// On the calling thread before a step's update: `count` parts, with ranges balanced on the
    /// last step's counts. `recordSlots`: the slots in the optimizer's fused row records, if it
    /// keeps them there (`RowRecords.slots`); else these parts' own.
    public func prepare(parts count: Int, recordSlots: RowSlots? = nil) {
        precondition(slotsInRecords == (recordSlots != nil))
        let slots = recordSlots ?? ownSlotsMade()
        if parts.count != count {
            for part in parts { part.clearSlots() }
            parts = (0..<count).map { _ in RowGrouping(slots: slots, maxPositions: maxPositions, width: width) }
        } else if let current = self.slots, !current.isSame(as: slots) {
            for part in parts { part.use(slots: slots) }
        }
        self.slots = slots
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
        boundaries = cuts.map { table.owned.lowerBound + min($0 * blockRows, table.owned.count) }
    }

    public func rows(ofPart p: Int) -> Range<Int> { boundaries[p]..<boundaries[p + 1] }

    /// Task `p`: gathers the gradients of the batch positions whose rows lie in its range, and
    /// counts its work per block.
    @discardableResult
    public func build(part p: Int, rowIds: UnsafePointer<UInt32>, count: Int, gradients: RowGradients, pairs: Bool = false) -> RowGrouping {
        let grouping = parts[p]
        let range = rows(ofPart: p)
        grouping.build(rowIds: rowIds, count: count, rows: range, gradients: gradients, pairs: pairs)
        // An empty range at the table's end would still name the last (partial) block, which
        // another part owns.
        guard !range.isEmpty else { return grouping }
        let start = table.owned.lowerBound
        let firstBlock = (range.lowerBound - start) / blockRows, endBlock = (range.upperBound - start + blockRows - 1) / blockRows
        for b in firstBlock..<endBlock { blockCounts[b] = 0 }
        // A row's update (its lines fetched, two Adam steps with square roots and divisions)
        // costs about as much as sixteen additions of cache-resident gradient entries.
        for u in 0..<grouping.uniqueCount {
            blockCounts[(Int(grouping.uniqueRows[u]) - start) / blockRows] += 16 + grouping.positionCounts[u]
        }
        return grouping
    }

    /// The slot `row` holds in its part's last build, or -1 (always -1 between steps).
    public func slot(ofRow row: Int) -> Int { slots.map { Int($0[row]) } ?? -1 }

    private func ownSlotsMade() -> RowSlots {
        if ownSlots == nil { ownSlots = RowSlots.makeBuffer(count: tableRows) }
        return RowSlots(StridedRows(ownSlots!, width: 1))
    }

    /// Task `p`, after its update: frees its rows' slots for whichever part owns them next step.
    public func finish(part p: Int) { parts[p].clearSlots() }
}
