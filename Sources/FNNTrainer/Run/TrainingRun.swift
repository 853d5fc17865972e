import FNNCore
import FNNExecution
import Foundation

public struct TrainingOptions: Sendable, Codable, Equatable {
    /// The options a resumed run must share with the run that wrote its checkpoint; the epoch
    /// limit and patience may change (to extend a run).
    public func sameTraining(as other: TrainingOptions) -> Bool {
        batchSize == other.batchSize && adam == other.adam && seed == other.seed && split == other.split && trainOnAll == other.trainOnAll && heldOut == other.heldOut
            && sliceRows == other.sliceRows
            && sparseUpdate == other.sparseUpdate && tables.sameRule(as: other.tables) && rates == other.rates && stoppingMetric == other.stoppingMetric && initialization == other.initialization
            && streamChunkRows == other.streamChunkRows && streamWindow == other.streamWindow
    }

    /// Maximum number of epochs.
    public var epochs = 100
    /// Stop after this many epochs without a better validation score; 0 never stops early.
    public var patience = 2
    /// What "better" means for early stopping and the kept epoch.
    public var stoppingMetric = StoppingMetric.auc
    public var batchSize = 2048
    public var adam = AdamConfig()
    public var seed: UInt64 = 42
    /// The split's proportions (the split itself is the caller's; recorded so that a resumed run
    /// and `eval --split` find the same parts).
    public var split = DataSplit.Proportions.standard
    /// Every row trains and none is held out (`DataSplit.allRows`): each epoch's model is kept,
    /// no early stopping.
    public var trainOnAll = false
    /// Validation and test rows that came from their own files, after the training file's rows
    /// (`DataSplit(rowCount:seed:proportions:heldOut:)`); nil: the seeded split of one file.
    public var heldOut: HeldOutFiles?
    public var sliceRows = defaultSliceRows
    public var sparseUpdate = SparseUpdate.lazy
    /// The embedding and linear tables' update rule (Adam unless set; the CLI's `auto` picks per
    /// model kind, see `TableOptimizerConfig.recommended`).
    public var tables = TableOptimizerConfig()
    /// How every learning rate changes over the run (constant unless set).
    public var rates = LearningRateSchedule.constant
    /// How a model trained from scratch starts its tables.
    public var initialization = TableInitialization.torch
    /// Streaming order for data larger than memory: the file is cut into chunks of this many rows;
    /// each epoch shuffles the chunk order, takes the chunks `streamWindow` at a time, and shuffles
    /// the training rows of each such window, so only a window's pages need be resident and no
    /// list of all rows is ever built. nil: one shuffle over the whole training split.
    public var streamChunkRows: Int?
    public var streamWindow = 4

    public init() {}
}

extension TrainingOptions {
    enum CodingKeys: String, CodingKey {
        case epochs, patience, stoppingMetric, batchSize, adam, seed, split, trainOnAll, heldOut, sliceRows, sparseUpdate, tables
        case initialization, rates
        case streamChunkRows, streamWindow
    }

    /// Options recorded before the table rule and initialisation were options (checkpoints of
    /// version 2 say nothing of them) trained with lazy Adam from torch's initialisation, so they
    /// read as that and such a checkpoint resumes to the same model.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(Int.self, forKey: .epochs)
        patience = try c.decode(Int.self, forKey: .patience)
        stoppingMetric = try c.decodeIfPresent(StoppingMetric.self, forKey: .stoppingMetric) ?? .auc
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        adam = try c.decode(AdamConfig.self, forKey: .adam)
        seed = try c.decode(UInt64.self, forKey: .seed)
        split = try c.decodeIfPresent(DataSplit.Proportions.self, forKey: .split) ?? .standard
        trainOnAll = try c.decodeIfPresent(Bool.self, forKey: .trainOnAll) ?? false
        heldOut = try c.decodeIfPresent(HeldOutFiles.self, forKey: .heldOut)
        sliceRows = try c.decode(Int.self, forKey: .sliceRows)
        sparseUpdate = try c.decode(SparseUpdate.self, forKey: .sparseUpdate)
        tables = try c.decodeIfPresent(TableOptimizerConfig.self, forKey: .tables) ?? TableOptimizerConfig(kind: .adam)
        initialization = try c.decodeIfPresent(TableInitialization.self, forKey: .initialization) ?? .torch
        rates = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .rates) ?? .constant
        streamChunkRows = try c.decodeIfPresent(Int.self, forKey: .streamChunkRows)
        streamWindow = try c.decode(Int.self, forKey: .streamWindow)
    }
}

