import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "AUC and log loss of a saved model on labelled data.",
        discussion: """
            Scores every row of --data (or one part of the seeded split with --split, to reproduce a \
            training run's test figures) and prints the same table and --json as training.

            Examples:
              fnn-par eval --model fnn.safetensors --data heldout.tsv
              fnn-par eval --model fm.safetensors --data u.data --split test
              fnn-par eval --model torch_fnn.safetensors --data u.data --field-dims 943,1682
            """)

    enum Part: String, ExpressibleByArgument, CaseIterable { case all, train, validation, test }

    @OptionGroup var input: ModelInputOptions
    @Option(help: ArgumentHelp("Rows to evaluate: all of --data, or one part of the split the model was trained on (its seed and proportions are in the file).", valueName: "all|train|validation|test"))
    var split: Part = .all
    @Option(help: "Seed of the split (default: the one the model was trained with, which its file records; another is refused, since its parts would hold the model's training rows).")
    var seed: UInt64?
    @Option(help: ArgumentHelp("Write the results as JSON.", valueName: "path"))
    var json: String?
    @Flag(help: "Print only the results table.")
    var quiet = false

    func run() throws {
        let log = Log(quiet: quiet)
        try checkWritable(json, option: "--json")
        try refuseOverwritingInputs(outputs: [(json, "--json")], inputs: input.inputFiles)
        let (ranks, shardOf) = try input.scoringRanks(log: log)
        let loaded = try input.load(unlabeled: false, shardOf: shardOf, log: log)
        let (model, dataset, recorded) = (loaded.model, loaded.dataset, loaded.metadata)
        try input.agreeAcrossRanks(ranks, dataset: dataset, log: log)
        let splitSeed = try seedOfSplit(recorded: recorded, dataset: dataset)
        // The model's own proportions (recorded with its seed); the standard ones for a file that records none.
        let proportions = recorded["split_rule"].flatMap(DataSplit.proportions(ofRule:)) ?? .standard
        let executor = input.threading.makeExecutor(log: log)
        let engine = makeEngine(model: model, data: dataset, options: TrainingOptions(), ranks: ranks)
        let start = PhaseProfile.now()
        let dataSplit = DataSplit(rowCount: dataset.rowCount, seed: splitSeed ?? 42, proportions: proportions)
        let result: EvaluationResult
        switch split {
        case .all: result = try evaluate(engine: engine, data: dataset, rows: Array(0..<dataset.rowCount), executor: executor)
        case .train: result = try evaluate(engine: engine, data: dataset, split: dataSplit, part: .train, executor: executor)
        case .validation: result = try evaluate(engine: engine, data: dataset, split: dataSplit, part: .validation, executor: executor)
        case .test: result = try evaluate(engine: engine, data: dataset, split: dataSplit, part: .test, executor: executor)
        }
        let seconds = PhaseProfile.now() - start
        guard ProcessRanks.isRoot else { return }
        let name = model.config.kind.rawValue
        let report = ModelReport(testAUC: result.auc, testLogLoss: result.logLoss, samplesPerSecond: Double(result.rows) / max(seconds, 1e-9),
                                 rows: result.rows)
        log.say("\(name) model \(input.model) on \(result.rows) rows of \(dataset.name) ("
            + (split == .all ? "all" : "\(split.rawValue) part of the \(proportions) split of seed \(splitSeed ?? 42)"
               + (splitSeed == nil ? ", the default: the model records no seed" : "")) + ")")
        print(ResultsTable.render([(name, report)]))
        try writeOutputs(OutputPaths(json: json), dataset: dataset, split: nil, threads: executor.workerCount, options: nil, reports: [(name, report)])
    }
}

extension Evaluate {
    /// The seed whose split's parts `--split` names: the model's own (its file records it), so
    /// that "test" means the rows its run held out. nil: the model records none (a PyTorch file),
    /// and --seed or the default applies.
    func seedOfSplit(recorded: [String: String], dataset: Dataset) throws -> UInt64? {
        guard split != .all else { return seed }
        let trainedWith = recorded["split_seed"].flatMap { UInt64($0) } ?? recorded["training_options"].flatMap {
            try? JSONDecoder().decode(TrainingOptions.self, from: Data($0.utf8)).seed
        }
        guard let trainedWith else { return seed }
        if let seed, seed != trainedWith {
            throw CLIError("\(input.model) was trained on the split of --seed \(trainedWith); the \(split.rawValue) part of seed \(seed)'s split holds rows it trained on. Leave --seed out to evaluate on its own \(split.rawValue) part")
        }
        if recorded["split_rule"] == DataSplit.allRowsRule {
            throw CLIError("\(input.model) was trained on every row (--train-on-all): it has no held-out \(split.rawValue) part. Score other data with --split all")
        }
        if let rule = recorded["split_rule"], rule.hasPrefix("held-out-files") {
            throw CLIError("\(input.model) was trained with --validation / --test files: its held-out rows are those files. Evaluate the test file itself: --data TEST --split all")
        }
        if let rule = recorded["split_rule"], DataSplit.proportions(ofRule: rule) == nil {
            throw CLIError("\(input.model) was trained on a split made by another rule (\(rule)) than this fnn-par's (\(DataSplit.rule)); its parts cannot be found again. Use --split all on held-out data")
        }
        if let fingerprint = recorded["data_fingerprint"], fingerprint != String(dataset.fingerprint, radix: 16) {
            throw CLIError("\(dataset.name) is not the data \(input.model) was trained on (\(recorded["data_name"] ?? "unknown")): the parts of a split exist only on the training data. Use --split all to score every row")
        }
        return trainedWith
    }
}
