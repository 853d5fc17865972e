import FNNCore
import FNNExecution

/// One model's figures as the commands report them (results table, --json, the experiment's
/// per-stage .json that a resumed experiment reads back): test metrics, epochs, speed, history,
/// phases, and how it was made.
public struct ModelReport: Codable {
    public var testAUC: Double
    public var testLogLoss: Double
    /// Training only.
    public var epochs: Int?
    public var bestEpoch: Int?
    public var trainSeconds: Double?
    /// Training examples per second (evaluation: examples evaluated per second).
    public var samplesPerSecond: Double
    public var history: [EpochRecord] = []
    public var phases: [PhaseProfile.Entry] = []
    public var rows: Int?
    /// The options this model trained with (the experiment's FNNs may use another table rule than its FM).
    public var options: TrainingOptions?
    /// Its shape: kind, field sizes, embedding dimension, MLP widths, dropout, FNN input.
    public var config: ModelConfig?
    /// Where its tables started: its initialisation, the FM, a model file, or a resumed checkpoint.
    public var tablesStart: String?
    /// Under several ranks: per kind of exchange, calls, bytes received and seconds, over
    /// `steps` training steps (nil in one process).
    public var traffic: [String: RankExchange.Traffic]?
    public var steps: Int?
    /// The trained model, for the FNN-from-FM stage; not part of the report.
    public var trained: Model?

    public init(testAUC: Double, testLogLoss: Double, epochs: Int? = nil, bestEpoch: Int? = nil, trainSeconds: Double? = nil,
                samplesPerSecond: Double, history: [EpochRecord] = [], phases: [PhaseProfile.Entry] = [], rows: Int? = nil) {
        self.testAUC = testAUC; self.testLogLoss = testLogLoss; self.epochs = epochs; self.bestEpoch = bestEpoch
        self.trainSeconds = trainSeconds; self.samplesPerSecond = samplesPerSecond; self.history = history; self.phases = phases
        self.rows = rows
    }

    enum CodingKeys: String, CodingKey {
        case testAUC = "test_auc", testLogLoss = "test_logloss", epochs, bestEpoch = "best_epoch"
        case trainSeconds = "train_seconds", samplesPerSecond = "samples_per_second", history, phases, rows, options
        case config, tablesStart = "tables_start", traffic = "rank_exchanges", steps
    }
}
