import FNNCore
import FNNExecution
import Foundation

/// Where a run is: everything besides the parameters and optimizer state that a resumed run
/// needs to continue exactly as an uninterrupted one.
public struct TrainingState: Codable, Equatable, Sendable {
    /// The epoch in progress or next to run (1-based).
    public var epoch = 1
    /// Minibatches of `epoch` already trained.
    public var stepInEpoch = 0
    public var epochLossSum = 0.0
    public var epochExamples = 0
    public var epochStepSeconds = 0.0
    public var history: [EpochRecord] = []
    /// The best epoch's score on the stopping metric, higher better: its validation AUC, or minus
    /// its validation log loss (`StoppingMetric`). Named for the AUC it held before the metric
    /// could be chosen, so earlier checkpoints read unchanged.
    public var bestAUC = -Double.infinity
    public var bestEpoch = 0
    public var epochsWithoutImprovement = 0
    public var stepSeconds = 0.0
    public var stepExamples = 0
    public var wallSeconds = 0.0
    public var finished = false

    public init() {}
}

/// Progress within an epoch, for live display.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var maxEpochs: Int
    /// Fraction of this epoch's examples done.
    public var fraction: Double
    public var samplesPerSecond: Double
    /// Mean training loss of this epoch so far.
    public var runningLoss: Double
    /// Estimated seconds to the end of the epoch.
    public var epochETA: Double
}

extension TrainingState {
    /// What makes this state impossible for a real run (read from a damaged or crafted
    /// checkpoint), or nil: counts below zero or past what the epoch count allows.
    public var implausibility: String? {
        let limit = 10_000_000
        if !(1...limit).contains(epoch) { return "epoch \(epoch)" }
        if stepInEpoch < 0 || stepInEpoch > 1 << 40 { return "step \(stepInEpoch)" }
        if epochExamples < 0 || stepExamples < 0 { return "a negative example count" }
        if bestEpoch < 0 || bestEpoch > epoch { return "best epoch \(bestEpoch) at epoch \(epoch)" }
        if epochsWithoutImprovement < 0 || epochsWithoutImprovement > epoch { return "\(epochsWithoutImprovement) epochs without improvement at epoch \(epoch)" }
        if history.count > epoch { return "\(history.count) epochs of history at epoch \(epoch)" }
        if let record = history.enumerated().first(where: { $0.element.epoch != $0.offset + 1 }) {
            return "history record \(record.offset + 1) numbered epoch \(record.element.epoch)"
        }
        if !(epochLossSum.isFinite && wallSeconds.isFinite && stepSeconds.isFinite && epochStepSeconds.isFinite) { return "non-finite sums" }
        return nil
    }
}
