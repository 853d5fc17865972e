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

/// Files written by torchfm itself (Fixtures/torchfm, made by make_fixture.py there with torch
/// 2.15 and torchfm 0.7.0): our forward pass on their weights equals torchfm's eval-mode output.
@Suite struct TorchFixtureTests {
    struct Expected: Decodable {
        var field_dims: [Int]
        var inputs: [[UInt32]]
        var fm: [Double]
        var fnn: [Double]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/torchfm").path

    @Test(arguments: ["fm", "fnn"])
    func predictionsMatchTorchfm(name: String) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: Self.directory + "/expected.json")))
        let (model, info) = try ModelFile.load(path: Self.directory + "/\(name)_torch.safetensors", fieldDims: expected.field_dims)
        #expect(!info.isNative)
        #expect(model.config.kind == (name == "fm" ? .fm : .fnn))
        let data = Dataset(name: "fixture", fieldDims: expected.field_dims, ids: expected.inputs.flatMap { $0 },
                           labels: [Float](repeating: 0, count: expected.inputs.count))
        let engine = makeEngine(model: model, data: data, options: TrainingOptions())
        let probabilities = engine.logits(examples: Array(0..<data.rowCount), executor: SerialExecutor())
            .map { Double(BinaryCrossEntropy.sigmoid($0)) }
        let reference = name == "fm" ? expected.fm : expected.fnn
        #expect(probabilities.count == reference.count)
        for (ours, theirs) in zip(probabilities, reference) { #expect(abs(ours - theirs) < 1e-5, "\(ours) vs \(theirs)") }
        // And back out: our file of the same weights carries the same tensors.
        let path = temporaryDirectory() + "/again.safetensors"
        try ModelFile.save(model, to: path)
        let original = try SafeTensors.read(path: Self.directory + "/\(name)_torch.safetensors")
        let ours = try SafeTensors.read(path: path)
        #expect(Set(ours.tensors.keys) == Set(original.tensors.keys))
        for (key, tensor) in original.tensors {
            #expect(ours.tensors[key]?.shape == tensor.shape && ours.tensors[key]?.dtype == tensor.dtype)
            #expect(ours.tensors[key]?.bytes == tensor.bytes, "\(key)")
        }
    }
}

