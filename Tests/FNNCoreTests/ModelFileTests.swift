import FNNCore
import FNNExecution
import FNNSystem
import FNNTrainer
import Foundation
import TestSupport
import Testing

@Suite struct ModelFileTests {
    func trainedModel(_ config: ModelConfig) -> Model {
        let data = randomDataset(rows: 600, fieldDims: config.fieldDims, seed: 3)
        var options = TrainingOptions()
        options.epochs = 2
        options.patience = 0
        options.batchSize = 128
        let engine = makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: options)
        _ = train(engine: engine, data: data, split: DataSplit(rowCount: 600, seed: 1), options: options, executor: SerialExecutor())
        return engine.model
    }

    @Test(arguments: [
        ModelConfig(kind: .fm, fieldDims: [7, 5, 3], embedDim: 4),
        ModelConfig(kind: .fnn, fieldDims: [7, 5, 3], embedDim: 4, mlpDims: [6, 5], dropout: 0.3),
        ModelConfig(kind: .fnn, fieldDims: [7, 5], embedDim: 3, mlpDims: [4], dropout: 0.1, fnnInput: .embeddingPlusLinear),
    ])
    func roundTripIsExact(config: ModelConfig) throws {
        let model = trainedModel(config)
        let path = temporaryDirectory() + "/m.safetensors"
        try ModelFile.save(model, to: path, metadata: ["note": "test"])
        let (loaded, info) = try ModelFile.load(path: path)
        #expect(info.isNative && info.metadata["note"] == "test")
        #expect(loaded.config == config)
        #expect(loaded.bitwiseEqual(model))
        // Written piece by piece, the file is byte for byte the serialized container.
        #expect(try readFileBytes(path) == SafeTensors.read(path: path).serialized())
        // Read by mapping (as eval and predict do) and parsed from the bytes: the same tensors,
        // the same digest, before and after a mapped tensor's pages are handed back.
        let mapped = try SafeTensors.read(path: path), parsed = try SafeTensors.parse(try readFileBytes(path), path: path)
        #expect(Set(mapped.tensors.keys) == Set(parsed.tensors.keys))
        for (name, tensor) in parsed.tensors {
            mapped.tensors[name]!.releasePages()
            #expect(mapped.tensors[name]!.bytes == tensor.bytes, "\(name)")
            #expect(mapped.tensors[name]!.byteCount == tensor.byteCount)
        }
        #expect(mapped.contentDigest == parsed.contentDigest)
    }

    /// A checkpoint's tensors are the buffers themselves (viewed) or made a block of rows at a
    /// time as they are written (generated): the file, and its digest, are byte for byte those of
    /// the same values held in arrays, over more rows than one block.
    @Test func viewedAndGeneratedTensorsWriteTheBytesOfCopies() throws {
        let rows = 2 * SafeTensors.Tensor.blockRows(rowBytes: 8) + 3
        func value(_ r: Int, _ j: Int) -> Float { Float(r) * 0.5 + Float(j) }
        let buffer = AlignedBuffer<Float>(count: 2 * rows)
        for r in 0..<rows { buffer[2 * r] = value(r, 0); buffer[2 * r + 1] = value(r, 1) }
        var lazy = SafeTensors(), copied = SafeTensors()
        lazy.tensors["viewed"] = SafeTensors.Tensor(viewing: buffer, shape: [rows, 2])
        lazy.tensors["generated"] = SafeTensors.Tensor(dtype: .f32, shape: [rows, 2]) { range, raw in
            for r in range {
                for j in 0..<2 { raw.storeBytes(of: value(r, j), toByteOffset: ((r - range.lowerBound) * 2 + j) * 4, as: Float.self) }
            }
        }
        let values = (0..<(2 * rows)).map { value($0 / 2, $0 % 2) }
        copied.tensors["viewed"] = SafeTensors.Tensor(floats: values, shape: [rows, 2])
        copied.tensors["generated"] = SafeTensors.Tensor(floats: values, shape: [rows, 2])
        lazy.recordDigest()
        copied.recordDigest()
        #expect(lazy.metadata[SafeTensors.digestKey] == copied.metadata[SafeTensors.digestKey])
        let dir = temporaryDirectory()
        try lazy.write(path: dir + "/lazy.safetensors")
        try copied.write(path: dir + "/copied.safetensors")
        let written = try Data(contentsOf: URL(fileURLWithPath: dir + "/lazy.safetensors"))
        #expect(written == (try Data(contentsOf: URL(fileURLWithPath: dir + "/copied.safetensors"))))
        let read = try SafeTensors.read(path: dir + "/lazy.safetensors")
        #expect(read.tensors["generated"]?.floats == values && read.tensors["viewed"]?.floats == values)
        #expect(lazy.tensors["generated"]?.floats == values && lazy.tensors["generated"]?.byteCount == 8 * rows)
    }

    @Test func torchStateDictNamesAndShapes() {
        let model = Model.initialized(config: ModelConfig(kind: .fnn, fieldDims: [4, 6], embedDim: 3, mlpDims: [5, 2]), seed: 1)
        let file = ModelFile.tensors(of: model)
        let shapes = file.tensors.mapValues(\.shape)
        #expect(shapes == [
            "embedding.embedding.weight": [10, 3],
            "mlp.mlp.0.weight": [5, 6], "mlp.mlp.0.bias": [5],
            "mlp.mlp.1.weight": [5], "mlp.mlp.1.bias": [5], "mlp.mlp.1.running_mean": [5], "mlp.mlp.1.running_var": [5],
            "mlp.mlp.1.num_batches_tracked": [],
            "mlp.mlp.4.weight": [2, 5], "mlp.mlp.4.bias": [2],
            "mlp.mlp.5.weight": [2], "mlp.mlp.5.bias": [2], "mlp.mlp.5.running_mean": [2], "mlp.mlp.5.running_var": [2],
            "mlp.mlp.5.num_batches_tracked": [],
            "mlp.mlp.8.weight": [1, 2], "mlp.mlp.8.bias": [1],
        ])
        #expect(file.tensors["mlp.mlp.1.num_batches_tracked"]?.dtype == .i64)
        let fm = ModelFile.tensors(of: Model.initialized(config: ModelConfig(kind: .fm, fieldDims: [4, 6], embedDim: 3), seed: 1))
        #expect(fm.tensors.mapValues(\.shape) == ["embedding.embedding.weight": [10, 3], "linear.fc.weight": [10, 1], "linear.bias": [1]])
    }

    /// A file as `safetensors.torch.save_file(model.state_dict())` writes it: no fnn-par metadata.
    @Test func pyTorchFileLoadsWithFieldSizesFromTheData() throws {
        let model = trainedModel(ModelConfig(kind: .fnn, fieldDims: [7, 5], embedDim: 4, mlpDims: [6, 3], dropout: 0.2))
        var file = ModelFile.tensors(of: model)
        file.metadata = ["format": "pt"]
        let path = temporaryDirectory() + "/torch.safetensors"
        try file.write(path: path)
        let (loaded, info) = try ModelFile.load(path: path, fieldDims: [7, 5])
        #expect(!info.isNative && loaded.config.mlpDims == [6, 3] && loaded.config.embedDim == 4)
        #expect(loaded.embedding.bitwiseEqual(model.embedding) && loaded.dense.bitwiseEqual(model.dense))
        #expect(loaded.runningStats.bitwiseEqual(model.runningStats) && loaded.batchesTracked == model.batchesTracked)
        #expect(throws: ModelFileError.self) { try ModelFile.load(path: path, fieldDims: [7, 6]) }
        #expect(throws: ModelFileError.self) { try ModelFile.load(path: path) }
    }

    @Test func badFilesGiveOneLineErrors() throws {
        let dir = temporaryDirectory()
        let good = dir + "/good.safetensors"
        try ModelFile.save(trainedModel(ModelConfig(kind: .fm, fieldDims: [7, 5], embedDim: 4)), to: good)
        let bytes = try readFileBytes(good)
        func message(_ content: [UInt8]?, fieldDims: [Int]? = nil) -> String {
            let path = dir + "/bad-\(UUID().uuidString)"
            if let content { #expect(FileManager.default.createFile(atPath: path, contents: Data(content))) }
            do {
                _ = try ModelFile.load(path: path, fieldDims: fieldDims)
                return "loaded"
            } catch {
                #expect(!error.description.contains("\n"))
                return error.message
            }
        }
        #expect(message(nil).hasPrefix("cannot open"))
        #expect(message([]).contains("empty file"))
        #expect(message(Array(bytes.prefix(bytes.count - 10))).hasPrefix("truncated"))
        #expect(message(Array(bytes.prefix(5))).hasPrefix("truncated"))
        #expect(message(Array("hello, this is not a model file at all".utf8)).contains("not a safetensors"))
        var corrupt = bytes
        corrupt[12] = UInt8(ascii: "#")
        #expect(message(corrupt).contains("not a safetensors") || message(corrupt).contains("corrupt"))
        var foreign = SafeTensors()
        foreign.tensors["encoder.layer.0.weight"] = SafeTensors.Tensor(floats: [1, 2], shape: [2])
        #expect(message(foreign.serialized()).contains("not an FM or FNN model"))
        #expect(message(bytes, fieldDims: [7, 6]).contains("do not fit"))
        #expect(message(bytes, fieldDims: [7, 5]) == "loaded")
    }
}
