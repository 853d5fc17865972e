import FNNCore
import FNNExecution
import Foundation

public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationAUC: Double
    public var validationLogLoss: Double
    public var seconds: Double
    public var samplesPerSecond: Double
}

public struct EvaluationResult: Sendable, Codable, Equatable {
    public var auc: Double
    public var logLoss: Double
    public var rows: Int
}

public struct TrainingResult {
    /// The model of the best validation epoch.
    public let model: Model
    public let history: [EpochRecord]
    public let bestEpoch: Int
    /// Wall time of the whole run, validation included (summed over resumed parts).
    public let trainSeconds: Double
    /// Training examples per second of training steps alone (validation excluded).
    public let samplesPerSecond: Double
    /// True when `shouldStop` ended the run before its last epoch.
    public let interrupted: Bool
    public var epochsRun: Int { history.count }
}

/// A run whose loss or parameters stopped being finite (a learning rate too large, usually). It
/// is raised at once, before the epoch's checkpoint and before the model can become the kept
/// best one, so the last checkpoint and best model on disk stay those of the last good epoch.
public struct TrainingDiverged: Error, CustomStringConvertible {
    public let epoch: Int
    /// The 1-based step of `epoch` at which it was seen (the epoch's last, for parameters found
    /// non-finite at its end).
    public let step: Int
    public let detail: String
    public var description: String { "training diverged in epoch \(epoch) at step \(step): \(detail)" }
}

/// Reports each finished epoch; the CLI prints it, tests ignore it.
public typealias EpochObserver = (EpochRecord) -> Void
