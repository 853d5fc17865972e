import FNNCore
import FNNExecution
import FNNSystem

/// FM training: each slice computes its examples' logits, loss and gradients (in the factored form
/// of `RowGradients.fm`: one entry per example, not per position) in one pass; the bias (the only
/// dense parameter) and the touched table rows are then updated.
public final class FMEngine: TrainingEngine {
    public let model: Model
    public let adam: AdamConfig
    public let sparseUpdate: SparseUpdate
    public let ranks: RankExchange
    let layout: SliceLayout
    let data: Dataset
    let deferredOptimizer: DeferredTableOptimizer
    var optimizer: TableOptimizer { deferredOptimizer.value }
    /// Where training keeps the table rows (`RowRecords`): as asked, but separate arrays when
    /// the table is sharded (an owner serves its rows from the model's tensors).
    public let rowLayout: RowRecords.Layout
    public var holdsOptimizerState: Bool { deferredOptimizer.isMade }
    let groupings: PartitionedRowGrouping
    let examples: AlignedBuffer<Int>
    /// The batch as positions (table row per example and field): what every kernel after the gather reads.
    let positions: BatchPositions
    let labels: AlignedBuffer<Float>
    let dLogits: AlignedBuffer<Float>
    /// Per example, its logit gradient times its sum of embedding rows.
    let scaledSums: AlignedBuffer<Float>
    let logitBuffer: AlignedBuffer<Float>
    let sliceScratch: AlignedBuffer<Float>
    let slicePartials: AlignedBuffer<Float>
    let sliceLoss: AlignedBuffer<Double>
    /// Sharded tables only: the rows this rank's slices read, fetched from their owners, and
    /// each position as an index into them (`compactRows`) and as a local row here or the
    /// unowned row (`heldRows`, for the update).
    let sharded: ShardedTables?
    var pendingCount = 0
    /// The epoch of the last `forwardBackward` (its learning rates apply to the update).
    var pendingEpoch = 1
    /// Whether the last batch's update has been applied.
    var updated = false

    public init(model: Model, data: Dataset, adam: AdamConfig, batchCapacity: Int, sliceRows: Int = defaultSliceRows,
                sparseUpdate: SparseUpdate = .lazy, tables: TableOptimizerConfig = TableOptimizerConfig(),
                rates: LearningRateSchedule = .constant, ranks: RankExchange = RankExchange(),
                rowLayout: RowRecords.Layout = .separate) {
        precondition(model.config.kind == .fm && model.config.fieldDims == data.fieldDims)
        precondition(data.variable == nil || model.shard.isWholeTable, "variable rows are not sharded")
        self.model = model
        self.ranks = ranks
        self.adam = adam
        self.data = data
        layout = SliceLayout(capacity: batchCapacity, sliceRows: sliceRows)
        let f = model.config.fieldCount, d = model.config.embedDim
        let rows = model.heldRows
        self.sparseUpdate = sparseUpdate
        let rowLayout = TableOptimizer.rowLayout(asked: rowLayout, model: model)
        self.rowLayout = rowLayout
        deferredOptimizer = DeferredTableOptimizer {
            let optimizer = TableOptimizer(config: adam, tables: tables, denseCount: 1, tableRows: rows, width: d, hasLinear: true,
                                           fieldCount: f, mode: sparseUpdate, rates: rates, rowLayout: rowLayout)
            return optimizer
        }
        positions = BatchPositions(fieldOffsets: model.offsets, capacity: batchCapacity, for: data)
        groupings = PartitionedRowGrouping(table: model.tableRange, maxPositions: batchCapacity * positions.stride, width: d,
                                           slotsInRecords: rowLayout == .fused)
        examples = AlignedBuffer(count: batchCapacity)
        labels = AlignedBuffer(count: batchCapacity)
        dLogits = AlignedBuffer(uninitializedCount: batchCapacity)
        scaledSums = AlignedBuffer(uninitializedCount: batchCapacity * d)
        logitBuffer = AlignedBuffer(count: batchCapacity)
        sliceScratch = AlignedBuffer(count: layout.maxSlices * max(d, 16))
        slicePartials = AlignedBuffer(count: layout.maxSlices)
        sliceLoss = AlignedBuffer(count: layout.maxSlices)
        sharded = model.shard.isWholeTable ? nil
            : ShardedTables(shard: model.shard, ranks: ranks, positions: batchCapacity * f, width: d, hasLinear: true)
    }

    public var workspaceBytes: Int {
        groupings.byteCount + examples.byteCount + positions.byteCount + labels.byteCount + dLogits.byteCount
            + scaledSums.byteCount + logitBuffer.byteCount + sliceScratch.byteCount + slicePartials.byteCount + sliceLoss.byteCount
            + (sharded?.byteCount ?? 0)
    }

    public func trainStep(examples batch: UnsafePointer<Int>, count: Int, epoch: Int, executor: PhaseExecutor) throws(CommunicatorError) -> Double {
        let loss = try forwardBackward(examples: batch, count: count, epoch: epoch, executor: executor)
        applyUpdates(executor: executor)
        return loss
    }