/// The validation metric that picks the kept epoch and stops a run early.
public enum StoppingMetric: String, Sendable, Codable, CaseIterable {
    /// Higher validation AUC is better (ranking quality, what CTR work usually reports).
    case auc
    /// Lower validation log loss is better (calibrated probabilities, what bidding needs).
    case logloss
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
    /// seed and the epoch only (and, streaming, on the chunking). Streaming runs never build it
    /// whole; this is for tests and diagnostics.
    public func order(epoch: Int) -> [Int] {
        guard options.streamChunkRows != nil else { return inMemoryOrder(epoch: epoch) }
        return streamWindows(epoch: epoch).flatMap { windowRows($0.chunks, epoch: epoch, window: $0.index).map(Int.init) }
    }

    func inMemoryOrder(epoch: Int) -> [Int] {
        var rng = Xoshiro256(seed: SeedDerivation.epochShuffle(options.seed, epoch: epoch))
        var order = trainRows
        order.shuffleDeterministically(using: &rng)
        return order
    }

    private lazy var trainRows: [Int] = split.train

    /// Streaming: the epoch's windows in order, each with its chunks and the position in the
    /// epoch where its rows end.
    public func streamWindows(epoch: Int) -> [(index: Int, chunks: [Int], end: Int)] {
        var rng = Xoshiro256(seed: SeedDerivation.epochShuffle(options.seed, epoch: epoch))
        var chunkOrder = Array(0..<chunkTrainCounts.count)
        chunkOrder.shuffleDeterministically(using: &rng)
        var windows: [(index: Int, chunks: [Int], end: Int)] = []
        var end = 0
        var w = 0
        while w * options.streamWindow < chunkOrder.count {
            let chunks = Array(chunkOrder[(w * options.streamWindow)..<min((w + 1) * options.streamWindow, chunkOrder.count)])
            end += chunks.reduce(0) { $0 + chunkTrainCounts[$1] }
            windows.append((w, chunks, end))
            w += 1
        }
        return windows
    }

    /// The training rows of a window's chunks, shuffled with the window's own generator (so a
    /// resumed run can produce any window without the ones before it). 32-bit: the list is the
    /// one per-row structure streaming holds, and it counts against the memory budget.
    func windowRows(_ chunks: [Int], epoch: Int, window: Int) -> [UInt32] {
        let chunkRows = options.streamChunkRows!
        precondition(data.rowCount <= Int(UInt32.max), "streaming addresses rows with 32-bit ids")
        var rows: [UInt32] = []
        rows.reserveCapacity(chunks.reduce(0) { $0 + chunkTrainCounts[$1] })
        for c in chunks {
            for r in (c * chunkRows)..<min((c + 1) * chunkRows, data.rowCount) where split.part(ofRow: r) == .train {
                rows.append(UInt32(r))
            }
        }
        var rng = Xoshiro256(seed: (SeedDerivation.epochShuffle(options.seed, epoch: epoch)) ^ SplitMix64.mix(UInt64(window) &+ 1))
        rows.shuffleDeterministically(using: &rng)
        return rows
    }

    /// Streaming: each chunk's number of training rows (one pass over the split, once per run).
    private lazy var chunkTrainCounts: [Int] = {
        guard let chunkRows = options.streamChunkRows else { return [] }
        return stride(from: 0, to: data.rowCount, by: chunkRows).map { start in
            (start..<min(start + chunkRows, data.rowCount)).reduce(0) { $0 + (split.part(ofRow: $1) == .train ? 1 : 0) }
        }
    }()

    /// The data's fingerprint, for checkpoints: computed once (it reads every example), not at
    /// every epoch's checkpoint.
    public private(set) lazy var dataFingerprint: UInt64 = data.fingerprint

