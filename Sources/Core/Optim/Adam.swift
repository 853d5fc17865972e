import CMemoryHints
import Foundation

/// torch.optim.Adam's hyper-parameters. Weight decay is torch's coupled L2: `weightDecay * p` is
/// added to the gradient before the moments (not AdamW).
public struct AdamConfig: Sendable, Codable, Equatable {
    public var learningRate: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 1e-6

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 1e-6) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// The step size and sqrt of the second bias correction for step `t` (1-based), computed in
    /// Double as torch does with Python floats.
    @inlinable public func corrections(step t: Int) -> (stepSize: Float, biasCorrection2Sqrt: Float) {
        let bc1 = 1 - Foundation.pow(Double(beta1), Double(t))
        let bc2 = 1 - Foundation.pow(Double(beta2), Double(t))
        return (Float(Double(learningRate) / bc1), Float(bc2.squareRoot()))
    }

    /// One Adam update of `count` parameters with gradient `g` (weight decay not yet added), in
    /// torch's operation order: m.lerp_(g, 1-b1); v = v*b2 + (1-b2) g^2; p -= step * m / (sqrt(v)/bc2 + eps).
    public func update(
        parameters p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, step: Int
    ) {
        let (stepSize, bc2Sqrt) = corrections(step: step)
        AdamKernels.step(p, g, m, v, count: count, config: self, stepSize: stepSize, biasCorrection2Sqrt: bc2Sqrt)
    }
}

/// Adam's per-step factors (step size lr / (1 - b1^t) and sqrt(1 - b2^t)) for t = 1 ... n, computed
/// once in Double: the lazy table update needs them for many different t in one step, and pow is
/// far slower than a table lookup. Grown on the calling thread between phases, read by workers.
public final class AdamSchedule: @unchecked Sendable {
    public let config: AdamConfig
    private(set) var stepSizes: [Float] = [0]
    private(set) var biasCorrection2Sqrts: [Float] = [1]
    /// s_t * c_t in Double, the per-step factor of a zero-gradient step's movement.
    private var movementFactors: [Double] = [0]
    /// For each t: the movement of the full replay window after step t (see `missedStepMovement`),
    /// filled as far as the factors reach.
    private var windowMovements: [Float] = []
    /// b1^k and b2^k for small k.
    private let beta1Powers: [Float]
    private let beta2Powers: [Float]
    private let ratio: Double

    public init(config: AdamConfig) {
        self.config = config
        ratio = Double(config.beta1) / Double(config.beta2).squareRoot()
        var p1: [Float] = [], p2: [Float] = []
        var a = 1.0, b = 1.0
        for _ in 0..<4096 {
            p1.append(Float(a)); p2.append(Float(b))
            a *= Double(config.beta1); b *= Double(config.beta2)
        }
        beta1Powers = p1
        beta2Powers = p2
    }

    public func ensure(upTo step: Int) {
        guard step >= stepSizes.count else { return }
        let target = max(step + 1, stepSizes.count * 2)
        for t in stepSizes.count..<target {
            let c = config.corrections(step: t)
            stepSizes.append(c.stepSize)
            biasCorrection2Sqrts.append(c.biasCorrection2Sqrt)
            movementFactors.append(Double(c.stepSize) * Double(c.biasCorrection2Sqrt))
        }
        let window = LazyRowAdam.maxReplayedSteps
        while windowMovements.count + window < movementFactors.count {
            windowMovements.append(Float(partialMovement(after: windowMovements.count, steps: window)))
        }
    }

    public func factors(step t: Int) -> (stepSize: Float, biasCorrection2Sqrt: Float) {
        (stepSizes[t], biasCorrection2Sqrts[t])
    }

    private func partialMovement(after t: Int, steps k: Int) -> Double {
        var power = 1.0, sum = 0.0
        var i = 1
        while i <= k {
            power *= ratio
            sum += movementFactors[t + i] * power
            i += 1
        }
        return sum
    }

    /// sum_{i=1..k} s_{t+i} c_{t+i} (b1 / sqrt(b2))^i over k = min(missed, maxReplayedSteps): how far
    /// dense Adam's zero-gradient steps t+1 ... t+missed move a parameter, in units of m / sqrt(v).
    /// The full window comes from a table, so rare rows cost no more than frequent ones.
    public func missedStepMovement(afterStep t: Int, missed: Int) -> Float {
        if missed >= LazyRowAdam.maxReplayedSteps { return windowMovements[t] }
        return Float(partialMovement(after: t, steps: missed))
    }

