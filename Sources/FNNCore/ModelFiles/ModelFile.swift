import FNNSystem
import Foundation

/// Model files: safetensors whose tensor names and shapes are pytorch-fm's `state_dict()` keys,
/// so `model.load_state_dict(safetensors.torch.load_file(path))` works on torchfm's
/// `FactorizationMachineModel` and `FactorizationSupportedNeuralNetworkModel`, and files saved
/// from those load here.
///
/// FM: `embedding.embedding.weight` [rows, d], `linear.fc.weight` [rows, 1], `linear.bias` [1].
/// FNN: `embedding.embedding.weight`, then per hidden layer l at index i = 4l of torch's
/// Sequential (Linear, BatchNorm1d, ReLU, Dropout): `mlp.mlp.{i}.weight` [out, in], `.bias`,
/// `mlp.mlp.{i+1}.weight` (gamma), `.bias` (beta), `.running_mean`, `.running_var`,
/// `.num_batches_tracked` (I64), and the output layer `mlp.mlp.{4L}.weight` [1, in], `.bias` [1].
/// The embedding+linear FNN variant (not in torchfm) adds `linear.fc.weight`.
public enum ModelFile {
    public static let formatName = "fnn-par"
    public static let formatVersion = "1"

    /// What a file says besides the parameters.
    public struct Info: Sendable {
        /// Training options and the like, as recorded (fnn-par files only).
        public var metadata: [String: String]
        /// Whether the file came from fnn-par (false: a PyTorch state_dict).
        public var isNative: Bool
    }

    /// The tables' tensor names, their row widths and the buffers holding them (a shard's rows
    /// when the model holds a shard).
    public static func tableTensors(of model: Model) -> [(name: String, width: Int, buffer: AlignedBuffer<Float>)] {
        [("embedding.embedding.weight", model.config.embedDim, model.embedding)]
            + (model.linear.map { [("linear.fc.weight", 1, $0)] } ?? [])
    }

    /// The file's tensors; a model holding a shard of its tables leaves the tables out
    /// (`tableTensors`: they are gathered across ranks as they are written).
    public static func tensors(of model: Model) -> SafeTensors {
        var file = SafeTensors()
        let c = model.config
        if model.shard.isWholeTable {
            file.tensors["embedding.embedding.weight"] = tensor(model.embedding, [c.tableRows, c.embedDim])
            if let linear = model.linear { file.tensors["linear.fc.weight"] = tensor(linear, [c.tableRows, 1]) }
        }
        switch c.kind {
        case .fm:
            file.tensors["linear.bias"] = SafeTensors.Tensor(floats: [model.dense[0]], shape: [1])
        case .fnn:
            let layout = model.layout
            for (l, h) in layout.hidden.enumerated() {
                let i = 4 * l
                file.tensors["mlp.mlp.\(i).weight"] = tensor(model.dense, h.weight, [h.outputs, h.inputs])
                file.tensors["mlp.mlp.\(i).bias"] = tensor(model.dense, h.bias, [h.outputs])
                file.tensors["mlp.mlp.\(i + 1).weight"] = tensor(model.dense, h.gamma, [h.outputs])
                file.tensors["mlp.mlp.\(i + 1).bias"] = tensor(model.dense, h.beta, [h.outputs])
                let stats = model.runningStatsOffset(layer: l)
                file.tensors["mlp.mlp.\(i + 1).running_mean"] = tensor(model.runningStats, stats, [h.outputs])
                file.tensors["mlp.mlp.\(i + 1).running_var"] = tensor(model.runningStats, stats + h.outputs, [h.outputs])
                file.tensors["mlp.mlp.\(i + 1).num_batches_tracked"] = SafeTensors.Tensor(int64: model.batchesTracked)
            }
            let o = 4 * layout.hidden.count
            file.tensors["mlp.mlp.\(o).weight"] = tensor(model.dense, layout.outputWeight, [1, layout.outputInputs])
            file.tensors["mlp.mlp.\(o).bias"] = tensor(model.dense, layout.outputBias, [1])
        }
        let encoder = JSONEncoder()
        func json<T: Encodable>(_ v: T) -> String { String(decoding: try! encoder.encode(v), as: UTF8.self) }
        file.metadata = [
            "format": formatName, "format_version": formatVersion, "model": c.kind.rawValue,
            "field_dims": json(c.fieldDims), "embed_dim": String(c.embedDim), "mlp_dims": json(c.mlpDims),
            "dropout": String(c.dropout), "fnn_input": c.fnnInput.rawValue,
        ]
        if let schema = c.schema?.stored { file.metadata["field_schema"] = schema }
        return file
    }

