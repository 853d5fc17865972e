import FNNCore
import Foundation

/// Everything needed to continue a training run exactly: the current and best parameters, the
/// optimizer state and the run's state (epoch, step within it, early-stopping counters,
/// history), with the options and data fingerprint it was made under. One safetensors file,
/// written atomically.
public enum Checkpoint {
    public static let formatName = "fnn-par-checkpoint"
    /// 2: the split is a keyed permutation, streaming epochs go by chunks of file rows, and the
    /// lazy catch-up sums the whole gap; a version-1 run cannot be continued to the same model.
    /// 3: dense gradients sum over the fixed pairwise tree of slices (`SliceOrder`), so that any
    /// number of ranks gives the same bits; a version-2 run continued here would not end at the
    /// model it was heading for.
    public static let version = "3"

    public static func write(_ run: TrainingRun, to path: String, metadata extra: [String: String] = [:]) throws {
        var file = try contents(of: run)
        for (k, v) in extra { file.metadata[k] = v }
        file.recordDigest()
        try file.write(path: path)
    }

    /// Names of the tensors with one row per table row (parameters and optimizer state): a
    /// sharded checkpoint's shard holds its rank's rows of each, and a resume under another
    /// shard count takes each row from whichever shard holds it.
    static func isRowTensor(_ name: String) -> Bool {
        ["model.embedding.", "model.linear.fc.", "best.embedding.", "best.linear.fc.", "adam.embedding.", "adam.linear.",
         "adagrad.embedding.", "adagrad.linear."].contains { name.hasPrefix($0) }
    }