    /// Forward and backward passes of one batch: leaves every slice's gradients in the workspace
    /// and returns the mean loss. `applyUpdates` then consumes them. Under several ranks this rank
    /// computes its share of the slices and the exchange fills in the rest: every rank then holds
    /// the whole batch's gradient entries and updates the replicated tables identically.
    public func forwardBackward(examples batch: UnsafePointer<Int>, count: Int, epoch: Int, executor: PhaseExecutor) throws(CommunicatorError) -> Double {
        precondition(count > 0 && count <= layout.capacity)
        let f = model.config.fieldCount, d = model.config.embedDim
        examples.base.update(from: batch, count: count)
        let slices = layout.slices(for: count)
        let bias = model.dense[0]
        let mine = ranks.slices(of: slices)
        optimizer.adoptTableWrites(of: model)
        // Sharded: the positions first, then this rank's rows from their owners.
        let tables = try sharded.map { (sharded) throws(CommunicatorError) in
            executor.run(.forward, tasks: mine.count) { t, _ in
                positions.gather(from: data, examples: examples.base, range: layout.rows(of: mine.lowerBound + t, count: count),
                                 batchLabels: labels.base)
            }
            return try sharded.fetch(positions: positions, rows: layout.rows(ofSlices: mine, count: count), model: model,
                                     positionsPerEntry: f)
        } ?? (rows: positions.rows.base, table: optimizer.liveTable(of: model))
        let variable = positions.variableLayout(examples: count)
        executor.run(.forward, tasks: mine.count) { t, _ in
            let s = mine.lowerBound + t
            let r = layout.rows(of: s, count: count)
            if sharded == nil { positions.gather(from: data, examples: examples.base, range: r, batchLabels: labels.base) }
            if let variable {
                let result = EmbeddingKernels.fmTrain(
                    rowIds: tables.rows + positions.firstPosition(ofExample: r.lowerBound), layout: variable.from(example: r.lowerBound),
                    labels: labels.base + r.lowerBound, rows: r.count, batchSize: count, embedDim: d,
                    table: tables.table, bias: bias,
                    dLogits: dLogits.base + r.lowerBound, scaledSums: scaledSums.base + r.lowerBound * d)
                sliceLoss[s] = result.loss
                slicePartials[s] = result.dBias
                return
            }
            let result = EmbeddingKernels.fmTrain(
                rowIds: tables.rows + positions.firstPosition(ofExample: r.lowerBound), labels: labels.base + r.lowerBound, rows: r.count,
                batchSize: count, fieldCount: f, embedDim: d,
                table: tables.table, bias: bias,
                dLogits: dLogits.base + r.lowerBound, scaledSums: scaledSums.base + r.lowerBound * d)
            sliceLoss[s] = result.loss
            slicePartials[s] = result.dBias
        }
        if !ranks.isSingle {
            try ranks.shareSlices(sliceLoss, stride: 1, slices: slices, what: "losses")
            try ranks.shareSlices(slicePartials, stride: 1, slices: slices, what: "dense gradient")
            try ranks.shareExamples(dLogits.base, width: 1, count: count, layout: layout, what: "gradient entries")
            try ranks.shareExamples(scaledSums.base, width: d, count: count, layout: layout, what: "gradient entries")
            // Sharded, each owner has its rows' positions from the lookup already.
            if sharded == nil { try ranks.sharePositions(positions, count: count, layout: layout) }
        }
        pendingCount = count
        pendingEpoch = epoch
        updated = false
        var loss = 0.0
        for s in 0..<slices { loss += sliceLoss[s] }
        return loss / Double(count)
    }

    /// The gradient of the last batch's mean loss, for tests and diagnostics: the dense vector
    /// ([bias]) and, per table row, the embedding and linear gradient (zero for untouched rows).
    /// Between `forwardBackward` and `applyUpdates` only: the factored gradients are completed
    /// with the rows' values, which the update changes.
    public func lastGradients() -> BatchGradients {
        precondition(!updated, "lastGradients() after applyUpdates: the rows have moved")
        precondition(sharded == nil, "lastGradients() reads the whole table")
        let slices = layout.slices(for: pendingCount)
        var bias: Float = 0
        for s in 0..<slices { bias += slicePartials[s] }
        return BatchGradients.collect(dense: [bias], rowIds: positions.rows.base, positionCount: pendingCount * positions.stride,
                                      tableRows: model.config.tableRows, width: model.config.embedDim,
                                      table: deferredOptimizer.liveTable(of: model), gradients: rowGradients)
    }

    var rowGradients: RowGradients {
        var gradients = RowGradients.fm(scaledSums: scaledSums.base, logitGradients: dLogits.base,
                                        embedDim: model.config.embedDim, fieldCount: positions.stride)
        gradients.variable = positions.variableLayout(examples: pendingCount)
        return gradients
    }