    /// Writes `model` atomically, with `metadata` (training options, data fingerprint, ...) added.
    /// `vocabulary`: the data's token vocabularies, stored as tensors beside the parameters (see
    /// `Vocabulary.tensors`), so that `predict` can read raw rows. torch's strict
    /// `load_state_dict` rejects them as unexpected keys; drop the `vocabulary.` names first.
    ///
    /// `tableRows`: for a model holding a shard, writes each table tensor's rows in global order
    /// (given its name and row width); the file is then the one a whole model would give.
    public static func save(_ model: Model, to path: String, metadata: [String: String] = [:],
                            vocabulary: Vocabulary? = nil, fieldMap: FieldMap? = nil,
                            tableRows: ((String, Int, AtomicFileWriter) throws -> Void)? = nil) throws {
        var file = tensors(of: model)
        for (k, v) in metadata { file.metadata[k] = v }
        if let vocabulary { file.tensors.merge(vocabulary.tensors()) { a, _ in a } }
        if let fieldMap { file.tensors.merge(fieldMap.tensors()) { a, _ in a } }
        if model.shard.isWholeTable {
            file.recordDigest()
            try file.write(path: path)
            return
        }
        guard let tableRows else { preconditionFailure("a sharded model is saved with its table rows gathered") }
        let streamed = tableTensors(of: model).map { table in
            SafeTensors.StreamedTensor(name: table.name, dtype: .f32, shape: [model.config.tableRows, table.width]) { writer in
                try tableRows(table.name, table.width, writer)
            }
        }
        try file.write(path: path, streamed: streamed, recordingDigest: true)
    }

    /// Reads a model file. `fieldDims` supplies the field sizes a PyTorch file does not record
    /// (from the data it will be used with); for fnn-par files it is only checked.
    /// `shardOf`: rank r of R keeps only the table rows it holds when tables are sharded
    /// (`TableShard`); the file is one whole model either way.
    public static func load(path: String, fieldDims: [Int]? = nil, dropout: Float = 0.2,
                            shardOf: (rank: Int, ranks: Int) = (0, 1)) throws(ModelFileError) -> (Model, Info) {
        let file = try SafeTensors.read(path: path)
        return try model(from: file, path: path, fieldDims: fieldDims, dropout: dropout, shardOf: shardOf)
    }

