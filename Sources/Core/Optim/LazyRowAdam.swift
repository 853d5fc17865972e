import CMemoryHints

/// Where a batch's table gradients are. The row grouping maps each batch position to a gradient
/// entry (position p to entry p / positionsPerEntry); entry e's embedding term is the `width`
/// floats at embedding + e * embeddingStride, its linear-weight gradient (when the table has one)
/// the float at linear + e * linearStride. A row's gradient is the sum over its positions' entries.
///
/// Two forms:
/// - one entry per position: the entries are the positions' gradients (FNN, whose input gradient
///   differs per position);
/// - FM's factored form (`fm`): the gradient of example i's field position holding row r is
///   g_i (S_i - v_r), with g_i the logit gradient and S_i the sum of the example's embedding rows.
///   Summed over a row's positions that is sum g_i S_i - (sum g_i) v_r, so one entry per example
///   (g_i S_i, and g_i, which is also the linear weight's gradient) serves all its fields, and the
///   row's value is subtracted once per row. The backward pass then writes `embedDim` + 1 floats
///   per example instead of per position: 1/F of the bytes, which for Criteo's 39 fields turns a
///   5 MB gradient buffer that the update reads at random into a cache-resident 128 kB one.
public struct RowGradients {
    public var embedding: UnsafePointer<Float>
    public var embeddingStride: Int
    public var linear: UnsafePointer<Float>?
    public var linearStride: Int
    public var positionsPerEntry: Int
    /// The factored FM form: a row's gradient is its entries' sum minus their linear sum times the
    /// row's value.
    public var subtractsScaledRow: Bool

    public init(embedding: UnsafePointer<Float>, embeddingStride: Int, linear: UnsafePointer<Float>? = nil,
                linearStride: Int = 0) {
        self.embedding = embedding
        self.embeddingStride = embeddingStride
        self.linear = linear
        self.linearStride = linearStride
        positionsPerEntry = 1
        subtractsScaledRow = false
    }

    /// FM's factored gradients: `scaledSums` holds g_i S_i (`embedDim` floats per example),
    /// `logitGradients` g_i.
    public static func fm(scaledSums: UnsafePointer<Float>, logitGradients: UnsafePointer<Float>, embedDim: Int,
                          fieldCount: Int) -> RowGradients {
        var g = RowGradients(embedding: scaledSums, embeddingStride: embedDim, linear: logitGradients, linearStride: 1)
        g.positionsPerEntry = fieldCount
        g.subtractsScaledRow = true
        return g
    }

    /// The gradient of a row whose positions map to `entries` (at least one), into `g`; returns
    /// the linear weight's gradient (0 when the table has none). `row`: the row's value as the
    /// forward pass saw it.
    @inline(__always) func sum(entries: UnsafePointer<Int32>, count: Int, row: UnsafePointer<Float>, width: Int,
                               into g: UnsafeMutablePointer<Float>) -> Float {
        let first = Int(entries[0])
        g.update(from: embedding + first * embeddingStride, count: width)
        for k in 1..<max(count, 1) {
            AdamKernels.add(embedding + Int(entries[k]) * embeddingStride, into: g, count: width)
        }
        guard let linear else { return 0 }
        var sum = linear[first * linearStride]
        for k in 1..<max(count, 1) { sum += linear[Int(entries[k]) * linearStride] }
        if subtractsScaledRow { AdamKernels.add(row, scaledBy: -sum, into: g, count: width) }
        return sum
    }
}

/// A table row's step bookkeeping, and the moments of its linear weight, in one 16-byte record:
/// the update reads all of it for every touched row, so one cache line serves four rows.
public struct LazyRowState: BitwiseCopyable {
    /// The row's own Adam step count.
    public var steps: UInt32 = 0
    /// The global step of the row's last update; 0 for never.
    public var lastUpdate: UInt32 = 0
    public var linearM: Float = 0
    public var linearV: Float = 0
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
/// Memory layout, chosen for the random row access of large tables: a row's m and v sit side by
/// side (for width 16, two adjacent cache lines), and its step counts and linear moments share a
/// 16-byte record, so a touched row costs its parameter line, its moment lines and a quarter line.
public final class LazyRowAdam: @unchecked Sendable {
    public let config: AdamConfig
    public let width: Int
    public let rows: Int
    public let hasLinear: Bool
    /// Per row: m (width floats), then v (width floats).
    let moments: AlignedBuffer<Float>
    let states: AlignedBuffer<LazyRowState>

    public init(config: AdamConfig, rows: Int, width: Int, hasLinear: Bool = false) {
        self.config = config
        self.width = width
        self.rows = rows
        self.hasLinear = hasLinear
        moments = AlignedBuffer(count: rows * 2 * width)
        states = AlignedBuffer(count: rows)
    }