    /// The checkpoint's tensors and metadata for `run`; a rank holding a shard of the tables
    /// gives its own rows of the row tensors.
    static func contents(of run: TrainingRun) throws -> SafeTensors {
        var file = SafeTensors()
        for (prefix, model) in [("model.", run.engine.model), ("best.", run.best)] {
            for (name, t) in ModelFile.tensors(of: model).tensors { file.tensors[prefix + name] = t }
            if !model.shard.isWholeTable {
                for table in ModelFile.tableTensors(of: model) {
                    file.tensors[prefix + table.name] = ModelFile.tensor(table.buffer, [model.heldRows, table.width])
                }
            }
        }
        for (name, t) in run.engine.optimizerTensors() { file.tensors[name] = t }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try encoder.encode(v), as: UTF8.self) }
        file.metadata = ModelFile.tensors(of: run.engine.model).metadata
        file.metadata["format"] = formatName
        file.metadata["checkpoint_version"] = version
        file.metadata["config"] = try json(run.engine.model.config)
        file.metadata["options"] = try json(run.options)
        file.metadata["state"] = try json(run.state)
        file.metadata["data_fingerprint"] = String(run.dataFingerprint, radix: 16)
        file.metadata["split_sizes"] = try json([run.split.trainCount, run.split.validationCount, run.split.testCount])
        let shard = run.engine.model.shard
        file.metadata["shard"] = "\(shard.rank) of \(shard.ranks)"
        return file
    }

    /// A checkpoint, checked against the run it is to continue. Its two models stay in the file
    /// until `load` puts one into a model of the run: built apart and copied, they were two more
    /// tables in memory at every resume (a resumed Criteo-shaped FM peaked 300 MB above a fresh run).
    public struct Loaded {
        public let config: ModelConfig
        public let options: TrainingOptions
        public let state: TrainingState
        public let file: SafeTensors
        public let metadata: [String: String]
        let path: String
        let shardOf: (rank: Int, ranks: Int)

        public enum Part: String { case model = "model.", best = "best." }

        /// Fills `target` (a model of the checkpoint's configuration and this rank's shard) with
        /// the training model's or the best epoch's parameters, checked as a model file's are.
        public func load(_ part: Part, into target: Model) throws(ModelFileError) {
            var sub = SafeTensors()
            sub.metadata = file.metadata
            sub.metadata["format"] = ModelFile.formatName
            // The checkpoint's digest covers all of it, and was checked when it was read.
            sub.metadata[SafeTensors.digestKey] = nil
            let prefix = part.rawValue
            for (name, t) in file.tensors where name.hasPrefix(prefix) { sub.tensors[String(name.dropFirst(prefix.count))] = t }
            _ = try ModelFile.model(from: sub, path: path, fieldDims: config.fieldDims, dropout: config.dropout,
                                    shardOf: shardOf, rowsHeldOnly: true, into: target)
        }
    }

    /// Reads the checkpoint at `path` (a file, or a sharded checkpoint's directory) for the rank
    /// `shardOf` of a run that holds that shard of the tables (0 of 1: the whole table): each
    /// row tensor is cut, or assembled from the shards, to the rows that rank holds.
    public static func read(path: String, shardOf: (rank: Int, ranks: Int) = (0, 1)) throws(ModelFileError) -> Loaded {
        let sources = try ShardedCheckpoint.isSharded(path) ? ShardedCheckpoint.shards(at: path) : [try SafeTensors.read(path: path)]
        let file = sources[0]
        func fail(_ m: String) -> ModelFileError { ModelFileError(path: path, m) }
        guard file.metadata["format"] == formatName else {
            if file.metadata["format"] == ModelFile.formatName || file.tensors["embedding.embedding.weight"] != nil {
                throw fail("this is a model file, not a training checkpoint (use it with --init-from, eval or predict)")
            }
            throw fail("not an fnn-par training checkpoint")
        }
        if sources.count == 1 { try file.verifyDigest(path: path) }
        guard file.metadata["checkpoint_version"] == version else {
            throw fail("checkpoint version \(file.metadata["checkpoint_version"] ?? "1") was written by an earlier fnn-par, whose split, optimizer state or summation order differ; it cannot be resumed to the same model (this fnn-par resumes version \(version))")
        }
        let decoder = metadataDecoder
        func decode<T: Decodable>(_ key: String, _ type: T.Type) throws(ModelFileError) -> T {
            guard let text = file.metadata[key], let value = try? decoder.decode(T.self, from: Data(text.utf8)) else {
                throw fail("corrupt checkpoint: cannot read its '\(key)'")
            }
            return value
        }
        let config = try decode("config", ModelConfig.self)
        let options = try decode("options", TrainingOptions.self)
        let state = try decode("state", TrainingState.self)
        if let problem = state.implausibility { throw fail("corrupt checkpoint: its run state has \(problem)") }
        if let problem = config.implausibility { throw fail("corrupt checkpoint: its model has \(problem)") }
        let shard = TableShard(tableRows: config.tableRows, rank: shardOf.rank, ranks: shardOf.ranks)
        var assembled = SafeTensors()
        assembled.metadata = file.metadata
        for (name, t) in file.tensors {
            assembled.tensors[name] = isRowTensor(name) ? try ShardedCheckpoint.rows(of: name, in: sources, for: shard, path: path) : t
        }
        return Loaded(config: config, options: options, state: state, file: assembled, metadata: file.metadata, path: path,
                      shardOf: shardOf)
    }

    /// The training options a checkpoint records, read from its metadata alone (nil when `path`
    /// is no readable fnn-par checkpoint: `read` then says why), so that a resumed run can take
    /// choices its command line left to `auto` (the FNN's arithmetic) from the run it continues.
    public static func recordedOptions(path: String) -> TrainingOptions? {
        guard let sources = try? (ShardedCheckpoint.isSharded(path) ? ShardedCheckpoint.shards(at: path) : [SafeTensors.read(path: path)]),
              let file = sources.first, file.metadata["format"] == formatName, let text = file.metadata["options"] else { return nil }
        return try? metadataDecoder.decode(TrainingOptions.self, from: Data(text.utf8))
    }

    /// Reads the JSON values of a checkpoint's metadata (non-finite floats as the writer spells them).
    static var metadataDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    /// Puts a loaded checkpoint into `run`, after checking that it belongs to this run: same data,
    /// same model, same training options (the epoch limit and patience may differ).
    public static func resume(_ run: TrainingRun, from loaded: Loaded, path: String) throws(ModelFileError) {
        func fail(_ m: String) -> ModelFileError { ModelFileError(path: path, m) }
        guard loaded.metadata["data_fingerprint"] == String(run.dataFingerprint, radix: 16) else {
            throw fail("the checkpoint was written for different data (its fingerprint does not match this data's)")
        }
        guard loaded.config == run.engine.model.config else {
            throw fail("the checkpoint is of a different model (\(describe(loaded.config))) than these options make (\(describe(run.engine.model.config)))")
        }
        guard loaded.options.sameTraining(as: run.options) else {
            let differences = loaded.options.differences(from: run.options)
            throw fail("the checkpoint was written with other training options than these ("
                + (differences.isEmpty ? describe(loaded.options) : differences.joined(separator: "; ")) + ")")
        }
        // Same data and options, so the epoch has as many steps as when it was written.
        let steps = (run.split.trainCount + run.options.batchSize - 1) / run.options.batchSize
        guard loaded.state.stepInEpoch <= steps else {
            throw fail("corrupt checkpoint: it is at step \(loaded.state.stepInEpoch) of an epoch of \(steps) steps")
        }
        try loaded.load(.model, into: run.engine.model)
        try run.engine.restoreOptimizer(from: loaded.file, path: path)
        try run.restore(state: loaded.state) { (best) throws(ModelFileError) in try loaded.load(.best, into: best) }
    }

    static func describe(_ c: ModelConfig) -> String {
        "\(c.kind.rawValue), fields \(c.fieldDims.count), embed \(c.embedDim)"
            + (c.kind == .fnn ? ", mlp \(c.mlpDims.map(String.init).joined(separator: ",")), dropout \(c.dropout), input \(c.fnnInput.rawValue)" : "")
    }

    static func describe(_ o: TrainingOptions) -> String {
        "batch \(o.batchSize), lr \(o.adam.learningRate), weight decay \(o.adam.weightDecay), seed \(o.seed), split \(o.split), "
            + "metric \(o.stoppingMetric.rawValue), slices of \(o.sliceRows), "
            + (o.streamChunkRows.map { "streamed in chunks of \($0) rows, windows of \(o.streamWindow), " } ?? "")
            + "\(o.sparseUpdate.rawValue) tables, "
            + "table rule \(o.tables.kind.rawValue)" + (o.tables.learningRate.map { " lr \($0)" } ?? "")
            + (o.tables.l2 > 0 ? " l2 \(o.tables.l2)" : "")
            + (o.tables.kind == .adagrad || o.tables.kind == .rowwiseAdagrad ? " initial accumulator \(o.tables.initialAccumulator)" : "")
            + (o.rates.isConstant ? "" : ", learning rates \(o.rates.summary)")
            + ", init \(o.initialization.kind.rawValue)" + (o.initialization.kind == .normal ? "(\(o.initialization.scale))" : "")
    }
}
