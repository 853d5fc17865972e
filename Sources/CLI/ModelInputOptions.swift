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
    @Option(help: ArgumentHelp("Under mpirun or srun the ranks score together, each a run of the rows: replicated loads the whole model on every rank; sharded gives each rank its rows of the tables (g mod R), read through their owners; auto shards when the model file is over half a rank's memory. The scores are the same either way.", valueName: "auto|replicated|sharded"))
    var tables: TablePlacement = .auto
    @Option(help: ArgumentHelp("MovieLens models trained with side information: the folder of the side files they were trained with (users.dat and movies.dat, u.user and u.item, or movies.csv), when the data to score is elsewhere. Default: beside the data.", valueName: "dir"))
    var sideFiles: String?

    /// The model and the data indexed for it, as `ScoringData` reads them. `unlabeled` admits
    /// rows without labels; `identifierColumn` (0-based) keeps that column's text per line;
    /// `fallbackForUnseen`: ids past a field of a model without vocabularies score through a
    /// zero fallback row instead of being refused.
    func load(unlabeled: Bool, identifierColumn: Int? = nil, fallbackForUnseen: Bool = false, shardOf: (rank: Int, ranks: Int) = (0, 1),
              log: Log) throws -> ScoringData {
        var request = ScoringRequest(modelPath: model, dataPath: data)
        request.shardOf = shardOf
        request.format = format
        request.fieldDims = try fieldDims.map { try parseList($0, name: "--field-dims") }
        request.skipBadLines = skipBadLines
        request.unlabeled = unlabeled
        request.identifierColumn = identifierColumn
        request.fallbackForUnseen = fallbackForUnseen
        request.sideFilesFolder = sideFiles
        do { return try ScoringData.load(request, note: log.say) } catch { throw CLIError(String(describing: error)) }
    }
}

extension ModelInputOptions {
    /// The ranks scoring together and the shard of the tables this one holds ((0, 1): whole).
    /// Standard input reaches one rank only, so it is refused under several.
    func scoringRanks(log: Log) throws -> (ranks: RankExchange, shardOf: (rank: Int, ranks: Int)) {
        let ranks = try ProcessRanks.shared()
        guard !ranks.isSingle else { return (ranks, (0, 1)) }
        if data == "-" || isPipeOrDevice(data) {
            throw CLIError("--data: standard input, a pipe or a device reaches one rank only; under mpirun every rank reads the data, so give a file")
        }
        let modelBytes = (try? FileStatus.of(model).size) ?? 0
        let limit = MemoryLimit.current()
        let sharded = tables == .sharded || (tables == .auto && Double(modelBytes) > 0.5 * Double(limit.bytes))
        log.say("ranks: \(ranks.size) score together, tables " + (sharded ? "sharded (row g at rank g mod \(ranks.size))" : "replicated"))
        return (ranks, sharded ? (ranks.rank, ranks.size) : (0, 1))
    }

    /// Under several ranks: the start-up agreement (binary, options, data) and the watchdog.
    func agreeAcrossRanks(_ ranks: RankExchange, dataset: Dataset, log: Log) throws {
        guard !ranks.isSingle else { return }
        try ProcessRanks.agree(on: [("fnn-par binary", executableDigest()), ("options", argumentsWithoutThreads()),
                                    ("data", String(dataset.sampledFingerprint(), radix: 16))],
                               threads: threading.threads ?? WorkerPool.onlineCPUs, log: log)
        dataset.releasePages(rows: 0..<dataset.rowCount)
        ProcessRanks.armTimeout(seconds: threading.rankTimeout)
    }
}
