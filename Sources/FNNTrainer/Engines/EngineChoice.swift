import FNNCore
import FNNExecution
import Foundation

/// Builds the engine for a model's kind.
/// `ranks`: the processes that share its steps (one by default).
public func makeEngine(model: Model, data: Dataset, options: TrainingOptions, ranks: RankExchange = RankExchange()) -> TrainingEngine {
    switch model.config.kind {
    case .fm:
        return FMEngine(model: model, data: data, adam: options.adam, batchCapacity: options.batchSize,
                        sliceRows: options.sliceRows, sparseUpdate: options.sparseUpdate, tables: options.tables,
                        rates: options.rates, ranks: ranks, rowLayout: options.rowLayout)
    case .fnn:
        return FNNEngine(model: model, data: data, adam: options.adam, batchCapacity: options.batchSize,
                         seed: options.seed, sliceRows: options.sliceRows, sparseUpdate: options.sparseUpdate,
                         tables: options.tables, rates: options.rates, ranks: ranks, precision: options.mlpPrecision,
                         rowLayout: options.rowLayout)
    }
}
