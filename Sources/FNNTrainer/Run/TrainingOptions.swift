import FNNCore
import FNNExecution
import Foundation

public struct TrainingOptions: Sendable, Codable, Equatable {
    /// The options a resumed run must share with the run that wrote its checkpoint; the epoch
    /// limit and patience may change (to extend a run).
    public func sameTraining(as other: TrainingOptions) -> Bool {
        batchSize == other.batchSize && adam == other.adam && seed == other.seed && split == other.split && trainOnAll == other.trainOnAll && heldOut == other.heldOut
            && sliceRows == other.sliceRows && dataOrder == other.dataOrder
            && sparseUpdate == other.sparseUpdate && tables.sameRule(as: other.tables) && rates == other.rates && stoppingMetric == other.stoppingMetric && initialization == other.initialization
            && streamChunkRows == other.streamChunkRows && streamWindow == other.streamWindow
            && mlpPrecision == other.mlpPrecision
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
    /// How an in-memory epoch orders the training rows (streaming runs keep their windows). One
    /// shuffle by default: the parts order measured 0.0011-0.0032 lower FM test AUC on ML-100K
    /// (seeds 1-3; within noise elsewhere), so it is the choice for rank-local reading only.
    public var dataOrder = DataOrder.shuffle
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
    /// The FNN's MLP products: fp32, or bf16 operands with fp32 sums (the model is another
    /// model, so a resumed run must keep it).
    public var mlpPrecision = MLPPrecision.fp32
    /// Where training keeps the table rows and their optimizer state (`RowRecords`). Separate
    /// arrays unless asked: fused records measured no faster on this machine in any case
    /// (perf/RESULTS.md, session 13: Criteo-shaped FM with row-wise Adagrad -4% at one thread and
    /// -17% at two, with lazy Adam even at one thread and -4% at two; ML-1M's FM -3% and -15%; the
    /// FNN's sparse phase -15%) and hold the rows a second time. Not saved and not part of
    /// `sameTraining`: both layouts give the same bits, so a run may resume in either.
    public var rowLayout = RowRecords.Layout.separate

    public init() {}
}

extension TrainingOptions {
    enum CodingKeys: String, CodingKey {
        case epochs, patience, stoppingMetric, batchSize, adam, seed, split, trainOnAll, heldOut, sliceRows, dataOrder, sparseUpdate, tables
        case initialization, rates
        case streamChunkRows, streamWindow
        case mlpPrecision
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
        // Recorded since checkpoint version 3; runs before it trained with one shuffle.
        dataOrder = try c.decodeIfPresent(DataOrder.self, forKey: .dataOrder) ?? .shuffle
        sparseUpdate = try c.decode(SparseUpdate.self, forKey: .sparseUpdate)
        tables = try c.decodeIfPresent(TableOptimizerConfig.self, forKey: .tables) ?? TableOptimizerConfig(kind: .adam)
        initialization = try c.decodeIfPresent(TableInitialization.self, forKey: .initialization) ?? .torch
        rates = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .rates) ?? .constant
        streamChunkRows = try c.decodeIfPresent(Int.self, forKey: .streamChunkRows)
        streamWindow = try c.decode(Int.self, forKey: .streamWindow)
        // Recorded since bf16 products came; runs before them multiplied in fp32.
        mlpPrecision = try c.decodeIfPresent(MLPPrecision.self, forKey: .mlpPrecision) ?? .fp32
    }
}

/// The arithmetic of the FNN's matrix products (`--precision`).
public enum MLPPrecision: String, Sendable, Codable, CaseIterable {
    /// fp32 operands and sums (OpenBLAS).
    case fp32
    /// bf16 operands (activations, weights and output gradients rounded to nearest even), fp32
    /// sums; master weights, Adam's state, BatchNorm and the loss stay fp32. Needs AVX512-BF16.
    case bf16

    /// Whether this machine can train with it.
    public var isSupported: Bool { self == .fp32 || BFloat16GEMM.isSupported }
}

/// How an epoch orders the training rows.
public enum DataOrder: String, Sendable, Codable, CaseIterable {
    /// The training rows (in file order) are cut into one contiguous part per slice of a batch,
    /// sized like the slices; each epoch shuffles every part with its own generator, and slice k
    /// of every batch takes its rows from part k. A rank, which computes a contiguous run of
    /// slices, so reads one contiguous part of the file whatever the rank count (all but the last
    /// batch or two of an epoch, which take the parts' leftover rows in order).
    case parts
    /// One shuffle of all training rows per epoch (the default).
    case shuffle
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
        note("data order", dataOrder.rawValue, other.dataOrder.rawValue)
        note("sparse update", sparseUpdate.rawValue, other.sparseUpdate.rawValue)
        note("table rule", tables.kind.rawValue, other.tables.kind.rawValue)
        if tables.kind == other.tables.kind && !tables.sameRule(as: other.tables) { out.append("table lr / l2 / initial accumulator") }
        note("learning-rate schedule", rates.summary, other.rates.summary)
        note("metric", stoppingMetric.rawValue, other.stoppingMetric.rawValue)
        note("initialisation", initialization.summary, other.initialization.summary)
        note("streaming chunks", streamChunkRows.map(String.init) ?? "none", other.streamChunkRows.map(String.init) ?? "none")
        note("streaming window", streamWindow, other.streamWindow)
        note("MLP precision", mlpPrecision.rawValue, other.mlpPrecision.rawValue)
        return out
    }
}
