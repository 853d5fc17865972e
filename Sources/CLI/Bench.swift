import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// Training throughput per thread count, measured side by side in one process: rounds of every
/// thread count in turn, so the machine's background noise hits them alike; medians are reported.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training samples/s and the per-phase time breakdown across thread counts.",
        discussion: """
            Each round trains every model at every thread count for the same number of steps, from the \
            same initial model; the report gives the median samples/s over rounds, scaling against the \
            first thread count, and the per-phase breakdown of the median run.

            Examples:
              fnn-par bench --threads 1,2,32
              fnn-par bench --shape criteo --mlp 400,400,400 --threads 1,2
              fnn-par bench --data u.data --json perf/out/ml100k.json
              mpirun -np 2 --bind-to none fnn-par bench --shape criteo --mlp 400,400,400 --threads 1

            Under mpirun every rank measures the same global batches (each computes its share of the \
            slices); rank 0 reports, with the bytes and seconds of each kind of exchange per step.
            """)

    /// Any format training reads, through the same path (cache, vocabularies); without --data,
    /// synthetic data of --shape.
    @OptionGroup var dataOptions: DataOptions
    @Option(help: ArgumentHelp("Synthetic data shape when no --data: ml1m (fields 6040, 3706), criteo (39 fields, about 2.6M table rows), ml1m-genres (ml1m and a multi-hot genres field, 1 to 6 of 18 per movie, mean-pooled) or ml1m-onegenre (the same with one genre per movie, one-hot).", valueName: SyntheticShape.valueNames))
    var shape: SyntheticShape = .ml1m
    @Option(help: "Rows of synthetic data (default: 1,000,209 for the ml1m shapes, 200,000 for criteo).")
    var rows: Int?
    @Option(help: ArgumentHelp("Models to measure.", valueName: "fm,fnn"))
    var models = "fm,fnn"
    @Option(help: ArgumentHelp("Thread counts, in the order run each round.", valueName: "1,2,4"))
    var threads = "1,2"
    @Option(help: "Rounds; the median is reported.")
    var repeats = 5
    @Option(help: "Training steps per measurement (default: one epoch of the training split).")
    var steps: Int?
    @Option(help: "Examples per minibatch.")
    var batchSize = 2048
    @Option(help: "Embedding dimension.")
    var embedDim = 16
    @Option(help: ArgumentHelp("FNN hidden widths.", valueName: "w1,w2,..."))
    var mlp = "16,16"
    @Option(help: "Dropout probability.")
    var dropout: Float = 0.2
    @Option(help: ArgumentHelp("FNN MLP arithmetic measured, each in turn within every round (side by side): auto (training's default: bf16 where the CPU has AVX512-BF16), fp32, bf16, or fp32,bf16 (see fnn-par fnn --help). The FM has no MLP and runs once.", valueName: "auto|fp32|bf16,..."))
    var precision = "auto"
    @Option(help: ArgumentHelp("Where training keeps the table rows, each in turn within every round (side by side): separate (the default: the model's tensors and the optimizer's arrays apart), fused (each row with its optimizer state in one record of consecutive cache lines), or fused,separate. Both give the same bits.", valueName: "separate|fused,..."))
    var rowLayout = "separate"
    @Option(help: ArgumentHelp("Tables' update rule measured (auto: each model's default, rowwise-adagrad for the FM, adam for the FNN).", valueName: "auto|adam|adagrad|rowwise-adagrad|sgd"))
    var optimizer: TableRuleChoice = .auto
    @Flag(inversion: .prefixedNo, help: "Pin workers to CPUs (when they fit).")
    var pin = true
    @Option(help: ArgumentHelp("Under mpirun: tables replicated on every rank, or sharded across the ranks (see fnn-par fm --help).", valueName: "replicated|sharded"))
    var tables: TablePlacement = .replicated
    @Option(help: ArgumentHelp("Write the results as JSON.", valueName: "path"))
    var json: String?
    @Option(help: ArgumentHelp("Write a plot of samples/s against threads as SVG.", valueName: "path"))
    var svg: String?

    func run() throws {
        BLAS.useSingleThread()
        let ranks = try ProcessRanks.shared()
        let threadCounts = try parseList(threads, name: "--threads")
        let modelKinds = try models.split(separator: ",").map { name -> ModelKind in
            guard let kind = ModelKind(rawValue: String(name)) else { throw ValidationError("--models: unknown model '\(name)' (fm or fnn)") }
            return kind
        }
        let mlpDims = try parseList(mlp, name: "--mlp")
        let precisions = try precision.split(separator: ",").map { name -> MLPPrecision in
            guard let choice = PrecisionChoice(rawValue: String(name)) else {
                throw ValidationError("--precision: unknown arithmetic '\(name)' (auto, fp32 or bf16)")
            }
            try choice.resolved.checkSupported()
            return choice.resolved
        }
        guard !precisions.isEmpty, Set(precisions).count == precisions.count else {
            throw ValidationError("--precision: give fp32, bf16 or fp32,bf16 (each once)")
        }
        let layouts = try rowLayout.split(separator: ",").map { name -> RowRecords.Layout in
            guard let layout = RowRecords.Layout(rawValue: String(name)) else {
                throw ValidationError("--row-layout: unknown layout '\(name)' (separate or fused)")
            }
            return layout
        }
        guard !layouts.isEmpty, Set(layouts).count == layouts.count else {
            throw ValidationError("--row-layout: give separate, fused or fused,separate (each once)")
        }
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        // Under mpirun every rank must measure the same thing: the same binary and arguments, and
        // the arithmetic `auto` resolved on its own CPU.
        try ProcessRanks.agree(on: [("fnn-par binary", executableDigest()), ("arguments", argumentsWithoutThreads()),
                                    (arithmeticAgreement, precisions.map(\.rawValue).joined(separator: ","))],
                               threads: threadCounts.max() ?? 1, log: Log(quiet: true))
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard batchSize >= 2, batchSize < 1 << 24 else { throw ValidationError("--batch-size must be at least 2") }
        guard steps.map({ $0 >= 1 }) ?? true else { throw ValidationError("--steps must be at least 1") }
        guard rows.map({ $0 >= 10 }) ?? true else { throw ValidationError("--rows must be at least 10") }
        guard embedDim >= 1 else { throw ValidationError("--embed-dim must be at least 1") }
        let dataset: Dataset
        let loadStart = PhaseProfile.now()
        if dataOptions.data != nil {
            dataset = try dataOptions.load(log: Log(quiet: true), seed: 1)
        } else {
            dataset = shape.generate(rows: rows ?? shape.defaultRows, name: "synthetic \(shape.rawValue)")
        }
        let loadSeconds = PhaseProfile.now() - loadStart
        let split = DataSplit(rowCount: dataset.rowCount, seed: 1)
        var options = TrainingOptions()
        options.batchSize = batchSize
        options.seed = 1
        let stepCount = steps ?? (split.train.count + batchSize - 1) / batchSize
        if ProcessRanks.isRoot { FileHandle.standardError.write(Data(("bench: \(dataset.name), \(dataset.rowCount) rows, \(dataset.fieldCount) fields, "
            + "\(dataset.fieldDims.reduce(0, +)) table rows (prepared in \(String(format: "%.2f", loadSeconds)) s); "
            + "\(stepCount) steps of \(batchSize) per measurement, \(repeats) rounds, \(WorkerPool.onlineCPUs) CPUs"
            + (ranks.isSingle ? "" : ", \(ranks.size) ranks, tables \(tables == .sharded ? "sharded" : "replicated")") + "\n").utf8)) }

        var order = split.train
        var rng = Xoshiro256(seed: 7)
        order.shuffleDeterministically(using: &rng)
        let pools = threadCounts.map { WorkerPool.placed(threads: $0, pin: pin, note: { _ in }) }
        var results: [BenchPoint] = []
        for kind in modelKinds {
            let config = ModelConfig(kind: kind, fieldDims: dataset.fieldDims, embedDim: embedDim, mlpDims: mlpDims,
                                     dropout: dropout, schema: dataset.modelSchema)
            var options = options
            options.tables = .recommended(for: kind)
            if let rule = optimizer.rule { options.tables.kind = rule }
            // Every (arithmetic, layout) variant in turn within each round.
            let variants = (kind == .fnn ? precisions : [.fp32]).flatMap { p in
                layouts.map { (arithmetic: p, layout: $0) }
            }
            var runs: [[[ThroughputMeasurement]]] = Array(repeating: Array(repeating: [], count: threadCounts.count),
                                                          count: variants.count)
            for _ in 0..<repeats {
                for (a, variant) in variants.enumerated() {
                    options.mlpPrecision = variant.arithmetic
                    options.rowLayout = variant.layout
                    for (i, pool) in pools.enumerated() {
                        runs[a][i].append(try ThroughputMeasurement.measure(config: config, dataset: dataset, options: options, order: order,
                                                                            steps: stepCount, executor: pool, ranks: ranks,
                                                                            shardTables: tables == .sharded))
                    }
                }
            }
            for (a, (arithmetic, layout)) in variants.enumerated() {
                let firstMedian = median(runs[a][0].map(\.samplesPerSecond))
                for (i, t) in threadCounts.enumerated() {
                    let sorted = runs[a][i].sorted { $0.samplesPerSecond < $1.samplesPerSecond }
                    let mid = sorted[sorted.count / 2]
                    let point = BenchPoint(model: kind.rawValue, precision: kind == .fnn ? arithmetic.rawValue : nil,
                                           rowLayout: layouts.count > 1 || layout != .separate ? layout.rawValue : nil,
                                           tableRule: options.tables.kind.rawValue, threads: t, samplesPerSecond: mid.samplesPerSecond,
                                           minimum: sorted.first!.samplesPerSecond, maximum: sorted.last!.samplesPerSecond,
                                           speedup: mid.samplesPerSecond / firstMedian,
                                           efficiency: mid.samplesPerSecond / firstMedian * Double(threadCounts[0]) / Double(t),
                                           phases: mid.phases, peakRSSBytes: mid.peakRSSBytes, stateBytes: mid.stateBytes,
                                           workspaceBytes: mid.workspaceBytes, ranks: ranks.size, traffic: mid.traffic)
                    results.append(point)
                }
            }
        }
        let rss = ResidentMemory.peakOfProcess
        guard ProcessRanks.isRoot else { return }
        print(BenchTable.render(results))
        print(String(format: "peak RSS of the process: %.1f MB", Double(rss) / 1e6))
        for point in results {
            let name = "\(point.label) at \(point.threads) thread\(point.threads == 1 ? "" : "s")" + (ranks.isSingle ? "" : " x \(ranks.size) ranks")
            print(PhaseTable.render(name: name + " (median run)", point.phases))
            if !point.traffic.isEmpty { print(TrafficTable.render(name: name, point.traffic, steps: stepCount)) }
        }
        // The measurements above include the phases a busy machine cost before the pool adapted.
        for (t, pool) in zip(threadCounts, pools) {
            if let parking = pool.parkingSummary { print("\(t) thread\(t == 1 ? "" : "s"): \(parking)") }
        }
        if let json {
            let report = BenchReport(dataset: dataset.name, rows: dataset.rowCount, fieldDims: dataset.fieldDims,
                                     batchSize: batchSize, embedDim: embedDim, mlp: mlpDims, steps: stepCount,
                                     repeats: repeats, cpus: WorkerPool.onlineCPUs, peakRSSBytes: rss, points: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            do { try writeFileAtomically(path: json, bytes: Array(try encoder.encode(report)) + [0x0A]) } catch { throw CLIError("\(error)") }
        }
        if let svg {
            var series: [LineChart.Series] = []
            for kind in modelKinds {
                for label in Set(results.filter { $0.model == kind.rawValue }.map(\.label)).sorted() {
                    let points = results.filter { $0.label == label }.map { (Double($0.threads), $0.samplesPerSecond / 1e6) }
                    series.append(LineChart.Series(name: label, points: points))
                }
            }
            let chart = LineChart(title: "Training throughput: \(dataset.name)", xLabel: "threads",
                                  yLabel: "million samples/s", series: series, logX: true)
            do { try writeFileAtomically(path: svg, bytes: Array(chart.svg().utf8)) } catch { throw CLIError("\(error)") }
        }
    }
}

