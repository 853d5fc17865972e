import Foundation

/// How every learning rate (the dense Adam's and the table rule's) changes over a run: a linear
/// warm-up over the first global steps (torch's `LinearLR` from 1/warmupSteps), then an
/// exponential decay per epoch (torch's `ExponentialLR` stepped once an epoch).
///
/// The factor depends on the global step and the epoch alone, both part of a run's state, so a
/// resumed run and every thread count take the same steps. A factor of exactly 1 leaves each step
/// size's bits as they were without a schedule.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    /// The rates of epoch e are decayPerEpoch^(e-1) times the base rates.
    public var decayPerEpoch: Float
    /// Global step g (1-based) below this takes g / warmupSteps of the epoch's rates; 0: none.
    public var warmupSteps: Int

    public init(decayPerEpoch: Float = 1, warmupSteps: Int = 0) {
        self.decayPerEpoch = decayPerEpoch
        self.warmupSteps = warmupSteps
    }

    public static let constant = LearningRateSchedule()
    public var isConstant: Bool { decayPerEpoch == 1 && warmupSteps == 0 }

    /// The factors of `epoch` (1-based), for the update loops.
    public func scale(epoch: Int) -> LearningRateScale {
        LearningRateScale(epochFactor: Float(Foundation.pow(Double(decayPerEpoch), Double(max(epoch - 1, 0)))),
                          warmupSteps: warmupSteps)
    }

    public var summary: String {
        guard !isConstant else { return "constant" }
        return [warmupSteps > 0 ? "linear warm-up over \(warmupSteps) steps" : nil,
                decayPerEpoch != 1 ? "x\(decayPerEpoch) per epoch" : nil].compactMap { $0 }.joined(separator: ", ")
    }
}

/// One epoch's learning-rate factor as a function of the global step.
public struct LearningRateScale: Sendable {
    public let epochFactor: Float
    public let warmupSteps: Int

    public static let one = LearningRateScale(epochFactor: 1, warmupSteps: 0)

    /// The factor of global step `step` (1-based).
    @inlinable public func at(step: Int) -> Float {
        guard step < warmupSteps else { return epochFactor }
        return epochFactor * Float(Double(max(step, 1)) / Double(warmupSteps))
    }
}
