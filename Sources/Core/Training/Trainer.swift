import Foundation

public struct TrainingOptions: Sendable, Codable, Equatable {
    /// Maximum number of epochs.
    public var epochs = 100
    /// Stop after this many epochs without a better validation AUC; 0 never stops early.
    public var patience = 2
    public var batchSize = 2048
    public var adam = AdamConfig()
    public var seed: UInt64 = 42
    public var sliceRows = defaultSliceRows
    public var sparseUpdate = SparseUpdate.lazy

    public init() {}
}

/// How the embedding and linear tables are optimised.
public enum SparseUpdate: String, Sendable, Codable, CaseIterable {
    /// Only the rows a batch touched, each with its own moments and step count (see `LazyRowAdam`).
    case lazy
    /// torch's dense Adam: every row, every step. Slow on large tables; for parity with PyTorch.
    case dense
}

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
    /// Wall time of the whole run, validation included.
    public let trainSeconds: Double
    /// Training examples per second of training steps alone (validation excluded).
    public let samplesPerSecond: Double
    public var epochsRun: Int { history.count }
}

/// Reports each finished epoch; the CLI prints it, tests ignore it.
public typealias EpochObserver = (EpochRecord) -> Void

/// Trains with early stopping on validation AUC, keeping the best epoch's model.
public func train(
    engine: TrainingEngine, data: Dataset, split: DataSplit, options: TrainingOptions,
    executor: PhaseExecutor, observer: EpochObserver? = nil
) -> TrainingResult {
    let start = ContinuousClock.now
    var history: [EpochRecord] = []
    var best = engine.model.copy()
    var bestAUC = -Double.infinity
    var bestEpoch = 0
    var epochsWithoutImprovement = 0
    var stepSeconds = 0.0
    var stepExamples = 0
    let validationLabels = split.validation.map { data.labels[$0] }
    let minimumBatch = engine.model.config.kind == .fnn ? 2 : 1
    var order = split.train
    for epoch in 1...max(options.epochs, 1) {
        let epochStart = ContinuousClock.now
        order = split.train
        var rng = Xoshiro256(seed: options.seed &+ 0x9E37_79B9 &* UInt64(epoch))
        order.shuffleDeterministically(using: &rng)
        var lossSum = 0.0
        var examples = 0
        order.withUnsafeBufferPointer { ids in
            var i = 0
            while i < ids.count {
                let n = min(options.batchSize, ids.count - i)
                // A one-example batch has no BatchNorm statistics (torch raises); it is skipped.
                if n >= minimumBatch {
                    lossSum += engine.trainStep(examples: ids.baseAddress! + i, count: n, epoch: epoch,
                                                executor: executor) * Double(n)
                    examples += n
                }
                i += n
            }
        }
        // Rows not touched lately still owe their catch-up; settle it before evaluating (or keeping)
        // this epoch's model.
        engine.synchronizeTables(executor: executor)
        let trained = ContinuousClock.now
        let seconds = (trained - epochStart).seconds
        stepSeconds += seconds
        stepExamples += examples
        let logits = engine.logits(examples: split.validation, executor: executor)
        let auc = Metrics.auc(scores: logits, labels: validationLabels)
        let logLoss = Metrics.logLoss(logits: logits, labels: validationLabels)
        let record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(max(examples, 1)), validationAUC: auc,
                                 validationLogLoss: logLoss, seconds: (ContinuousClock.now - epochStart).seconds,
                                 samplesPerSecond: Double(examples) / max(seconds, 1e-9))
        history.append(record)
        observer?(record)
        if auc > bestAUC || (bestAUC.isNaN && !auc.isNaN) || history.count == 1 {
            bestAUC = auc
            bestEpoch = epoch
            best.copyParameters(from: engine.model)
            epochsWithoutImprovement = 0
        } else {
            epochsWithoutImprovement += 1
            if options.patience > 0 && epochsWithoutImprovement >= options.patience { break }
        }
    }
    if bestEpoch == history.count { best = engine.model.copy() }
    return TrainingResult(model: best, history: history, bestEpoch: bestEpoch,
                          trainSeconds: (ContinuousClock.now - start).seconds,
                          samplesPerSecond: Double(stepExamples) / max(stepSeconds, 1e-9))
}

/// AUC and log loss of `model` on the given rows.
public func evaluate(engine: TrainingEngine, data: Dataset, rows: [Int], executor: PhaseExecutor) -> EvaluationResult {
    let logits = engine.logits(examples: rows, executor: executor)
    let labels = rows.map { data.labels[$0] }
    return EvaluationResult(auc: Metrics.auc(scores: logits, labels: labels),
                            logLoss: Metrics.logLoss(logits: logits, labels: labels), rows: rows.count)
}

/// Builds the engine for a model's kind.
public func makeEngine(model: Model, data: Dataset, options: TrainingOptions) -> TrainingEngine {
    switch model.config.kind {
    case .fm:
        return FMEngine(model: model, data: data, adam: options.adam, batchCapacity: options.batchSize,
                        sliceRows: options.sliceRows, sparseUpdate: options.sparseUpdate)
    case .fnn:
        return FNNEngine(model: model, data: data, adam: options.adam, batchCapacity: options.batchSize,
                         seed: options.seed, sliceRows: options.sliceRows, sparseUpdate: options.sparseUpdate)
    }
}

extension Duration {
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
