import CMemoryHints
import FNNSystem

/// A table row's step bookkeeping, and the moments of its linear weight, in one 16-byte record:
/// the update reads all of it for every touched row, so one cache line serves four rows.
public struct LazyRowState: BitwiseCopyable {
    /// The row's own Adam step count.
    public var steps: UInt32 = 0
    /// The global step of the row's last update; 0 for never.
    public var lastUpdate: UInt32 = 0
    public var linearM: Float = 0
    public var linearV: Float = 0

    public init(steps: UInt32 = 0, lastUpdate: UInt32 = 0, linearM: Float = 0, linearV: Float = 0) {
        self.steps = steps
        self.lastUpdate = lastUpdate
        self.linearM = linearM
        self.linearV = linearV
    }
}

/// Adam for a sparse table with lazy row updates: a step changes only the rows its batch touched,
/// each row with its own moments and its own step count, which starts at the row's first touch.
/// A table may carry one linear weight per row (FM's first-order term), updated with its row.
///
/// Between two touches torch's dense Adam would have taken zero-gradient steps on the row: its
/// moments decay (m by b1, v by b2 per step) while its remaining momentum keeps moving it. When the
/// row is next touched those k missed steps are applied at once, in closed form: the moments decay
/// by b1^k and b2^k, and the row moves by
///     sum_{i=1..k} s_i c_i (b1 / sqrt(b2))^i * m / sqrt(v)
/// (s_i the step size and c_i the sqrt of the second bias correction at the row's step t + i),
/// which is exactly dense Adam's movement over those steps when eps is negligible against
/// sqrt(v)/c. The sum is a difference of two table lookups (`AdamSchedule`), so catching up costs
/// O(width) per touched row whatever the gap.
///
/// How this differs from torch's dense Adam on the same table:
/// - a row's step count, and so its bias correction, starts at its first touch: a rare row's
///   first update has the full step size of a fresh Adam;
/// - between touches a row keeps its stored value (`catchUp(table:rowRange:...)` settles every
///   row at epoch ends);
/// - during missed steps eps and weight decay are neglected.
/// A row present in every batch is updated exactly as by dense Adam.
///
/// Memory layout, chosen for the random row access of large tables (`RowRecords`): fused,
/// each row's embedding, linear weight, step record, slot and moments share one record of
/// consecutive cache lines, which the training then reads in place of the model's tensors;
/// separate, a row's m and v sit side by side and its step counts and linear moments share a
/// 16-byte record. The update is the same code over either (strided views), so the same bits.
public final class LazyRowAdam: @unchecked Sendable {
    public let config: AdamConfig
    public let width: Int
    public let rows: Int
    public let hasLinear: Bool
    public let records: RowRecords

    /// Bytes of the moments and per-row records (fused: with the rows' live copy).
    package var byteCount: Int { records.byteCount }

    public init(config: AdamConfig, rows: Int, width: Int, hasLinear: Bool = false, layout: RowRecords.Layout = .separate) {
        self.config = config
        self.width = width
        self.rows = rows
        self.hasLinear = hasLinear
        let state = TableOptimizerConfig.Kind.adam.rowState(width: width, hasLinear: hasLinear)
        records = RowRecords(layout: layout, rows: rows, width: width, hasLinear: hasLinear, narrow: state.narrow, wide: state.wide)
    }

    public var layout: RowRecords.Layout { records.layout }
    public func state(row: Int) -> LazyRowState { LazyRowState.load(from: records.narrow.row(row)) }
    public func steps(row: Int) -> Int { Int(state(row: row).steps) }
    public func lastUpdate(row: Int) -> Int { Int(state(row: row).lastUpdate) }
    public func m(row: Int, element j: Int) -> Float { records.wide.row(row)[j] }
    public func v(row: Int, element j: Int) -> Float { records.wide.row(row)[width + j] }
    public func linearMoments(row: Int) -> (m: Float, v: Float) { let s = state(row: row); return (s.linearM, s.linearV) }

    /// The grouping and row fields as views, taken once per call: touching a class's stored
    /// buffer inside the per-row loop costs a reference-count retain and release, and with
    /// several workers those atomic counts on shared objects bounce their cache line between
    /// cores (they doubled the FM update's time at two threads).
    struct RowsView {
        let gradients: RowGrouping.GradientSums
        let uniqueRows: BufferView<UInt32>
        let positionCounts: BufferView<Int32>
        let table: StridedRows<Float>
        let linear: StridedRows<Float>?
        /// m then v.
        let moments: StridedRows<Float>
        let states: StridedRows<Float>
        var width: Int

