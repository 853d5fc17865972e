import Foundation

public struct TrainingOptions: Sendable, Codable, Equatable {
    /// The options a resumed run must share with the run that wrote its checkpoint; the epoch
    /// limit and patience may change (to extend a run).
    public func sameTraining(as other: TrainingOptions) -> Bool {
        batchSize == other.batchSize && adam == other.adam && seed == other.seed && sliceRows == other.sliceRows
            && sparseUpdate == other.sparseUpdate && streamChunkRows == other.streamChunkRows && streamWindow == other.streamWindow
    }

    /// Maximum number of epochs.
    public var epochs = 100
    /// Stop after this many epochs without a better validation AUC; 0 never stops early.
    public var patience = 2
    public var batchSize = 2048
    public var adam = AdamConfig()
    public var seed: UInt64 = 42
    public var sliceRows = defaultSliceRows
    public var sparseUpdate = SparseUpdate.lazy
    /// Streaming order for data larger than memory: training rows are taken in file order, cut
    /// into chunks of this many rows; each epoch shuffles the chunk order and then the rows within
    /// each window of `streamWindow` consecutive chunks, so only a window's pages need be resident.
    /// nil: one shuffle over the whole training split.
    public var streamChunkRows: Int?
    public var streamWindow = 4

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
    /// Wall time of the whole run, validation included (summed over resumed parts).
    public let trainSeconds: Double
    /// Training examples per second of training steps alone (validation excluded).
    public let samplesPerSecond: Double
    /// True when `shouldStop` ended the run before its last epoch.
    public let interrupted: Bool
    public var epochsRun: Int { history.count }
}

/// Reports each finished epoch; the CLI prints it, tests ignore it.
public typealias EpochObserver = (EpochRecord) -> Void

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

/// A training run with early stopping on validation AUC that keeps the best epoch's model, can
/// be stopped between any two steps, and resumed from its state to end bit-identical to an
/// uninterrupted run.
public final class TrainingRun {
    public let engine: TrainingEngine
    public let data: Dataset
    public let split: DataSplit
    public let options: TrainingOptions
    public let executor: PhaseExecutor
    public private(set) var state = TrainingState()
    /// The best epoch's parameters so far.
    public let best: Model
    /// Polled between steps; true stops the run (the state then describes where).
    public var shouldStop: (() -> Bool)?
    public var onProgress: ((TrainingProgress) -> Void)?
    public var onEpoch: EpochObserver?
    /// Called after every epoch (and never mid-step), e.g. to write a checkpoint.
    public var onEpochEnd: ((TrainingRun) throws -> Void)?

    public init(engine: TrainingEngine, data: Dataset, split: DataSplit, options: TrainingOptions,
                executor: PhaseExecutor) {
        self.engine = engine
        self.data = data
        self.split = split
        self.options = options
        self.executor = executor
        best = engine.model.copy()
    }

    /// Continues from a saved state (the engine must already hold the matching parameters and
    /// optimizer state, `best` the best model's).
    public func restore(state: TrainingState, best bestParameters: Model) {
        self.state = state
        // Whether it is over follows from these options: a larger --epochs extends a finished run.
        self.state.finished = state.epoch > max(options.epochs, 1)
            || (options.patience > 0 && state.epochsWithoutImprovement >= options.patience)
        best.copyParameters(from: bestParameters)
    }

    /// The training order of `epoch`: a permutation of the training split that depends on the
    /// seed and the epoch only (and, streaming, on the chunking).
    public func order(epoch: Int) -> [Int] { plan(epoch: epoch).order }

