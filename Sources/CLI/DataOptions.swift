import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data (- for standard input): MovieLens ratings (ML-1M ratings.dat, ML-100K u.data, ML-latest ratings.csv), Criteo TSV, Avazu CSV, libffm or libsvm text, a fields TSV, or a binary data file (generate --out X.fnnpar). Training commands default to the built-in synthetic MovieLens-1M-shaped data.", valueName: "path"))
    var data: String?
    @Option(help: ArgumentHelp("Input format; auto recognises each by content.", valueName: "auto|movielens|fields|criteo|avazu|libffm|libsvm|binary"))
    var format: DataFormat = .auto
    @Option(help: ArgumentHelp("libsvm data: the field of each feature index, one 'INDEX FIELD' or 'FIRST-LAST FIELD' per line (fields from 0). Stored with the model.", valueName: "file"))
    var fieldMap: String?
    @Option(help: "Criteo / Avazu: tokens seen fewer times fold into their field's rare/unseen id (default: 10 for Criteo, 4 for Avazu, as pytorch-fm).")
    var minCount: Int?
    @Option(help: ArgumentHelp("Criteo / Avazu: count vocabularies on the training split only (no leakage into validation and test) or on all rows (as pytorch-fm).", valueName: "train|all"))
    var vocabFrom: VocabularySource = .train
    @Option(help: ArgumentHelp("Keep the binary cache of parsed data here (default: beside the data, as DATA.fnnpar-cache).", valueName: "dir"))
    var cacheDir: String?
    @Flag(help: "Parse the text every time; neither read nor write the binary cache.")
    var noCache = false
    @Flag(help: "Leave out malformed lines (counted and reported) instead of stopping at the first.")
    var skipBadLines = false
    @Option(name: .customLong("split"), help: ArgumentHelp("Train / validation / test shares of the seeded random split, in whole percents summing to 100 (each at least 1).", valueName: "train,validation,test"))
    var splitText = "80,10,10"
    @Option(help: ArgumentHelp("Validation rows from their own file (as xLearn's -v), in the training data's format, read with its vocabularies: they pick the kept epoch and stop early. The training file then trains on every row (and a --test file, or none, gives the test figures).", valueName: "path"))
    var validation: String?
    @Option(name: .customLong("test"), help: ArgumentHelp("Test rows from their own file, in the training data's format, read with its vocabularies. Without --validation, validation rows are carved out of the training file at --split's train : validation ratio.", valueName: "path"))
    var testFile: String?
    @Flag(help: "Train on every row, holding none out, for exactly --epochs epochs (the count an earlier run's early stopping chose): the final model for production. No validation or test figures; vocabularies count every row.")
    var trainOnAll = false
    @Option(help: ArgumentHelp("Data larger than this (e.g. 4G, 512M) is trained from its memory-mapped cache in chunks: shuffled by chunk, and within windows of 4 chunks, so at most two windows are resident; the budget covers their pages and row lists (the model, optimizer state and evaluation scores come on top). Default: half of the machine's memory.", valueName: "size"))
    var memoryBudget: String?

    func validate() throws {
        _ = try memoryBudgetBytes()
        _ = try splitProportions()
        if let minCount { guard minCount >= 1, minCount <= 1_000_000_000 else { throw ValidationError("--min-count must be between 1 and 1000000000") } }
        if !heldOutPaths.isEmpty {
            guard let data else { throw ValidationError("--validation and --test need --data: the training file they are held out from") }
            if trainOnAll { throw ValidationError("--train-on-all holds nothing out: leave out --validation and --test") }
            for path in heldOutPaths {
                if path == "-" { throw ValidationError("only --data may be standard input (-)") }
                if path == data { throw ValidationError("\(path) is the training file itself: held-out rows must be other rows") }
            }
            if let validation, validation == testFile { throw ValidationError("--validation and --test name the same file") }
        }
    }

    /// The held-out files, validation first.
    var heldOutPaths: [String] { [validation, testFile].compactMap { $0 } }

    func splitProportions() throws -> DataSplit.Proportions {
        guard let proportions = DataSplit.Proportions(splitText) else {
            throw ValidationError("--split must be three whole percents, each at least 1, summing to 100, e.g. 80,10,10 (got '\(splitText)')")
        }
        return proportions
    }

    /// The budget in bytes.
    func memoryBudgetBytes() throws -> Int {
        guard let text = memoryBudget?.uppercased() else { return physicalMemoryBytes / 2 }
        let units: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
        var number = Substring(text)
        var scale = 1.0
        if let last = number.last, let unit = units[last] { scale = unit; number = number.dropLast() }
        // Checked as a Double before the conversion: Int(inf) or Int(1e30) would trap.
        guard let value = Double(number), value.isFinite, value > 0, value * scale >= 1 else {
            throw ValidationError("--memory-budget must be a size such as 4G, 512M or 100000000 (got '\(memoryBudget!)')")
        }
        guard value * scale <= 1e18 else {
            throw ValidationError("--memory-budget \(memoryBudget!) is beyond any machine (at most 1000000T)")
        }
        return Int(value * scale)
    }

    /// What these options ask the data source for.
    func request(seed: UInt64) throws -> DataRequest {
        var request = DataRequest(path: data)
        request.format = format
        request.fieldMapPath = fieldMap
        request.minCount = minCount
        request.vocabularyFrom = vocabFrom
        request.cacheDirectory = cacheDir
        request.useCache = !noCache
        request.skipBadLines = skipBadLines
        request.split = try splitProportions()
        request.validationPath = validation
        request.testPath = testFile
        request.trainOnAll = trainOnAll
        request.memoryBudget = try memoryBudgetBytes()
        request.seed = seed
        return request
    }

    func load(log: Log, seed: UInt64, executor: PhaseExecutor? = nil) throws -> Dataset {
        do { return try DataSource(try request(seed: seed), note: log.say).load(executor: executor) } catch let error as InputError {
            throw CLIError(error.description)
        }
    }
}