    /// (b1^k, b2^k).
    public func momentDecay(missed k: Int) -> (Float, Float) {
        if k < beta1Powers.count { return (beta1Powers[k], beta2Powers[k]) }
        return (Float(Foundation.pow(Double(config.beta1), Double(k))), Float(Foundation.pow(Double(config.beta2), Double(k))))
    }
}

/// Adam over the flat dense parameter vector, one shared step count, as torch.
public final class DenseAdam: @unchecked Sendable {
    public let config: AdamConfig
    public let m: AlignedBuffer<Float>
    public let v: AlignedBuffer<Float>
    public var step = 0

    public init(config: AdamConfig, count: Int) {
        self.config = config
        m = AlignedBuffer(count: count)
        v = AlignedBuffer(count: count)
    }

    /// Sums the per-slice gradients of parameters lo ..< hi in slice order into `scratch` (so the
    /// sum does not depend on who computes it), then updates them at `step`.
    public func update(
        parameters: AlignedBuffer<Float>, slicePartials: AlignedBuffer<Float>, sliceCount: Int,
        range: Range<Int>, step: Int, scratch: UnsafeMutablePointer<Float>
    ) {
        let n = parameters.count
        let count = range.count
        guard count > 0 else { return }
        let first = slicePartials.base + range.lowerBound
        scratch.update(from: first, count: count)
        for s in 1..<max(sliceCount, 1) {
            AdamKernels.add(first + s * n, into: scratch, count: count)
        }
        config.update(parameters: parameters.base + range.lowerBound, gradient: scratch,
                      m: m.base + range.lowerBound, v: v.base + range.lowerBound, count: count, step: step)
    }
}

/// The (example, field) positions of a batch grouped by table row: which rows the batch touched
/// (in order of first occurrence) and, for each, its positions in increasing order. Summing a
/// row's gradient over its positions in that order gives the same bits however the update work is
/// split.
public final class RowGrouping: @unchecked Sendable {
    /// Per table row: its index among the last batch's unique rows, or -1.
    @usableFromInline let slotOfRow: AlignedBuffer<Int32>
    public let uniqueRows: AlignedBuffer<UInt32>
    /// uniqueCount + 1 offsets into `positions`.
    public let starts: AlignedBuffer<Int32>
    public let positions: AlignedBuffer<Int32>
    private let cursor: AlignedBuffer<Int32>
    public private(set) var uniqueCount = 0
    /// The unique indices in update order: by default 0 ..< uniqueCount; after `bucket`, grouped by
    /// the worker that owns each row.
    public let order: AlignedBuffer<Int32>
    /// After `bucket(parts:tableRows:)`: part p updates order[partStarts[p] ..< partStarts[p + 1]].
    public private(set) var partStarts: [Int] = []

    public init(tableRows: Int, maxPositions: Int) {
        slotOfRow = AlignedBuffer(count: tableRows)
        slotOfRow.fill(-1)
        order = AlignedBuffer(count: maxPositions)
        uniqueRows = AlignedBuffer(count: maxPositions)
        starts = AlignedBuffer(count: maxPositions + 1)
        positions = AlignedBuffer(count: maxPositions)
        cursor = AlignedBuffer(count: maxPositions)
    }

    public func build(rowIds: UnsafePointer<UInt32>, count: Int) {
        precondition(count <= positions.count)
        for k in 0..<uniqueCount { slotOfRow[Int(uniqueRows[k])] = -1 }
        var u = 0
        starts[0] = 0
        for p in 0..<count {
            let r = Int(rowIds[p])
            var s = slotOfRow[r]
            if s < 0 {
                s = Int32(u)
                slotOfRow[r] = s
                uniqueRows[u] = UInt32(r)
                starts[u + 1] = 0
                u += 1
            }
            starts[Int(s) + 1] += 1
        }
        for k in 0..<u { starts[k + 1] += starts[k] }
        for k in 0..<u { cursor[k] = starts[k] }
        for p in 0..<count {
            let s = Int(slotOfRow[Int(rowIds[p])])
            positions[Int(cursor[s])] = Int32(p)
            cursor[s] += 1
        }
        uniqueCount = u
        for k in 0..<u { order[k] = Int32(k) }
        partStarts = [0, u]
    }

