import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// Options of every training command.
struct TrainingCommandOptions: ParsableArguments {
    @OptionGroup var threading: ThreadOptions
    @Option(help: "Maximum number of epochs.")
    var epochs = 100
    @Option(help: "Stop after this many epochs without a better validation score (--metric); 0 disables early stopping. The best epoch's model is kept either way.")
    var patience = 2
    @Option(help: ArgumentHelp("Validation metric that picks the kept epoch and stops early: auc (higher is better) or logloss (lower is better).", valueName: "auc|logloss"))
    var metric: StoppingMetric = .auc
    @Option(help: "Examples per minibatch.")
    var batchSize = 2048
    @Option(help: "Examples per slice: the unit of parallel work and of the fixed summation order. A batch of --batch-size examples has batch-size / slice-rows slices, so at most that many workers share a step (2048 / 64 = 32); smaller slices leave room for more threads. The model depends on it, as on --batch-size (checkpoints and model files record it).")
    var sliceRows = defaultSliceRows
    @Option(help: ArgumentHelp("How each epoch orders the training rows: shuffle (one shuffle of all rows) or parts (each slice of a batch from its own contiguous part of the file, shuffled per epoch, so under mpirun each rank reads only one contiguous part of a mapped cache). The model depends on it, not on the rank count. Streaming runs keep their window order.", valueName: "shuffle|parts"))
    var dataOrder: DataOrder = .shuffle
    @Option(help: "Adam learning rate.")
    var lr: Float = 1e-3
    @Option(help: "Multiply every learning rate (--lr and --table-lr) by this after each epoch (torch's ExponentialLR stepped per epoch); 1: constant.")
    var lrDecay: Float = 1
    @Option(help: "Raise every learning rate linearly over the first N steps: step g takes g/N of it (torch's LinearLR from 1/N); 0: no warm-up.")
    var warmupSteps = 0
    @Option(help: "L2 weight decay added to the gradient (torch's Adam weight_decay).")
    var weightDecay: Float = 1e-6
    @Option(help: "Embedding dimension.")
    var embedDim = 16
    @Option(help: ArgumentHelp("Adam on the tables: lazy updates only the rows a batch touched (fast); dense is torch's Adam over every row every step (for parity with PyTorch). The momentum-free rules (adagrad, rowwise-adagrad, sgd) are exact either way and always update lazily.", valueName: "lazy|dense"))
    var sparseUpdate: SparseUpdate = .lazy
    @Option(help: ArgumentHelp("Update rule of the embedding and linear tables: adam (lazy per row, torch's Adam), adagrad (per element, as xLearn), rowwise-adagrad (one accumulator per row, as FBGEMM / TorchRec), sgd; auto: rowwise-adagrad for the FM, adam for the FNN (measured best; --optimizer adam --init torch is pytorch-fm's setup). Dense parameters always use Adam with --lr. Adagrad and SGD step on the batch's summed loss.", valueName: "auto|adam|adagrad|rowwise-adagrad|sgd"))
    var optimizer: TableRuleChoice = .auto
    @Option(help: "Learning rate of the tables' update rule. Default: --lr for adam; 2 / fields for the Adagrads, 0.08 / fields for sgd (an FM row's gradient grows with the field count).")
    var tableLr: Float?
    @Option(help: "L2 per occurrence on table rows: each example adds l2/2 times the squared norm of every embedding row and linear weight it holds (as xLearn's and libFM's per-example regularisation); only touched rows see it, which is exact.")
    var l2: Float = 0
    @Option(help: "Adagrad's initial accumulator (summed-loss units): a row's first steps are about table-lr / sqrt(this) times its gradient. Default: 100.")
    var adagradInit: Float?
    @Option(name: .customLong("init"), help: ArgumentHelp("How a model trained from scratch starts its tables: torch (pytorch-fm: xavier-uniform over the whole table, N(0,1) linear weights), normal (rows N(0, --init-scale^2), linear weights 0); auto: normal for the FM, torch for the FNN.", valueName: "auto|torch|normal"))
    var initialization: TableInitChoice = .auto
    @Option(help: "Standard deviation of --init normal.")
    var initScale: Float = 0.001
    @Option(help: "Seed of the split, initialisation, shuffles and dropout.")
    var seed: UInt64 = 42
    @Option(help: ArgumentHelp("Under mpirun or srun: replicated keeps the whole table (and its optimizer state) on every rank; sharded gives rank r the rows g with g mod R = r, the rows a step reads fetched from their owners and each row updated by its owner; auto shards when a whole table would not fit a rank's memory. The model is the same bit for bit either way.", valueName: "auto|replicated|sharded"))
    var tables: TablePlacement = .auto
    @Option(help: ArgumentHelp("Where training keeps the table rows: separate (the model's tensors and the optimizer's arrays apart) or fused (each row with its optimizer state in one record of consecutive cache lines, read in place of the model's tensors, which then hold a copy: more memory, and measured no faster on this project's machine; see perf/RESULTS.md). The model is the same bit for bit either way, and a run resumes in either.", valueName: "separate|fused"))
    var rowLayout: RowRecords.Layout = .separate

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard patience >= 0 else { throw ValidationError("--patience must be 0 or more") }
        guard batchSize >= 2, batchSize < 1 << 24 else { throw ValidationError("--batch-size must be at least 2") }
        guard sliceRows >= 1, sliceRows <= batchSize else {
            throw ValidationError("--slice-rows must be between 1 and --batch-size (\(batchSize)), got \(sliceRows)")
        }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard lrDecay > 0, lrDecay <= 1 else { throw ValidationError("--lr-decay must be above 0 and at most 1 (got \(lrDecay))") }
        guard warmupSteps >= 0, warmupSteps < 1 << 31 else { throw ValidationError("--warmup-steps must be 0 or more") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be 0 or more") }
        guard embedDim >= 1, embedDim <= 4096 else { throw ValidationError("--embed-dim must be between 1 and 4096") }
        if let tableLr { guard tableLr > 0, tableLr.isFinite else { throw ValidationError("--table-lr must be positive") } }
        guard l2 >= 0, l2.isFinite else { throw ValidationError("--l2 must be 0 or more") }
        if let adagradInit { guard adagradInit >= 0, adagradInit.isFinite else { throw ValidationError("--adagrad-init must be 0 or more") } }
        guard initScale > 0, initScale.isFinite else { throw ValidationError("--init-scale must be positive") }
    }

