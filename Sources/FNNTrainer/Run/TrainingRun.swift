import FNNCore
import FNNExecution
import Foundation

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
    /// The best epoch's parameters so far: a copy of their own, or the engine's model itself where
    /// no copy can be needed (`keepsBestCopy`).
    public let best: Model
    /// Whether `best` is a copy. Not when the run has one epoch: its one epoch's model is the
    /// best, and a copy would only double the parameters' memory (the whole table, for the
    /// large-table runs that train one epoch). A run of several epochs keeps one even without
    /// validation rows (where each epoch's model is the one kept): a checkpoint written inside
    /// an epoch must still hold the last finished epoch's model as its best, for a resume with a
    /// lower `--epochs` that ends there.
    public let keepsBestCopy: Bool

    /// Whether a run of `epochs` epochs needs its best epoch's parameters apart from the
    /// training model's (for `MemoryPlan` too).
    public static func keepsBestCopy(epochs: Int) -> Bool { max(epochs, 1) > 1 }
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
        keepsBestCopy = Self.keepsBestCopy(epochs: options.epochs)
        best = keepsBestCopy ? engine.model.copy() : engine.model
    }

    /// Continues from a saved state (the engine must already hold the matching parameters and
    /// optimizer state); `loadBest` puts the saved best epoch's parameters into the model it is
    /// given, where they are needed.
    public func restore(state: TrainingState, loadBest: (Model) throws(ModelFileError) -> Void) throws(ModelFileError) {
        self.state = state
        // Whether it is over follows from these options: a larger --epochs extends a finished run.
        self.state.finished = state.epoch > max(options.epochs, 1)
            || (options.patience > 0 && state.epochsWithoutImprovement >= options.patience)
        if keepsBestCopy {
            try loadBest(best)
        } else if self.state.finished {
            // Nothing left to train: the result is the saved best, now the engine's model.
            try loadBest(engine.model)
        }
        // Else an epoch's end comes before the result (a one-epoch run not finished is inside
        // its first epoch), and that epoch's model is the best, whatever the saved best was.
    }

    /// The training order of `epoch`: a permutation of the training split that depends on the
    /// seed and the epoch only (and, streaming, on the chunking). Streaming runs never build it
    /// whole; this is for tests and diagnostics.
    public func order(epoch: Int) -> [Int] {
        guard options.streamChunkRows != nil else { return inMemoryOrder(epoch: epoch) }
        return streamWindows(epoch: epoch).flatMap { windowRows($0.chunks, epoch: epoch, window: $0.index).map(Int.init) }
    }

    func inMemoryOrder(epoch: Int) -> [Int] {
        if options.dataOrder == .parts { return partsOrder(epoch: epoch) }
        var rng = Xoshiro256(seed: SeedDerivation.epochShuffle(options.seed, epoch: epoch))
        var order = trainRows
        order.shuffleDeterministically(using: &rng)
        return order
    }

    private lazy var trainRows: [Int] = split.train

    /// `DataOrder.parts`: batch j's slice k is rows [j w_k, (j + 1) w_k) of part k's shuffle,
    /// w_k the slice's width (the last slice of a batch may be narrower); part k holds the
    /// training rows, in file order, from N (w_0 + ... + w_{k-1}) / B on. The rows left over
    /// when the narrowest-filled part runs out follow, part by part, as ordinary batches.
    func partsOrder(epoch: Int) -> [Int] {
        let rows = fileOrderTrainRows
        let n = rows.count, batch = options.batchSize, sliceRows = options.sliceRows
        let slices = (batch + sliceRows - 1) / sliceRows
        let widths = (0..<slices).map { min(sliceRows, batch - $0 * sliceRows) }
        var bounds = [0], covered = 0
        for w in widths { covered += w; bounds.append(n * covered / batch) }
        var parts: [[Int]] = (0..<slices).map { k in
            var part = Array(rows[bounds[k]..<bounds[k + 1]])
            var rng = Xoshiro256(seed: SeedDerivation.partShuffle(options.seed, epoch: epoch, part: k))
            part.shuffleDeterministically(using: &rng)
            return part
        }
        let fullBatches = (0..<slices).map { parts[$0].count / widths[$0] }.min() ?? 0
        var order: [Int] = []
        order.reserveCapacity(n)
        for j in 0..<fullBatches {
            for k in 0..<slices { order += parts[k][(j * widths[k])..<((j + 1) * widths[k])] }
        }
        for k in 0..<slices {
            order += parts[k][(fullBatches * widths[k])...]
            parts[k] = []
        }
        return order
    }

    /// The training rows in file order: the parts order cuts contiguous parts of the file.
    private lazy var fileOrderTrainRows: [Int] = split.train.sorted()

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
    private func validationLogits() throws(CommunicatorError) -> (logits: [Float], labels: [Float]) {
        guard let rows = validationRows else {
            return try logitsOfPart(engine: engine, data: data, split: split, part: .validation, executor: executor)
        }
        let logits = try logitsWalkingTheFile(engine: engine, data: data, rows: rows, expected: rows.count,
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
                var failure: CommunicatorError?
                engine.ranks.whereabouts = "epoch \(epoch), step \(state.stepInEpoch + 1)"
                feed.withNext(n) { ids in
                    // A one-example batch has no BatchNorm statistics (torch raises); it is skipped.
                    if n >= minimumBatch {
                        let loss: Double
                        do throws(CommunicatorError) { loss = try engine.trainStep(examples: ids, count: n, epoch: epoch, executor: executor) } catch {
                            failure = error
                            return
                        }
                        guard loss.isFinite else { nonFiniteLoss = loss; return }
                        state.epochLossSum += loss * Double(n)
                        state.epochExamples += n
                    }
                }
                if let failure { throw failure }
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
            if interrupted {
                // The checkpoint written next reads the model mid-epoch.
                engine.publishTables(executor: executor)
                break
            }
            // Rows not touched lately still owe their catch-up; settle it before evaluating (or
            // keeping) this epoch's model.
            engine.synchronizeTables(epoch: epoch, executor: executor)
            // A finite loss can hide a poisoned row the batches did not reach this time.
            // Sharded, each rank scans its rows and all hear of any rank's find.
            var nonFinite = engine.model.firstNonFiniteTensor(executor: executor)
            if !engine.model.shard.isWholeTable { nonFinite = try engine.ranks.firstAnswer(nonFinite) }
            if let tensor = nonFinite {
                throw TrainingDiverged(epoch: epoch, step: batches, detail: "\(tensor) holds values that are not finite")
            }
            // The epoch's pages of a mapped file go back before validation walks the file: with
            // `--data-order parts` a rank read only its part, and keeping it while validation
            // maps the rest would hold two parts at once (the next epoch refaults them from the
            // page cache, a few milliseconds).
            if data.isMapped { data.releasePages(rows: 0..<data.rowCount) }
            let evaluationStart = PhaseProfile.now()
            engine.ranks.whereabouts = "epoch \(epoch), validation"
            let (logits, labels) = try validationLogits()
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
                if keepsBestCopy { best.copyParameters(from: engine.model) }
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