    /// Splits the touched rows among `parts` workers by contiguous ranges of the table, with
    /// boundaries on multiples of 64 rows: neighbouring rows share cache lines in the narrow
    /// arrays (linear weights, step counts), so each must have a single writer, or the workers
    /// would fight over those lines. Which worker updates a row never changes the result.
    public func bucket(parts: Int, tableRows: Int) {
        // Parts of whole 64-row blocks. The owner is estimated with a multiplication (a division
        // per row would cost more than the rest of this pass) and corrected where the estimate
        // rounded across a boundary.
        let rowsPerPart = max(64, ((tableRows + parts - 1) / parts + 63) / 64 * 64)
        let scale = 1.0 / Double(rowsPerPart)
        var counts = [Int](repeating: 0, count: parts + 1)
        for k in 0..<uniqueCount {
            let row = Int(uniqueRows[k])
            var p = Int(Double(row) * scale)
            if (p + 1) * rowsPerPart <= row { p += 1 } else if p * rowsPerPart > row { p -= 1 }
            p = min(parts - 1, p)
            cursor[k] = Int32(p)
            counts[p + 1] += 1
        }
        for p in 0..<parts { counts[p + 1] += counts[p] }
        partStarts = counts
        var next = counts
        for k in 0..<uniqueCount {
            let p = Int(cursor[k])
            order[next[p]] = Int32(k)
            next[p] += 1
        }
    }

    /// The index of `row` among the unique rows of the last build, or -1 if the batch missed it.
    @inlinable public func slot(ofRow row: Int) -> Int { Int(slotOfRow[row]) }
}

/// Adam for a sparse table with lazy row updates: a step changes only the rows its batch touched,
/// each row with its own moments and its own step count, which starts at the row's first touch.
///
/// Between two touches torch's dense Adam would have taken zero-gradient steps on the row: its
/// moments decay (m by b1, v by b2 per step) while its remaining momentum keeps moving it. When the
/// row is next touched those k missed steps are applied at once, in closed form: the moments decay
/// by b1^k and b2^k, and the row moves by
///     sum_{i=1..k} s_i c_i (b1 / sqrt(b2))^i * m / sqrt(v)
/// (s_i the step size and c_i the sqrt of the second bias correction at the row's step t + i),
/// which is exactly dense Adam's movement over those steps when eps is negligible against
/// sqrt(v)/c. The sum is a per-row scalar over at most `maxReplayedSteps` terms (further terms are
/// below 0.9^64 of one step), so catching up costs O(width) per touched row, not per step missed.
///
/// How this differs from torch's dense Adam on the same table:
/// - a row's step count, and so its bias correction, starts at its first touch: a rare row's
///   first update has the full step size of a fresh Adam;
/// - between touches a row keeps its stored value (`catchUp(table:rowRange:...)` settles every
///   row at epoch ends);
/// - during missed steps eps and weight decay are neglected, and movement more than
///   `maxReplayedSteps` steps back is dropped.
/// A row present in every batch is updated exactly as by dense Adam.
public final class LazyRowAdam: @unchecked Sendable {
    public static let maxReplayedSteps = 64
    public let config: AdamConfig
    public let width: Int
    public let m: AlignedBuffer<Float>
    public let v: AlignedBuffer<Float>
    /// The row's own Adam step count.
    public let steps: AlignedBuffer<UInt32>
    /// The global step of the row's last update; 0 for never.
    public let lastUpdate: AlignedBuffer<UInt32>

    public init(config: AdamConfig, rows: Int, width: Int) {
        self.config = config
        self.width = width
        m = AlignedBuffer(count: rows * width)
        v = AlignedBuffer(count: rows * width)
        steps = AlignedBuffer(count: rows)
        lastUpdate = AlignedBuffer(count: rows)
    }

    @inline(__always) func sumGradient(
        of u: Int, grouping: RowGrouping, gradients: UnsafePointer<Float>, positionStride: Int, elementOffset: Int,
        into g: UnsafeMutablePointer<Float>
    ) {
        let lo = Int(grouping.starts[u]), hi = Int(grouping.starts[u + 1])
        g.update(from: gradients + Int(grouping.positions[lo]) * positionStride + elementOffset, count: width)
        for k in (lo + 1)..<max(hi, lo + 1) {
            AdamKernels.add(gradients + Int(grouping.positions[k]) * positionStride + elementOffset, into: g, count: width)
        }
    }

    @inline(__always) func step(
        _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>,
        _ v: UnsafeMutablePointer<Float>, factors: (stepSize: Float, biasCorrection2Sqrt: Float)
    ) {
        AdamKernels.step(p, g, m, v, count: width, config: config, stepSize: factors.stepSize,
                         biasCorrection2Sqrt: factors.biasCorrection2Sqrt)
    }

