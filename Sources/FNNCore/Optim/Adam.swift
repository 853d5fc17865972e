import CMemoryHints
import FNNSystem
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
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, step: Int, rateScale: Float = 1
    ) {
        let (stepSize, bc2Sqrt) = corrections(step: step)
        AdamKernels.step(p, g, m, v, count: count, config: self, stepSize: stepSize * rateScale, biasCorrection2Sqrt: bc2Sqrt)
    }
}

/// Adam's per-step factors, computed once in Double and read from tables: the lazy table update
/// needs them for many different steps t in one global step, and pow is far slower than a lookup.
/// Grown on the calling thread between phases (`ensure`), read by workers through `view`.
///
/// The catch-up of k missed zero-gradient steps after step t moves a parameter by
///     M(t, k) = sum_{i=1..k} f(t+i) r^i   (in units of m / sqrt(v))
/// with f(n) = s_n c_n (step size times sqrt of the second bias correction) and r = b1 / sqrt(b2).
/// With the tail sums H(t) = sum_{i>=1} f(t+i) r^i this is H(t) - r^k H(t+k): two lookups, for any
/// gap. H is summed over `horizonTerms` terms, each entry on its own and in a fixed order, so its
/// bits do not depend on how far or in what steps the tables were grown (a resumed run grows them
/// differently); the dropped terms are below r^512, about 1e-23 of one step.
public final class AdamSchedule: @unchecked Sendable {
    public static let horizonTerms = 512
    static let powerTableSize = 4096
    public let config: AdamConfig
    /// Steps 0 ..< `factorCount` have step sizes and bias corrections; 0 ..< factorCount - horizonTerms
    /// have tail sums.
    private var factorCount = 1
    private var stepSizes = AlignedBuffer<Float>(count: 1)
    private var biasCorrection2Sqrts = AlignedBuffer<Float>([1])
    private var movementFactors = AlignedBuffer<Double>(count: 1)
    private var tailSums = AlignedBuffer<Double>(count: 0)
    private let ratioPowers: AlignedBuffer<Double>
    private let beta1Powers: AlignedBuffer<Float>
    private let beta2Powers: AlignedBuffer<Float>

    public init(config: AdamConfig) {
        self.config = config
        let ratio = Double(config.beta1) / Double(config.beta2).squareRoot()
        var r: [Double] = [], p1: [Float] = [], p2: [Float] = []
        var a = 1.0, b = 1.0, c = 1.0
        for _ in 0..<Self.powerTableSize {
            p1.append(Float(a)); p2.append(Float(b)); r.append(c)
            a *= Double(config.beta1); b *= Double(config.beta2); c *= ratio
        }
        beta1Powers = AlignedBuffer(p1)
        beta2Powers = AlignedBuffer(p2)
        ratioPowers = AlignedBuffer(r)
    }

    /// Makes every table reach global step `step`.
    public func ensure(upTo step: Int) {
        let neededTails = step + 1
        guard tailSums.count < neededTails else { return }
        let tails = max(neededTails, tailSums.count * 2)
        let factors = tails + Self.horizonTerms
        let sizes = AlignedBuffer<Float>(count: factors), corrections = AlignedBuffer<Float>(count: factors)
        let movement = AlignedBuffer<Double>(count: factors)
        sizes.base.update(from: stepSizes.base, count: factorCount)
        corrections.base.update(from: biasCorrection2Sqrts.base, count: factorCount)
        movement.base.update(from: movementFactors.base, count: factorCount)
        for t in factorCount..<factors {
            let c = config.corrections(step: t)
            sizes[t] = c.stepSize
            corrections[t] = c.biasCorrection2Sqrt
            movement[t] = Double(c.stepSize) * Double(c.biasCorrection2Sqrt)
        }
        let sums = AlignedBuffer<Double>(count: tails)
        sums.base.update(from: tailSums.base, count: tailSums.count)
        for t in tailSums.count..<tails {
            var sum = 0.0
            for i in 1...Self.horizonTerms { sum += movement[t + i] * ratioPowers[i] }
            sums[t] = sum
        }
        stepSizes = sizes
        biasCorrection2Sqrts = corrections
        movementFactors = movement
        tailSums = sums
        factorCount = factors
    }

    /// The tables as pointers for the update loops; valid until the next `ensure`.
    public var view: View {
        View(stepSizes: stepSizes.view, biasCorrection2Sqrts: biasCorrection2Sqrts.view, tailSums: tailSums.view,
             ratioPowers: ratioPowers.view, beta1Powers: beta1Powers.view, beta2Powers: beta2Powers.view,
             config: config)
    }

    public struct View {
        let stepSizes: BufferView<Float>
        let biasCorrection2Sqrts: BufferView<Float>
        let tailSums: BufferView<Double>
        let ratioPowers: BufferView<Double>
        let beta1Powers: BufferView<Float>
        let beta2Powers: BufferView<Float>
        let config: AdamConfig

        @inline(__always) public func factors(step t: Int) -> (stepSize: Float, biasCorrection2Sqrt: Float) {
            (stepSizes[t], biasCorrection2Sqrts[t])
        }

        /// M(t, k): how far dense Adam's zero-gradient steps t+1 ... t+k move a parameter, in units
        /// of m / sqrt(v) (see `AdamSchedule`).
        @inline(__always) public func missedStepMovement(afterStep t: Int, missed k: Int) -> Float {
            let rest = k < AdamSchedule.powerTableSize ? ratioPowers[k] * tailSums[t + k] : 0
            return Float(tailSums[t] - rest)
        }

        /// (b1^k, b2^k).
        @inline(__always) public func momentDecay(missed k: Int) -> (Float, Float) {
            if k < AdamSchedule.powerTableSize { return (beta1Powers[k], beta2Powers[k]) }
            return (Float(Foundation.pow(Double(config.beta1), Double(k))),
                    Float(Foundation.pow(Double(config.beta2), Double(k))))
        }
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

    /// The step on parameters `range` given their whole-batch gradient (`gradient[0]` belongs
    /// to `range.lowerBound`). Kept apart from the reduction so that another process's partials
    /// can join the sum before any parameter moves.
    public func apply(parameters: AlignedBuffer<Float>, gradient: UnsafePointer<Float>, range: Range<Int>, step: Int,
                      rateScale: Float = 1) {
        guard !range.isEmpty else { return }
        config.update(parameters: parameters.base + range.lowerBound, gradient: gradient,
                      m: m.base + range.lowerBound, v: v.base + range.lowerBound, count: range.count, step: step,
                      rateScale: rateScale)
    }

    /// The single-process step: the slice partials of parameters `range` summed in slice order
    /// (`SliceOrder`) into `scratch`, then applied.
    public func update(
        parameters: AlignedBuffer<Float>, slicePartials: AlignedBuffer<Float>, sliceCount: Int,
        range: Range<Int>, step: Int, scratch: UnsafeMutablePointer<Float>, rateScale: Float = 1
    ) {
        guard !range.isEmpty else { return }
        SliceOrder.sum(slicePartials.base + range.lowerBound, sliceStride: parameters.count, sliceCount: sliceCount,
                       count: range.count, into: scratch)
        apply(parameters: parameters, gradient: scratch, range: range, step: step, rateScale: rateScale)
    }
}
