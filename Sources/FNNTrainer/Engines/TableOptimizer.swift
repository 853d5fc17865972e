import FNNCore
import FNNExecution
import FNNSystem

/// An engine's `TableOptimizer`, made on first use (the first step or a checkpoint's restore,
/// both on the calling thread), so an engine that only scores (eval, predict, validation before
/// any step) holds no optimizer state: for lazy Adam that is twice the table again.
final class DeferredTableOptimizer: @unchecked Sendable {
    private let make: () -> TableOptimizer
    private var made: TableOptimizer?

    init(_ make: @escaping () -> TableOptimizer) { self.make = make }

    var value: TableOptimizer {
        if let made { return made }
        let optimizer = make()
        made = optimizer
        return optimizer
    }

    var isMade: Bool { made != nil }
}

/// The optimizer state both engines keep, and what they do with it alike: torch's Adam over the
/// dense vector, the table rule (lazy row Adam, Adagrad or SGD, see `TableOptimizerConfig`) over
/// the table's rows and, where the model has them, their linear weights, the global step, and the
/// checkpoint tensors.
final class TableOptimizer: @unchecked Sendable {
    let dense: DenseAdam
    let tableConfig: TableOptimizerConfig
    /// The table's rule: exactly one of these.
    let table: LazyRowAdam?
    let momentumFree: RowAdagrad?
    let schedule: AdamSchedule
    let mode: SparseUpdate
    /// The table rule's learning rate.
    let tableLearningRate: Float
    let rates: LearningRateSchedule
    /// The current epoch's factors, set by `beginStep`.
    private(set) var currentRates = LearningRateScale.one

    init(config: AdamConfig, tables: TableOptimizerConfig, denseCount: Int, tableRows: Int, width: Int, hasLinear: Bool,
         fieldCount: Int, mode: SparseUpdate, rates: LearningRateSchedule = .constant) {
        self.rates = rates
        dense = DenseAdam(config: config, count: denseCount)
        tableConfig = tables
        tableLearningRate = tables.learningRate(fieldCount: fieldCount, denseLearningRate: config.learningRate)
        if tables.kind == .adam {
            var rowConfig = config
            rowConfig.learningRate = tableLearningRate
            table = LazyRowAdam(config: rowConfig, rows: tableRows, width: width, hasLinear: hasLinear)
            momentumFree = nil
            schedule = AdamSchedule(config: rowConfig)
        } else {
            table = nil
            momentumFree = RowAdagrad(kind: tables.kind, rows: tableRows, width: width, hasLinear: hasLinear,
                                      initialAccumulator: tables.initialAccumulator)
            schedule = AdamSchedule(config: config)
        }
        self.mode = mode
    }

    /// Starts the next global step of `epoch` (on the calling thread, before the update phases);
    /// returns it.
    func beginStep(epoch: Int) -> Int {
        currentRates = rates.scale(epoch: epoch)
        dense.step += 1
        if table != nil { schedule.ensure(upTo: dense.step) }
        return dense.step
    }

    /// The learning-rate factor of the current step.
    var stepRateScale: Float { currentRates.at(step: dense.step) }

    /// Update task `part` of the table at `step` for a batch of `batchCount` examples (see
    /// `LazyRowAdam.apply`). `pairs`: `rowIds` holds `positionCount` (row, entry) pairs, a
    /// shard's own positions (see `RowGrouping.build`).
    func updateTable(model: Model, groupings: PartitionedRowGrouping, rowIds: UnsafePointer<UInt32>, positionCount: Int,
                     batchCount: Int, part: Int, step: Int, gradients: RowGradients, pairs: Bool = false) {
        let l2Scale = tableConfig.l2 / Float(batchCount)
        if let table {
            table.apply(mode, table: model.embedding, linear: model.linear, groupings: groupings, rowIds: rowIds,
                        positionCount: positionCount, part: part, step: step, schedule: schedule, l2Scale: l2Scale,
                        rates: currentRates, gradients: gradients, pairs: pairs)
        } else {
            let grouping = groupings.build(part: part, rowIds: rowIds, count: positionCount, gradients: gradients, pairs: pairs)
            momentumFree!.update(table: model.embedding, linear: model.linear, grouping: grouping,
                                 uniqueRange: 0..<grouping.uniqueCount, learningRate: tableLearningRate * currentRates.at(step: step),
                                 l2: tableConfig.l2,
                                 batchCount: batchCount)
            groupings.finish(part: part)
        }
    }

    /// Settles every row's pending catch-up (lazy Adam) at the end of `epoch`.
    func synchronize(model: Model, epoch: Int, executor: PhaseExecutor) {
        guard let table, mode == .lazy, dense.step > 0 else { return }
        schedule.ensure(upTo: dense.step)
        table.catchUpAll(table: model.embedding, linear: model.linear, globalStep: dense.step, schedule: schedule,
                         rates: rates.scale(epoch: epoch), executor: executor, owned: model.tableRange.owned)
    }

    var tensors: [String: SafeTensors.Tensor] {
        var t = dense.tensors(prefix: "adam.dense")
        if let table { t.merge(table.tensors(prefix: "adam.embedding", linearPrefix: "adam.linear")) { a, _ in a } }
        if let momentumFree { t.merge(momentumFree.tensors(prefix: "adagrad.embedding", linearPrefix: "adagrad.linear")) { a, _ in a } }
        return t
    }

    func restore(from file: SafeTensors, path: String) throws(ModelFileError) {
        try dense.restore(prefix: "adam.dense", from: file, path: path)
        if let table {
            try table.restore(prefix: "adam.embedding", linearPrefix: "adam.linear", from: file, path: path,
                              globalStep: dense.step)
        }
        if let momentumFree { try momentumFree.restore(prefix: "adagrad.embedding", linearPrefix: "adagrad.linear", from: file, path: path) }
    }

    /// Bytes of moments, accumulators and per-row records.
    var byteCount: Int {
        dense.m.byteCount + dense.v.byteCount + (table?.byteCount ?? 0)
            + (momentumFree?.byteCount ?? 0)
    }
}
