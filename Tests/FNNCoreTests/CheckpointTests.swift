import FNNCore
import FNNExecution
import FNNSystem
import FNNTrainer
import Foundation
import TestSupport
import Testing

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
