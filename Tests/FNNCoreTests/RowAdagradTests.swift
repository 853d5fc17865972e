import FNNCore
import FNNExecution
import FNNSystem
import TestSupport
import Testing

/// The momentum-free table rules (`RowAdagrad`) against a plain Double reference that steps every
/// row of the table at every step, untouched rows with a zero gradient: lazily touching only the
/// batch's rows must be the same rule.
@Suite struct RowAdagradTests {
    /// Width 16 takes the constant-width path, 5 and 12 the general one with a scalar tail (12:
    /// one full lane and a tail). Factored: FM's gradient form, whose row term uses the row as the
    /// forward pass saw it.
    @Test(arguments: [TableOptimizerConfig.Kind.adagrad, .rowwiseAdagrad, .sgd], [(5, false, false), (16, true, false),
                                                                               (12, true, true), (16, true, true), (5, true, false)])
    func lazyUpdateMatchesDenseReference(rule: TableOptimizerConfig.Kind, shape: (width: Int, withLinear: Bool, factored: Bool)) {
        let (width, withLinear, factored) = shape
        let rows = 12, batchCount = 20
        let learningRate: Float = rule == .sgd ? 0.002 : 0.05
        let l2: Float = 0.3, initial: Float = 0.5
        let optimizer = RowAdagrad(kind: rule, rows: rows, width: width, hasLinear: withLinear, initialAccumulator: initial)
        var rng = Xoshiro256(seed: 7)
        let table = AlignedBuffer<Float>((0..<(rows * width)).map { _ in Float(rng.nextGaussian()) })
        let linear = AlignedBuffer<Float>((0..<rows).map { _ in Float(rng.nextGaussian()) })
        let initialTable = table.array
        var reference = (0..<(rows * width)).map { Double(table[$0]) }
        var referenceLinear = (0..<rows).map { Double(linear[$0]) }
        let perRow = rule == .adagrad ? width : 1
        var accumulators = [Double](repeating: Double(initial), count: rows * perRow)
        var linearAccumulators = [Double](repeating: Double(initial), count: rows)
        let grouping = RowGrouping(tableRows: rows, maxPositions: 64, width: width)
        let perEntry = factored ? 2 : 1
        for _ in 1...60 {
            // Rows 0-3 often, 4-7 rarely, 8-11 never.
            let batch: [UInt32] = (0..<batchCount).map { _ in
                UInt32(rng.nextDouble() < 0.85 ? rng.nextInt(below: 4) : 4 + rng.nextInt(below: 4))
            }
            let entries = batch.count / perEntry
            let grads = (0..<(entries * width)).map { _ in Float(rng.nextGaussian() * 0.05) }
            let linearGrads = (0..<entries).map { _ in Float(rng.nextGaussian() * 0.05) }
            let stored = reference
            buildGrouping(grouping, batch: batch, entries: grads, linearEntries: linearGrads, width: width,
                          withLinear: withLinear, factored: factored, positionsPerEntry: perEntry)
            for range in partition(grouping.uniqueCount, parts: 3, alignment: 1) {
                optimizer.update(table: table, linear: withLinear ? linear : nil, grouping: grouping, uniqueRange: range,
                                 learningRate: learningRate, l2: l2, batchCount: batchCount)
            }
            // The reference: every row, every step.
            for r in 0..<rows {
                var g = [Double](repeating: 0, count: width), gl = 0.0, count = 0.0
                for (p, row) in batch.enumerated() where Int(row) == r {
                    let e = p / perEntry
                    count += 1
                    for j in 0..<width {
                        g[j] += Double(grads[e * width + j])
                        if factored { g[j] -= Double(linearGrads[e]) * stored[r * width + j] }
                    }
                    gl += Double(linearGrads[e])
                }
                // The summed loss's gradient plus per-occurrence L2.
                for j in 0..<width { g[j] = Double(batchCount) * g[j] + Double(l2) * count * stored[r * width + j] }
                let glTotal = Double(batchCount) * gl + Double(l2) * count * referenceLinear[r]
                let lr = Double(learningRate)
                switch rule {
                case .adagrad:
                    for j in 0..<width {
                        accumulators[r * width + j] += g[j] * g[j]
                        reference[r * width + j] -= lr * g[j] / accumulators[r * width + j].squareRoot()
                    }
                case .rowwiseAdagrad:
                    accumulators[r] += g.reduce(0) { $0 + $1 * $1 } / Double(width)
                    for j in 0..<width { reference[r * width + j] -= lr * g[j] / accumulators[r].squareRoot() }
                default:
                    for j in 0..<width { reference[r * width + j] -= lr * g[j] }
                }
                if withLinear {
                    if rule == .sgd {
                        referenceLinear[r] -= lr * glTotal
                    } else {
                        linearAccumulators[r] += glTotal * glTotal
                        referenceLinear[r] -= lr * glTotal / linearAccumulators[r].squareRoot()
                    }
                }
            }
        }
        for r in 0..<rows {
            for j in 0..<width {
                #expect(abs(Double(table[r * width + j]) - reference[r * width + j]) < 1e-4,
                        "row \(r) element \(j): \(table[r * width + j]) vs \(reference[r * width + j])")
            }
            if withLinear { #expect(abs(Double(linear[r]) - referenceLinear[r]) < 1e-4, "row \(r) linear") }
            if rule != .sgd {
                #expect(abs(Double(optimizer.accumulator(row: r, element: 0)) - accumulators[r * perRow]) < 1e-3 * max(1, accumulators[r * perRow]))
            }
        }
        // Rows never touched are exactly where they started, and rows 0-3 moved.
        #expect((8..<12).allSatisfy { r in (0..<width).allSatisfy { table[r * width + $0] == Float(reference[r * width + $0]) } })
        #expect((0..<4).allSatisfy { r in table[r * width] != initialTable[r * width] })
    }