@Suite struct CheckpointTests {
    /// Interrupted mid-epoch, checkpointed, resumed in a fresh process-like setting: the final
    /// and best models equal an uninterrupted run's bit for bit.
    /// Every table rule's state (Adam's moments and step records, the Adagrads' accumulators)
    /// goes through the checkpoint.
    @Test(arguments: [(ModelKind.fm, TableOptimizerConfig.Kind.adam), (.fnn, .adam), (.fm, .rowwiseAdagrad), (.fm, .adagrad),
                      (.fnn, .rowwiseAdagrad), (.fm, .sgd)])
    func resumedRunEqualsUninterruptedRun(kind: ModelKind, rule: TableOptimizerConfig.Kind) throws {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 8).generate(rows: 4000)
        let split = DataSplit(rowCount: data.rowCount, seed: 2)
        let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [8, 4], dropout: 0.2)
        var options = TrainingOptions()
        options.epochs = 4
        options.patience = 0
        options.batchSize = 500
        options.tables = TableOptimizerConfig(kind: rule, l2: 0.01, initialAccumulator: 10)
        options.initialization = rule == .adam ? .torch : .normal(0.01)
        // A learning-rate schedule whose warm-up the interruption cuts (all but the first case).
        if !(kind == .fm && rule == .adam) { options.rates = LearningRateSchedule(decayPerEpoch: 0.8, warmupSteps: 12) }
        func makeRun() -> TrainingRun {
            let engine = makeEngine(model: Model.initialized(config: config, seed: 5, tables: options.initialization), data: data,
                                    options: options)
            return TrainingRun(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        }
        let whole = makeRun()
        let wholeResult = try whole.run()

        let path = temporaryDirectory() + "/run.ckpt"
        let first = makeRun()
        var steps = 0
        first.shouldStop = { steps += 1; return steps > 10 }  // 6.4 steps per epoch: stops in epoch 2
        let partial = try first.run()
        #expect(partial.interrupted && first.state.epoch == 2 && first.state.stepInEpoch > 0)
        try Checkpoint.write(first, to: path)

        let second = makeRun()
        try Checkpoint.resume(second, from: try Checkpoint.read(path: path), path: path)
        let resumed = try second.run()
        #expect(!resumed.interrupted)
        #expect(second.engine.model.bitwiseEqual(whole.engine.model))
        #expect(resumed.model.bitwiseEqual(wholeResult.model))
        #expect(resumed.history.map(\.validationAUC) == wholeResult.history.map(\.validationAUC))
        #expect(resumed.history.map(\.trainLoss) == wholeResult.history.map(\.trainLoss))
    }

    /// A finished run's checkpoint, resumed with a larger epoch limit, continues to the model of a
    /// run that had that limit from the start.
    @Test func resumeExtendsAFinishedRun() throws {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 4).generate(rows: 3000)
        let split = DataSplit(rowCount: data.rowCount, seed: 2)
        let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [6], dropout: 0.1)
        func makeRun(epochs: Int) -> TrainingRun {
            var options = TrainingOptions()
            options.epochs = epochs
            options.patience = 0
            options.batchSize = 400
            return TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 5), data: data, options: options),
                               data: data, split: split, options: options, executor: SerialExecutor())
        }
        let long = makeRun(epochs: 4)
        _ = try long.run()
        let short = makeRun(epochs: 2)
        _ = try short.run()
        let path = temporaryDirectory() + "/short.ckpt"
        try Checkpoint.write(short, to: path)
        let extended = makeRun(epochs: 4)
        try Checkpoint.resume(extended, from: try Checkpoint.read(path: path), path: path)
        let result = try extended.run()
        #expect(result.epochsRun == 4)
        #expect(extended.engine.model.bitwiseEqual(long.engine.model))
    }

    @Test func checkpointFromOtherOptionsIsRefused() throws {
        let data = randomDataset(rows: 500, fieldDims: [9, 4], seed: 1)
        let split = DataSplit(rowCount: 500, seed: 1)
        var options = TrainingOptions()
        options.epochs = 1
        options.batchSize = 100
        let config = ModelConfig(kind: .fm, fieldDims: data.fieldDims, embedDim: 4)
        let run = TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: options),
                              data: data, split: split, options: options, executor: SerialExecutor())
        _ = try run.run()
        let path = temporaryDirectory() + "/c.ckpt"
        try Checkpoint.write(run, to: path)
        var other = options
        other.adam.learningRate = 0.01
        let run2 = TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: other),
                               data: data, split: split, options: other, executor: SerialExecutor())
        #expect(throws: ModelFileError.self) { try Checkpoint.resume(run2, from: try Checkpoint.read(path: path), path: path) }
        // Another learning-rate schedule.
        var otherRates = options
        otherRates.rates = LearningRateSchedule(decayPerEpoch: 0.9)
        let run4 = TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: otherRates),
                               data: data, split: split, options: otherRates, executor: SerialExecutor())
        #expect(throws: ModelFileError.self) { try Checkpoint.resume(run4, from: try Checkpoint.read(path: path), path: path) }
        // Another table rule, or its learning rate.
        for tables in [TableOptimizerConfig(kind: .rowwiseAdagrad), TableOptimizerConfig(kind: .adam, learningRate: 0.5)] {
            var otherRule = options
            otherRule.tables = tables
            let run = TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: otherRule),
                                  data: data, split: split, options: otherRule, executor: SerialExecutor())
            #expect(throws: ModelFileError.self) { try Checkpoint.resume(run, from: try Checkpoint.read(path: path), path: path) }
        }
        let otherData = randomDataset(rows: 500, fieldDims: [9, 4], seed: 2)
        let run3 = TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 1), data: otherData, options: options),
                               data: otherData, split: split, options: options, executor: SerialExecutor())
        #expect(throws: ModelFileError.self) { try Checkpoint.resume(run3, from: try Checkpoint.read(path: path), path: path) }
        // A checkpoint is not a model file and the other way round.
        #expect(throws: ModelFileError.self) { try ModelFile.load(path: path) }
        let modelPath = temporaryDirectory() + "/m.safetensors"
        try ModelFile.save(run.engine.model, to: modelPath)
        #expect(throws: ModelFileError.self) { try Checkpoint.read(path: modelPath) }
        // Options recorded before the table rule was an option read as lazy Adam from torch's start.
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(options)) as! [String: Any]
        let older = encoded.filter { $0.key != "tables" && $0.key != "initialization" }
        let decoded = try JSONDecoder().decode(TrainingOptions.self, from: JSONSerialization.data(withJSONObject: older))
        #expect(decoded.tables == TableOptimizerConfig(kind: .adam) && decoded.initialization == .torch)
        #expect(decoded.sameTraining(as: options))
        // The initial accumulator is Adagrad's alone: Adam resolved for the FM (which records 100) is the same rule.
        #expect(TableOptimizerConfig(kind: .adam, initialAccumulator: 100).sameRule(as: TableOptimizerConfig(kind: .adam)))
        #expect(!TableOptimizerConfig(kind: .rowwiseAdagrad, initialAccumulator: 100).sameRule(as: TableOptimizerConfig(kind: .rowwiseAdagrad)))
        // A checkpoint of an earlier version (another split and optimizer layout) is refused.
        var old = try SafeTensors.read(path: path)
        old.metadata["checkpoint_version"] = nil
        try old.write(path: path)
        #expect(throws: ModelFileError.self) { try Checkpoint.read(path: path) }
    }
}