    /// Validation logits and labels, in file order (as `evaluate`).
    private func validationLogits() -> (logits: [Float], labels: [Float]) {
        guard let rows = validationRows else {
            return logitsOfPart(engine: engine, data: data, split: split, part: .validation, executor: executor)
        }
        let logits = logitsWalkingTheFile(engine: engine, data: data, rows: rows, expected: rows.count,
                                          executor: executor, blockRows: evaluationBlockRows)
        return (logits, validationLabels)
    }

    /// In memory, the validation rows in file order, found once: finding them is a permutation
    /// evaluation per row of the data, several times the cost of scoring them, every epoch.
    /// Streaming, they are found again each time (no per-row list is kept).
    private lazy var validationRows: [Int]? = options.streamChunkRows != nil ? nil
        : (0..<data.rowCount).filter { split.part(ofRow: $0) == .validation }
    private lazy var validationLabels: [Float] = validationRows?.map { data.labels[$0] } ?? []

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
            let total = split.trainCount
            let batches = (total + options.batchSize - 1) / options.batchSize
            var feed = EpochFeed(run: self, epoch: epoch, skipping: state.stepInEpoch * options.batchSize)
            var stepStart = PhaseProfile.now()
            while state.stepInEpoch < batches {
                if let shouldStop, shouldStop() { interrupted = true; break }
                let i = state.stepInEpoch * options.batchSize
                let n = min(options.batchSize, total - i)
                var nonFiniteLoss: Double?
                feed.withNext(n) { ids in
                    // A one-example batch has no BatchNorm statistics (torch raises); it is skipped.
                    if n >= minimumBatch {
                        let loss = engine.trainStep(examples: ids, count: n, epoch: epoch, executor: executor)
                        guard loss.isFinite else { nonFiniteLoss = loss; return }
                        state.epochLossSum += loss * Double(n)
                        state.epochExamples += n
                    }
                }
                if let loss = nonFiniteLoss {
                    throw TrainingDiverged(epoch: epoch, step: state.stepInEpoch + 1, detail: "the batch loss is \(loss)")
                }
                state.stepInEpoch += 1
                let now = PhaseProfile.now()
                state.epochStepSeconds += now - stepStart
                stepStart = now
                if let onProgress {
                    let rate = Double(state.epochExamples) / max(state.epochStepSeconds, 1e-9)
                    let done = min(i + n, total)
                    onProgress(TrainingProgress(
                        epoch: epoch, maxEpochs: options.epochs, fraction: Double(done) / Double(max(total, 1)),
                        samplesPerSecond: rate, runningLoss: state.epochLossSum / Double(max(state.epochExamples, 1)),
                        epochETA: Double(total - done) / max(rate, 1e-9)))
                }
            }
            if interrupted { break }
            // Rows not touched lately still owe their catch-up; settle it before evaluating (or
            // keeping) this epoch's model.
            engine.synchronizeTables(epoch: epoch, executor: executor)
            // A finite loss can hide a poisoned row the batches did not reach this time.
            if let tensor = engine.model.firstNonFiniteTensor(executor: executor) {
                throw TrainingDiverged(epoch: epoch, step: batches, detail: "\(tensor) holds values that are not finite")
            }
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
            let score = options.stoppingMetric == .auc ? auc : -logLoss
            // Without validation rows (training on every row) each epoch's model is the one kept.
            if split.validationCount == 0 || score > state.bestAUC || (state.bestAUC.isNaN && !score.isNaN)
                || state.history.count == 1 {
                state.bestAUC = score
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

/// The training rows of one epoch, handed out batch by batch: in memory, slices of the shuffled
/// order; streaming, window after window (only the current windows' rows are held), each
/// window's pages handed back once training has passed its rows.
struct EpochFeed {
    let run: TrainingRun
    let epoch: Int
    let streaming: Bool
    var rows: [Int] = []
    /// Streaming: the loaded windows' rows, and the batch's ids widened for the engine.
    var windowRows: [UInt32] = []
    var batch: [Int] = []
    var position = 0
    /// Streaming: the epoch's windows, the next to load, and the loaded ones not yet released.
    var windows: [(index: Int, chunks: [Int], end: Int)] = []
    var nextWindow = 0
    var loaded: [(chunks: [Int], end: Int)] = []
    var consumed = 0

    /// Starts `skipping` rows into the epoch (a resumed run).
    init(run: TrainingRun, epoch: Int, skipping: Int) {
        self.run = run
        self.epoch = epoch
        streaming = run.options.streamChunkRows != nil
        consumed = skipping
        guard streaming else {
            rows = run.inMemoryOrder(epoch: epoch)
            position = skipping
            return
        }
        windows = run.streamWindows(epoch: epoch)
        while nextWindow < windows.count && windows[nextWindow].end <= skipping { nextWindow += 1 }
        if nextWindow < windows.count {
            let start = nextWindow == 0 ? 0 : windows[nextWindow - 1].end
            load()
            position = skipping - start
        }
    }

    private mutating func load() {
        let w = windows[nextWindow]
        if position > 0 { windowRows.removeFirst(position); position = 0 }
        windowRows += run.windowRows(w.chunks, epoch: epoch, window: w.index)
        loaded.append((w.chunks, w.end))
        nextWindow += 1
    }

    /// Calls `body` with the next `n` example ids.
    mutating func withNext(_ n: Int, _ body: (UnsafePointer<Int>) -> Void) {
        guard streaming, let chunkRows = run.options.streamChunkRows else {
            precondition(rows.count - position >= n, "the epoch has fewer training rows than its batches")
            rows.withUnsafeBufferPointer { body($0.baseAddress! + position) }
            position += n
            consumed += n
            return
        }
        while windowRows.count - position < n && nextWindow < windows.count { load() }
        precondition(windowRows.count - position >= n, "the epoch has fewer training rows than its batches")
        batch.removeAll(keepingCapacity: true)
        for k in position..<(position + n) { batch.append(Int(windowRows[k])) }
        batch.withUnsafeBufferPointer { body($0.baseAddress!) }
        position += n
        consumed += n
        while let first = loaded.first, first.end <= consumed {
            if run.data.isMapped {
                for c in first.chunks {
                    run.data.releasePages(rows: (c * chunkRows)..<min((c + 1) * chunkRows, run.data.rowCount))
                }
            }
            loaded.removeFirst()
        }
    }
}

/// AUC and log loss on one part of a split, computed in file order (see `logitsOfPart`).
public func evaluate(engine: TrainingEngine, data: Dataset, split: DataSplit, part: DataSplit.Part,
                     executor: PhaseExecutor) -> EvaluationResult {
    let (logits, labels) = logitsOfPart(engine: engine, data: data, split: split, part: part, executor: executor)
    return EvaluationResult(auc: Metrics.auc(scores: logits, labels: labels),
                            logLoss: Metrics.logLoss(logits: logits, labels: labels), rows: logits.count)
}

/// Logits and labels of one part of a split, in file order, without a row list (data larger than
/// memory is evaluated this way too).
/// Examples per evaluation block (see `logitsWalkingTheFile`).
let evaluationBlockRows = 65536

func logitsOfPart(engine: TrainingEngine, data: Dataset, split: DataSplit, part: DataSplit.Part,
                  executor: PhaseExecutor, blockRows: Int = evaluationBlockRows) -> (logits: [Float], labels: [Float]) {
    var labels: [Float] = []
    labels.reserveCapacity(split.count(of: part))
    let rows = (0..<data.rowCount).lazy.filter { split.part(ofRow: $0) == part }
    let logits = logitsWalkingTheFile(engine: engine, data: data, rows: rows, expected: split.count(of: part),
                                      executor: executor, blockRows: blockRows) { labels.append(data.labels[$0]) }
    return (logits, labels)
}

/// Logits of `rows` (increasing row ids), block by block of `blockRows` examples, each block's
/// pages handed back after it: a mapped data set may be larger than memory. In memory the same
/// blocks are used, because a logit's last bit can depend on which rows share its GEMM (the
/// kernel differs with the matrix size), and the result must not depend on where the data lives.
/// `visit` sees every row, in order.
func logitsWalkingTheFile<Rows: Sequence<Int>>(
    engine: TrainingEngine, data: Dataset, rows: Rows, expected: Int, executor: PhaseExecutor, blockRows: Int,
    visit: (Int) -> Void = { _ in }
) -> [Float] {
    var logits: [Float] = []
    logits.reserveCapacity(expected)
    var block: [Int] = []
    var released = 0
    func flush() {
        guard let last = block.last else { return }
        logits += engine.logits(examples: block, executor: executor)
        if data.isMapped { data.releasePages(rows: released..<(last + 1)) }
        released = last + 1
        block.removeAll(keepingCapacity: true)
    }
    for r in rows {
        visit(r)
        block.append(r)
        if block.count == blockRows { flush() }
    }
    flush()
    return logits
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

/// Logits of `rows`, in the order given, computed in file order (`logitsWalkingTheFile`) and put
/// back in the given order, so metrics sum in the same order too.
func logitsInFileOrder(engine: TrainingEngine, data: Dataset, rows: [Int], executor: PhaseExecutor,
                       blockRows: Int = evaluationBlockRows) -> [Float] {
    let permutation = rows.indices.sorted { rows[$0] < rows[$1] }
    let sorted = logitsWalkingTheFile(engine: engine, data: data, rows: permutation.lazy.map { rows[$0] },
                                      expected: rows.count, executor: executor, blockRows: blockRows)
    var logits = [Float](repeating: 0, count: rows.count)
    for (k, position) in permutation.enumerated() { logits[position] = sorted[k] }
    return logits
}

/// Builds the engine for a model's kind.
public func makeEngine(model: Model, data: Dataset, options: TrainingOptions) -> TrainingEngine {
    switch model.config.kind {
    case .fm:
        return FMEngine(model: model, data: data, adam: options.adam, batchCapacity: options.batchSize,
                        sliceRows: options.sliceRows, sparseUpdate: options.sparseUpdate, tables: options.tables,
                        rates: options.rates)
    case .fnn:
        return FNNEngine(model: model, data: data, adam: options.adam, batchCapacity: options.batchSize,
                         seed: options.seed, sliceRows: options.sliceRows, sparseUpdate: options.sparseUpdate,
                         tables: options.tables, rates: options.rates)
    }
}

extension Duration {
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
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

extension TrainingOptions {
    /// What differs between `self` (what an artefact was made with) and `other` (what this run
    /// asks for), one "name: was -> now" per option that shapes the model, for refusals that say
    /// exactly why. `includingLength`: also the epoch limit and patience (a finished model was
    /// shaped by them; a checkpoint can be extended past them).
    public func differences(from other: TrainingOptions, includingLength: Bool = false) -> [String] {
        var out: [String] = []
        func note<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { out.append("\(name): \(a) -> \(b)") } }
        if includingLength {
            note("epochs", epochs, other.epochs)
            note("patience", patience, other.patience)
        }
        note("batch size", batchSize, other.batchSize)
        note("lr", adam.learningRate, other.adam.learningRate)
        note("weight decay", adam.weightDecay, other.adam.weightDecay)
        if adam.beta1 != other.adam.beta1 || adam.beta2 != other.adam.beta2 || adam.epsilon != other.adam.epsilon {
            out.append("Adam betas / epsilon")
        }
        note("seed", seed, other.seed)
        note("split", split.description, other.split.description)
        note("train on all", trainOnAll, other.trainOnAll)
        note("held-out files", heldOut.map { "\($0.validationRows)/\($0.testRows) rows" } ?? "none",
             other.heldOut.map { "\($0.validationRows)/\($0.testRows) rows" } ?? "none")
        note("slice rows", sliceRows, other.sliceRows)
        note("sparse update", sparseUpdate.rawValue, other.sparseUpdate.rawValue)
        note("table rule", tables.kind.rawValue, other.tables.kind.rawValue)
        if tables.kind == other.tables.kind && !tables.sameRule(as: other.tables) { out.append("table lr / l2 / initial accumulator") }
        note("learning-rate schedule", rates.summary, other.rates.summary)
        note("metric", stoppingMetric.rawValue, other.stoppingMetric.rawValue)
        note("initialisation", initialization.summary, other.initialization.summary)
        note("streaming chunks", streamChunkRows.map(String.init) ?? "none", other.streamChunkRows.map(String.init) ?? "none")
        note("streaming window", streamWindow, other.streamWindow)
        return out
    }
}
