import FNNCore
import FNNSystem
import FNNTrainer
import TestSupport
import Testing

@Suite struct TablePartitionTests {
    /// The parts of a partitioned grouping own disjoint ranges of whole 64-row blocks that cover
    /// the table; together they hold exactly the full grouping's rows, each with the same
    /// gradient sum to the bit and the same position count; after a step the ranges move to balance the work; and
    /// finishing a part frees its rows for the next owner.
    @Test(arguments: [(100, 2), (6272, 2), (128_000, 3), (9746, 32), (64, 5)])
    func partitionedGroupingMatchesTheFullOne(tableRows: Int, parts: Int) {
        var rng = Xoshiro256(seed: UInt64(tableRows))
        // Skewed: most positions in the first tenth of the table.
        let rowIds = (0..<3000).map { _ in
            UInt32(rng.nextDouble() < 0.8 ? rng.nextInt(below: max(1, tableRows / 10)) : rng.nextInt(below: tableRows))
        }
        let width = 2
        let grads = AlignedBuffer<Float>((0..<(rowIds.count * width)).map { _ in Float(rng.nextGaussian()) })
        let gradients = RowGradients(embedding: grads.base, embeddingStride: width)
        let full = RowGrouping(tableRows: tableRows, maxPositions: rowIds.count, width: width)
        rowIds.withUnsafeBufferPointer { full.build(rowIds: $0.baseAddress!, count: rowIds.count, gradients: gradients) }
        func sums(_ g: RowGrouping, _ u: Int) -> [Float] { (0..<width).map { g.sums[u * width + $0] } + [Float(g.positionCounts[u])] }
        var expected: [UInt32: [Float]] = [:]
        for u in 0..<full.uniqueCount { expected[full.uniqueRows[u]] = sums(full, u) }
        let partitioned = PartitionedRowGrouping(tableRows: tableRows, maxPositions: rowIds.count, width: width)
        var spreads: [Int] = []
        for _ in 0..<2 {
            partitioned.prepare(parts: parts)
            let b = partitioned.boundaries
            #expect(b.count == parts + 1 && b.first == 0 && b.last == tableRows)
            #expect(zip(b, b.dropFirst()).allSatisfy { $0 <= $1 } && b.dropLast().allSatisfy { $0 % 64 == 0 })
            var seen: [UInt32: [Float]] = [:]
            var work: [Int] = []
            for p in 0..<parts {
                let g = rowIds.withUnsafeBufferPointer {
                    partitioned.build(part: p, rowIds: $0.baseAddress!, count: rowIds.count, gradients: gradients)
                }
                var w = 0
                for u in 0..<g.uniqueCount {
                    let row = g.uniqueRows[u]
                    #expect(partitioned.rows(ofPart: p).contains(Int(row)))
                    seen[row] = sums(g, u)
                    w += 16 + Int(g.positionCounts[u])
                }
                work.append(w)
            }
            #expect(seen == expected)
            spreads.append(work.max()! - work.min()!)
            for p in 0..<parts { partitioned.finish(part: p) }
            #expect((0..<tableRows).allSatisfy { partitioned.slot(ofRow: $0) == -1 })
        }
        // Balanced on the first step's counts, the second step (same rows) spreads the work no
        // worse, where there are enough blocks to cut finely.
        if tableRows / 64 >= 8 * parts { #expect(spreads[1] <= spreads[0], "\(spreads)") }
    }

    /// Cyclic shards cover the table exactly: every row has one owner, its local index maps back
    /// to it, and the counts add up (surplus ranks hold nothing). The multiply-high quotient is
    /// exact up to the largest 32-bit rows.
    @Test(arguments: [(1000, 1), (1000, 3), (4096, 4), (100, 5), (0, 2), (3, 7)])
    func shardsCoverTheTable(tableRows: Int, ranks: Int) {
        let shards = (0..<ranks).map { TableShard(tableRows: tableRows, rank: $0, ranks: ranks) }
        #expect(shards.map(\.localRows).reduce(0, +) == tableRows)
        for row in 0..<tableRows {
            let owner = shards[0].owner(of: row)
            #expect(owner == row % ranks && shards[owner].owns(row))
            #expect(shards[owner].globalRow(ofLocal: shards[owner].localRow(of: row)) == row)
            #expect(shards[owner].localRow(of: row) < shards[owner].localRows)
        }
        var rng = Xoshiro256(seed: 3)
        for _ in 0..<20_000 {
            let r = 1 + rng.nextInt(below: 1 << 16), row = Int(UInt32.max) - rng.nextInt(below: 1 << 20)
            let shard = TableShard(tableRows: Int(UInt32.max), rank: 0, ranks: r)
            #expect(shard.localRow(of: row) == row / r && shard.owner(of: row) == row % r)
        }
    }

    /// A grouping over one shard holds exactly the rows of that shard that the batch touches
    /// (as local rows), each with the full grouping's sum to the bit; other ranks' rows go to
    /// the unowned row, which no part covers.
    @Test(arguments: [1, 2, 3])
    func groupingOverAShardKeepsOnlyItsRows(parts: Int) {
        let tableRows = 1000, width = 3
        var rng = Xoshiro256(seed: 9)
        let rowIds = (0..<2000).map { _ in UInt32(rng.nextInt(below: tableRows)) }
        let grads = AlignedBuffer<Float>((0..<(rowIds.count * width)).map { _ in Float(rng.nextGaussian()) })
        let gradients = RowGradients(embedding: grads.base, embeddingStride: width)
        let full = RowGrouping(tableRows: tableRows, maxPositions: rowIds.count, width: width)
        rowIds.withUnsafeBufferPointer { full.build(rowIds: $0.baseAddress!, count: rowIds.count, gradients: gradients) }
        let shard = TableShard(tableRows: tableRows, rank: 1, ranks: 3)
        var expected: [UInt32: [Float]] = [:]
        for u in 0..<full.uniqueCount where shard.owns(Int(full.uniqueRows[u])) {
            expected[UInt32(shard.localRow(of: Int(full.uniqueRows[u])))] = (0..<width).map { full.sums[u * width + $0] }
        }
        var held = [UInt32](repeating: 0, count: rowIds.count)
        rowIds.withUnsafeBufferPointer { ids in
            held.withUnsafeMutableBufferPointer { shard.heldIndices(of: ids.baseAddress!, count: ids.count, into: $0.baseAddress!) }
        }
        #expect(held.allSatisfy { $0 <= UInt32(shard.localRows) })
        let range = TableRowRange(shardOf: shard.localRows)
        let partitioned = PartitionedRowGrouping(table: range, maxPositions: rowIds.count, width: width)
        partitioned.prepare(parts: parts)
        #expect(partitioned.boundaries.first == 0 && partitioned.boundaries.last == shard.localRows)
        var seen: [UInt32: [Float]] = [:]
        for p in 0..<parts {
            let g = held.withUnsafeBufferPointer {
                partitioned.build(part: p, rowIds: $0.baseAddress!, count: rowIds.count, gradients: gradients)
            }
            for u in 0..<g.uniqueCount { seen[g.uniqueRows[u]] = (0..<width).map { g.sums[u * width + $0] } }
            partitioned.finish(part: p)
        }
        #expect(!expected.isEmpty && seen == expected)
    }
}
