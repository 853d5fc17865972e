import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// The release's version; `--version` adds what the binary was built for.
let fnnParVersion = "0.4.0"

@main
struct FNNPar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fnn-par",
        abstract: "Train FM and FNN click-through / rating models on multi-field categorical data, fast, on every core.",
        discussion: """
            With no subcommand, runs `experiment`: the reference experiment of Zhang et al. (2016). \
            `fnn-par experiment --help` lists its options.

            Examples:
              fnn-par                          # built-in synthetic data
              fnn-par --data ml-1m/ratings.dat --threads 8 --save-dir models
              fnn-par fm --data u.data --save fm.safetensors
              fnn-par fnn --data u.data --init-from fm.safetensors --save fnn.safetensors
              fnn-par eval --model fnn.safetensors --data test.tsv
              fnn-par predict --model fnn.safetensors --data new.tsv --out scores.txt
              fnn-par bench --threads 1,2,4
            """,
        version: "fnn-par \(fnnParVersion) (built for CPU \(String(cString: fnnpar_build_target_cpu())); model format \(ModelFile.formatVersion), checkpoint version \(Checkpoint.version))",
        subcommands: [Experiment.self, TrainFM.self, TrainFNN.self, Evaluate.self, Predict.self, Generate.self, SplitCommand.self, ExportCommand.self, Bench.self],
        defaultSubcommand: Experiment.self)
}

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an FM, an FNN from random init and an FNN initialised from the FM; compare their test AUC.",
        discussion: """
            Trains, on a seeded 80/10/10 split, a factorization machine, an FNN from random initialisation and \
            an FNN whose embedding table starts from that FM's, each with early stopping on validation AUC \
            (the best epoch's model is kept), then prints each model's test AUC, test log loss, epochs, \
            training seconds and samples/s. This is what `fnn-par` runs with no subcommand.

            Examples:
              fnn-par                          # built-in synthetic data
              fnn-par --data ml-1m/ratings.dat --threads 8
              fnn-par --data u.data --epochs 20 --patience 0 --json r.json
              fnn-par --data u.data --save-dir models  # keeps the 3 models
              fnn-par --data u.data --save-dir models --resume  # after Ctrl-C
              fnn-par --fnn-input embedding+linear --mlp 64,32 --dropout 0.5
            """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var training: TrainingCommandOptions
    @OptionGroup var fnnOptions: FNNOptions
    @OptionGroup var output: OutputOptions
    @Option(help: ArgumentHelp("Keep the three trained models as fm.safetensors, fnn.safetensors and fnn_init.safetensors in this directory (each as soon as it is trained, with its report as .json), and per-epoch checkpoints while training.", valueName: "dir"))
    var saveDir: String?
    @Flag(help: "Continue an interrupted experiment in --save-dir: finished models are read back, the interrupted one resumes from its checkpoint.")
    var resume = false

    func validate() throws {
        if resume && saveDir == nil { throw ValidationError("--resume needs the --save-dir of the interrupted experiment") }
    }

    func run() throws {
        let log = Log(quiet: output.quiet)
        try output.checkOutputsWritable()
        let saved = ["fm", "fnn", "fnn_init"].flatMap { name in
            saveDir.map { dir in [".safetensors", ".ckpt", ".json"].map { (dir + "/" + name + $0, "--save-dir") } } ?? []
        }
        try refuseOverwritingInputs(outputs: output.outputFiles + saved.map { (path: Optional($0.0), option: $0.1) },
                                    inputs: dataOptions.inputFiles)
        if let saveDir { try createDirectory(saveDir); try checkWritable(saveDir + "/fm.safetensors", option: "--save-dir") }
        let (options, executor, dataset, split) = try prepareTraining(dataOptions: dataOptions, training: training, kind: .fm, log: log)
        // The FNNs' own table rule and initialisation (`auto` resolves per model kind).
        var fnnTrainingOptions = options
        let fnnChoices = training.trainingOptions(for: .fnn)
        fnnTrainingOptions.tables = fnnChoices.tables
        fnnTrainingOptions.initialization = fnnChoices.initialization
        if let saveDir { try createDirectory(saveDir) }
        let fmConfig = ModelConfig(kind: .fm, fieldDims: dataset.fieldDims, embedDim: training.embedDim)
        let fnnConfig = ModelConfig(kind: .fnn, fieldDims: dataset.fieldDims, embedDim: training.embedDim,
                                    mlpDims: try fnnOptions.mlpDims(), dropout: fnnOptions.dropout, fnnInput: fnnOptions.fnnInput)
        log.say(try checkTrainingMemory(fmConfig, options: options, dataset: dataset, split: split, executor: executor))
        if let fmParameters = fmConfig.checkedParameterCount {
            log.say(try checkTrainingMemory(fnnConfig, options: fnnTrainingOptions, dataset: dataset, split: split, executor: executor,
                                            alsoHeld: fmParameters * 4))
        }
        var args = Array(CommandLine.arguments.dropFirst()).filter { $0 != "--resume" }
        args.append("--resume")
        let hint = { (path: String) in
            saveDir == nil
                ? "the experiment resumes only with --save-dir; this stage's checkpoint is at \(path) (fnn-par fm / fnn --resume can continue it)"
                : "resume with: " + (["fnn-par"] + args).map(shellQuoted).joined(separator: " ")
        }
        let directory = saveDir.map { ExperimentDirectory(path: $0, resume: resume) }
        /// One model: read back when a resumed experiment already finished it, else trained (from
        /// its checkpoint when resuming) and kept at once.
        func stage(_ name: String, _ options: TrainingOptions, config: ModelConfig, tablesFrom: String? = nil,
                   _ initial: @autoclosure () throws -> Model) throws -> ModelReport {
            if let directory, let report = try directory.finishedStage(name, dataset: dataset, config: config, options: options) {
                log.say("\(name): already trained in \(directory.path), read back")
                return report
            }
            let resumeFrom = directory?.checkpointToResume(name)
            let training = ModelTraining(name: name, dataset: dataset, split: split, options: options, executor: executor,
                                         output: output, log: log, tablesFrom: tablesFrom, checkpointPath: directory?.checkpointPath(name),
                                         resumePath: resumeFrom, resumeHint: hint)
            let report = try training.run(model: resumeFrom == nil ? initial() : Model(config: config))
            try directory?.keep(report, stage: name, dataset: dataset, options: options)
            return report
        }
        var reports: [(String, ModelReport)] = []
        let fm = try stage("fm", options, config: fmConfig, Model.initialized(config: fmConfig, seed: options.seed, tables: options.initialization))
        reports.append(("fm", fm))
        let fnnStart = fnnTrainingOptions.initialization
        reports.append(("fnn", try stage("fnn", fnnTrainingOptions, config: fnnConfig, Model.initialized(config: fnnConfig, seed: SeedDerivation.fnnModel(options.seed), tables: fnnStart))))
        // Same MLP initialisation as the random FNN, so the two differ only in their embeddings.
        func fnnFromFM() throws -> Model {
            let model = Model.initialized(config: fnnConfig, seed: SeedDerivation.fnnModel(options.seed), tables: fnnStart)
            try model.startTables(from: fm.trained!, source: "the experiment's FM")
            return model
        }
        reports.append(("fnn_init", try stage("fnn_init", fnnTrainingOptions, config: fnnConfig, tablesFrom: "from the FM", try fnnFromFM())))

        print(ResultsTable.render(reports))
        if let saveDir { log.say("fm, fnn and fnn_init .safetensors are in \(saveDir)") }
        try writeOutputs(output.paths, dataset: dataset, split: split, threads: executor.workerCount, options: options, reports: reports)
    }
}