    /// The options for training a model of `kind`: `auto` choices resolved for it.
    func trainingOptions(for kind: ModelKind) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs
        options.patience = patience
        options.stoppingMetric = metric
        options.batchSize = batchSize
        options.sliceRows = sliceRows
        options.dataOrder = dataOrder
        options.adam = AdamConfig(learningRate: lr, weightDecay: weightDecay)
        options.seed = seed
        options.sparseUpdate = sparseUpdate
        options.rowLayout = rowLayout
        options.rates = LearningRateSchedule(decayPerEpoch: lrDecay, warmupSteps: warmupSteps)
        var tables = TableOptimizerConfig.recommended(for: kind)
        if let rule = optimizer.rule { tables.kind = rule }
        tables.learningRate = tableLr
        tables.l2 = l2
        // Every Adagrad starts from 100 unless told (the FNN's recommended Adam records 1).
        tables.initialAccumulator = adagradInit ?? (tables.kind == .adagrad || tables.kind == .rowwiseAdagrad ? 100 : 1)
        options.tables = tables
        switch initialization {
        case .auto:
            let recommended = TableInitialization.recommended(for: kind)
            options.initialization = recommended.kind == .normal ? .normal(initScale) : recommended
        case .torch: options.initialization = .torch
        case .normal: options.initialization = .normal(initScale)
        }
        return options
    }
}

extension SparseUpdate: ExpressibleByArgument {}
extension StoppingMetric: ExpressibleByArgument {}

/// `--optimizer`: a table rule, or auto (the recommended one for the model's kind).
enum TableRuleChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, adam, adagrad
    case rowwiseAdagrad = "rowwise-adagrad"
    case sgd

    var rule: TableOptimizerConfig.Kind? { self == .auto ? nil : TableOptimizerConfig.Kind(rawValue: rawValue) }
}

/// `--init`: a table initialisation, or auto (the recommended one for the model's kind).
enum TableInitChoice: String, ExpressibleByArgument, CaseIterable { case auto, torch, normal }
extension DataOrder: ExpressibleByArgument {}
extension TablePlacement: ExpressibleByArgument {}

extension RowRecords.Layout: ExpressibleByArgument {}
