import FNNCore
import FNNExecution
import FNNSystem

extension RankExchange {
    /// Rank 0 receives a sharded table's rows (`local`: this rank's rows of `width` elements, in
    /// local order) in global order, `chunkRows` at a time, and hands each chunk to `body`; the
    /// other ranks send theirs. Collective. Chunks start at multiples of the rank count, so each
    /// rank's part of a chunk is one contiguous run of its local rows, sent from where it lies:
    /// rank 0 never holds more than a chunk of the others' rows (a model file written from a
    /// sharded table).
    func gatherRows<T>(_ local: AlignedBuffer<T>, width: Int, shard: TableShard, chunkRows requested: Int,
                       body: (UnsafeBufferPointer<T>) throws -> Void) throws {
        precondition(shard.ranks == size && shard.rank == rank)
        let ranks = size, rows = shard.tableRows
        let chunkRows = max(ranks, requested / ranks * ranks)
        let received = AlignedBuffer<T>(uninitializedCount: isRoot ? chunkRows * width : 1)
        let ordered = AlignedBuffer<T>(uninitializedCount: isRoot ? chunkRows * width : 1)
        var first = 0
        while first < rows {
            let end = min(rows, first + chunkRows)
            // Rank q's rows in [first, end): its locals first / R ..< (its count of rows below end).
            let parts = (0..<ranks).map { q -> Range<Int> in
                let lo = first / ranks
                let hi = TableShard.rows(of: q, ranks: ranks, tableRows: end)
                return lo..<max(lo, hi)
            }
            let mine = parts[rank]
            var receiveParts: [Range<Int>] = []
            var offset = 0
            for q in 0..<ranks {
                let n = isRoot ? parts[q].count * width : 0
                receiveParts.append(offset..<(offset + n))
                offset += n
            }
            let sendParts = (0..<ranks).map { q in q == 0 ? (mine.lowerBound * width)..<(mine.upperBound * width) : 0..<0 }
            try allToAll(send: local.base, sendParts: sendParts, receive: received.base, receiveParts: receiveParts, what: "table rows")
            if isRoot {
                for q in 0..<ranks {
                    let start = receiveParts[q].lowerBound
                    for k in 0..<parts[q].count {
                        let row = (parts[q].lowerBound + k) * ranks + q - first
                        (ordered.base + row * width).update(from: received.base + start + k * width, count: width)
                    }
                }
                try body(UnsafeBufferPointer(start: ordered.base, count: (end - first) * width))
            }
            first = end
        }
    }

    var isRoot: Bool { rank == 0 }

    /// The first of the ranks' answers that is not nil (a non-finite tensor in some rank's shard).
    func firstAnswer(_ answer: String?) throws(CommunicatorError) -> String? {
        guard !isSingle else { return answer }
        let all = try communicator.allGather(Array((answer.map { "1" + $0 } ?? "0").utf8))
        for bytes in all where bytes.first == UInt8(ascii: "1") { return String(decoding: bytes.dropFirst(), as: UTF8.self) }
        return nil
    }
}

extension RankExchange {
    /// The whole model on rank 0 (nil on the others), from every rank's shard of it: for
    /// comparisons and tables that fit one process. Collective.
    public func gatherModel(_ model: Model) throws -> Model? {
        let whole = isRoot ? Model(config: model.config) : nil
        if let whole {
            whole.dense.copy(from: model.dense)
            whole.runningStats.copy(from: model.runningStats)
            whole.batchesTracked = model.batchesTracked
        }
        guard !model.shard.isWholeTable else {
            if let whole { whole.copyParameters(from: model) }
            return whole
        }
        for (k, table) in ModelFile.tableTensors(of: model).enumerated() {
            var next = 0
            try gatherRows(table.buffer, width: table.width, shard: model.shard, chunkRows: 1 << 16) { rows in
                let destination = ModelFile.tableTensors(of: whole!)[k].buffer
                (destination.base + next).update(from: rows.baseAddress!, count: rows.count)
                next += rows.count
            }
        }
        return whole
    }
}