    /// The order and, streaming, where each window of chunks ends in it (and which chunks it
    /// holds), so their pages can be handed back once training has passed them.
    func plan(epoch: Int) -> (order: [Int], windows: [(end: Int, chunks: [Int])]) {
        var rng = Xoshiro256(seed: options.seed &+ 0x9E37_79B9 &* UInt64(epoch))
        guard let chunkRows = options.streamChunkRows else {
            var order = split.train
            order.shuffleDeterministically(using: &rng)
            return (order, [])
        }
        var chunkOrder = Array(0..<streamChunks.count)
        chunkOrder.shuffleDeterministically(using: &rng)
        var order: [Int] = []
        order.reserveCapacity(split.train.count)
        var windows: [(end: Int, chunks: [Int])] = []
        var w = 0
        while w < chunkOrder.count {
            let chunks = Array(chunkOrder[w..<min(w + options.streamWindow, chunkOrder.count)])
            var window: [Int] = []
            for c in chunks { window += trainInFileOrder[(c * chunkRows)..<min((c + 1) * chunkRows, trainInFileOrder.count)] }
            window.shuffleDeterministically(using: &rng)
            order += window
            windows.append((order.count, chunks))
            w += options.streamWindow
        }
        return (order, windows)
    }

    /// The data's fingerprint, for checkpoints: computed once (it reads every example), not at
    /// every epoch's checkpoint.
    public private(set) lazy var dataFingerprint: UInt64 = data.fingerprint

    /// Streaming: the training rows in file order, and each chunk's span of file rows.
    private lazy var trainInFileOrder: [Int] = split.train.sorted()
    private lazy var streamChunks: [ClosedRange<Int>] = {
        guard let chunkRows = options.streamChunkRows else { return [] }
        return stride(from: 0, to: trainInFileOrder.count, by: chunkRows).map { start in
            trainInFileOrder[start]...trainInFileOrder[min(start + chunkRows, trainInFileOrder.count) - 1]
        }
    }()

    /// Validation logits, in the split's order (streaming: read in file order, as `evaluate`).
    private func validationLogits() -> (logits: [Float], labels: [Float]) {
        (logitsInFileOrder(engine: engine, data: data, rows: split.validation, executor: executor), validationLabels)
    }

    private lazy var validationLabels: [Float] = split.validation.map { data.labels[$0] }

    /// Trains to the end (or an interruption). Call once: the result's model is this run's own
    /// best-epoch model, handed over rather than copied (a copy of large tables would raise the
    /// peak memory by a third model).
    public func run() throws -> TrainingResult {
        let minimumBatch = engine.model.config.kind == .fnn ? 2 : 1
        var interrupted = false
        var segmentStart = PhaseProfile.now()
        defer { state.wallSeconds += PhaseProfile.now() - segmentStart }
        while !state.finished && state.epoch <= max(options.epochs, 1) {
            let epoch = state.epoch
            let (order, windows) = plan(epoch: epoch)
            var nextWindow = 0
            let batches = (order.count + options.batchSize - 1) / options.batchSize
            var stepStart = PhaseProfile.now()
            order.withUnsafeBufferPointer { ids in
                while state.stepInEpoch < batches {
                    if let shouldStop, shouldStop() { interrupted = true; return }
                    let i = state.stepInEpoch * options.batchSize
                    let n = min(options.batchSize, ids.count - i)
                    // A one-example batch has no BatchNorm statistics (torch raises); it is skipped.
                    if n >= minimumBatch {
                        let loss = engine.trainStep(examples: ids.baseAddress! + i, count: n, epoch: epoch, executor: executor)
                        state.epochLossSum += loss * Double(n)
                        state.epochExamples += n
                    }
                    state.stepInEpoch += 1
                    // Streaming: hand back the pages of every window this batch finished.
                    while nextWindow < windows.count && windows[nextWindow].end <= i + n {
                        if data.isMapped {
                            for c in windows[nextWindow].chunks {
                                data.releasePages(rows: streamChunks[c].lowerBound..<(streamChunks[c].upperBound + 1))
                            }
                        }
                        nextWindow += 1
                    }
                    let now = PhaseProfile.now()
                    state.epochStepSeconds += now - stepStart
                    stepStart = now
                    if let onProgress {
                        let rate = Double(state.epochExamples) / max(state.epochStepSeconds, 1e-9)
                        let done = min(i + n, ids.count)
                        onProgress(TrainingProgress(
                            epoch: epoch, maxEpochs: options.epochs, fraction: Double(done) / Double(max(ids.count, 1)),
                            samplesPerSecond: rate, runningLoss: state.epochLossSum / Double(max(state.epochExamples, 1)),
                            epochETA: Double(ids.count - done) / max(rate, 1e-9)))
                    }
                }
            }
            if interrupted { break }
            // Rows not touched lately still owe their catch-up; settle it before evaluating (or
            // keeping) this epoch's model.
            engine.synchronizeTables(executor: executor)
            let evaluationStart = PhaseProfile.now()
            let (logits, labels) = validationLogits()
            let auc = Metrics.auc(scores: logits, labels: labels)
            let logLoss = Metrics.logLoss(logits: logits, labels: labels)
            let record = EpochRecord(
                epoch: epoch, trainLoss: state.epochLossSum / Double(max(state.epochExamples, 1)), validationAUC: auc,
                validationLogLoss: logLoss, seconds: state.epochStepSeconds + PhaseProfile.now() - evaluationStart,
                samplesPerSecond: Double(state.epochExamples) / max(state.epochStepSeconds, 1e-9))
            state.history.append(record)
            state.stepSeconds += state.epochStepSeconds
            state.stepExamples += state.epochExamples
            if auc > state.bestAUC || (state.bestAUC.isNaN && !auc.isNaN) || state.history.count == 1 {
                state.bestAUC = auc
                state.bestEpoch = epoch
                best.copyParameters(from: engine.model)
                state.epochsWithoutImprovement = 0
            } else {
                state.epochsWithoutImprovement += 1
                if options.patience > 0 && state.epochsWithoutImprovement >= options.patience { state.finished = true }
            }
            state.epoch += 1
            state.stepInEpoch = 0
            state.epochLossSum = 0
            state.epochExamples = 0
            state.epochStepSeconds = 0
            if state.epoch > max(options.epochs, 1) { state.finished = true }
            onEpoch?(record)
            state.wallSeconds += PhaseProfile.now() - segmentStart
            segmentStart = PhaseProfile.now()
            try onEpochEnd?(self)
        }
        return TrainingResult(model: best, history: state.history, bestEpoch: state.bestEpoch,
                              trainSeconds: state.wallSeconds + PhaseProfile.now() - segmentStart,
                              samplesPerSecond: Double(state.stepExamples) / max(state.stepSeconds, 1e-9),
                              interrupted: interrupted)
    }
}