enum SyntheticShape: String, ExpressibleByArgument, CaseIterable {
    case ml1m, criteo
    /// ML-1M with a genres field: multi-hot (1 to 6 of 18 genres per movie, mean-pooled), or one
    /// genre per movie (one-hot, the like-for-like fast-path counterpart).
    case ml1mGenres = "ml1m-genres"
    case ml1mOneGenre = "ml1m-onegenre"

    static let valueNames = allCases.map(\.rawValue).joined(separator: "|")

    var defaultRows: Int { self == .criteo ? 200_000 : 1_000_209 }

    /// The shape's rows, drawn from its planted model.
    func generate(rows: Int, seed: UInt64? = nil, name: String) -> Dataset {
        switch self {
        case .ml1m: return PlantedFMGenerator.movieLens1MShape(seed: seed ?? 2016).generate(rows: rows, name: name)
        case .criteo: return PlantedFMGenerator.criteoShape(seed: seed ?? 2014).generate(rows: rows, name: name)
        case .ml1mGenres: return PlantedGenresGenerator(mostGenres: 6, seed: seed ?? 2016).generate(rows: rows, name: name)
        case .ml1mOneGenre: return PlantedGenresGenerator(mostGenres: 1, seed: seed ?? 2016).generate(rows: rows, name: name)
        }
    }
}

