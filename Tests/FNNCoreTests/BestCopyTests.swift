import FNNCore
import FNNExecution
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// A run keeps its best epoch's parameters apart only where a later epoch can differ from the
/// best (more than one epoch); a one-epoch run's training model is its best, and the memory plan
/// counts it once. Resumes across the two kinds of run end where they should.
@Suite struct BestCopyTests {
    static let data = PlantedFMGenerator.movieLens1MShape(seed: 6).generate(rows: 3000)
    static let split = DataSplit(rowCount: data.rowCount, seed: 3)
    static let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [6], dropout: 0.1)

    static func makeRun(epochs: Int, split: DataSplit = split) -> TrainingRun {
        var options = TrainingOptions()
        options.epochs = epochs
        options.patience = 0
        options.batchSize = 400
        return TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 5), data: data, options: options),
                           data: data, split: split, options: options, executor: SerialExecutor())
    }

    /// Without validation rows each epoch's model is the one kept, yet a run of several epochs
    /// keeps a copy: its checkpoint from inside epoch 2, resumed with `--epochs 1`, has nothing
    /// left to train and must give epoch 1's model, not the half-trained one.
    @Test func aRunWithoutValidationResumedWithFewerEpochsGivesItsLastFinishedEpoch() throws {
        let all = DataSplit.allRows(rowCount: Self.data.rowCount, seed: 3)
        #expect(all.validationCount == 0)
        let one = try Self.makeRun(epochs: 1, split: all).run()
        let long = Self.makeRun(epochs: 3, split: all)
        #expect(long.keepsBestCopy)
        let stepsPerEpoch = (all.trainCount + 399) / 400
        var steps = 0
        long.shouldStop = { steps += 1; return steps > stepsPerEpoch + 2 }
        let partial = try long.run()
        #expect(partial.interrupted && long.state.epoch == 2 && long.state.stepInEpoch == 2)
        let path = temporaryDirectory() + "/all.ckpt"
        try Checkpoint.write(long, to: path)
        let resumed = Self.makeRun(epochs: 1, split: all)
        try Checkpoint.resume(resumed, from: try Checkpoint.read(path: path), path: path)
        #expect(resumed.state.finished)
        let result = try resumed.run()
        #expect(result.model.bitwiseEqual(one.model) && result.bestEpoch == 1)
    }

    @Test func onlyARunOfSeveralEpochsKeepsACopy() throws {
        let one = Self.makeRun(epochs: 1), three = Self.makeRun(epochs: 3)
        #expect(!one.keepsBestCopy && one.best === one.engine.model)
        #expect(three.keepsBestCopy && three.best !== three.engine.model)
        #expect(!TrainingRun.keepsBestCopy(epochs: 1) && TrainingRun.keepsBestCopy(epochs: 2))
        // One epoch's result is its training model, handed over as it is.
        let result = try one.run()
        #expect(result.model === one.engine.model && result.bestEpoch == 1)
    }

    @Test func thePlanCountsTheParametersOnceWithoutACopy() {
        var options = TrainingOptions()
        options.epochs = 1
        let once = MemoryPlan(config: Self.config, options: options, dataBytes: 0, validationRows: 100, testRows: 0, threads: 1,
                              concurrency: 1)!
        options.epochs = 3
        let twice = MemoryPlan(config: Self.config, options: options, dataBytes: 0, validationRows: 100, testRows: 0, threads: 1,
                               concurrency: 1)!
        #expect(!once.keepsBestCopy && twice.keepsBestCopy && twice.parameters == 2 * once.parameters)
        #expect(once.parameters == 4 * Self.config.checkedParameterCount!)
        #expect(!once.summary.contains("best copy") && twice.summary.contains("best copy"))
    }

    /// A longer run's checkpoint from the middle of its first epoch holds the initial parameters
    /// as its best; resumed as a one-epoch run (no copy), training goes on from the checkpoint's
    /// model, not from that best, and ends at the model of an uninterrupted one-epoch run.
    @Test func aOneEpochResumeContinuesTheModelNotTheSavedBest() throws {
        let whole = try Self.makeRun(epochs: 1).run()
        let long = Self.makeRun(epochs: 3)
        var steps = 0
        long.shouldStop = { steps += 1; return steps > 3 }
        let partial = try long.run()
        #expect(partial.interrupted && long.state.epoch == 1 && long.state.stepInEpoch == 3)
        let path = temporaryDirectory() + "/long.ckpt"
        try Checkpoint.write(long, to: path)
        let resumed = Self.makeRun(epochs: 1)
        try Checkpoint.resume(resumed, from: try Checkpoint.read(path: path), path: path)
        let result = try resumed.run()
        #expect(!result.interrupted && result.model.bitwiseEqual(whole.model))
    }

    /// A finished longer run resumed with one epoch has nothing left to train: its result is
    /// the saved best epoch's model, now held by the engine.
    @Test func aFinishedRunResumedWithoutACopyGivesItsBest() throws {
        let long = Self.makeRun(epochs: 3)
        let longResult = try long.run()
        let path = temporaryDirectory() + "/finished.ckpt"
        try Checkpoint.write(long, to: path)
        let resumed = Self.makeRun(epochs: 1)
        try Checkpoint.resume(resumed, from: try Checkpoint.read(path: path), path: path)
        #expect(resumed.state.finished)
        let result = try resumed.run()
        #expect(result.model.bitwiseEqual(longResult.model) && result.bestEpoch == longResult.bestEpoch)
    }
}
