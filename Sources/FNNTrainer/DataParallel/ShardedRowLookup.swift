import FNNCore
import FNNExecution
import FNNSystem

/// The table rows a rank's slices read, fetched from the ranks that hold them when tables are
/// sharded (`TableShard`: row g at rank g mod R). Per lookup the rank lists the unique rows of its
/// positions (first occurrence order, grouped by owner), sends each owner the local indices it
/// needs, and receives their embedding rows (and linear weights) into one compact table; its
/// positions are rewritten to index that table, so the forward kernels run unchanged on it.
/// Owners read their rows as they stand (a lazily updated row keeps its stored value between
/// touches), so the values are exactly those a replicated table would give.
///
/// Four exchanges per lookup: the request counts, the requested indices, the rows, the linear
/// weights. Every rank takes part in every lookup, with no positions if it has none.
final class ShardedRowLookup: @unchecked Sendable {
    let shard: TableShard
    let ranks: RankExchange
    let width: Int
    let hasLinear: Bool
    /// The fetched rows, in grouped order: owner 0's, then owner 1's, ... (this rank's own among
    /// them, copied from its storage).
    let embedding: AlignedBuffer<Float>
    let linear: AlignedBuffer<Float>?
    /// Open-addressing set of the lookup's global rows: key row (or `empty`), value the unique
    /// index. Twice the positions' capacity, so probes stay short.
    private let keys: AlignedBuffer<UInt32>
    private let values: AlignedBuffer<Int32>
    private let hashShift: UInt32
    private static let empty = UInt32.max
    /// Per unique row in first-occurrence order: its hash slot, owner and local index at the owner.
    private let slotOfUnique: AlignedBuffer<Int32>
    private let ownerOfUnique: AlignedBuffer<Int32>
    private let localOfUnique: AlignedBuffer<UInt32>
    /// Per unique row: its index in grouped order.
    private let groupedOfUnique: AlignedBuffer<Int32>
    /// Requests out (local indices, grouped by owner) and in (from each rank, in rank order).
    private let requests: AlignedBuffer<UInt32>
    private var incoming: AlignedBuffer<UInt32>
    /// Rows served to the other ranks, in the order they asked.
    private var servedRows: AlignedBuffer<Float>
    private var servedLinear: AlignedBuffer<Float>
    /// Unique rows of the last lookup, per owner.
    private(set) var rowsPerOwner: [Int]
    private let countsOut: AlignedBuffer<Int64>
    private let countsIn: AlignedBuffer<Int64>
    private(set) var uniqueCount = 0

    init(shard: TableShard, ranks: RankExchange, maxPositions: Int, width: Int, hasLinear: Bool) {
        precondition(shard.ranks == ranks.size && shard.rank == ranks.rank && maxPositions < Int(Int32.max) / 2)
        self.shard = shard
        self.ranks = ranks
        self.width = width
        self.hasLinear = hasLinear
        let maxUnique = min(maxPositions, shard.tableRows)
        embedding = AlignedBuffer(uninitializedCount: max(1, maxUnique) * width)
        linear = hasLinear ? AlignedBuffer(uninitializedCount: max(1, maxUnique)) : nil
        var bits: UInt32 = 4
        while (1 << bits) < 2 * max(1, maxPositions) { bits += 1 }
        keys = AlignedBuffer(uninitializedCount: 1 << bits)
        keys.fill(Self.empty)
        values = AlignedBuffer(uninitializedCount: 1 << bits)
        hashShift = 32 - bits
        slotOfUnique = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        ownerOfUnique = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        localOfUnique = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        groupedOfUnique = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        requests = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        incoming = AlignedBuffer(uninitializedCount: 1)
        servedRows = AlignedBuffer(uninitializedCount: width)
        servedLinear = AlignedBuffer(uninitializedCount: 1)
        rowsPerOwner = Array(repeating: 0, count: shard.ranks)
        countsOut = AlignedBuffer(count: shard.ranks)
        countsIn = AlignedBuffer(count: shard.ranks)
    }

    var byteCount: Int {
        embedding.byteCount + (linear?.byteCount ?? 0) + keys.byteCount + values.byteCount + slotOfUnique.byteCount
            + ownerOfUnique.byteCount + localOfUnique.byteCount + groupedOfUnique.byteCount + requests.byteCount
            + incoming.byteCount + servedRows.byteCount + servedLinear.byteCount
    }