        /// Asks for everything the update of unique row `u` will touch, so that it arrives while
        /// earlier rows are updated: its parameter and moment lines, its state record and its
        /// linear weight (in a fused record, lines the row's first line already brings or
        /// neighbours). Its gradient sum is read in order, and was written moments ago.
        @inline(__always) func prefetch(unique u: Int) {
            let row = Int(uniqueRows[u])
            let rowBytes = width * MemoryLayout<Float>.stride
            let p = UnsafeRawPointer(table.row(row))
            var offset = 0
            while offset < rowBytes { fnnpar_prefetch_for_write(p + offset); offset += 64 }
            let mv = UnsafeRawPointer(moments.row(row))
            offset = 0
            while offset < 2 * rowBytes { fnnpar_prefetch_for_write(mv + offset); offset += 64 }
            fnnpar_prefetch_for_write(states.row(row))
            if let linear { fnnpar_prefetch_for_write(linear.row(row)) }
        }
    }

    func view(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, grouping: RowGrouping) -> RowsView {
        precondition(grouping.width == width)
        let live = records.liveRows(table: table, linear: linear)
        return RowsView(gradients: grouping.gradientSums, uniqueRows: grouping.uniqueRows.view,
                        positionCounts: grouping.positionCounts.view, table: live.table, linear: live.linear,
                        moments: records.wide, states: records.narrow, width: width)
    }

    /// Updates the unique rows u in `uniqueRange` of `grouping` (built with this batch's
    /// gradients) at global step `globalStep`. `linear` is required exactly when the table has
    /// linear weights.
    public func update(
        table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>? = nil, grouping: RowGrouping,
        uniqueRange: Range<Int>, globalStep: Int, schedule: AdamSchedule, l2Scale: Float = 0,
        rates: LearningRateScale = .one
    ) {
        precondition(hasLinear == (linear != nil) && hasLinear == grouping.hasLinearGradients)
        let rows = view(table: table, linear: linear, grouping: grouping)
        // The default width as a constant: the row kernels unroll into straight-line code.
        if width == 16 {
            update(rows: rows, width: 16, uniqueRange: uniqueRange, globalStep: globalStep, schedule: schedule, l2Scale: l2Scale,
                   rates: rates)
        } else {
            update(rows: rows, width: width, uniqueRange: uniqueRange, globalStep: globalStep, schedule: schedule, l2Scale: l2Scale,
                   rates: rates)
        }
    }

