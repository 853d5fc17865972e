import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// What eval and predict share: the model file, the data, the threads.
extension ModelInputOptions {
    var inputFiles: [(path: String?, option: String)] { [(model, "--model"), (data, "--data")] }
}

struct ModelInputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model file: fnn-par's, or a torchfm FM / FNN state_dict saved with safetensors.", valueName: "path"))
    var model: String
    @Option(help: ArgumentHelp("Data to score (- for standard input): MovieLens ratings, a fields TSV, a binary data file, or raw Criteo / Avazu / libffm / libsvm rows (mapped with the model's vocabularies).", valueName: "path"))
    var data: String
    @Option(help: ArgumentHelp("Input format; auto recognises each by content. Raw Criteo / Avazu / libffm / libsvm rows are mapped with the vocabularies (and libsvm field map) stored in the model.", valueName: "auto|movielens|fields|criteo|avazu|libffm|libsvm|binary"))
    var format: DataFormat = .auto
    @Option(help: ArgumentHelp("Field sizes of a PyTorch model file (which does not record them); default: from the data.", valueName: "n1,n2,..."))
    var fieldDims: String?
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Leave out malformed lines (counted and reported) instead of stopping at the first; predict writes nan in their place, so its output stays aligned with the input's lines.")
    var skipBadLines = false

    /// The model and the data indexed for it, as `ScoringData` reads them. `unlabeled` admits
    /// rows without labels; `identifierColumn` (0-based) keeps that column's text per line;
    /// `fallbackForUnseen`: ids past a field of a model without vocabularies score through a
    /// zero fallback row instead of being refused.
    func load(unlabeled: Bool, identifierColumn: Int? = nil, fallbackForUnseen: Bool = false, log: Log) throws -> ScoringData {
        var request = ScoringRequest(modelPath: model, dataPath: data)
        request.format = format
        request.fieldDims = try fieldDims.map { try parseList($0, name: "--field-dims") }
        request.skipBadLines = skipBadLines
        request.unlabeled = unlabeled
        request.identifierColumn = identifierColumn
        request.fallbackForUnseen = fallbackForUnseen
        do { return try ScoringData.load(request, note: log.say) } catch { throw CLIError(String(describing: error)) }
    }
}

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
        let loaded = try input.load(unlabeled: false, log: log)
        let (model, dataset, recorded) = (loaded.model, loaded.dataset, loaded.metadata)
        let splitSeed = try seedOfSplit(recorded: recorded, dataset: dataset)
        // The model's own proportions (recorded with its seed); the standard ones for a file that records none.
        let proportions = recorded["split_rule"].flatMap(DataSplit.proportions(ofRule:)) ?? .standard
        let executor = input.threading.makeExecutor(log: log)
        let engine = makeEngine(model: model, data: dataset, options: TrainingOptions())
        let start = PhaseProfile.now()
        let dataSplit = DataSplit(rowCount: dataset.rowCount, seed: splitSeed ?? 42, proportions: proportions)
        let result: EvaluationResult
        switch split {
        case .all: result = evaluate(engine: engine, data: dataset, rows: Array(0..<dataset.rowCount), executor: executor)
        case .train: result = evaluate(engine: engine, data: dataset, split: dataSplit, part: .train, executor: executor)
        case .validation: result = evaluate(engine: engine, data: dataset, split: dataSplit, part: .validation, executor: executor)
        case .test: result = evaluate(engine: engine, data: dataset, split: dataSplit, part: .test, executor: executor)
        }
        let seconds = PhaseProfile.now() - start
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

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model's click / like probability for every input row.",
        discussion: """
            One probability per line, in input order. Rows may come without labels: `user::movie` (or tab or \
            comma separated) for MovieLens input, the ids alone for the fields format.

            Examples:
              fnn-par predict --model fnn.safetensors --data new.tsv --out p.txt
              fnn-par predict --model fm.safetensors --data pairs.dat --out - | head
            """)

    @OptionGroup var input: ModelInputOptions
    @Option(help: ArgumentHelp("Output file, one probability per line; - for standard output.", valueName: "path"))
    var out: String
    @Option(help: ArgumentHelp("Criteo / Avazu rows: write this column (1-based; Avazu's id is 1) before each probability, tab-separated.", valueName: "n"))
    var idColumn: Int?
    @Flag(help: "Print, per field, how many rows hold an id or token the model has no row of its own for (scored through the field's rare/unseen or fallback row).")
    var report = false

    func validate() throws {
        if let idColumn { guard idColumn >= 1, idColumn <= 1000 else { throw ValidationError("--id-column must be between 1 and 1000") } }
    }

    func run() throws {
        let log = Log(quiet: out == "-")
        try checkWritable(out, option: "--out", allowStandardOutput: true)
        try refuseOverwritingInputs(outputs: [(out, "--out")], inputs: input.inputFiles)
        let loaded = try input.load(unlabeled: true, identifierColumn: idColumn.map { $0 - 1 }, fallbackForUnseen: true, log: log)
        let (model, dataset) = (loaded.model, loaded.dataset)
        let unseenRows = loaded.unseenPerField.reduce(0, +)
        if loaded.usesFallbackRows && unseenRows > 0 {
            log.say("note: \(unseenRows) ids are past the model's fields (new users, items or ids); each scores through a zero fallback row of its field (--report: per field)")
        }
        if report {
            let rows = max(dataset.rowCount, 1)
            var lines = ["field  rows without a row of their own  share"]
            for (f, n) in loaded.unseenPerField.enumerated() {
                lines.append(String(format: "%5d  %30d  %5.1f%%", f + 1, n, 100 * Double(n) / Double(rows)))
            }
            lines.append(loaded.usesFallbackRows || loaded.unseenPerField.allSatisfy({ $0 == 0 }) && dataset.vocabulary == nil
                ? "(ids past the model's field sizes; scored through a zero fallback row)"
                : "(tokens rare or unseen in training; scored through each field's rare/unseen row)")
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        if dataset.skippedLines > 0, let first = dataset.firstSkipped {
            log.say("left out \(dataset.skippedLines) malformed line\(dataset.skippedLines == 1 ? "" : "s") (nan in their place); the first: \(first)")
        }
        let executor = input.threading.makeExecutor(log: log)
        let engine = makeEngine(model: model, data: dataset, options: TrainingOptions())
        let logits = engine.logits(examples: Array(0..<dataset.rowCount), executor: executor)
        var text = ""
        text.reserveCapacity((logits.count + dataset.skippedLines) * 12)
        // Every data line in input order: a kept row's probability, or nan where a line was left out.
        var row = 0, skipped = 0
        for line in 0..<(logits.count + dataset.skippedRowPositions.count) {
            if let ids = dataset.rowIdentifiers, line < ids.count { text += ids[line] + "\t" }
            if skipped < dataset.skippedRowPositions.count && dataset.skippedRowPositions[skipped] == row {
                text += "nan"
                skipped += 1
            } else {
                text += String(format: "%.8g", Double(BinaryCrossEntropy.sigmoid(logits[row])))
                row += 1
            }
            text += "\n"
        }
        if out == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            do { try writeFileAtomically(path: out, bytes: Array(text.utf8)) } catch { throw CLIError("\(error)") }
            log.say("wrote \(logits.count) probabilities to \(out)")
        }
    }
}