    /// The optimizer step for the batch of the last `forwardBackward`.
    public func applyUpdates(executor: PhaseExecutor) {
        let count = pendingCount
        let fields = positions.stride
        // One part per CPU: each part scans the whole batch, so surplus threads would only
        // repeat that scan.
        let parts = executor.concurrency
        groupings.prepare(parts: parts, recordSlots: optimizer.recordSlots)
        let slices = layout.slices(for: count)
        let gradients = rowGradients
        updated = true
        let step = optimizer.beginStep(epoch: pendingEpoch)
        let rows = sharded?.held ?? (pairs: UnsafePointer(positions.rows.base), count: count * fields)
        executor.run(.sparseUpdate, tasks: parts) { p, _ in
            if p == 0 {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 1) { scratch in
                    // The bias: reduce in slice order (every rank holds every slice's partial), then apply.
                    SliceOrder.sum(slicePartials.base, sliceStride: model.dense.count, sliceCount: slices, count: 1,
                                   into: scratch.baseAddress!)
                    optimizer.dense.apply(parameters: model.dense, gradient: scratch.baseAddress!, range: 0..<1, step: step,
                                          rateScale: optimizer.stepRateScale)
                }
            }
            optimizer.updateTable(model: model, groupings: groupings, rowIds: rows.pairs, positionCount: rows.count, batchCount: count,
                                  part: p, step: step, gradients: gradients, pairs: sharded != nil)
        }
    }

    public func optimizerTensors() -> [String: SafeTensors.Tensor] { optimizer.tensors }

    /// Every rank steps the whole (one-float) dense vector: nothing to gather.
    public func gatherOptimizerState() throws(CommunicatorError) {}

    public func restoreOptimizer(from file: SafeTensors, path: String) throws(ModelFileError) {
        try optimizer.restore(from: file, path: path)
    }

    public func synchronizeTables(epoch: Int, executor: PhaseExecutor) {
        optimizer.synchronize(model: model, epoch: epoch, executor: executor)
    }

    public func publishTables(executor: PhaseExecutor) {
        if deferredOptimizer.isMade { optimizer.publish(model: model, executor: executor) }
    }

    public var optimizerBytes: Int { optimizer.byteCount }

    public func logits(examples list: [Int], executor: PhaseExecutor) throws(CommunicatorError) -> [Float] {
        var out = [Float](repeating: 0, count: list.count)
        let f = model.config.fieldCount, d = model.config.embedDim
        let scratchStride = max(d, 16)
        // Under several ranks each scores a contiguous run of the list's batches (whole batches:
        // the same slices, so the same bits) and the ranks gather the logits. Sharded tables
        // make every batch's lookup collective: the ranks go round as often as the longest run,
        // a rank past its own run looking up nothing.
        let chunks = ranks.batches(of: list.count, capacity: layout.capacity)
        let rounds = sharded == nil ? 0 : chunks.all.map { ($0.count + layout.capacity - 1) / layout.capacity }.max() ?? 0
        var start = chunks.mine.lowerBound, round = 0
        while start < chunks.mine.upperBound || round < rounds {
            let count = min(layout.capacity, max(0, chunks.mine.upperBound - start))
            for i in 0..<count { examples[i] = list[start + i] }
            let tables = try sharded.map { (sharded) throws(CommunicatorError) in
                executor.run(.evaluate, tasks: layout.slices(for: count)) { s, _ in
                    positions.gather(from: data, examples: examples.base, range: layout.rows(of: s, count: count))
                }
                return try sharded.fetch(positions: positions, rows: 0..<count, model: model)
            } ?? (rows: positions.rows.base, table: deferredOptimizer.liveTable(of: model))
            let variable = positions.variableLayout(examples: count)
            executor.run(.evaluate, tasks: layout.slices(for: count)) { s, _ in
                let r = layout.rows(of: s, count: count)
                if sharded == nil { positions.gather(from: data, examples: examples.base, range: r) }
                if let variable {
                    EmbeddingKernels.fmForward(rowIds: tables.rows + positions.firstPosition(ofExample: r.lowerBound),
                                               layout: variable.from(example: r.lowerBound), rows: r.count, embedDim: d,
                                               table: tables.table, bias: model.dense[0],
                                               logits: logitBuffer.base + r.lowerBound,
                                               scratch: sliceScratch.base + s * scratchStride)
                    return
                }
                EmbeddingKernels.fmForward(rowIds: tables.rows + positions.firstPosition(ofExample: r.lowerBound), rows: r.count,
                                           fieldCount: f, embedDim: d, table: tables.table, bias: model.dense[0], logits: logitBuffer.base + r.lowerBound,
                                           scratch: sliceScratch.base + s * scratchStride)
            }
            for i in 0..<count { out[start + i] = logitBuffer[i] }
            start += count
            round += 1
        }
        try ranks.shareRows(&out, parts: chunks.all, what: "evaluation logits")
        return out
    }
}