    public func steps(row: Int) -> Int { Int(states[row].steps) }
    public func lastUpdate(row: Int) -> Int { Int(states[row].lastUpdate) }
    public func m(row: Int, element j: Int) -> Float { moments[row * 2 * width + j] }
    public func v(row: Int, element j: Int) -> Float { moments[row * 2 * width + width + j] }
    public func linearMoments(row: Int) -> (m: Float, v: Float) { (states[row].linearM, states[row].linearV) }

    /// The grouping and buffers as raw pointers, taken once per call: touching a class's stored
    /// buffer inside the per-row loop costs a reference-count retain and release, and with
    /// several workers those atomic counts on shared objects bounce their cache line between
    /// cores (they doubled the FM update's time at two threads).
    struct RowsView {
        let uniqueRows: UnsafeMutablePointer<UInt32>
        let starts: UnsafeMutablePointer<Int32>
        let entries: UnsafeMutablePointer<Int32>
        let table: UnsafeMutablePointer<Float>
        let linear: UnsafeMutablePointer<Float>?
        let moments: UnsafeMutablePointer<Float>
        let states: UnsafeMutablePointer<LazyRowState>
        let gradients: RowGradients
        var width: Int

        /// Unique row `u`'s gradient into `g`, before the row changes; returns its linear gradient.
        @inline(__always) func sumGradient(of u: Int, into g: UnsafeMutablePointer<Float>) -> Float {
            let lo = Int(starts[u]), hi = Int(starts[u + 1])
            return gradients.sum(entries: entries + lo, count: hi - lo, row: table + Int(uniqueRows[u]) * width,
                                 width: width, into: g)
        }

        /// Asks for everything the update of unique row `u` will touch, so that it arrives while
        /// earlier rows are updated: its parameter and moment lines, its state record, its linear
        /// weight and the gradients of its first few positions.
        @inline(__always) func prefetch(unique u: Int) {
            let row = Int(uniqueRows[u])
            let rowBytes = width * MemoryLayout<Float>.stride
            let p = UnsafeRawPointer(table + row * width)
            var offset = 0
            while offset < rowBytes { fnnpar_prefetch_for_write(p + offset); offset += 64 }
            let mv = UnsafeRawPointer(moments + row * 2 * width)
            offset = 0
            while offset < 2 * rowBytes { fnnpar_prefetch_for_write(mv + offset); offset += 64 }
            fnnpar_prefetch_for_write(states + row)
            if let linear { fnnpar_prefetch_for_write(linear + row) }
            let lo = Int(starts[u]), hi = min(Int(starts[u + 1]), lo + 16)
            for k in lo..<hi {
                let entry = Int(entries[k])
                fnnpar_prefetch(gradients.embedding + entry * gradients.embeddingStride)
                if let l = gradients.linear { fnnpar_prefetch(l + entry * gradients.linearStride) }
            }
        }
    }

    func view(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, grouping: RowGrouping,
              gradients: RowGradients) -> RowsView {
        RowsView(uniqueRows: grouping.uniqueRows.base, starts: grouping.starts.base,
                 entries: grouping.entries.base, table: table.base, linear: linear?.base, moments: moments.base,
                 states: states.base, gradients: gradients, width: width)
    }

    /// Updates the unique rows u in `uniqueRange` of `grouping` at global step
    /// `globalStep`. `linear` (with `gradients.linear`) is required exactly when the table has
    /// linear weights.
    public func update(
        table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>? = nil, grouping: RowGrouping,
        uniqueRange: Range<Int>, globalStep: Int, schedule: AdamSchedule, gradients: RowGradients
    ) {
        precondition(hasLinear == (linear != nil) && hasLinear == (gradients.linear != nil))
        let rows = view(table: table, linear: linear, grouping: grouping, gradients: gradients)
        // The default width as a constant: the row kernels unroll into straight-line code.
        if width == 16 {
            update(rows: rows, width: 16, uniqueRange: uniqueRange, globalStep: globalStep, schedule: schedule)
        } else {
            update(rows: rows, width: width, uniqueRange: uniqueRange, globalStep: globalStep, schedule: schedule)
        }
    }