    /// Updates the unique rows order[k] for k in `uniqueRange` of `grouping` at global step
    /// `globalStep`. The gradient of position p is the `width` floats at
    /// gradients + p * positionStride + elementOffset.
    public func update(
        table: AlignedBuffer<Float>, grouping: RowGrouping, uniqueRange: Range<Int>, globalStep: Int,
        schedule: AdamSchedule, gradients: UnsafePointer<Float>, positionStride: Int, elementOffset: Int
    ) {
        let width = self.width
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { scratch in
            let g = scratch.baseAddress!
            // Rows are scattered over large tables: ask for the row two ahead while this one is
            // updated, so its parameters and moments arrive before they are needed.
            let ahead = 2
            for k in uniqueRange {
                if k + ahead < uniqueRange.upperBound {
                    let ua = Int(grouping.order[k + ahead])
                    let next = Int(grouping.uniqueRows[ua]) * width
                    fnnpar_prefetch_for_write(table.base + next)
                    fnnpar_prefetch_for_write(m.base + next)
                    fnnpar_prefetch_for_write(v.base + next)
                    fnnpar_prefetch(gradients + Int(grouping.positions[Int(grouping.starts[ua])]) * positionStride)
                }
                let u = Int(grouping.order[k])
                let row = Int(grouping.uniqueRows[u])
                sumGradient(of: u, grouping: grouping, gradients: gradients, positionStride: positionStride,
                            elementOffset: elementOffset, into: g)
                let base = row * width
                let pr = table.base + base, mr = m.base + base, vr = v.base + base
                var t = Int(steps[row])
                let last = Int(lastUpdate[row])
                if last > 0 && globalStep - last > 1 {
                    let missed = globalStep - last - 1
                    let movement = schedule.missedStepMovement(afterStep: t, missed: missed)
                    let (d1, d2) = schedule.momentDecay(missed: missed)
                    AdamKernels.catchUp(pr, mr, vr, count: width, movement: movement, decay1: d1, decay2: d2)
                    t += missed
                }
                t += 1
                step(pr, g, mr, vr, factors: schedule.factors(step: t))
                steps[row] = UInt32(t)
                lastUpdate[row] = UInt32(globalStep)
            }
        }
    }

    /// Brings rows `rowRange` up to date with global step `globalStep`: each row touched before
    /// and not since takes the closed-form catch-up of the steps it missed, as if touched now
    /// without a gradient contribution of its own. Run at epoch ends, so that what is evaluated
    /// and saved carries no pending drift.
    public func catchUp(table: AlignedBuffer<Float>, rowRange: Range<Int>, globalStep: Int, schedule: AdamSchedule) {
        for row in rowRange {
            let last = Int(lastUpdate[row])
            guard last > 0 && last < globalStep else { continue }
            let missed = globalStep - last
            let t = Int(steps[row])
            let base = row * width
            let movement = schedule.missedStepMovement(afterStep: t, missed: missed)
            let (d1, d2) = schedule.momentDecay(missed: missed)
            AdamKernels.catchUp(table.base + base, m.base + base, v.base + base, count: width, movement: movement,
                                decay1: d1, decay2: d2)
            steps[row] = UInt32(t + missed)
            lastUpdate[row] = UInt32(globalStep)
        }
    }

    /// torch's dense semantics, for parity runs: every row of `rowRange` takes an Adam step at the
    /// global `step`, with a zero gradient where the batch missed it.
    public func updateAllRows(
        table: AlignedBuffer<Float>, grouping: RowGrouping, rowRange: Range<Int>, globalStep: Int,
        schedule: AdamSchedule, gradients: UnsafePointer<Float>, positionStride: Int, elementOffset: Int
    ) {
        let width = self.width
        let factors = schedule.factors(step: globalStep)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { scratch in
            let g = scratch.baseAddress!
            for row in rowRange {
                let u = grouping.slot(ofRow: row)
                let base = row * width
                if u >= 0 {
                    sumGradient(of: u, grouping: grouping, gradients: gradients, positionStride: positionStride,
                                elementOffset: elementOffset, into: g)
                    step(table.base + base, g, m.base + base, v.base + base, factors: factors)
                } else {
                    step(table.base + base, nil, m.base + base, v.base + base, factors: factors)
                }
                steps[row] = UInt32(globalStep)
                lastUpdate[row] = UInt32(globalStep)
            }
        }
    }
}