struct TrainFM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fm",
        abstract: "Train a factorization machine and save it.",
        discussion: """
            Trains on the 80% training part of a seeded 80/10/10 split with early stopping on validation AUC, \
            reports test AUC and log loss, and saves the best epoch's model (--save). A checkpoint is written \
            after every epoch (--checkpoint, default: the --save path plus .ckpt); Ctrl-C stops at the next \
            step, writes a checkpoint and prints the command that resumes it (--resume).

            Examples:
              fnn-par fm --data u.data --save fm.safetensors
              fnn-par fm --data ratings.dat --threads 8 --metrics-csv fm.csv
              fnn-par fm --data u.data --save fm.safetensors --resume fm.safetensors.ckpt
            """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var training: TrainingCommandOptions
    @OptionGroup var files: TrainingFileOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let config = { (dataset: Dataset) in ModelConfig(kind: .fm, fieldDims: dataset.fieldDims, embedDim: training.embedDim) }
        try trainOneModel(name: "fm", kind: .fm, dataOptions: dataOptions, training: training, files: files, output: output,
                          config: config) { config, _, options in
            Model.initialized(config: config, seed: options.seed, tables: options.initialization)
        }
    }
}

struct TrainFNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fnn",
        abstract: "Train an FNN, from random initialisation or from an FM's embeddings, and save it.",
        discussion: """
            Like `fnn-par fm`, for the FNN: embeddings -> [Linear -> BatchNorm1d -> ReLU -> Dropout] per hidden \
            layer -> Linear -> sigmoid. --init-from copies the embedding table of a saved FM (fnn-par's or a \
            PyTorch torchfm FactorizationMachineModel saved as safetensors) into the FNN before training \
            (and its linear weights too with --fnn-input embedding+linear).

            Examples:
              fnn-par fnn --data u.data --save fnn.safetensors
              fnn-par fnn --data u.data --init-from fm.safetensors --save fi.safetensors
              fnn-par fnn --data u.data --mlp 64,32 --dropout 0.5 --threads 4 --plot fnn.svg
            """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var training: TrainingCommandOptions
    @OptionGroup var fnnOptions: FNNOptions
    @Option(help: ArgumentHelp("Initialise the embedding table from this FM model file.", valueName: "path"))
    var initFrom: String?
    @OptionGroup var files: TrainingFileOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let mlp = try fnnOptions.mlpDims()
        let config = { (dataset: Dataset) in
            ModelConfig(kind: .fnn, fieldDims: dataset.fieldDims, embedDim: training.embedDim, mlpDims: mlp,
                        dropout: fnnOptions.dropout, fnnInput: fnnOptions.fnnInput)
        }
        try trainOneModel(name: "fnn", kind: .fnn, dataOptions: dataOptions, training: training, files: files, output: output,
                          config: config, tablesFrom: initFrom.map { "from \($0)" },
                          extraInputs: [(initFrom, "--init-from")]) { config, dataset, options in
            let model = Model.initialized(config: config, seed: SeedDerivation.fnnModel(options.seed), tables: options.initialization)
            guard let initFrom else { return model }
            let source: Model
            do { source = try ModelFile.load(path: initFrom, fieldDims: dataset.fieldDims).0 } catch { throw CLIError(String(describing: error)) }
            do { try model.startTables(from: source, source: initFrom) } catch { throw CLIError(String(describing: error)) }
            return model
        }
    }
}

