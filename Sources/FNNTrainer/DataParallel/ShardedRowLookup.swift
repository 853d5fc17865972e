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
    /// The recent-row table that removes repeats (`UniqueRowKernels`): 64K slots (256 KB, in
    /// L2), fewer for small tables.
    private let recentRows: AlignedBuffer<UInt32>
    private let hashShift: UInt32
    /// Per fetched row in order of first use: its row and its owner.
    private let uniqueRows: AlignedBuffer<UInt32>
    private let ownerOfUnique: AlignedBuffer<Int32>
    /// Per unique row: its index in grouped order.
    private let groupedOfUnique: AlignedBuffer<Int32>
    /// Requests out (local indices, grouped by owner) and in (from each rank, in rank order).
    private let requests: AlignedBuffer<UInt32>
    private var incoming: AlignedBuffer<UInt32>
    /// Rows served to the other ranks, in the order they asked.
    private var servedRows: AlignedBuffer<Float>
    private var servedLinear: AlignedBuffer<Float>
    /// Training lookups only: each of this rank's positions as a (local row, gradient entry) pair,
    /// grouped by the row's owner (`pairsOut`), and the pairs the other ranks sent for this
    /// rank's rows, in rank order and so in the batch's position order (`heldPairs`, `heldCount`):
    /// what the owner's update groups, without every rank scanning every position.
    private let ownerCounters: AlignedBuffer<Int>
    private let ownerStarts: AlignedBuffer<Int>
    private let pairsOut: AlignedBuffer<UInt32>
    /// Pairs each owner's region of `pairsOut` holds: a lookup's positions (its pages are touched
    /// only as far as an owner's pairs reach).
    private let pairsRegion: Int
    private(set) var heldPairs: AlignedBuffer<UInt32>
    private(set) var heldCount = 0
    /// The last training lookup's pairs per owner (sent) and per rank (received).
    private var pairsSent: [Int] = []
    private var pairsReceived: [Int] = []
    /// Per-position gradient entries (`sendEntries`): this rank's, owner by owner in the order of
    /// its pairs, and those the ranks sent for this rank's pairs, in the pairs' order.
    private var entriesOut: AlignedBuffer<Float>
    private(set) var heldEntries: AlignedBuffer<Float>
    private let countsOut: AlignedBuffer<Int64>
    private let countsIn: AlignedBuffer<Int64>

    init(shard: TableShard, ranks: RankExchange, maxPositions: Int, width: Int, hasLinear: Bool) {
        precondition(shard.ranks == ranks.size && shard.rank == ranks.rank && maxPositions < Int(Int32.max) / 2)
        self.shard = shard
        self.ranks = ranks
        self.width = width
        self.hasLinear = hasLinear
        let maxUnique = max(1, maxPositions)
        embedding = AlignedBuffer(uninitializedCount: max(1, maxUnique) * width)
        linear = hasLinear ? AlignedBuffer(uninitializedCount: max(1, maxUnique)) : nil
        var bits: UInt32 = 4
        while bits < 16 && (1 << bits) < 2 * max(1, min(maxPositions, shard.tableRows)) { bits += 1 }
        recentRows = AlignedBuffer(count: 1 << bits)
        hashShift = 32 - bits
        // Repeats that collide are fetched again: as many fetched rows as positions, at most.
        uniqueRows = AlignedBuffer(count: maxPositions + 1)
        ownerOfUnique = AlignedBuffer(uninitializedCount: max(1, maxPositions))
        groupedOfUnique = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        requests = AlignedBuffer(uninitializedCount: max(1, maxUnique))
        incoming = AlignedBuffer(uninitializedCount: 1)
        servedRows = AlignedBuffer(uninitializedCount: width)
        servedLinear = AlignedBuffer(uninitializedCount: 1)
        countsOut = AlignedBuffer(count: 2 * shard.ranks)
        countsIn = AlignedBuffer(count: 2 * shard.ranks)
        ownerCounters = AlignedBuffer(count: shard.ranks)
        ownerStarts = AlignedBuffer(count: shard.ranks + 1)
        pairsRegion = maxUnique
        pairsOut = AlignedBuffer(uninitializedCount: 2 * maxUnique * shard.ranks)
        heldPairs = AlignedBuffer(uninitializedCount: 2)
        entriesOut = AlignedBuffer(uninitializedCount: 1)
        heldEntries = AlignedBuffer(uninitializedCount: 1)
    }

    var byteCount: Int {
        embedding.byteCount + (linear?.byteCount ?? 0) + recentRows.byteCount + uniqueRows.byteCount
            + ownerOfUnique.byteCount + groupedOfUnique.byteCount + requests.byteCount
            + incoming.byteCount + servedRows.byteCount + servedLinear.byteCount
            + pairsOut.byteCount + heldPairs.byteCount + entriesOut.byteCount + heldEntries.byteCount
    }

    /// Fetches the rows of `count` positions (global rows at `rows`) from `table` / `tableLinear`
    /// (this rank's shard) and the other ranks' shards, and writes each position's index into
    /// `embedding` / `linear` to `compact`. Collective: every rank calls it once per lookup.
    ///
    /// `held` (training): the positions are the batch's from `firstPosition` on, and a position's
    /// gradient entry is its position divided by `positionsPerEntry`; each owner then receives
    /// the (local row, entry) pairs of the positions of its rows (`heldPairs`).
    func fetch(rows: UnsafePointer<UInt32>, count: Int, compact: UnsafeMutablePointer<UInt32>,
               table: AlignedBuffer<Float>, tableLinear: AlignedBuffer<Float>?,
               held: (firstPosition: Int, positionsPerEntry: Int)? = nil) throws(CommunicatorError) {
        let size = shard.ranks, me = shard.rank
        // 1. Unique rows in first-occurrence order; positions get unique indices for now.
        let unique = UniqueRowKernels.deduplicate(rows: rows, count: count, recent: recentRows.base, shift: hashShift,
                                                  compact: compact, unique: uniqueRows.base)
        // 2. Grouped by owner, stable within each: the requests are the owners' local rows.
        // (Per-owner counters in raw memory: in these loops an array's checks cost more than the
        // work.)
        let owners = ownerOfUnique.base, distinct = uniqueRows.base
        let counter = ownerCounters.base, start = ownerStarts.base
        counter.update(repeating: 0, count: size)
        for u in 0..<unique {
            let row = Int(distinct[u])
            let o = row - shard.localRow(of: row) * size
            owners[u] = Int32(o)
            counter[o] += 1
        }
        start[0] = 0
        for o in 0..<size { start[o + 1] = start[o] + counter[o]; counter[o] = start[o] }
        let grouped = groupedOfUnique.base, requests = requests.base
        for u in 0..<unique {
            let o = Int(owners[u])
            let g = counter[o]
            grouped[u] = Int32(g)
            requests[g] = UInt32(truncatingIfNeeded: shard.localRow(of: Int(distinct[u])))
            counter[o] = g + 1
        }
        let perOwner = (0..<size).map { start[$0 + 1] - start[$0] }
        // One pass over the positions: each to its grouped index and, training, its (local row,
        // entry) pair into its owner's region of `pairsOut` (a region per owner, room for every
        // position: no counting pass first).
        var pairsPerOwner = [Int](repeating: 0, count: size)
        if let held {
            precondition(held.firstPosition + count <= Int(UInt32.max) && count <= pairsRegion)
            counter.update(repeating: 0, count: size)
            let out = pairsOut.base, perEntry = held.positionsPerEntry, region = pairsRegion
            // The entry counted alongside the position (a division per position cost a quarter
            // of this pass).
            var entry = UInt32(truncatingIfNeeded: held.firstPosition / perEntry), within = held.firstPosition % perEntry
            // The owner and local row from the row itself (a multiplication), not loaded through
            // the grouped index: that load waited on the one before it.
            let shard = shard
            for p in 0..<count {
                let row = Int(rows[p]), local = shard.localRow(of: row), o = row &- local &* size
                compact[p] = UInt32(bitPattern: grouped[Int(compact[p])])
                let at = o &* region &+ counter[o]
                out[2 * at] = UInt32(truncatingIfNeeded: local)
                out[2 * at + 1] = entry
                counter[o] += 1
                within &+= 1
                if within == perEntry { within = 0; entry &+= 1 }
            }
            for o in 0..<size { pairsPerOwner[o] = counter[o] }
        } else {
            for p in 0..<count { compact[p] = UInt32(bitPattern: grouped[Int(compact[p])]) }
        }
        // 3. Own rows straight from storage.
        copyRows(indices: requests + start[me], count: perOwner[me], from: table, tableLinear,
                 into: embedding.base + start[me] * width, linear?.base.advanced(by: start[me]))
        // 4. How many each rank asks of this one, then the indices themselves.
        let (asked, pairsIn) = try exchangeCounts(perOwner, pairs: pairsPerOwner)
        var incomingStart = [Int](repeating: 0, count: size + 1)
        for r in 0..<size { incomingStart[r + 1] = incomingStart[r] + (r == me ? 0 : asked[r]) }
        let totalIncoming = incomingStart[size]
        if incoming.count < totalIncoming { incoming = AlignedBuffer(uninitializedCount: totalIncoming) }
        let sendIndices = (0..<size).map { q in q == me ? start[q]..<start[q] : start[q]..<start[q + 1] }
        let receiveIndices = (0..<size).map { r in incomingStart[r]..<incomingStart[r + 1] }
        try ranks.allToAll(send: requests, sendParts: sendIndices, receive: incoming.base, receiveParts: receiveIndices,
                           what: "row requests")
        // Checked as a maximum (no branch per row), the culprit found only if there is one.
        if largest(incoming.base, count: totalIncoming) >= shard.localRows {
            for r in 0..<size where r != me {
                for k in incomingStart[r]..<incomingStart[r + 1] where Int(incoming[k]) >= shard.localRows {
                    throw CommunicatorError(rank: r, "asked for local row \(incoming[k]) of \(shard.localRows)")
                }
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
        // 6. The positions of this rank's rows from every rank (its own included).
        guard held != nil else { return }
        var pairStart = [Int](repeating: 0, count: size + 1)
        for r in 0..<size { pairStart[r + 1] = pairStart[r] + 2 * pairsIn[r] }
        if heldPairs.count < pairStart[size] { heldPairs = AlignedBuffer(uninitializedCount: pairStart[size]) }
        let region = pairsRegion
        try ranks.allToAll(send: pairsOut.base, sendParts: (0..<size).map { (2 * $0 * region)..<(2 * ($0 * region + pairsPerOwner[$0])) },
                           receive: heldPairs.base,
                           receiveParts: (0..<size).map { pairStart[$0]..<pairStart[$0 + 1] }, what: "positions")
        heldCount = pairStart[size] / 2
        pairsSent = pairsPerOwner
        pairsReceived = pairsIn
        var highest: UInt32 = 0
        for k in 0..<heldCount { highest = max(highest, heldPairs[2 * k]) }
        if heldCount > 0 && Int(highest) >= shard.localRows {
            throw CommunicatorError(rank: me, "received a position of local row \(highest), past this rank's \(shard.localRows)")
        }
    }

    /// After the last training lookup's backward pass, when each position has its own gradient
    /// entry (`width` floats at `entries` + position * `width`, the batch's positions numbered as
    /// in the lookup's pairs): sends each owner the entries of its pairs, so it receives only its
    /// rows' (`heldEntries`, in the order of `heldPairs`, whose entries then name them) rather than
    /// every rank's whole batch. Collective.
    func sendEntries(_ entries: UnsafePointer<Float>, width: Int) throws(CommunicatorError) {
        let size = shard.ranks, region = pairsRegion
        precondition(pairsSent.count == size && pairsReceived.count == size)
        var outStart = [Int](repeating: 0, count: size + 1), inStart = [Int](repeating: 0, count: size + 1)
        for o in 0..<size {
            outStart[o + 1] = outStart[o] + pairsSent[o]
            inStart[o + 1] = inStart[o] + pairsReceived[o]
        }
        if entriesOut.count < outStart[size] * width { entriesOut = AlignedBuffer(uninitializedCount: outStart[size] * width) }
        if heldEntries.count < inStart[size] * width { heldEntries = AlignedBuffer(uninitializedCount: inStart[size] * width) }
        let pairs = pairsOut.base, out = entriesOut.base
        for o in 0..<size {
            for k in 0..<pairsSent[o] {
                let e = Int(pairs[2 * (o * region + k) + 1])
                AdamKernels.copy(entries + e * width, into: out + (outStart[o] + k) * width, count: width)
            }
        }
        let scaled = { (starts: [Int]) in (0..<size).map { (starts[$0] * width)..<(starts[$0 + 1] * width) } }
        try ranks.allToAll(send: entriesOut.base, sendParts: scaled(outStart), receive: heldEntries.base,
                           receiveParts: scaled(inStart), what: "gradient entries")
        // Each held pair's entry is now its own index.
        precondition(inStart[size] == heldCount)
        for k in 0..<heldCount { heldPairs[2 * k + 1] = UInt32(truncatingIfNeeded: k) }
    }

    /// The largest of `count` values (0 for none).
    private func largest(_ values: UnsafePointer<UInt32>, count: Int) -> Int {
        var m: UInt32 = 0
        for k in 0..<count { m = max(m, values[k]) }
        return Int(m)
    }

    /// Copies local rows `indices[0 ..< count]` of this rank's shard, in that order.
    private func copyRows(indices: UnsafePointer<UInt32>, count: Int, from table: AlignedBuffer<Float>,
                          _ tableLinear: AlignedBuffer<Float>?, into destination: UnsafeMutablePointer<Float>,
                          _ linearDestination: UnsafeMutablePointer<Float>?) {
        EmbeddingKernels.copyRows(indices: indices, count: count, width: width, table: table.base,
                                  linear: tableLinear.map { UnsafePointer($0.base) }, into: destination,
                                  linearInto: linearDestination)
    }

    /// Every rank's counts for this one (rows asked, positions sent), given this rank's for each.
    private func exchangeCounts(_ perOwner: [Int], pairs: [Int]) throws(CommunicatorError) -> (asked: [Int], pairs: [Int]) {
        let size = shard.ranks
        for o in 0..<size {
            countsOut[2 * o] = Int64(perOwner[o])
            countsOut[2 * o + 1] = Int64(pairs[o])
        }
        let parts = (0..<size).map { (2 * $0)..<(2 * $0 + 2) }
        try ranks.allToAll(send: countsOut.base, sendParts: parts, receive: countsIn.base, receiveParts: parts, what: "row requests")
        var asked: [Int] = [], sent: [Int] = []
        for r in 0..<size {
            let n = countsIn[2 * r], m = countsIn[2 * r + 1]
            // A rank asks for at most one row per position of a batch, and has at most that many.
            guard n >= 0 && n <= Int64(uniqueRows.count), m >= 0 && m <= Int64(uniqueRows.count) else {
                throw CommunicatorError(rank: r, "asked for \(n) rows of a shard of \(shard.localRows), or sent \(m) positions")
            }
            asked.append(Int(n))
            sent.append(Int(m))
        }
        return (asked, sent)
    }
}
