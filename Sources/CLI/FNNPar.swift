import ArgumentParser
import Core
import Foundation
import Parallel

@main
struct FNNPar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fnn-par",
        abstract: "Train FM and FNN click-through / rating models on multi-field categorical data, fast, on every core.",
        discussion: """
            With no subcommand, runs `experiment`: the reference experiment of Zhang et al. (2016). \
            `fnn-par experiment --help` lists its options.

            Examples:
              fnn-par                                   # built-in synthetic MovieLens-1M-shaped data
              fnn-par --data ml-1m/ratings.dat --threads 8
              fnn-par bench --threads 1,2,4
            """,
        subcommands: [Experiment.self, Bench.self],
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
              fnn-par                                   # built-in synthetic MovieLens-1M-shaped data
              fnn-par --data ml-1m/ratings.dat --threads 8
              fnn-par --data u.data --epochs 20 --patience 0 --seed 1 --json result.json
              fnn-par --fnn-input embedding+linear --mlp 64,32 --dropout 0.5
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var training: TrainingCommandOptions
    @Option(help: ArgumentHelp("What the FNN's MLP sees per field: the embedding, or the FM linear weight and the embedding (the paper's variant).",
                               valueName: "embedding|embedding+linear"))
    var fnnInput: FNNInput = .embedding
    @Option(help: ArgumentHelp("Write the results as JSON to this file.", valueName: "path"))
    var json: String?
    @Flag(help: "Print only the results table.")
    var quiet = false
    @Flag(help: "Print each model's time per phase (prepare, forward, backward, dense and sparse update, evaluation), with time spent waiting at barriers.")
    var profile = false

    func run() throws {
        let dataset = try data.load(quiet: quiet)
        let options = try training.trainingOptions()
        let split = DataSplit(rowCount: dataset.rowCount, seed: options.seed)
        guard split.train.count >= 2, !split.validation.isEmpty, !split.test.isEmpty else {
            throw CLIError("\(dataset.name): \(dataset.rowCount) rows are too few for an 80/10/10 split")
        }
        let log = Log(quiet: quiet)
        let executor = training.makeExecutor(log: log)
        log.say("data: \(dataset.rowCount) rows, fields \(dataset.fieldDims.map(String.init).joined(separator: ", ")), "
            + "\(split.train.count) train / \(split.validation.count) validation / \(split.test.count) test; "
            + "\(executor.workerCount) thread\(executor.workerCount == 1 ? "" : "s")")

        let fmConfig = ModelConfig(kind: .fm, fieldDims: dataset.fieldDims, embedDim: training.embedDim)
        let fnnConfig = ModelConfig(kind: .fnn, fieldDims: dataset.fieldDims, embedDim: training.embedDim,
                                    mlpDims: try training.mlpDims(), dropout: training.dropout, fnnInput: fnnInput)
        var reports: [(String, ModelReport)] = []

        let fm = Model.initialized(config: fmConfig, seed: options.seed)
        let fmRun = runModel(name: "fm", model: fm, dataset: dataset, split: split, options: options, executor: executor, log: log)
        reports.append(("fm", fmRun))

        let fnn = Model.initialized(config: fnnConfig, seed: options.seed &+ 1)
        reports.append(("fnn", runModel(name: "fnn", model: fnn, dataset: dataset, split: split, options: options,
                                        executor: executor, log: log)))

        // Same MLP initialisation as the random FNN, so the two differ only in their embeddings.
        let fnnInit = Model.initialized(config: fnnConfig, seed: options.seed &+ 1)
        fnnInit.embedding.copy(from: fmRun.trained!.embedding)
        if let linear = fnnInit.linear { linear.copy(from: fmRun.trained!.linear!) }
        reports.append(("fnn_init", runModel(name: "fnn_init", model: fnnInit, dataset: dataset, split: split,
                                             options: options, executor: executor, log: log)))

        print(ResultsTable.render(reports.map { ($0.0, $0.1) }))
        if let json {
            let document = RunReport(
                dataset: DatasetReport(name: dataset.name, rows: dataset.rowCount, fieldDims: dataset.fieldDims,
                                       positives: dataset.positiveCount, trainRows: split.train.count,
                                       validationRows: split.validation.count, testRows: split.test.count),
                threads: executor.workerCount, options: options,
                models: Dictionary(uniqueKeysWithValues: reports))
            try document.write(to: json)
        }
    }

    func runModel(name: String, model: Model, dataset: Dataset, split: DataSplit, options: TrainingOptions,
                  executor: PhaseExecutor, log: Log) -> ModelReport {
        let engine = makeEngine(model: model, data: dataset, options: options)
        executor.profile.reset()
        let result = train(engine: engine, data: dataset, split: split, options: options, executor: executor) { record in
            log.say(String(format: "%@ epoch %d: train loss %.4f, validation AUC %.4f, logloss %.4f, %.2f s, %@ samples/s",
                           name, record.epoch, record.trainLoss, record.validationAUC, record.validationLogLoss,
                           record.seconds, formatRate(record.samplesPerSecond)))
        }
        let phases = executor.profile.entries
        if profile { FileHandle.standardError.write(Data((PhaseTable.render(name: name, phases) + "\n").utf8)) }
        engine.model.copyParameters(from: result.model)
        let test = evaluate(engine: engine, data: dataset, rows: split.test, executor: executor)
        log.say(String(format: "%@: best epoch %d of %d, test AUC %.4f", name, result.bestEpoch, result.epochsRun, test.auc))
        var report = ModelReport(testAUC: test.auc, testLogLoss: test.logLoss, epochs: result.epochsRun,
                                 bestEpoch: result.bestEpoch, trainSeconds: result.trainSeconds,
                                 samplesPerSecond: result.samplesPerSecond, history: result.history, phases: phases)
        report.trained = result.model
        return report
    }
}

/// Progress lines on stderr, so stdout carries only results.
struct Log {
    let quiet: Bool
    func say(_ line: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
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

extension FNNInput: ExpressibleByArgument {}
extension DataFormat: ExpressibleByArgument {}
extension SparseUpdate: ExpressibleByArgument {}