struct BenchPoint: Encodable {
    var model: String
    /// The FNN's MLP arithmetic (nil for the FM).
    var precision: String?
    /// The model, and its arithmetic where it is not fp32 (so fp32 reports read as before).
    /// Where the table rows were kept, when the run compared layouts or asked for another than
    /// the default.
    var rowLayout: String?
    var label: String {
        (precision.map { $0 == MLPPrecision.fp32.rawValue ? model : "\(model) \($0)" } ?? model) + (rowLayout.map { " \($0)" } ?? "")
    }
    /// The tables' update rule.
    var tableRule: String
    var threads: Int
    var samplesPerSecond: Double
    var minimum: Double
    var maximum: Double
    var speedup: Double
    var efficiency: Double
    var phases: [PhaseProfile.Entry]
    /// Peak resident set during the median measurement (the process's, reset before it).
    var peakRSSBytes: Int?
    /// Data, parameters and optimizer state: what the run cannot do without.
    var stateBytes: Int
    /// The engine's batch workspace at this thread count.
    var workspaceBytes: Int
    /// Processes sharing each step (mpirun -np), and what they exchanged per kind, over the steps.
    var ranks: Int
    var traffic: [String: RankExchange.Traffic]
}

struct BenchReport: Encodable {
    var dataset: String
    var rows: Int
    var fieldDims: [Int]
    var batchSize: Int
    var embedDim: Int
    var mlp: [Int]
    var steps: Int
    var repeats: Int
    var cpus: Int
    var peakRSSBytes: Int
    var points: [BenchPoint]
}