    /// A zero accumulator and a zero gradient give no step (not 0/0).
    @Test func zeroAccumulatorAndGradientLeaveTheRow() {
        var p: Float = 0.5, a: Float = 0
        SparseKernels.adagrad(&p, 0, &a, learningRate: 0.1, scale: 1, decay: 0)
        #expect(p == 0.5 && a == 0)
    }
}

/// The fused record's arithmetic of places: where each field sits, that the slots start empty,
/// that rows go in and out unchanged, and that integers kept as float bits (step counts whose
/// patterns are NaNs) survive the checkpoint copies bit for bit.
@Suite struct RowRecordsTests {
    @Test func recordsTakeWholeLinesAndKeepTheirFields() {
        // Width 16: lazy Adam's record is four lines (row, narrow state, m, v), row-wise
        // Adagrad's two.
        #expect(RowRecords.recordStride(width: 16, narrow: 4, wide: 32) == 64)
        #expect(RowRecords.recordStride(width: 16, narrow: 2, wide: 0) == 32)
        #expect(RowRecords.recordStride(width: 5, narrow: 1, wide: 5) == 32)
        let rows = 37, width = 5
        let records = RowRecords(layout: .fused, rows: rows, width: width, hasLinear: true, narrow: 4, wide: 10)
        #expect(records.byteCount == RowRecords.byteCount(layout: .fused, rows: rows, width: width, narrow: 4, wide: 10))
        let slots = records.slots!
        #expect((0..<rows).allSatisfy { slots[$0] == -1 })
        let table = AlignedBuffer<Float>((0..<rows * width).map { Float($0) * 0.5 })
        let linear = AlignedBuffer<Float>((0..<rows).map { -Float($0) })
        records.importRows(table: table, linear: linear)
        let live = records.liveRows(table: table, linear: linear)
        #expect(live.table.stride == 32 && live.linear!.stride == 32)
        #expect(live.table.row(3)[4] == table[3 * width + 4] && live.linear!.row(7).pointee == -7)
        // Every field of one record is its own memory: writing each leaves the others alone.
        records.narrow.row(2).update(repeating: 9, count: 4)
        records.wide.row(2).update(repeating: 8, count: 10)
        slots[2] = 12
        #expect(live.table.row(2)[0] == table[10] && live.linear!.row(2).pointee == -2 && slots[2] == 12)
        #expect(records.narrow.row(2)[3] == 9 && records.wide.row(2)[9] == 8 && records.narrow.row(3)[0] == 0)
        live.table.row(5)[1] = 100
        let out = AlignedBuffer<Float>(count: rows * width), outLinear = AlignedBuffer<Float>(count: rows)
        records.exportRows(table: out, linear: outLinear)
        #expect(out[5 * width + 1] == 100 && out[5 * width + 2] == table[5 * width + 2] && outLinear[9] == -9)
    }

