import FNNCore
import FNNExecution
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// A run keeps its best epoch's parameters apart only where a later epoch can be worse (more than
/// one epoch, with validation rows); otherwise the training model is the best, and the memory
/// plan counts it once. Resumes across the two kinds of run end where they should.
@Suite struct BestCopyTests {
    static let data = PlantedFMGenerator.movieLens1MShape(seed: 6).generate(rows: 3000)
    static let split = DataSplit(rowCount: data.rowCount, seed: 3)
    static let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [6], dropout: 0.1)

    static func makeRun(epochs: Int) -> TrainingRun {
        var options = TrainingOptions()
        options.epochs = epochs
        options.patience = 0
        options.batchSize = 400
        return TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 5), data: data, options: options),
                           data: data, split: split, options: options, executor: SerialExecutor())
    }

    @Test func onlyARunOfSeveralEpochsKeepsACopy() throws {
        let one = Self.makeRun(epochs: 1), three = Self.makeRun(epochs: 3)
        #expect(!one.keepsBestCopy && one.best === one.engine.model)
        #expect(three.keepsBestCopy && three.best !== three.engine.model)
        #expect(!TrainingRun.keepsBestCopy(epochs: 3, validationRows: 0) && TrainingRun.keepsBestCopy(epochs: 2, validationRows: 1))
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