enum BenchTable {
    static func render(_ points: [BenchPoint]) -> String {
        // As wide as the longest label ("fnn bf16 separate" when layouts are compared).
        let labelWidth = max(8, points.map(\.label.count).max() ?? 0)
        var lines = ["model".padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            + "  tables           threads   samples/s (median)      min        max   speedup  efficiency  peak RSS MB  state MB  workspace MB"]
        for p in points {
            lines.append(String(format: "%@  %@ %8d %20@ %10@ %10@ %8.2fx %10.0f%% %12@ %9.1f %13.1f",
                                p.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0),
                                p.tableRule.padding(toLength: 15, withPad: " ", startingAt: 0), p.threads,
                                formatRate(p.samplesPerSecond), formatRate(p.minimum), formatRate(p.maximum),
                                p.speedup, 100 * p.efficiency,
                                p.peakRSSBytes.map { String(format: "%.1f", Double($0) / 1e6) } ?? "?",
                                Double(p.stateBytes) / 1e6, Double(p.workspaceBytes) / 1e6))
        }
        return lines.joined(separator: "\n")
    }
}

func parseList(_ text: String, name: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    let values = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, values.count == parts.count, values.allSatisfy({ $0 > 0 }) else {
        throw ValidationError("\(name) must be a comma-separated list of positive integers (got '\(text)')")
    }
    return values
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}