/// Threads and their placement: every command that trains or evaluates.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (the calling thread included); more than the CPU count is allowed. Default: every CPU this process may run on (its affinity mask: taskset, cpusets). The model is the same for any count.")
    var threads: Int?
    @Flag(inversion: .prefixedNo, help: "Pin each worker thread to a CPU, filling NUMA nodes one after another.")
    var pin = true

    func validate() throws {
        if let threads { guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be between 1 and 1024") } }
    }

    /// The worker count: as given, or one per CPU the process may use.
    var workerThreads: Int { threads ?? min(WorkerPool.onlineCPUs, 1024) }

    func makeExecutor(log: Log) -> PhaseExecutor {
        BLAS.useSingleThread()
        return WorkerPool.placed(threads: workerThreads, pin: pin, note: log.say)
    }
}

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

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard patience >= 0 else { throw ValidationError("--patience must be 0 or more") }
        guard batchSize >= 2, batchSize < 1 << 24 else { throw ValidationError("--batch-size must be at least 2") }
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
        options.adam = AdamConfig(learningRate: lr, weightDecay: weightDecay)
        options.seed = seed
        options.sparseUpdate = sparseUpdate
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

/// The FNN's shape.
struct FNNOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Hidden layer widths of the FNN's MLP.", valueName: "w1,w2,..."))
    var mlp = "16,16"
    @Option(help: "Dropout probability after each hidden layer.")
    var dropout: Float = 0.2
    @Option(help: ArgumentHelp("What the MLP sees per field: the embedding, or the FM linear weight and the embedding (the paper's variant).",
                               valueName: "embedding|embedding+linear"))
    var fnnInput: FNNInput = .embedding

    func validate() throws {
        _ = try mlpDims()
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
    }

    func mlpDims() throws -> [Int] {
        do { return try parseList(mlp, name: "--mlp") } catch { throw ValidationError("--mlp must be a comma-separated list of positive widths, e.g. 16,16 (got '\(mlp)')") }
    }
}

/// Where results go.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the results (and per-epoch metrics) as JSON to this file.", valueName: "path"))
    var json: String?
    @Option(help: ArgumentHelp("Write per-epoch metrics of every model as CSV to this file.", valueName: "path"))
    var metricsCsv: String?
    @Option(help: ArgumentHelp("Draw validation AUC and training loss per epoch as an SVG plot.", valueName: "path.svg"))
    var plot: String?
    @Flag(help: "Print only the results table: no progress, no notes.")
    var quiet = false
    @Flag(help: "Print each model's time per phase (prepare, forward, backward, dense and sparse update, evaluation), with time spent waiting at barriers.")
    var profile = false
}

extension FNNInput: ExpressibleByArgument {}
extension DataFormat: ExpressibleByArgument {}
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
extension VocabularySource: ExpressibleByArgument {}