    /// `rowsHeldOnly`: the file's table tensors already hold only the shard's rows, in local
    /// order (a checkpoint's, assembled for this rank); fnn-par files only.
    /// `into`: a model of the file's configuration and shard to fill instead of a new one (a
    /// resume loads its checkpoint's parameters straight into the run's buffers).
    public static func model(from file: SafeTensors, path: String, fieldDims: [Int]?, dropout: Float,
                             shardOf: (rank: Int, ranks: Int) = (0, 1), rowsHeldOnly: Bool = false,
                             into target: Model? = nil) throws(ModelFileError) -> (Model, Info) {
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: path, message) }
        guard let embedding = file.tensors["embedding.embedding.weight"] else {
            if file.metadata["format"] == "fnn-par-checkpoint" {
                throw fail("this is a training checkpoint, not a model file (use it with --resume)")
            }
            throw fail("not an FM or FNN model file: no 'embedding.embedding.weight' tensor")
        }
        guard embedding.dtype == .f32, embedding.shape.count == 2, embedding.shape[0] > 0, embedding.shape[1] > 0 else {
            throw fail("'embedding.embedding.weight' must be a 2-D F32 tensor, is \(embedding.dtype.rawValue) \(embedding.shape)")
        }
        let rows = embedding.shape[0], d = embedding.shape[1]
        let native = file.metadata["format"] == formatName
        try file.verifyDigest(path: path)
        var config: ModelConfig
        if native {
            guard file.metadata["format_version"] == formatVersion else {
                throw fail("model file format version \(file.metadata["format_version"] ?? "?") is not supported (this fnn-par reads version \(formatVersion))")
            }
            guard let kind = file.metadata["model"].flatMap(ModelKind.init(rawValue:)),
                  let dims = decodeInts(file.metadata["field_dims"]), let mlp = decodeInts(file.metadata["mlp_dims"]),
                  let fileDropout = file.metadata["dropout"].flatMap(Float.init),
                  let input = file.metadata["fnn_input"].flatMap(FNNInput.init(rawValue:))
            else { throw fail("corrupt model metadata (model, field_dims, mlp_dims, dropout or fnn_input)") }
            guard let schema = FieldSchema.parse(stored: file.metadata["field_schema"], fieldCount: dims.count) else {
                throw fail("corrupt model metadata: field_schema is not a schema of its \(dims.count) fields")
            }
            config = ModelConfig(kind: kind, fieldDims: dims, embedDim: d, mlpDims: mlp, dropout: fileDropout,
                                 fnnInput: input, schema: schema)
            // In this order: the sum is safe once the configuration is plausible.
            guard kind == .fm || !mlp.isEmpty, config.implausibility == nil, config.tableRows <= maximumTableRows
            else { throw fail("corrupt model metadata: impossible field sizes, MLP widths or dropout (\(config.implausibility ?? "no MLP layers"))") }
            if let recorded = file.metadata["embed_dim"], recorded != String(d) {
                throw fail("corrupt model metadata: embed_dim \(recorded) but the embedding is \(d) wide")
            }
            let held = rowsHeldOnly ? TableShard.rows(of: shardOf.rank, ranks: shardOf.ranks, tableRows: config.tableRows) : config.tableRows
            guard held == rows else {
                throw fail("corrupt: field sizes add up to \(config.tableRows) rows"
                    + (rowsHeldOnly ? ", \(held) of them rank \(shardOf.rank) of \(shardOf.ranks)'s," : "") + " but the embedding has \(rows)")
            }
        } else {
            guard !rowsHeldOnly else { throw fail("a shard's rows come only from fnn-par's own files") }
            guard let dims = fieldDims else {
                throw fail("a PyTorch model file does not record field sizes; they are taken from the data (--data)")
            }
            guard dims.allSatisfy({ $0 > 0 && $0 <= maximumTableRows }), dims.reduce(0, +) == rows else {
                throw fail("the model's embedding has \(rows) rows but the data's fields \(dims) add up to \(dims.reduce(0, +)); it was trained on differently indexed data")
            }
            let hasMLP = file.tensors.keys.contains { $0.hasPrefix("mlp.mlp.") }
            if hasMLP {
                var hidden: [Int] = []
                var i = 0
                while let w = file.tensors["mlp.mlp.\(i).weight"], file.tensors["mlp.mlp.\(i + 1).running_mean"] != nil {
                    guard w.shape.count == 2 else { throw fail("'mlp.mlp.\(i).weight' is not 2-D") }
                    hidden.append(w.shape[0])
                    i += 4
                }
                guard !hidden.isEmpty else { throw fail("an FNN file needs at least one Linear + BatchNorm1d layer") }
                config = ModelConfig(kind: .fnn, fieldDims: dims, embedDim: d, mlpDims: hidden, dropout: dropout,
                                     fnnInput: file.tensors["linear.fc.weight"] == nil ? .embedding : .embeddingPlusLinear)
            } else {
                guard file.tensors["linear.fc.weight"] != nil, file.tensors["linear.bias"] != nil else {
                    throw fail("not an FM or FNN model file: neither 'mlp.mlp.*' (FNN) nor 'linear.fc.weight' and 'linear.bias' (FM)")
                }
                config = ModelConfig(kind: .fm, fieldDims: dims, embedDim: d)
            }
        }
        if let fieldDims, native, fieldDims != config.fieldDims {
            throw fail("the model's field sizes \(config.fieldDims) do not fit the data's \(fieldDims)")
        }
        // Nothing is allocated for more parameters than the file holds: a header's sizes are only
        // claims until the tensors back them.
        let storedFloats = file.tensors.values.reduce(0) { $0 + ($1.dtype == .f32 ? $1.elementCount : 0) }
        let unheldFloats = (config.tableRows - rows) * (d + (config.hasLinearTable ? 1 : 0))
        guard let parameters = config.checkedParameterCount, parameters - unheldFloats <= storedFloats else {
            throw fail("corrupt: its sizes (\(config.implausibility ?? "\(config.checkedParameterCount ?? 0) parameters")) need more values than its \(storedFloats) stored ones")
        }
        let shard = TableShard(tableRows: config.tableRows, rank: shardOf.rank, ranks: shardOf.ranks)
        if let target, target.config != config || target.shard != shard {
            throw fail("its model (\(config.kind.rawValue), \(config.tableRows) table rows) is not the one being filled")
        }
        let model = target ?? Model(config: config, shard: shard)
        model.batchesTracked = 0
        func take(_ name: String, _ destination: UnsafeMutablePointer<Float>, _ shape: [Int], rowsOf shard: TableShard? = nil) throws(ModelFileError) {
            guard let t = file.tensors[name] else { throw fail("missing tensor '\(name)'") }
            guard t.dtype == .f32, t.shape == shape else {
                throw fail("tensor '\(name)' is \(t.dtype.rawValue) \(t.shape), expected F32 \(shape)")
            }
            if let shard, !shard.isWholeTable { t.copyRows(of: shard, into: destination) } else { t.copyFloats(into: destination) }
        }
        let cut = rowsHeldOnly ? nil : model.shard
        try take("embedding.embedding.weight", model.embedding.base, [rows, d], rowsOf: cut)
        if let linear = model.linear { try take("linear.fc.weight", linear.base, [rows, 1], rowsOf: cut) }
        let layout = model.layout
        switch config.kind {
        case .fm:
            try take("linear.bias", model.dense.base, [1])
        case .fnn:
            for (l, h) in layout.hidden.enumerated() {
                let i = 4 * l
                try take("mlp.mlp.\(i).weight", model.dense.base + h.weight, [h.outputs, h.inputs])
                try take("mlp.mlp.\(i).bias", model.dense.base + h.bias, [h.outputs])
                try take("mlp.mlp.\(i + 1).weight", model.dense.base + h.gamma, [h.outputs])
                try take("mlp.mlp.\(i + 1).bias", model.dense.base + h.beta, [h.outputs])
                let stats = model.runningStatsOffset(layer: l)
                try take("mlp.mlp.\(i + 1).running_mean", model.runningStats.base + stats, [h.outputs])
                try take("mlp.mlp.\(i + 1).running_var", model.runningStats.base + stats + h.outputs, [h.outputs])
                if let n = file.tensors["mlp.mlp.\(i + 1).num_batches_tracked"], n.dtype == .i64, n.elementCount == 1 {
                    model.batchesTracked = n.int64
                }
            }
            let o = 4 * layout.hidden.count
            try take("mlp.mlp.\(o).weight", model.dense.base + layout.outputWeight, [1, layout.outputInputs])
            try take("mlp.mlp.\(o).bias", model.dense.base + layout.outputBias, [1])
        }
        for i in 0..<model.dense.count where !model.dense[i].isFinite {
            throw fail("corrupt: a dense parameter is not finite")
        }
        if target != nil {
            model.denseDidChange()
            model.tablesDidChange()
        }
        return (model, Info(metadata: file.metadata, isNative: native))
    }

    package static func tensor(_ buffer: AlignedBuffer<Float>, _ shape: [Int]) -> SafeTensors.Tensor {
        tensor(buffer, 0, shape)
    }

    package static func tensor(_ buffer: AlignedBuffer<Float>, _ offset: Int, _ shape: [Int]) -> SafeTensors.Tensor {
        SafeTensors.Tensor(viewing: buffer, offset: offset, shape: shape)
    }

    static func decodeInts(_ text: String?) -> [Int]? {
        guard let text, let data = text.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode([Int].self, from: data)
    }
}
