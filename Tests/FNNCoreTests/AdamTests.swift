import FNNCore
import FNNExecution
import FNNSystem
import TestSupport
import Testing

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

    /// Each row's gradient is the sum of its positions' entries in position order (the same
    /// Float additions, so the same bits), rows in order of first occurrence; in FM's factored
    /// form a position's entry is its example's and the row's value times the linear sum is
    /// taken off.
    @Test func rowGroupingSumsEachRowsEntriesInOrder() {
        let rowIds: [UInt32] = [5, 2, 5, 9, 2, 5, 0, 7]
        let width = 3
        var rng = Xoshiro256(seed: 4)
        let entries = (0..<(rowIds.count * width)).map { _ in Float(rng.nextGaussian()) }
        let linear = (0..<rowIds.count).map { _ in Float(rng.nextGaussian()) }
        let table = (0..<(10 * width)).map { _ in Float(rng.nextGaussian()) }
        for factored in [false, true] {
            // Factored: two positions per entry (an FM example of two fields).
            let perEntry = factored ? 2 : 1
            let grouping = RowGrouping(tableRows: 10, maxPositions: 16, width: width)
            entries.withUnsafeBufferPointer { e in
                linear.withUnsafeBufferPointer { l in
                    var gradients = RowGradients(embedding: e.baseAddress!, embeddingStride: width, linear: l.baseAddress!,
                                                 linearStride: 1)
                    if factored {
                        gradients = .fm(scaledSums: e.baseAddress!, logitGradients: l.baseAddress!, embedDim: width,
                                        fieldCount: 2)
                    }
                    rowIds.withUnsafeBufferPointer {
                        grouping.build(rowIds: $0.baseAddress!, count: rowIds.count, gradients: gradients)
                    }
                }
            }
            #expect(grouping.uniqueCount == 5)
            #expect((0..<5).map { grouping.uniqueRows[$0] } == [5, 2, 9, 0, 7])
            for u in 0..<grouping.uniqueCount {
                let row = Int(grouping.uniqueRows[u])
                let positions = rowIds.indices.filter { Int(rowIds[$0]) == row }
                #expect(Int(grouping.positionCounts[u]) == positions.count)
                var expected = [Float](repeating: 0, count: width)
                var expectedLinear: Float = 0
                for (k, p) in positions.enumerated() {
                    let e = p / perEntry
                    for j in 0..<width { expected[j] = k == 0 ? entries[e * width + j] : expected[j] + entries[e * width + j] }
                    expectedLinear = k == 0 ? linear[e] : expectedLinear + linear[e]
                }
                if factored { for j in 0..<width { expected[j] += -expectedLinear * table[row * width + j] } }
                let (g, l) = table.withUnsafeBufferPointer {
                    grouping.gradient(ofUnique: u, row: $0.baseAddress! + row * width, width: width)
                }
                #expect((0..<width).map { g[$0] } == expected, "row \(row)")
                #expect(l == expectedLinear)
            }
            // A second build forgets the first.
            let next: [UInt32] = [9, 1]
            entries.withUnsafeBufferPointer { e in
                next.withUnsafeBufferPointer {
                    grouping.build(rowIds: $0.baseAddress!, count: 2,
                                   gradients: RowGradients(embedding: e.baseAddress!, embeddingStride: width))
                }
            }
            #expect(grouping.uniqueCount == 2 && grouping.slot(ofRow: 5) == -1 && grouping.slot(ofRow: 1) == 1)
        }
    }

    /// Lazy rows against dense Adam replayed step by step: a touched row first catches up on the
    /// zero-gradient steps it missed since its last touch (closed form in the optimizer, explicit
    /// steps here, however long the gap), then takes its own step, with a step count that starts
    /// at its first touch; untouched rows do not move at all. With a linear weight, the row's
    /// weight follows the same steps as one more element. Weight decay is off because the
    /// catch-up neglects it.
    /// Width 16 takes the update's constant-width path, 5 the general one with a scalar tail.
    /// Factored: FM's gradient form (two fields per example), whose row term must use the row's
    /// value as stored, before the catch-up moves it; a large learning rate makes the catch-up
    /// large enough that using the moved row would fail the comparison.
    @Test(arguments: [(false, false, 5, false), (true, false, 5, false), (false, true, 5, false), (true, true, 5, false),
                      (false, true, 16, false), (true, true, 16, false), (true, true, 5, true), (true, true, 16, true)])
    func lazyRowUpdateMatchesPerRowReference(longGaps: Bool, withLinear: Bool, width: Int, factored: Bool) {
        let rows = 12
        let learningRate: Float = factored ? 0.05 : 1e-3
        let tolerance = factored ? 2e-3 : 5e-5
        let config = AdamConfig(learningRate: learningRate, weightDecay: 0)
        let adam = LazyRowAdam(config: config, rows: rows, width: width, hasLinear: withLinear)
        let schedule = AdamSchedule(config: config)
        var rng = Xoshiro256(seed: 2)
        let table = AlignedBuffer<Float>((0..<(rows * width)).map { _ in Float(rng.nextGaussian()) })
        let linear = AlignedBuffer<Float>((0..<rows).map { _ in Float(rng.nextGaussian()) })
        // Reference rows: the embedding elements, then the linear weight.
        let refWidth = withLinear ? width + 1 : width
        var reference = (0..<rows).map { r in
            (0..<width).map { Double(table[r * width + $0]) } + (withLinear ? [Double(linear[r])] : [])
        }
        var refAdams = (0..<rows).map { _ in
            ReferenceAdam(count: refWidth, weightDecay: 0, learningRate: Double(learningRate))
        }
        var refSteps = [Int](repeating: 0, count: rows)
        var refLast = [Int](repeating: 0, count: rows)
        let grouping = RowGrouping(tableRows: rows, maxPositions: 64, width: width)
        // Factored: entries per example of two positions; otherwise per position.
        let perEntry = factored ? 2 : 1
        let totalSteps = longGaps ? 300 : 40
        for globalStep in 1...totalSteps {
            // Rows 0-3 hit often (several times per batch), 4-7 rarely, 8-11 never.
            var batch: [UInt32] = []
            let rareRate = longGaps ? 0.01 : 0.15
            for _ in 0..<20 {
                let r = rng.nextDouble() < 1 - rareRate ? rng.nextInt(below: 4) : 4 + rng.nextInt(below: 4)
                batch.append(UInt32(r))
            }
            let entries = batch.count / perEntry
            let grads = (0..<(entries * width)).map { _ in Float(rng.nextGaussian()) }
            let linearGrads = (0..<entries).map { _ in Float(rng.nextGaussian()) }
            // The rows as stored before this step: what a forward pass would have read.
            let stored = (0..<(rows * width)).map { Double(table[$0]) }
            schedule.ensure(upTo: globalStep)
            buildGrouping(grouping, batch: batch, entries: grads, linearEntries: linearGrads, width: width,
                          withLinear: withLinear, factored: factored, positionsPerEntry: perEntry)
            for range in partition(grouping.uniqueCount, parts: 3, alignment: 1) {
                adam.update(table: table, linear: withLinear ? linear : nil, grouping: grouping,
                            uniqueRange: range, globalStep: globalStep, schedule: schedule)
            }
            for r in Set(batch.map(Int.init)) {
                var g = [Double](repeating: 0, count: refWidth)
                for (p, row) in batch.enumerated() where Int(row) == r {
                    let e = p / perEntry
                    for j in 0..<width {
                        g[j] += Double(grads[e * width + j])
                        if factored { g[j] -= Double(linearGrads[e]) * stored[r * width + j] }
                    }
                    if withLinear { g[width] += Double(linearGrads[e]) }
                }
                if refLast[r] > 0 {
                    for _ in 0..<(globalStep - refLast[r] - 1) {
                        refSteps[r] += 1
                        refAdams[r].step(&reference[r], [Double](repeating: 0, count: refWidth), t: refSteps[r])
                    }
                }
                refSteps[r] += 1
                refLast[r] = globalStep
                refAdams[r].step(&reference[r], g, t: refSteps[r])
            }
        }
        for r in 0..<rows {
            #expect(adam.steps(row: r) == refSteps[r])
            for j in 0..<width {
                #expect(abs(Double(table[r * width + j]) - reference[r][j]) < tolerance,
                        "row \(r) element \(j): \(table[r * width + j]) vs \(reference[r][j])")
            }
            if withLinear {
                #expect(abs(Double(linear[r]) - reference[r][width]) < tolerance, "row \(r) linear")
                #expect(abs(Double(adam.linearMoments(row: r).m) - refAdams[r].m[width]) < 1e-6)
            }
        }
        #expect(refSteps[8...].allSatisfy { $0 == 0 })
        #expect((8..<12).allSatisfy { r in (0..<width).allSatisfy { table[r * width + $0] == Float(reference[r][$0]) } })
        if longGaps { #expect(refSteps[4..<8].contains { $0 > 0 }) }
    }

    /// The catch-up's movement from two tail-sum lookups equals the direct sum over the missed
    /// steps, for short and long gaps, early and late in training.
    @Test func missedStepMovementEqualsDirectSum() {
        let config = AdamConfig()
        let schedule = AdamSchedule(config: config)
        schedule.ensure(upTo: 6000)
        let r = Double(config.beta1) / Double(config.beta2).squareRoot()
        for (t, k) in [(0, 1), (1, 1), (3, 17), (10, 63), (10, 64), (100, 700), (2000, 3999), (5, 5000)] {
            var direct = 0.0, power = 1.0
            for i in 1...k {
                power *= r
                let c = config.corrections(step: t + i)
                direct += Double(c.stepSize) * Double(c.biasCorrection2Sqrt) * power
            }
            let tabled = Double(schedule.view.missedStepMovement(afterStep: t, missed: k))
            #expect(abs(tabled - direct) <= 1e-6 * abs(direct), "t \(t), k \(k): \(tabled) vs \(direct)")
        }
        // Grown in other steps, the tables hold the same bits (a resumed run grows them differently).
        let other = AdamSchedule(config: config)
        for step in stride(from: 7, through: 6000, by: 331) { other.ensure(upTo: step) }
        other.ensure(upTo: 6000)
        for t in [0, 5, 100, 2047, 2048, 5999] {
            #expect(other.view.missedStepMovement(afterStep: t, missed: 1) == schedule.view.missedStepMovement(afterStep: t, missed: 1))
        }
    }

    /// Settling a row's pending catch-up early (at an epoch end) and then touching it lands where
    /// catching up all at once at the touch does: the closed form splits exactly.
    @Test func epochEndCatchUpSplitsTheSameWay() {
        let config = AdamConfig(weightDecay: 0)
        let schedule = AdamSchedule(config: config)
        schedule.ensure(upTo: 200)
        let settled = LazyRowAdam(config: config, rows: 1, width: 4), direct = LazyRowAdam(config: config, rows: 1, width: 4)
        let a = AlignedBuffer<Float>([0.5, -1, 2, 0.1]), b = a.clone()
        let grouping = RowGrouping(tableRows: 1, maxPositions: 1, width: 4)
        let row: [UInt32] = [0]
        let g: [Float] = [0.3, -0.2, 0.9, 1.5]
        func touch(_ adam: LazyRowAdam, _ table: AlignedBuffer<Float>, step: Int) {
            g.withUnsafeBufferPointer { gp in
                row.withUnsafeBufferPointer {
                    grouping.build(rowIds: $0.baseAddress!, count: 1,
                                   gradients: RowGradients(embedding: gp.baseAddress!, embeddingStride: 4))
                }
            }
            adam.update(table: table, grouping: grouping, uniqueRange: 0..<1, globalStep: step, schedule: schedule)
        }
        for (adam, table) in [(settled, a), (direct, b)] { touch(adam, table, step: 1) }
        settled.catchUp(table: a, rowRange: 0..<1, globalStep: 20, schedule: schedule)
        #expect(settled.steps(row: 0) == 20 && a[0] != 0.5)
        for (adam, table) in [(settled, a), (direct, b)] { touch(adam, table, step: 40) }
        #expect(settled.steps(row: 0) == direct.steps(row: 0))
        for j in 0..<4 {
            #expect(abs(a[j] - b[j]) < 1e-6)
            #expect(abs(settled.m(row: 0, element: j) - direct.m(row: 0, element: j)) < 1e-7 && abs(settled.v(row: 0, element: j) - direct.v(row: 0, element: j)) < 1e-9)
        }
    }

    /// A row present in every batch is updated exactly as dense Adam would.
    @Test func alwaysTouchedRowEqualsDenseAdam() {
        let config = AdamConfig(weightDecay: 1e-2)
        let lazy = LazyRowAdam(config: config, rows: 3, width: 4)
        let dense = LazyRowAdam(config: config, rows: 3, width: 4)
        let schedule = AdamSchedule(config: config)
        let a = AlignedBuffer<Float>((0..<12).map { Float($0) * 0.1 })
        let b = a.clone()
        let grouping = RowGrouping(tableRows: 3, maxPositions: 4, width: 4)
        var rng = Xoshiro256(seed: 3)
        for t in 1...30 {
            schedule.ensure(upTo: t)
            let batch: [UInt32] = [0, 1, 2, 1]
            let grads = (0..<16).map { _ in Float(rng.nextGaussian()) }
            for (adam, table) in [(lazy, a), (dense, b)] {
                grads.withUnsafeBufferPointer { g in
                    batch.withUnsafeBufferPointer {
                        grouping.build(rowIds: $0.baseAddress!, count: 4,
                                       gradients: RowGradients(embedding: g.baseAddress!, embeddingStride: 4))
                    }
                }
                if adam === lazy {
                    adam.update(table: table, grouping: grouping, uniqueRange: 0..<3, globalStep: t, schedule: schedule)
                } else {
                    adam.updateAllRows(table: table, grouping: grouping, rowRange: 0..<3, globalStep: t, schedule: schedule)
                }
            }
        }
        #expect(a.bitwiseEqual(b))
    }
}

import Foundation
