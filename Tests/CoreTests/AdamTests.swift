import Core
import Testing

/// A plain Double Adam for one parameter vector, straight from torch's documented algorithm.
struct ReferenceAdam {
    var m: [Double], v: [Double]
    let lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd: Double

    init(count: Int, weightDecay: Double) {
        m = Array(repeating: 0, count: count); v = m; wd = weightDecay
    }

    mutating func step(_ p: inout [Double], _ g: [Double], t: Int) {
        for j in p.indices {
            let grad = g[j] + wd * p[j]
            m[j] = b1 * m[j] + (1 - b1) * grad
            v[j] = b2 * v[j] + (1 - b2) * grad * grad
            let mhat = m[j] / (1 - Foundation.pow(b1, Double(t)))
            let vhat = v[j] / (1 - Foundation.pow(b2, Double(t)))
            p[j] -= lr * mhat / (vhat.squareRoot() + eps)
        }
    }
}

@Suite struct AdamTests {
    @Test func denseAdamMatchesReferenceOverManySteps() {
        let n = 37, slices = 3
        let config = AdamConfig(weightDecay: 1e-2)
        let adam = DenseAdam(config: config, count: n)
        var rng = Xoshiro256(seed: 1)
        let params = AlignedBuffer<Float>((0..<n).map { _ in Float(rng.nextGaussian()) })
        var reference = params.array.map(Double.init)
        var ref = ReferenceAdam(count: n, weightDecay: 1e-2)
        let partials = AlignedBuffer<Float>(count: slices * n)
        let scratch = AlignedBuffer<Float>(count: n)
        for t in 1...50 {
            var g = [Double](repeating: 0, count: n)
            for s in 0..<slices {
                for j in 0..<n {
                    let value = Float(rng.nextGaussian() * 0.1)
                    partials[s * n + j] = value
                    g[j] += Double(value)
                }
            }
            // Two partitions, as two workers would.
            for range in partition(n, parts: 2, alignment: 8) {
                adam.update(parameters: params, slicePartials: partials, sliceCount: slices, range: range, step: t,
                            scratch: scratch.base + range.lowerBound)
            }
            ref.step(&reference, g, t: t)
        }
        for j in 0..<n { #expect(abs(Double(params[j]) - reference[j]) < 2e-5) }
    }

    @Test func rowGroupingListsEachRowsPositionsInOrder() {
        let rowIds: [UInt32] = [5, 2, 5, 9, 2, 5, 0]
        let grouping = RowGrouping(tableRows: 10, maxPositions: 16)
        rowIds.withUnsafeBufferPointer { grouping.build(rowIds: $0.baseAddress!, count: rowIds.count) }
        #expect(grouping.uniqueCount == 4)
        var seen: [UInt32: [Int32]] = [:]
        for u in 0..<grouping.uniqueCount {
            let r = grouping.uniqueRows[u]
            seen[r] = (Int(grouping.starts[u])..<Int(grouping.starts[u + 1])).map { grouping.positions[$0] }
        }
        #expect(seen == [5: [0, 2, 5], 2: [1, 4], 9: [3], 0: [6]])
        #expect((0..<4).map { grouping.uniqueRows[$0] } == [5, 2, 9, 0])
        // A second build forgets the first.
        let next: [UInt32] = [9, 1]
        next.withUnsafeBufferPointer { grouping.build(rowIds: $0.baseAddress!, count: 2) }
        #expect(grouping.uniqueCount == 2 && grouping.slot(ofRow: 5) == -1 && grouping.slot(ofRow: 1) == 1)
    }

    /// Lazy rows: each row follows the reference Adam over only the steps that touched it, with
    /// its own step count, and untouched rows do not move at all.
    @Test func lazyRowUpdateMatchesPerRowReference() {
        let rows = 12, width = 5
        let config = AdamConfig(weightDecay: 1e-3)
        let adam = LazyRowAdam(config: config, rows: rows, width: width)
        var rng = Xoshiro256(seed: 2)
        let table = AlignedBuffer<Float>((0..<(rows * width)).map { _ in Float(rng.nextGaussian()) })
        var reference = (0..<rows).map { r in (0..<width).map { Double(table[r * width + $0]) } }
        var refAdams = (0..<rows).map { _ in ReferenceAdam(count: width, weightDecay: 1e-3) }
        var refSteps = [Int](repeating: 0, count: rows)
        let grouping = RowGrouping(tableRows: rows, maxPositions: 64)
        for _ in 0..<40 {
            // Rows 0-3 hit often (several times per batch), 4-7 rarely, 8-11 never.
            var batch: [UInt32] = []
            for _ in 0..<20 {
                let r = rng.nextDouble() < 0.85 ? rng.nextInt(below: 4) : 4 + rng.nextInt(below: 4)
                batch.append(UInt32(r))
            }
            let grads = (0..<(batch.count * width)).map { _ in Float(rng.nextGaussian()) }
            batch.withUnsafeBufferPointer { grouping.build(rowIds: $0.baseAddress!, count: batch.count) }
            grads.withUnsafeBufferPointer { g in
                for range in partition(grouping.uniqueCount, parts: 3, alignment: 1) {
                    adam.update(table: table, grouping: grouping, uniqueRange: range, gradients: g.baseAddress!,
                                positionStride: width, elementOffset: 0)
                }
            }
            for r in Set(batch) {
                var g = [Double](repeating: 0, count: width)
                for (p, row) in batch.enumerated() where Int(row) == r {
                    for j in 0..<width { g[j] += Double(grads[p * width + j]) }
                }
                refSteps[Int(r)] += 1
                refAdams[Int(r)].step(&reference[Int(r)], g, t: refSteps[Int(r)])
            }
        }
        for r in 0..<rows {
            #expect(Int(adam.steps[r]) == refSteps[r])
            for j in 0..<width { #expect(abs(Double(table[r * width + j]) - reference[r][j]) < 2e-5) }
        }
        #expect(refSteps[8...].allSatisfy { $0 == 0 })
    }
}

import Foundation