    @inline(__always) private func update(rows: RowsView, width: Int, uniqueRange: Range<Int>, globalStep: Int,
                                          schedule: AdamSchedule) {
        var rows = rows
        rows.width = width
        let config = self.config
        let tables = schedule.view
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { scratch in
            let g = scratch.baseAddress!
            // Rows are scattered over large tables: each row's lines are requested a few rows
            // ahead of its update, to keep several cache misses in flight.
            let ahead = 8
            for u in uniqueRange.lowerBound..<min(uniqueRange.upperBound, uniqueRange.lowerBound + ahead) {
                rows.prefetch(unique: u)
            }
            for u in uniqueRange {
                if u + ahead < uniqueRange.upperBound { rows.prefetch(unique: u + ahead) }
                let row = Int(rows.uniqueRows[u])
                let linearGradient = rows.sumGradient(of: u, into: g)
                let pr = rows.table + row * width
                let mr = rows.moments + row * 2 * width, vr = mr + width
                var state = rows.states[row]
                var t = Int(state.steps)
                let last = Int(state.lastUpdate)
                if last > 0 && globalStep - last > 1 {
                    let missed = globalStep - last - 1
                    let movement = tables.missedStepMovement(afterStep: t, missed: missed)
                    let (d1, d2) = tables.momentDecay(missed: missed)
                    AdamKernels.catchUp(pr, mr, vr, count: width, movement: movement, decay1: d1, decay2: d2)
                    if let linear = rows.linear {
                        AdamKernels.catchUp(&linear[row], &state.linearM, &state.linearV, movement: movement,
                                            decay1: d1, decay2: d2)
                    }
                    t += missed
                }
                t += 1
                let factors = tables.factors(step: t)
                AdamKernels.step(pr, g, mr, vr, count: width, config: config, stepSize: factors.stepSize,
                                 biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
                if let linear = rows.linear {
                    AdamKernels.step(&linear[row], linearGradient, &state.linearM, &state.linearV, config: config,
                                     stepSize: factors.stepSize, biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
                }
                state.steps = UInt32(t)
                state.lastUpdate = UInt32(globalStep)
                rows.states[row] = state
            }
        }
    }

    /// Brings rows `rowRange` up to date with global step `globalStep`: each row touched before
    /// and not since takes the closed-form catch-up of the steps it missed, as if touched now
    /// without a gradient contribution of its own. Run at epoch ends, so that what is evaluated
    /// and saved carries no pending drift.
    public func catchUp(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>? = nil, rowRange: Range<Int>,
                        globalStep: Int, schedule: AdamSchedule) {
        precondition(hasLinear == (linear != nil))
        let tables = schedule.view
        for row in rowRange {
            var state = states[row]
            let last = Int(state.lastUpdate)
            guard last > 0 && last < globalStep else { continue }
            let missed = globalStep - last
            let t = Int(state.steps)
            let movement = tables.missedStepMovement(afterStep: t, missed: missed)
            let (d1, d2) = tables.momentDecay(missed: missed)
            let mr = moments.base + row * 2 * width
            AdamKernels.catchUp(table.base + row * width, mr, mr + width, count: width, movement: movement,
                                decay1: d1, decay2: d2)
            if let linear {
                AdamKernels.catchUp(&linear.base[row], &state.linearM, &state.linearV, movement: movement,
                                    decay1: d1, decay2: d2)
            }
            state.steps = UInt32(t + missed)
            state.lastUpdate = UInt32(globalStep)
            states[row] = state
        }
    }

    /// torch's dense semantics, for parity runs: every row of `rowRange` takes an Adam step at the
    /// global `step`, with a zero gradient where the batch missed it.
    public func updateAllRows(
        table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>? = nil, grouping: RowGrouping,
        rowRange: Range<Int>, globalStep: Int, schedule: AdamSchedule, gradients: RowGradients
    ) {
        precondition(hasLinear == (linear != nil) && hasLinear == (gradients.linear != nil))
        let width = self.width, config = self.config
        let factors = schedule.view.factors(step: globalStep)
        let rows = view(table: table, linear: linear, grouping: grouping, gradients: gradients)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { scratch in
            let g = scratch.baseAddress!
            for row in rowRange {
                let u = grouping.slot(ofRow: row)
                let mr = moments.base + row * 2 * width
                var linearGradient: Float = 0
                if u >= 0 {
                    linearGradient = rows.sumGradient(of: u, into: g)
                }
                AdamKernels.step(table.base + row * width, u >= 0 ? UnsafePointer(g) : nil, mr, mr + width,
                                 count: width, config: config, stepSize: factors.stepSize,
                                 biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
                var state = states[row]
                if let linear {
                    AdamKernels.step(&linear.base[row], linearGradient, &state.linearM, &state.linearV, config: config,
                                     stepSize: factors.stepSize, biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
                }
                state.steps = UInt32(globalStep)
                state.lastUpdate = UInt32(globalStep)
                states[row] = state
            }
        }
    }
}
