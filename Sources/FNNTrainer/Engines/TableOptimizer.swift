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

    /// The table rows as training reads them now: the optimizer's fused records once it exists
    /// and keeps them there, else the model's tensors (an engine that only scores).
    func liveTable(of model: Model) -> TableRows {
        made?.liveTable(of: model) ?? TableOptimizer.tensorRows(of: model)
    }
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
         fieldCount: Int, mode: SparseUpdate, rates: LearningRateSchedule = .constant,
         rowLayout: RowRecords.Layout = .separate) {
        self.rates = rates
        dense = DenseAdam(config: config, count: denseCount)
        tableConfig = tables
        tableLearningRate = tables.learningRate(fieldCount: fieldCount, denseLearningRate: config.learningRate)
        if tables.kind == .adam {
            var rowConfig = config
            rowConfig.learningRate = tableLearningRate
            table = LazyRowAdam(config: rowConfig, rows: tableRows, width: width, hasLinear: hasLinear, layout: rowLayout)
            momentumFree = nil
            schedule = AdamSchedule(config: rowConfig)
        } else {
            table = nil
            momentumFree = RowAdagrad(kind: tables.kind, rows: tableRows, width: width, hasLinear: hasLinear,
                                      initialAccumulator: tables.initialAccumulator, layout: rowLayout)
            schedule = AdamSchedule(config: config)
        }
        self.mode = mode
    }

    /// The model's tensors as kernel rows.
    static func tensorRows(of model: Model) -> TableRows {
        TableRows(embedding: model.embedding.base, width: model.config.embedDim, linear: model.linear?.base)
    }

    /// The table rule's per-row state.
    var records: RowRecords { table?.records ?? momentumFree!.records }

    /// The layout an engine keeps: `asked`, where it can be had. A sharded table's owner serves
    /// its rows from the model's tensors.
    static func rowLayout(asked: RowRecords.Layout, model: Model) -> RowRecords.Layout {
        model.shard.isWholeTable ? asked : .separate
    }

    /// Fused: the model's `tableRevision` when the records and the tensors last agreed (an
    /// import or an export). Whichever was written last leads: the records after training
    /// steps, the tensors after a write from outside (`Model.tablesDidChange`).
    private var syncedTableRevision = 0

    /// Whether the model's tensors were written since the records last agreed with them.
    private func tensorsLead(_ model: Model) -> Bool { model.tableRevision != syncedTableRevision }

    /// Before a training step reads the rows: fused records take in the model's tensors when
    /// they were written since the two last agreed (and at the first step, when they never did).
    func adoptTableWrites(of model: Model) {
        guard records.layout == .fused && tensorsLead(model) else { return }
        records.importRows(table: model.embedding, linear: model.linear)
        syncedTableRevision = model.tableRevision
    }

    /// Where the rows are current now: the records while they lead, else the model's tensors.
    func liveTable(of model: Model) -> TableRows {
        guard records.layout == .fused, !tensorsLead(model) else { return Self.tensorRows(of: model) }
        let live = records.liveRows(table: model.embedding, linear: model.linear)
        return TableRows(embedding: live.table.base, rowStride: live.table.stride, linear: live.linear?.base,
                         linearStride: live.linear?.stride ?? 0)
    }

    /// The row slots the groupings use, when the records hold them.
    var recordSlots: RowSlots? { records.slots }

    /// Fused: the records out to the model's tensors, which are then current (nothing to do
    /// where the tensors lead).
    func publish(model: Model, executor: PhaseExecutor) {
        guard records.layout == .fused, !tensorsLead(model) else { return }
        records.exportAll(table: model.embedding, linear: model.linear, executor: executor, owned: model.tableRange.owned)
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

    /// Settles every row's pending catch-up (lazy Adam) at the end of `epoch`; the model's
    /// tensors are then current (fused records are copied out in the same pass).
    func synchronize(model: Model, epoch: Int, executor: PhaseExecutor) {
        adoptTableWrites(of: model)
        guard let table, mode == .lazy, dense.step > 0 else {
            publish(model: model, executor: executor)
            return
        }
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

    /// The rows themselves come from the model (fused records take them in at the next step:
    /// the resume's parameter copy moved `Model.tableRevision`).
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
