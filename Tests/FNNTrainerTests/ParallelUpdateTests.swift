import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import TestSupport
import Testing
import Foundation

/// The partitioned dense reduction and the partitioned sparse row update, run by a pool, against
/// a plain sequential reference: bit-identical to the one-worker run, and within rounding of a
/// Double reference.
@Suite struct ParallelUpdateTests {
    @Test(arguments: [(1001, 3, 5), (64, 1, 8), (4097, 32, 3), (7, 2, 17)])
    func denseReductionAndAdam(size: Int, slices: Int, workers: Int) {
        var rng = Xoshiro256(seed: UInt64(size * 31 + slices))
        let config = AdamConfig(weightDecay: 1e-3)
        let initial = (0..<size).map { _ in Float(rng.nextGaussian()) }
        let parallelParams = AlignedBuffer<Float>(initial), serialParams = AlignedBuffer<Float>(initial)
        let parallelAdam = DenseAdam(config: config, count: size), serialAdam = DenseAdam(config: config, count: size)
        let partials = AlignedBuffer<Float>(count: slices * size)
        let scratchA = AlignedBuffer<Float>(count: size), scratchB = AlignedBuffer<Float>(count: size)
        var reference = initial.map(Double.init)
        var referenceAdam = ReferenceAdam(count: size, weightDecay: 1e-3)
        let pool = WorkerPool(threads: workers)
        for step in 1...5 {
            var sum = [Double](repeating: 0, count: size)
            for i in 0..<(slices * size) {
                partials[i] = Float(rng.nextGaussian())
                sum[i % size] += Double(partials[i])
            }
            let parts = partition(size, parts: workers)
            pool.run(.denseUpdate, tasks: workers) { p, _ in
                parallelAdam.update(parameters: parallelParams, slicePartials: partials, sliceCount: slices,
                                    range: parts[p], step: step, scratch: scratchA.base + parts[p].lowerBound)
            }
            serialAdam.update(parameters: serialParams, slicePartials: partials, sliceCount: slices, range: 0..<size,
                              step: step, scratch: scratchB.base)
            referenceAdam.step(&reference, sum, t: step)
        }
        #expect(parallelParams.bitwiseEqual(serialParams))
        for j in 0..<size { #expect(abs(Double(parallelParams[j]) - reference[j]) < 5e-5) }
    }

    /// Row 0 is in every slice, row 1 in one slice only, rows 2-9 many times at random, and the
    /// batch has more slices than some pools have workers and fewer than others.
    @Test(arguments: [1, 2, 3, 8, 33])
    func sparseRowUpdate(workers: Int) {
        let rows = 40, width = 7, positionsPerSlice = 13, slices = 6
        var rng = Xoshiro256(seed: 99)
        var rowIds: [UInt32] = []
        for s in 0..<slices {
            for p in 0..<positionsPerSlice {
                if p == 0 { rowIds.append(0) } else if s == 3 && p == 1 { rowIds.append(1) } else {
                    rowIds.append(UInt32(2 + rng.nextInt(below: rng.nextDouble() < 0.7 ? 8 : rows - 2)))
                }
            }
        }
        let config = AdamConfig(weightDecay: 1e-2)
        let initial = (0..<(rows * width)).map { _ in Float(rng.nextGaussian()) }
        let table = AlignedBuffer<Float>(initial), serialTable = AlignedBuffer<Float>(initial)
        let adam = LazyRowAdam(config: config, rows: rows, width: width)
        let serialAdam = LazyRowAdam(config: config, rows: rows, width: width)
        let schedule = AdamSchedule(config: config)
        let grouping = RowGrouping(tableRows: rows, maxPositions: rowIds.count, width: width)
        let serialGrouping = RowGrouping(tableRows: rows, maxPositions: rowIds.count, width: width)
        let pool = WorkerPool(threads: workers)
        var reference = (0..<rows).map { r in (0..<width).map { Double(initial[r * width + $0]) } }
        var referenceAdams = (0..<rows).map { _ in ReferenceAdam(count: width, weightDecay: 1e-2) }
        for step in 1...3 {
            let grads = AlignedBuffer<Float>((0..<(rowIds.count * width)).map { _ in Float(rng.nextGaussian()) })
            schedule.ensure(upTo: step)
            for g in [grouping, serialGrouping] {
                rowIds.withUnsafeBufferPointer {
                    g.build(rowIds: $0.baseAddress!, count: rowIds.count,
                            gradients: RowGradients(embedding: grads.base, embeddingStride: width))
                }
            }
            let parts = partition(grouping.uniqueCount, parts: workers, alignment: 1)
            pool.run(.sparseUpdate, tasks: workers) { p, _ in
                adam.update(table: table, grouping: grouping, uniqueRange: parts[p], globalStep: step, schedule: schedule)
            }
            serialAdam.update(table: serialTable, grouping: serialGrouping, uniqueRange: 0..<serialGrouping.uniqueCount,
                              globalStep: step, schedule: schedule)
            // Every touched row is touched every step here, so no catch-up is involved.
            for r in Set(rowIds.map(Int.init)) {
                var g = [Double](repeating: 0, count: width)
                for (p, row) in rowIds.enumerated() where Int(row) == r {
                    for j in 0..<width { g[j] += Double(grads[p * width + j]) }
                }
                referenceAdams[r].step(&reference[r], g, t: step)
            }
        }
        #expect(table.bitwiseEqual(serialTable))
        for r in 0..<rows {
            for j in 0..<width { #expect(abs(Double(table[r * width + j]) - reference[r][j]) < 5e-5) }
        }
    }
}

import Foundation