    /// Fetches the rows of `count` positions (global rows at `rows`) from `table` / `tableLinear`
    /// (this rank's shard) and the other ranks' shards, and writes each position's index into
    /// `embedding` / `linear` to `compact`. Collective: every rank calls it once per lookup.
    func fetch(rows: UnsafePointer<UInt32>, count: Int, compact: UnsafeMutablePointer<UInt32>,
               table: AlignedBuffer<Float>, tableLinear: AlignedBuffer<Float>?) throws(CommunicatorError) {
        let size = shard.ranks, me = shard.rank
        // 1. Unique rows in first-occurrence order; positions get unique indices for now.
        let keys = keys.base, values = values.base, slots = slotOfUnique.base
        let owners = ownerOfUnique.base, locals = localOfUnique.base
        var unique = 0
        let slotMask = Int(1 << (32 - hashShift)) - 1
        for p in 0..<count {
            let row = rows[p]
            var h = Int((row &* 0x9E37_79B1) >> hashShift)
            while true {
                let k = keys[h]
                if k == row { compact[p] = UInt32(values[h]); break }
                if k == Self.empty {
                    keys[h] = row
                    values[h] = Int32(unique)
                    slots[unique] = Int32(h)
                    let local = shard.localRow(of: Int(row))
                    owners[unique] = Int32(Int(row) - local * size)
                    locals[unique] = UInt32(local)
                    compact[p] = UInt32(unique)
                    unique += 1
                    break
                }
                h = (h + 1) & slotMask
            }
        }
        for u in 0..<unique { keys[Int(slots[u])] = Self.empty }
        uniqueCount = unique
        // 2. Grouped by owner, stable within each.
        var perOwner = [Int](repeating: 0, count: size)
        for u in 0..<unique { perOwner[Int(owners[u])] += 1 }
        var start = [Int](repeating: 0, count: size + 1)
        for o in 0..<size { start[o + 1] = start[o] + perOwner[o] }
        var next = Array(start.dropLast())
        let grouped = groupedOfUnique.base, requests = requests.base
        for u in 0..<unique {
            let o = Int(owners[u])
            grouped[u] = Int32(next[o])
            requests[next[o]] = locals[u]
            next[o] += 1
        }
        rowsPerOwner = perOwner
        for p in 0..<count { compact[p] = UInt32(grouped[Int(compact[p])]) }
        // 3. Own rows straight from storage.
        copyRows(indices: requests + start[me], count: perOwner[me], from: table, tableLinear,
                 into: embedding.base + start[me] * width, linear?.base.advanced(by: start[me]))
        // 4. How many each rank asks of this one, then the indices themselves.
        let asked = try exchangeCounts(perOwner)
        var incomingStart = [Int](repeating: 0, count: size + 1)
        for r in 0..<size { incomingStart[r + 1] = incomingStart[r] + (r == me ? 0 : asked[r]) }
        let totalIncoming = incomingStart[size]
        if incoming.count < totalIncoming { incoming = AlignedBuffer(uninitializedCount: totalIncoming) }
        let sendIndices = (0..<size).map { q in q == me ? start[q]..<start[q] : start[q]..<start[q + 1] }
        let receiveIndices = (0..<size).map { r in incomingStart[r]..<incomingStart[r + 1] }
        try ranks.allToAll(send: requests, sendParts: sendIndices, receive: incoming.base, receiveParts: receiveIndices,
                           what: "row requests")
        for r in 0..<size where r != me {
            for k in incomingStart[r]..<incomingStart[r + 1] where Int(incoming[k]) >= shard.localRows {
                throw CommunicatorError(rank: r, "asked for local row \(incoming[k]) of \(shard.localRows)")
            }
        }
        // 5. Serve them, and receive this rank's rows from their owners.
        if servedRows.count < totalIncoming * width { servedRows = AlignedBuffer(uninitializedCount: totalIncoming * width) }
        if hasLinear, servedLinear.count < totalIncoming { servedLinear = AlignedBuffer(uninitializedCount: totalIncoming) }
        copyRows(indices: incoming.base, count: totalIncoming, from: table, tableLinear,
                 into: servedRows.base, hasLinear ? servedLinear.base : nil)
        let scaled = { (parts: [Range<Int>], w: Int) in parts.map { ($0.lowerBound * w)..<($0.upperBound * w) } }
        try ranks.allToAll(send: servedRows.base, sendParts: scaled(receiveIndices, width), receive: embedding.base,
                           receiveParts: scaled(sendIndices, width), what: "rows")
        if let linear {
            try ranks.allToAll(send: servedLinear.base, sendParts: receiveIndices, receive: linear.base, receiveParts: sendIndices,
                               what: "rows")
        }
    }

    /// Copies local rows `indices[0 ..< count]` of this rank's shard, in that order.
    private func copyRows(indices: UnsafePointer<UInt32>, count: Int, from table: AlignedBuffer<Float>,
                          _ tableLinear: AlignedBuffer<Float>?, into destination: UnsafeMutablePointer<Float>,
                          _ linearDestination: UnsafeMutablePointer<Float>?) {
        EmbeddingKernels.copyRows(indices: indices, count: count, width: width, table: table.base,
                                  linear: tableLinear.map { UnsafePointer($0.base) }, into: destination,
                                  linearInto: linearDestination)
    }

    /// Every rank's count for this one, given this rank's count for each.
    private func exchangeCounts(_ perOwner: [Int]) throws(CommunicatorError) -> [Int] {
        let size = shard.ranks
        for o in 0..<size { countsOut[o] = Int64(perOwner[o]) }
        let parts = (0..<size).map { $0..<($0 + 1) }
        try ranks.allToAll(send: countsOut.base, sendParts: parts, receive: countsIn.base, receiveParts: parts, what: "row requests")
        var asked: [Int] = []
        for r in 0..<size {
            let n = countsIn[r]
            // A rank asks for unique rows, so never for more than this one holds.
            guard n >= 0 && n <= Int64(shard.localRows) else {
                throw CommunicatorError(rank: r, "asked for \(n) rows of a shard of \(shard.localRows)")
            }
            asked.append(Int(n))
        }
        return asked
    }
}