/// Model and checkpoint paths of the single-model training commands.
struct TrainingFileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Save the best epoch's model here (safetensors, loadable by torchfm).", valueName: "path"))
    var save: String?
    @Option(help: ArgumentHelp("Write a checkpoint here after every epoch (default: the --save path plus .ckpt).", valueName: "path"))
    var checkpoint: String?
    @Option(help: ArgumentHelp("Continue the run this checkpoint was written by; it ends with exactly the model of an uninterrupted run.", valueName: "path"))
    var resume: String?
    @Flag(help: "Keep the checkpoint after the model is saved (by default a finished --save removes it: it is several times the model's size and its run is over).")
    var keepCheckpoint = false

    /// Where the checkpoint goes, if anywhere.
    var checkpointPath: String? { checkpoint ?? save.map { $0 + ".ckpt" } }
}

/// The body of `fm` and `fnn`.
func trainOneModel(
    name: String, kind: ModelKind, dataOptions: DataOptions, training: TrainingCommandOptions, files: TrainingFileOptions,
    output: OutputOptions, config makeConfig: (Dataset) -> ModelConfig,
    tablesFrom: String? = nil, extraInputs: [(path: String?, option: String)] = [], initialModel: (ModelConfig, Dataset, TrainingOptions) throws -> Model
) throws {
    let log = Log(quiet: output.quiet)
    try output.checkOutputsWritable()
    try files.checkOutputsWritable()
    let checkpointOption = files.checkpoint == nil ? "the checkpoint (--save plus .ckpt)" : "--checkpoint"
    try refuseOverwritingInputs(outputs: output.outputFiles + [(files.save, "--save"), (files.checkpointPath, checkpointOption)],
                                inputs: dataOptions.inputFiles + extraInputs)
    // The checkpoint may be the one resumed from (it goes on being written); nothing else may.
    try refuseOverwritingInputs(outputs: output.outputFiles + [(files.save, "--save")], inputs: [(files.resume, "--resume")])
    let (options, executor, dataset, split) = try prepareTraining(dataOptions: dataOptions, training: training, kind: kind, log: log)
    let config = makeConfig(dataset)
    log.say(try checkTrainingMemory(config, options: options, dataset: dataset, split: split, executor: executor))
    let model = try files.resume == nil ? initialModel(config, dataset, options) : Model(config: config)
    let stage = ModelTraining(name: name, dataset: dataset, split: split, options: options, executor: executor, output: output,
                              log: log, tablesFrom: tablesFrom, checkpointPath: files.checkpointPath, resumePath: files.resume)
    let report = try stage.run(model: model)
    print(ResultsTable.render([(name, report)]))
    if let save = files.save {
        try saveTrainedModel(report.trained!, to: save, dataset: dataset, options: options, report: report)
        log.say("saved \(name) to \(save)")
        if !files.keepCheckpoint, let checkpoint = files.checkpointPath, isRegularFile(checkpoint), !sameFile(checkpoint, save) {
            // The run is over and its model is saved: the checkpoint has nothing left to resume.
            // Only a regular file is removed (never /dev/null given as --checkpoint), and never
            // the saved model itself.
            if removeFile(checkpoint) { log.say("removed the checkpoint \(checkpoint) (--keep-checkpoint keeps it)") }
        }
    }
    try writeOutputs(output.paths, dataset: dataset, split: split, threads: executor.workerCount, options: options,
                     reports: [(name, report)])
}

