import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

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
        // Resumed, the FNNs keep the arithmetic their checkpoints record (auto would pick anew).
        let fnnCheckpoints = resume ? ["fnn", "fnn_init"].compactMap { name in saveDir.map { $0 + "/" + name + ".ckpt" } } : []
        let precision = try fnnOptions.mlpPrecision(resuming: fnnCheckpoints)
        let (options, executor, dataset, split) = try prepareTraining(dataOptions: dataOptions, training: training, kind: .fm, log: log,
                                                                      precision: precision)
        // The FNNs' own table rule and initialisation (`auto` resolves per model kind).
        var fnnTrainingOptions = options
        let fnnChoices = training.trainingOptions(for: .fnn)
        fnnTrainingOptions.tables = fnnChoices.tables
        fnnTrainingOptions.initialization = fnnChoices.initialization
        fnnTrainingOptions.mlpPrecision = precision
        if let note = precisionNote(precision) { log.say(note) }
        if let saveDir { try createDirectory(saveDir) }
        let fmConfig = ModelConfig(kind: .fm, fieldDims: dataset.fieldDims, embedDim: training.embedDim, schema: dataset.modelSchema)
        let fnnConfig = ModelConfig(kind: .fnn, fieldDims: dataset.fieldDims, embedDim: training.embedDim,
                                    mlpDims: try fnnOptions.mlpDims(), dropout: fnnOptions.dropout, fnnInput: fnnOptions.fnnInput,
                                    schema: dataset.modelSchema)
        // One placement for all three models: the FNN from the FM starts from the FM's shard.
        let ranks = try ProcessRanks.shared()
        let fmHeld = (fmConfig.checkedParameterCount ?? 0) * 4
        func plans(_ placement: TablePlacement) throws -> [(shards: Int, note: String)] {
            [try planTables(fmConfig, options: options, dataset: dataset, split: split, executor: executor, placement: placement,
                            ranks: ranks.size),
             try planTables(fnnConfig, options: fnnTrainingOptions, dataset: dataset, split: split, executor: executor,
                            alsoHeld: fmHeld / max(1, placement == .sharded ? ranks.size : 1), placement: placement, ranks: ranks.size)]
        }
        var tablePlans = try plans(training.tables)
        if tablePlans[0].shards != tablePlans[1].shards { tablePlans = try plans(.sharded) }
        for plan in tablePlans { log.say(plan.note) }
        let shards = tablePlans[0].shards
        let shardOf = (rank: shards > 1 ? ranks.rank : 0, ranks: shards)
        func shard(_ config: ModelConfig) -> TableShard { TableShard(tableRows: config.tableRows, rank: shardOf.rank, ranks: shardOf.ranks) }
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
            if let directory, let report = try directory.finishedStage(name, dataset: dataset, config: config, options: options,
                                                                       shardOf: shardOf) {
                log.say("\(name): already trained in \(directory.path), read back")
                return report
            }
            let resumeFrom = directory?.checkpointToResume(name)
            let training = ModelTraining(name: name, dataset: dataset, split: split, options: options, executor: executor,
                                         output: output, log: log, tablesFrom: tablesFrom, checkpointPath: directory?.checkpointPath(name),
                                         resumePath: resumeFrom, resumeHint: hint)
            let report = try training.run(model: resumeFrom == nil ? initial() : Model(config: config, shard: shard(config)))
            if shards > 1 {
                try directory?.keep(report, stage: name, dataset: dataset, options: options, ranks: ranks)
            } else if ProcessRanks.isRoot {
                try directory?.keep(report, stage: name, dataset: dataset, options: options)
            }
            return report
        }
        var reports: [(String, ModelReport)] = []
        let fm = try stage("fm", options, config: fmConfig, Model.initialized(config: fmConfig, seed: options.seed, tables: options.initialization, shard: shard(fmConfig)))
        reports.append(("fm", fm))
        let fnnStart = fnnTrainingOptions.initialization
        reports.append(("fnn", try stage("fnn", fnnTrainingOptions, config: fnnConfig, Model.initialized(config: fnnConfig, seed: SeedDerivation.fnnModel(options.seed), tables: fnnStart, shard: shard(fnnConfig)))))
        // Same MLP initialisation as the random FNN, so the two differ only in their embeddings.
        func fnnFromFM() throws -> Model {
            let model = Model.initialized(config: fnnConfig, seed: SeedDerivation.fnnModel(options.seed), tables: fnnStart,
                                          shard: shard(fnnConfig))
            try model.startTables(from: fm.trained!, source: "the experiment's FM")
            return model
        }
        reports.append(("fnn_init", try stage("fnn_init", fnnTrainingOptions, config: fnnConfig, tablesFrom: "from the FM", try fnnFromFM())))

        guard ProcessRanks.isRoot else { return }
        print(ResultsTable.render(reports))
        if let saveDir { log.say("fm, fnn and fnn_init .safetensors are in \(saveDir)") }
        try writeOutputs(output.paths, dataset: dataset, split: split, threads: executor.workerCount, options: options, reports: reports)
    }
}