/// Trains with early stopping on validation AUC, keeping the best epoch's model.
public func train(
    engine: TrainingEngine, data: Dataset, split: DataSplit, options: TrainingOptions,
    executor: PhaseExecutor, observer: EpochObserver? = nil
) -> TrainingResult {
    let run = TrainingRun(engine: engine, data: data, split: split, options: options, executor: executor)
    run.onEpoch = observer
    return try! run.run()
}

/// AUC and log loss of `model` on the given rows.
public func evaluate(engine: TrainingEngine, data: Dataset, rows: [Int], executor: PhaseExecutor) -> EvaluationResult {
    let logits = logitsInFileOrder(engine: engine, data: data, rows: rows, executor: executor)
    let labels = rows.map { data.labels[$0] }
    return EvaluationResult(auc: Metrics.auc(scores: logits, labels: labels),
                            logLoss: Metrics.logLoss(logits: logits, labels: labels), rows: rows.count)
}

/// Logits of `rows`, in the order given, computed in file order, block by block: a mapped data
/// set may be larger than memory, and each block's pages are handed back after it. In memory the
/// same blocks are used, because a logit's last bit can depend on which rows share its GEMM
/// (the kernel differs with the matrix size), and the result must not depend on where the data
/// lives. The logits are put back in the given order, so metrics sum in the same order too.
func logitsInFileOrder(engine: TrainingEngine, data: Dataset, rows: [Int], executor: PhaseExecutor, blockRows: Int = 65536) -> [Float] {
    let permutation = rows.indices.sorted { rows[$0] < rows[$1] }
    var logits = [Float](repeating: 0, count: rows.count)
    var start = 0
    while start < permutation.count {
        let block = permutation[start..<min(start + blockRows, permutation.count)]
        let blockLogits = engine.logits(examples: block.map { rows[$0] }, executor: executor)
        for (k, position) in block.enumerated() { logits[position] = blockLogits[k] }
        if data.isMapped { data.releasePages(rows: rows[block.first!]..<(rows[block.last!] + 1)) }
        start += blockRows
    }
    return logits
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
