import FNNCore
import FNNExecution
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// The learning-rate schedule: its factors, and that every update path (dense Adam, lazy Adam's
/// steps and catch-ups, dense-table Adam, the momentum-free rules) scales by them.
@Suite struct LearningRateScheduleTests {
    @Test func factorsOfWarmUpAndDecay() {
        let schedule = LearningRateSchedule(decayPerEpoch: 0.5, warmupSteps: 4)
        let first = schedule.scale(epoch: 1), third = schedule.scale(epoch: 3)
        #expect([1, 2, 3, 4, 5].map { first.at(step: $0) } == [0.25, 0.5, 0.75, 1, 1])
        #expect(third.at(step: 100) == 0.25 && third.at(step: 2) == 0.125)
        #expect(LearningRateSchedule.constant.scale(epoch: 9).at(step: 1) == 1)
        #expect(LearningRateSchedule.constant.isConstant && !schedule.isConstant)
    }

    /// A factor of 1/2 is exact in binary, so an epoch whose rates are halved by the schedule must
    /// train exactly as base rates of half the size: same bits, over batches that leave rows
    /// untouched for several steps (lazy Adam's catch-up) and through the epoch-end settlement.
    @Test(arguments: [(ModelKind.fm, TableOptimizerConfig.Kind.adam, SparseUpdate.lazy), (.fm, .adam, .dense),
                      (.fm, .rowwiseAdagrad, .lazy), (.fm, .sgd, .lazy), (.fnn, .adam, .lazy), (.fnn, .adagrad, .lazy)])
    func halvedEpochEqualsHalvedRates(kind: ModelKind, rule: TableOptimizerConfig.Kind, sparse: SparseUpdate) {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 3).generate(rows: 3000)
        let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 8, mlpDims: [8], dropout: 0)
        func trained(lr: Float, tableLR: Float, rates: LearningRateSchedule) -> Model {
            var options = TrainingOptions()
            options.adam = AdamConfig(learningRate: lr)
            options.tables = TableOptimizerConfig(kind: rule, learningRate: tableLR, initialAccumulator: 10)
            options.sparseUpdate = sparse
            options.batchSize = 250
            options.rates = rates
            let engine = makeEngine(model: Model.initialized(config: config, seed: 2), data: data, options: options)
            let executor = SerialExecutor()
            for b in 0..<12 {
                let rows = Array((b * 250)..<((b + 1) * 250))
                _ = rows.withUnsafeBufferPointer { try! engine.trainStep(examples: $0.baseAddress!, count: 250, epoch: 2, executor: executor) }
            }
            engine.synchronizeTables(epoch: 2, executor: executor)
            return engine.model
        }
        let scheduled = trained(lr: 0.004, tableLR: 0.02, rates: LearningRateSchedule(decayPerEpoch: 0.5))
        let halved = trained(lr: 0.002, tableLR: 0.01, rates: .constant)
        let unscheduled = trained(lr: 0.004, tableLR: 0.02, rates: .constant)
        #expect(scheduled.bitwiseEqual(halved))
        #expect(!scheduled.bitwiseEqual(unscheduled))
    }

    /// Warm-up: the first step of a 4-step warm-up is a step at a quarter of the rates (exact),
    /// the fourth and later steps are full steps.
    @Test func firstWarmUpStepIsAQuarterStep() {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 4).generate(rows: 500)
        let config = ModelConfig(kind: .fm, fieldDims: data.fieldDims, embedDim: 8)
        func oneStep(lr: Float, rates: LearningRateSchedule) -> Model {
            var options = TrainingOptions()
            options.adam = AdamConfig(learningRate: lr)
            options.tables = TableOptimizerConfig(kind: .adam)
            options.batchSize = 500
            options.rates = rates
            let engine = makeEngine(model: Model.initialized(config: config, seed: 2), data: data, options: options)
            let rows = Array(0..<500)
            _ = rows.withUnsafeBufferPointer { try! engine.trainStep(examples: $0.baseAddress!, count: 500, epoch: 1, executor: SerialExecutor()) }
            engine.synchronizeTables(epoch: 1, executor: SerialExecutor())
            return engine.model
        }
        #expect(oneStep(lr: 0.01, rates: LearningRateSchedule(warmupSteps: 4)).bitwiseEqual(oneStep(lr: 0.0025, rates: .constant)))
        #expect(oneStep(lr: 0.01, rates: LearningRateSchedule(warmupSteps: 1)).bitwiseEqual(oneStep(lr: 0.01, rates: .constant)))
    }
}
