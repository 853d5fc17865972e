import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

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
        let config = { (dataset: Dataset) in ModelConfig(kind: .fm, fieldDims: dataset.fieldDims, embedDim: training.embedDim, schema: dataset.modelSchema) }
        try trainOneModel(name: "fm", kind: .fm, dataOptions: dataOptions, training: training, files: files, output: output,
                          config: config) { config, _, options, shard in
            Model.initialized(config: config, seed: options.seed, tables: options.initialization, shard: shard)
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
                        dropout: fnnOptions.dropout, fnnInput: fnnOptions.fnnInput, schema: dataset.modelSchema)
        }
        try trainOneModel(name: "fnn", kind: .fnn, dataOptions: dataOptions, training: training, files: files, output: output,
                          precision: try fnnOptions.mlpPrecision(resuming: files.resume.map { [$0] } ?? []), config: config, tablesFrom: initFrom.map { "from \($0)" },
                          extraInputs: [(initFrom, "--init-from")]) { config, dataset, options, shard in
            let model = Model.initialized(config: config, seed: SeedDerivation.fnnModel(options.seed), tables: options.initialization,
                                          shard: shard)
            guard let initFrom else { return model }
            let source: Model
            do {
                source = try ModelFile.load(path: initFrom, fieldDims: dataset.fieldDims, shardOf: (shard.rank, shard.ranks)).0
            } catch { throw CLIError(String(describing: error)) }
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
    output: OutputOptions, precision: MLPPrecision = .fp32, config makeConfig: (Dataset) -> ModelConfig,
    tablesFrom: String? = nil, extraInputs: [(path: String?, option: String)] = [],
    initialModel: (ModelConfig, Dataset, TrainingOptions, TableShard) throws -> Model
) throws {
    let log = Log(quiet: output.quiet)
    try output.checkOutputsWritable()
    try files.checkOutputsWritable()
    let checkpointOption = files.checkpoint == nil ? "the checkpoint (--save plus .ckpt)" : "--checkpoint"
    try refuseOverwritingInputs(outputs: output.outputFiles + [(files.save, "--save"), (files.checkpointPath, checkpointOption)],
                                inputs: dataOptions.inputFiles + extraInputs)
    // The checkpoint may be the one resumed from (it goes on being written); nothing else may.
    try refuseOverwritingInputs(outputs: output.outputFiles + [(files.save, "--save")], inputs: [(files.resume, "--resume")])
    var (options, executor, dataset, split) = try prepareTraining(dataOptions: dataOptions, training: training, kind: kind, log: log,
                                                                  precision: precision)
    options.mlpPrecision = precision
    if kind == .fnn, let note = precisionNote(precision) { log.say(note) }
    let config = makeConfig(dataset)
    let ranks = try ProcessRanks.shared()
    let plan = try planTables(config, options: options, dataset: dataset, split: split, executor: executor,
                              placement: training.tables, ranks: ranks.size)
    log.say(plan.note)
    let shard = TableShard(tableRows: config.tableRows, rank: plan.shards > 1 ? ranks.rank : 0, ranks: plan.shards)
    if !shard.isWholeTable, let checkpoint = files.checkpointPath, isRegularFile(checkpoint) {
        throw CLIError("\(checkpointOption) \(checkpoint) is a single-file checkpoint, and a run with sharded tables writes its checkpoint as a directory (a shard per rank): give another --checkpoint (--resume \(checkpoint) reads it either way)")
    }
    let model = try files.resume == nil ? initialModel(config, dataset, options, shard) : Model(config: config, shard: shard)
    let stage = ModelTraining(name: name, dataset: dataset, split: split, options: options, executor: executor, output: output,
                              log: log, tablesFrom: tablesFrom, checkpointPath: files.checkpointPath, resumePath: files.resume)
    let report = try stage.run(model: model)
    // Replicated, every rank holds the same model and rank 0 alone writes it; sharded, the ranks
    // write it together (rank 0 streams the rows the others send).
    if !shard.isWholeTable, let save = files.save {
        try saveTrainedModel(report.trained!, to: save, dataset: dataset, options: options, report: report, ranks: ranks)
    }
    guard ProcessRanks.isRoot else { return }
    print(ResultsTable.render([(name, report)]))
    if let parking = (executor as? WorkerPool)?.parkingSummary { log.say("note: " + parking) }
    if let save = files.save {
        if shard.isWholeTable { try saveTrainedModel(report.trained!, to: save, dataset: dataset, options: options, report: report) }
        log.say("saved \(name) to \(save)")
        if !files.keepCheckpoint, let checkpoint = files.checkpointPath, !sameFile(checkpoint, save) {
            // The run is over and its model is saved: the checkpoint has nothing left to resume.
            // Only a regular file or a sharded checkpoint's directory is removed (never
            // /dev/null given as --checkpoint), and never the saved model itself.
            if isRegularFile(checkpoint) ? removeFile(checkpoint) : ShardedCheckpoint.remove(checkpoint) {
                log.say("removed the checkpoint \(checkpoint) (--keep-checkpoint keeps it)")
            }
        }
    }
    try writeOutputs(output.paths, dataset: dataset, split: split, threads: executor.workerCount, options: options,
                     reports: [(name, report)])
}