    @inline(__always) private func update(rows: RowsView, width: Int, uniqueRange: Range<Int>, globalStep: Int,
                                          schedule: AdamSchedule, l2Scale: Float, rates: LearningRateScale) {
        var rows = rows
        let stepScale = rates.at(step: globalStep)
        rows.width = width
        let config = self.config
        let tables = schedule.view
        // Rows are scattered over large tables: each row's lines are requested a few rows ahead
        // of its update, to keep several cache misses in flight.
        let ahead = 8
        for u in uniqueRange.lowerBound..<min(uniqueRange.upperBound, uniqueRange.lowerBound + ahead) {
            rows.prefetch(unique: u)
        }
        for u in uniqueRange {
            if u + ahead < uniqueRange.upperBound { rows.prefetch(unique: u + ahead) }
            let row = Int(rows.uniqueRows[u])
            let pr = rows.table.row(row)
            // Before the catch-up moves the row: the factored gradient needs its forward value.
            var (g, linearGradient) = rows.gradients.gradient(ofUnique: u, row: pr, width: width)
            // Per-occurrence L2 (`TableOptimizerConfig.l2`), on the row as the forward pass saw it.
            if l2Scale != 0 {
                let decay = l2Scale * Float(rows.positionCounts[u])
                AdamKernels.add(pr, scaledBy: decay, into: UnsafeMutablePointer(mutating: g), count: width)
                if let linear = rows.linear { linearGradient += decay * linear.row(row).pointee }
            }
            let mr = rows.moments.row(row), vr = mr + width
            var state = LazyRowState.load(from: rows.states.row(row))
            var t = Int(state.steps)
            let last = Int(state.lastUpdate)
            if last > 0 && globalStep - last > 1 {
                let missed = globalStep - last - 1
                // The missed steps' rates as of the first of them: the movement is almost all in
                // the first few (it decays as (b1 / sqrt(b2))^i), and exact when the rates are
                // constant over the gap (always but during warm-up: epochs end settled).
                let movement = tables.missedStepMovement(afterStep: t, missed: missed) * rates.at(step: last + 1)
                let (d1, d2) = tables.momentDecay(missed: missed)
                AdamKernels.catchUp(pr, mr, vr, count: width, movement: movement, decay1: d1, decay2: d2)
                if let linear = rows.linear {
                    AdamKernels.catchUp(&linear.row(row).pointee, &state.linearM, &state.linearV, movement: movement,
                                        decay1: d1, decay2: d2)
                }
                t += missed
            }
            t += 1
            let factors = tables.factors(step: t)
            let stepSize = factors.stepSize * stepScale
            AdamKernels.step(pr, g, mr, vr, count: width, config: config, stepSize: stepSize,
                             biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
            if let linear = rows.linear {
                AdamKernels.step(&linear.row(row).pointee, linearGradient, &state.linearM, &state.linearV, config: config,
                                 stepSize: stepSize, biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
            }
            state.steps = UInt32(t)
            state.lastUpdate = UInt32(globalStep)
            state.store(to: rows.states.row(row))
        }
    }

    /// Brings rows `rowRange` up to date with global step `globalStep`: each row touched before
    /// and not since takes the closed-form catch-up of the steps it missed, as if touched now
    /// without a gradient contribution of its own. Run at epoch ends, so that what is evaluated
    /// and saved carries no pending drift; fused, the range is then copied out to `table` and
    /// `linear` (the model's tensors) in the same pass.
    public func catchUp(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>? = nil, rowRange: Range<Int>,
                        globalStep: Int, schedule: AdamSchedule, rates: LearningRateScale = .one) {
        precondition(hasLinear == (linear != nil))
        let tables = schedule.view
        let live = records.liveRows(table: table, linear: linear)
        let moments = records.wide, states = records.narrow
        for row in rowRange {
            var state = LazyRowState.load(from: states.row(row))
            let last = Int(state.lastUpdate)
            guard last > 0 && last < globalStep else { continue }
            let missed = globalStep - last
            let t = Int(state.steps)
            let movement = tables.missedStepMovement(afterStep: t, missed: missed) * rates.at(step: last + 1)
            let (d1, d2) = tables.momentDecay(missed: missed)
            let mr = moments.row(row)
            AdamKernels.catchUp(live.table.row(row), mr, mr + width, count: width, movement: movement,
                                decay1: d1, decay2: d2)
            if let l = live.linear {
                AdamKernels.catchUp(&l.row(row).pointee, &state.linearM, &state.linearV, movement: movement,
                                    decay1: d1, decay2: d2)
            }
            state.steps = UInt32(t + missed)
            state.lastUpdate = UInt32(globalStep)
            state.store(to: states.row(row))
        }
        records.exportRows(table: table, linear: linear, range: rowRange)
    }

    /// torch's dense semantics, for parity runs: every row of `rowRange` takes an Adam step at the
    /// global `step`, with a zero gradient where the batch missed it.
    public func updateAllRows(
        table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>? = nil, grouping: RowGrouping,
        rowRange: Range<Int>, globalStep: Int, schedule: AdamSchedule, l2Scale: Float = 0,
        rates: LearningRateScale = .one
    ) {
        precondition(hasLinear == (linear != nil) && hasLinear == grouping.hasLinearGradients)
        let width = self.width, config = self.config
        var factors = schedule.view.factors(step: globalStep)
        factors.stepSize *= rates.at(step: globalStep)
        precondition(grouping.width == width)
        let live = records.liveRows(table: table, linear: linear)
        let moments = records.wide, states = records.narrow
        for row in rowRange {
            let u = grouping.slot(ofRow: row)
            let pr = live.table.row(row)
            let mr = moments.row(row)
            var g: UnsafePointer<Float>? = nil, linearGradient: Float = 0
            if u >= 0 {
                (g, linearGradient) = grouping.gradient(ofUnique: u, row: pr, width: width)
                if l2Scale != 0 {
                    let decay = l2Scale * Float(grouping.positionCounts[u])
                    AdamKernels.add(pr, scaledBy: decay, into: UnsafeMutablePointer(mutating: g!), count: width)
                    if let l = live.linear { linearGradient += decay * l.row(row).pointee }
                }
            }
            AdamKernels.step(pr, g, mr, mr + width, count: width, config: config,
                             stepSize: factors.stepSize, biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
            var state = LazyRowState.load(from: states.row(row))
            if let l = live.linear {
                AdamKernels.step(&l.row(row).pointee, linearGradient, &state.linearM, &state.linearV, config: config,
                                 stepSize: factors.stepSize, biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
            }
            state.steps = UInt32(globalStep)
            state.lastUpdate = UInt32(globalStep)
            state.store(to: states.row(row))
        }
    }
}