/// What every training command does first: options, workers, data (streamed when over the
/// memory budget), the split, a summary line, and the Ctrl-C handler.
func prepareTraining(dataOptions: DataOptions, training: TrainingCommandOptions, kind: ModelKind, log: Log) throws
    -> (TrainingOptions, PhaseExecutor, Dataset, DataSplit)
{
    var options = training.trainingOptions(for: kind)
    options.split = try dataOptions.splitProportions()
    options.trainOnAll = dataOptions.trainOnAll
    if options.trainOnAll {
        log.say("--train-on-all: every row trains for exactly \(options.epochs) epoch\(options.epochs == 1 ? "" : "s"); nothing is held out, so there are no validation or test figures")
    }
    let executor = training.threading.makeExecutor(log: log)
    let dataset = try dataOptions.load(log: log, seed: options.seed, executor: executor)
    let streaming = streamChunkRows(for: dataset, budget: try dataOptions.memoryBudgetBytes(), batchSize: options.batchSize,
                                    window: options.streamWindow)
    options.streamChunkRows = streaming.rows
    if let note = streaming.note { log.say(note) }
    options.heldOut = dataset.heldOut
    let (split, note) = try trainingSplit(of: dataset, options: options)
    if let note { log.say(note) }
    log.describe(dataset, split: split, threads: executor.workerCount)
    Interrupt.install()
    return (options, executor, dataset, split)
}

func createDirectory(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        throw CLIError("\(path): cannot create directory: \(error.localizedDescription)")
    }
}

/// Progress lines on stderr, so stdout carries only results.
struct Log {
    let quiet: Bool
    func say(_ line: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    func describe(_ dataset: Dataset, split: DataSplit, threads: Int) {
        say("data: \(dataset.rowCount) rows, fields \(dataset.fieldDims.map(String.init).joined(separator: ", ")), "
            + "\(split.trainCount) train / \(split.validationCount) validation / \(split.testCount) test; "
            + "\(threads) thread\(threads == 1 ? "" : "s")")
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func formatRate(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}