    @Test(arguments: [RowRecords.Layout.fused, .separate])
    func integerBitsSurviveTheCheckpointCopies(layout: RowRecords.Layout) {
        let rows = 4
        let records = RowRecords(layout: layout, rows: rows, width: 3, hasLinear: false, narrow: 2, wide: 0)
        let patterns: [UInt32] = [0xFFFF_FFFF, 0x7FC0_0001, 0x7F80_0001, 1]
        var raw = [UInt8](repeating: 0, count: rows * 4)
        for (r, p) in patterns.enumerated() { withUnsafeBytes(of: p.littleEndian) { raw.replaceSubrange(r * 4..<r * 4 + 4, with: $0) } }
        raw.withUnsafeBytes { records.restoreNarrow(field: 1, from: $0) }
        var back = [UInt8](repeating: 0, count: rows * 4)
        back.withUnsafeMutableBytes { records.copyNarrow(field: 1, into: $0) }
        #expect(back == raw)
        #expect((0..<rows).allSatisfy { records.narrow.row($0)[1].bitPattern == patterns[$0] })
    }

    /// Every rule's checkpoint tensors go back into a fresh optimizer of either layout, for a
    /// table with rows and for a shard without any (no crash, no tensor a zero-row shard lacked
    /// before the records).
    @Test(arguments: [0, 7])
    func checkpointTensorsRoundTripInBothLayouts(rows: Int) throws {
        for kind in TableOptimizerConfig.Kind.allCases {
            for layout in RowRecords.Layout.allCases {
                var file = SafeTensors()
                if kind == .adam {
                    let adam = LazyRowAdam(config: AdamConfig(learningRate: 0.1), rows: rows, width: 3, hasLinear: true, layout: layout)
                    for r in 0..<rows {
                        adam.records.wide.row(r).update(repeating: Float(r) + 0.5, count: 6)
                        LazyRowState(steps: UInt32(r), lastUpdate: UInt32(r + 1), linearM: 1, linearV: 2).store(to: adam.records.narrow.row(r))
                    }
                    file.tensors = adam.tensors(prefix: "a", linearPrefix: "l")
                    let other = LazyRowAdam(config: AdamConfig(learningRate: 0.1), rows: rows, width: 3, hasLinear: true,
                                            layout: layout == .fused ? .separate : .fused)
                    try other.restore(prefix: "a", linearPrefix: "l", from: file, path: "t", globalStep: rows + 1)
                    #expect((0..<rows).allSatisfy { other.m(row: $0, element: 2) == Float($0) + 0.5 && other.steps(row: $0) == $0 })
                } else {
                    let rule = RowAdagrad(kind: kind, rows: rows, width: 3, hasLinear: true, initialAccumulator: 0.25, layout: layout)
                    file.tensors = rule.tensors(prefix: "g", linearPrefix: "l")
                    #expect(rows > 0 || file.tensors["l.accumulator"] == nil)
                    let other = RowAdagrad(kind: kind, rows: rows, width: 3, hasLinear: true, initialAccumulator: 9,
                                           layout: layout == .fused ? .separate : .fused)
                    try other.restore(prefix: "g", linearPrefix: "l", from: file, path: "t")
                    if kind != .sgd {
                        #expect((0..<rows).allSatisfy { other.linearAccumulator(row: $0) == 0.25 && other.accumulator(row: $0, element: 0) == 0.25 })
                    }
                }
            }
        }
    }
}
