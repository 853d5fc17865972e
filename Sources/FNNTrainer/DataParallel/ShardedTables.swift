import FNNCore
import FNNExecution
import FNNSystem

/// What an engine adds when its tables are sharded across ranks (`TableShard`): before the
/// forward pass, the rows its slices read, fetched from their owners (`ShardedRowLookup`), with
/// the positions rewritten to index them; for the update, the positions of this rank's rows from
/// every rank, as (local row, gradient entry) pairs in the batch's position order, so its update
/// tasks group and step only the rows it holds. Each row is stepped by its owner alone, from the
/// whole batch's entries (exchanged as with replicated tables) in position order: the bits of
/// one process.
final class ShardedTables: @unchecked Sendable {
    let shard: TableShard
    let lookup: ShardedRowLookup
    /// Per position: its row's index in the lookup's rows.
    let compactRows: AlignedBuffer<UInt32>

    init(shard: TableShard, ranks: RankExchange, positions: Int, width: Int, hasLinear: Bool) {
        self.shard = shard
        lookup = ShardedRowLookup(shard: shard, ranks: ranks, maxPositions: positions, width: width, hasLinear: hasLinear)
        compactRows = AlignedBuffer(uninitializedCount: positions)
    }

    var byteCount: Int { lookup.byteCount + compactRows.byteCount }

    /// Fetches the rows of the batch examples `rows` (already gathered into `positions`):
    /// returns the positions' row indices (for the whole batch's position numbering: indices
    /// outside `rows` are stale) and the tables they index.
    /// `positionsPerEntry` (training): also send each owner the positions of its rows, with the
    /// gradient entry each will have (`held`).
    func fetch(positions: BatchPositions, rows: Range<Int>, model: Model, positionsPerEntry: Int? = nil) throws(CommunicatorError)
        -> (rows: UnsafeMutablePointer<UInt32>, table: TableRows) {
        let first = positions.firstPosition(ofExample: rows.lowerBound)
        let count = positions.firstPosition(ofExample: rows.upperBound) - first
        try lookup.fetch(rows: positions.rows.base + first, count: count, compact: compactRows.base + first,
                         table: model.embedding, tableLinear: model.linear,
                         held: positionsPerEntry.map { (first, $0) })
        return (compactRows.base, TableRows(embedding: lookup.embedding.base, width: model.config.embedDim, linear: lookup.linear?.base))
    }

    /// Sends each owner the per-position gradient entries of its rows (see
    /// `ShardedRowLookup.sendEntries`); `held` then names them, at `heldEntries`.
    func sendEntries(_ entries: UnsafePointer<Float>, width: Int) throws(CommunicatorError) {
        try lookup.sendEntries(entries, width: width)
    }

    var heldEntries: UnsafePointer<Float> { UnsafePointer(lookup.heldEntries.base) }

    /// The positions of this rank's rows in the last training lookup's batch: (local row,
    /// gradient entry) pairs in position order, and how many.
    var held: (pairs: UnsafePointer<UInt32>, count: Int) { (UnsafePointer(lookup.heldPairs.base), lookup.heldCount) }
}
