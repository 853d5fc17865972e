import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

/// Scoring allocates no optimizer state (for lazy Adam, twice the table again): an engine that
/// has only computed logits holds none; its first step makes it, and scoring gives the same
/// logits either way.
@Suite struct ScoringWithoutOptimizerStateTests {
    @Test(arguments: [ModelKind.fm, .fnn])
    func scoringAloneAllocatesNoOptimizerState(kind: ModelKind) throws {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 5).generate(rows: 1000)
        let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 8, mlpDims: [8])
        var options = TrainingOptions()
        options.batchSize = 500
        let model = Model.initialized(config: config, seed: 3)
        let scorer = makeEngine(model: model.copy(), data: data, options: options)
        let logits = try scorer.logits(examples: Array(0..<1000), executor: SerialExecutor())
        #expect(!scorer.holdsOptimizerState)
        let trainer = makeEngine(model: model.copy(), data: data, options: options)
        #expect(try trainer.logits(examples: Array(0..<1000), executor: SerialExecutor()) == logits)
        let rows = Array(0..<500)
        _ = try rows.withUnsafeBufferPointer { try trainer.trainStep(examples: $0.baseAddress!, count: 500, epoch: 1, executor: SerialExecutor()) }
        #expect(trainer.holdsOptimizerState && trainer.optimizerBytes > 0)
    }
}
