import FNNCore
import FNNExecution
import FNNSystem

/// What an engine adds when its tables are sharded across ranks (`TableShard`): before the
/// forward pass, the rows its slices read, fetched from their owners (`ShardedRowLookup`), with
/// the positions rewritten to index them; before the update, every position of the batch (all
/// ranks' positions, exchanged as with replicated tables) as a local row here or the unowned row,
/// so this rank's update tasks group and step only the rows it holds. Each row is stepped by its
/// owner alone, from the whole batch's entries in position order: the bits of one process.
final class ShardedTables: @unchecked Sendable {
    let shard: TableShard
    let lookup: ShardedRowLookup
    /// Per position: its row's index in the lookup's rows.
    let compactRows: AlignedBuffer<UInt32>
    /// Per position: its local row here, or the unowned row.
    let heldRows: AlignedBuffer<UInt32>

    init(shard: TableShard, ranks: RankExchange, positions: Int, width: Int, hasLinear: Bool) {
        self.shard = shard
        lookup = ShardedRowLookup(shard: shard, ranks: ranks, maxPositions: positions, width: width, hasLinear: hasLinear)
        compactRows = AlignedBuffer(uninitializedCount: positions)
        heldRows = AlignedBuffer(uninitializedCount: positions)
    }

    var byteCount: Int { lookup.byteCount + compactRows.byteCount + heldRows.byteCount }

    /// Fetches the rows of the batch examples `rows` (already gathered into `positions`):
    /// returns the positions' row indices (for the whole batch's position numbering: indices
    /// outside `rows` are stale) and the tables they index.
    func fetch(positions: BatchPositions, rows: Range<Int>, model: Model) throws(CommunicatorError)
        -> (rows: UnsafeMutablePointer<UInt32>, embedding: UnsafeMutablePointer<Float>, linear: UnsafeMutablePointer<Float>?) {
        let first = positions.firstPosition(ofExample: rows.lowerBound)
        let count = positions.firstPosition(ofExample: rows.upperBound) - first
        try lookup.fetch(rows: positions.rows.base + first, count: count, compact: compactRows.base + first,
                         table: model.embedding, tableLinear: model.linear)
        return (compactRows.base, lookup.embedding.base, lookup.linear?.base)
    }

    /// The batch's `count` positions as local rows here (or the unowned row), in parts on
    /// `executor`'s workers.
    func held(positions: BatchPositions, count: Int, executor: PhaseExecutor) -> UnsafePointer<UInt32> {
        let parts = partition(count, parts: count < 1 << 14 ? 1 : executor.concurrency, alignment: 16)
        let shard = shard, rows = positions.rows.base, held = heldRows.base
        executor.run(.sparseUpdate, tasks: parts.count) { p, _ in
            let part = parts[p]
            shard.heldIndices(of: rows + part.lowerBound, count: part.count, into: held + part.lowerBound)
        }
        return UnsafePointer(held)
    }
}
