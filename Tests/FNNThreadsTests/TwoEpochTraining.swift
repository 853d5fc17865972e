import FNNCore
import FNNExecution
import FNNTrainer

/// The model after two epochs on `data` under `executor`: what the executor tests compare with
/// the serial executor's model, byte for byte.
func trainedTwoEpochs(_ config: ModelConfig, data: Dataset, seed: UInt64, batchSize: Int, executor: PhaseExecutor) -> Model {
    var options = TrainingOptions()
    options.epochs = 2
    options.patience = 0
    options.batchSize = batchSize
    let engine = makeEngine(model: Model.initialized(config: config, seed: seed), data: data, options: options)
    _ = train(engine: engine, data: data, split: DataSplit(rowCount: data.rowCount, seed: seed), options: options,
              executor: executor)
    return engine.model
}
