import FNNCore
import FNNExecution
import FNNSystem

/// FNN training as phases over batch slices. BatchNorm needs whole-batch sums forward (mean,
/// variance) and backward (sum of dY and of dY * x-hat), so a step is: one forward phase per hidden
/// layer (each slice ends by publishing its partial moments), one backward phase per hidden layer
/// (each ends by publishing its partial BatchNorm-gradient sums), and an update phase. Every slice
/// reassembles the whole-batch sums itself, in slice order, so they are bit-identical everywhere.
public final class FNNEngine: TrainingEngine {
    public let model: Model
    public let adam: AdamConfig
    public let seed: UInt64
    public let sparseUpdate: SparseUpdate
    public let ranks: RankExchange
    let layout: SliceLayout
    let data: Dataset
    let dense: DenseLayout
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
    let x0: AlignedBuffer<Float>
    let dX0: AlignedBuffer<Float>
    /// Per hidden layer: pre-activation, replaced by x-hat in training.
    let z: [AlignedBuffer<Float>]
    let a: [AlignedBuffer<Float>]
    let gate: [AlignedBuffer<Float>]
    let dA: [AlignedBuffer<Float>]
    let dropoutKeys: [AlignedBuffer<UInt64>]
    let logitBuffer: AlignedBuffer<Float>
    let dLogits: AlignedBuffer<Float>
    /// Per hidden layer, per slice: 2 * width Doubles of forward moments, then 2 * width of
    /// backward sums.
    let moments: [AlignedBuffer<Double>]
    let backwardSums: [AlignedBuffer<Double>]
    /// Per hidden layer: the batch's mean, inverse std and unbiased variance, as each worker
    /// computed them (all identical; computing them once per worker instead of once per slice).
    let batchStats: WorkerBatchStatistics
    /// Per slice: 3 * max width of BatchNorm scratch.
    let sliceScratch: AlignedBuffer<Float>
    /// Per slice: this slice's gradient of every dense parameter.
    let slicePartials: AlignedBuffer<Float>
    let sliceLoss: AlignedBuffer<Double>
    var pendingCount = 0
    /// The epoch of the last `forwardBackward` (its learning rates apply to the update).
    var pendingEpoch = 1
    let updateScratch: AlignedBuffer<Float>
    /// Under several ranks: this rank's tree nodes of the dense gradient, laid out by the rank
    /// whose columns they go to (`RankExchange.scatterDenseNodes`); sized at first use.
    private var sentNodes: AlignedBuffer<Float>?
    /// Under several ranks: every rank's tree nodes at this rank's columns.
    private var receivedNodes: AlignedBuffer<Float>?
    let replicas: DenseReplicas
    /// The MLP's products: fp32 (OpenBLAS) or bf16 operands with fp32 sums.
    public let precision: MLPPrecision
    /// Under bf16: each worker's packed weights and staging space.
    let packedWeights: PackedWeightReplicas?
    /// Sharded tables only: rows fetched from their owners, positions as local rows (see
    /// `ShardedTables`).
    let sharded: ShardedTables?

    public init(model: Model, data: Dataset, adam: AdamConfig, batchCapacity: Int, seed: UInt64,
                sliceRows: Int = defaultSliceRows, sparseUpdate: SparseUpdate = .lazy, tables: TableOptimizerConfig = TableOptimizerConfig(),
                rates: LearningRateSchedule = .constant, ranks: RankExchange = RankExchange(), precision: MLPPrecision = .fp32,
                rowLayout: RowRecords.Layout = .separate) {
        precondition(model.config.kind == .fnn && model.config.fieldDims == data.fieldDims)
        precondition(precision == .fp32 || BFloat16GEMM.isSupported, "bf16 products need AVX512-BF16")
        precondition(data.variable == nil || model.shard.isWholeTable, "variable rows are not sharded")
        self.model = model
        self.ranks = ranks
        self.adam = adam
        self.data = data
        self.seed = seed
        layout = SliceLayout(capacity: batchCapacity, sliceRows: sliceRows)
        dense = model.layout
        let config = model.config
        let f = config.fieldCount, d = config.embedDim, rows = model.heldRows
        let slices = layout.maxSlices
        self.sparseUpdate = sparseUpdate
        let denseCount = dense.count
        let rowLayout = TableOptimizer.rowLayout(asked: rowLayout, model: model)
        self.rowLayout = rowLayout
        deferredOptimizer = DeferredTableOptimizer {
            let optimizer = TableOptimizer(config: adam, tables: tables, denseCount: denseCount, tableRows: rows, width: d,
                                           hasLinear: config.hasLinearTable, fieldCount: f, mode: sparseUpdate, rates: rates,
                                           rowLayout: rowLayout)
            return optimizer
        }
        positions = BatchPositions(fieldOffsets: model.offsets, capacity: batchCapacity, for: data)
        groupings = PartitionedRowGrouping(table: model.tableRange, maxPositions: batchCapacity * positions.stride, width: d,
                                           slotsInRecords: rowLayout == .fused)
        examples = AlignedBuffer(count: batchCapacity)
        labels = AlignedBuffer(count: batchCapacity)
        x0 = AlignedBuffer(uninitializedCount: batchCapacity * config.mlpInputWidth)
        dX0 = AlignedBuffer(uninitializedCount: batchCapacity * config.mlpInputWidth)
        z = dense.hidden.map { AlignedBuffer(uninitializedCount: batchCapacity * $0.outputs) }
        a = dense.hidden.map { AlignedBuffer(uninitializedCount: batchCapacity * $0.outputs) }
        gate = dense.hidden.map { AlignedBuffer(uninitializedCount: batchCapacity * $0.outputs) }
        dA = dense.hidden.map { AlignedBuffer(uninitializedCount: batchCapacity * $0.outputs) }
        dropoutKeys = dense.hidden.map { _ in AlignedBuffer(count: batchCapacity) }
        logitBuffer = AlignedBuffer(count: batchCapacity)
        dLogits = AlignedBuffer(count: batchCapacity)
        moments = dense.hidden.map { AlignedBuffer(count: slices * 2 * $0.outputs) }
        backwardSums = dense.hidden.map { AlignedBuffer(count: slices * 2 * $0.outputs) }
        batchStats = WorkerBatchStatistics(widths: dense.hidden.map(\.outputs))
        let maxWidth = max(dense.hidden.map(\.outputs).max() ?? 1, 1)
        sliceScratch = AlignedBuffer(count: slices * 3 * maxWidth)
        slicePartials = AlignedBuffer(uninitializedCount: slices * dense.count)
        sliceLoss = AlignedBuffer(count: slices)
        updateScratch = AlignedBuffer(count: dense.count)
        replicas = DenseReplicas(model: model)
        self.precision = precision
        packedWeights = precision == .bf16 ? PackedWeightReplicas(model: model, sliceRows: sliceRows) : nil
        sharded = model.shard.isWholeTable ? nil
            : ShardedTables(shard: model.shard, ranks: ranks, positions: batchCapacity * f, width: d, hasLinear: config.hasLinearTable)
    }

    var maxWidth: Int { max(dense.hidden.map(\.outputs).max() ?? 1, 1) }

    public var workspaceBytes: Int {
        var total = groupings.byteCount + examples.byteCount + positions.byteCount + labels.byteCount
        total += x0.byteCount + dX0.byteCount + logitBuffer.byteCount + dLogits.byteCount
        total += sliceScratch.byteCount + slicePartials.byteCount + sliceLoss.byteCount + updateScratch.byteCount
        total += replicas.byteCount + (packedWeights?.byteCount ?? 0) + (sentNodes?.byteCount ?? 0) + (receivedNodes?.byteCount ?? 0) + (sharded?.byteCount ?? 0)
        for layer in [z, a, gate, dA] { for buffer in layer { total += buffer.byteCount } }
        for buffer in dropoutKeys { total += buffer.byteCount }
        for buffer in moments + backwardSums { total += buffer.byteCount }
        return total
    }

    public func trainStep(examples batch: UnsafePointer<Int>, count: Int, epoch: Int, executor: PhaseExecutor) throws(CommunicatorError) -> Double {
        let loss = try forwardBackward(examples: batch, count: count, epoch: epoch, executor: executor)
        try applyUpdates(executor: executor)
        return loss
    }

    /// Forward and backward passes of one batch: leaves every slice's gradients in the workspace
    /// and returns the mean loss. `applyUpdates` then consumes them. Under several ranks this rank
    /// computes its share of the slices; after each phase the ranks exchange the slices' BatchNorm
    /// partials (every rank then adds all of them in slice order), and at the end the gradient
    /// entries and positions the table update reads.
    public func forwardBackward(examples batch: UnsafePointer<Int>, count: Int, epoch: Int, executor: PhaseExecutor) throws(CommunicatorError) -> Double {
        precondition(count > 1 && count <= layout.capacity, "BatchNorm needs at least 2 examples per batch")
        let config = model.config
        let inputWidth = config.mlpInputWidth
        let hidden = dense.hidden
        let layers = hidden.count
        let slices = layout.slices(for: count)
        let scratchStride = 3 * maxWidth
        let denseCount = dense.count
        let mine = ranks.slices(of: slices)

        examples.base.update(from: batch, count: count)
        prepareReplicas(executor)
        packedWeights?.prepare(workers: executor.workerCount)
        batchStats.begin(workers: executor.workerCount)

        optimizer.adoptTableWrites(of: model)
        // Sharded: the positions first, then this rank's rows from their owners.
        let tables = try sharded.map { (sharded) throws(CommunicatorError) in
            executor.run(.forward, tasks: mine.count) { t, _ in
                positions.gather(from: data, examples: examples.base, range: layout.rows(of: mine.lowerBound + t, count: count),
                                 batchLabels: labels.base)
            }
            return try sharded.fetch(positions: positions, rows: layout.rows(ofSlices: mine, count: count), model: model,
                                     positionsPerEntry: 1)
        } ?? (rows: positions.rows.base, table: optimizer.liveTable(of: model))
        // Forward: input gather and first linear layer.
        let variable = positions.variableLayout(examples: count)
        let stepKey = CounterRandom.key(seed, UInt64(epoch))
        executor.run(.forward, tasks: mine.count) { t, worker in
            let s = mine.lowerBound + t
            let params = replicas.parameters(worker: worker)
            let r = layout.rows(of: s, count: count)
            let n = r.count
            if sharded == nil { positions.gather(from: data, examples: examples.base, range: r, batchLabels: labels.base) }
            for i in r {
                let exampleKey = CounterRandom.key(extending: stepKey, third: UInt64(examples[i]))
                for l in 0..<layers {
                    dropoutKeys[l][i] = CounterRandom.key(extending: exampleKey, fourth: UInt64(l))
                }
            }
            gatherInput(rows: tables.rows, table: tables.table, variable: variable,
                        examples: r, x: x0.base + r.lowerBound * inputWidth)
            let h = hidden[0]
            linearForward(layer: 0, x: x0.base + r.lowerBound * inputWidth, rows: n, y: z[0].base + r.lowerBound * h.outputs,
                          parameters: params, worker: worker)
            MLPKernels.columnMoments(z[0].base + r.lowerBound * h.outputs, rows: n, width: h.outputs,
                                     sums: moments[0].base + s * 2 * h.outputs)
        }
        try ranks.shareSlices(moments[0], stride: 2 * hidden[0].outputs, slices: slices, what: "BatchNorm moments")

        // Forward through each hidden layer's BatchNorm; the last also runs the output layer,
        // the loss, and the first backward steps.
        for l in 0..<layers {
            let h = hidden[l]
            let w = h.outputs
            let isLast = l == layers - 1
            executor.run(.forward, tasks: mine.count) { t, worker in
                let s = mine.lowerBound + t
                let params = replicas.parameters(worker: worker)
                let r = layout.rows(of: s, count: count)
                let n = r.count
                let stats = batchStats.statistics(layer: l, worker: worker, moments: moments[l], slices: slices,
                                                  batchSize: count)
                MLPKernels.batchNormReLUDropoutTrain(
                    z: z[l].base + r.lowerBound * w, rows: n, width: w, mean: stats, inverseStd: stats + w,
                    gamma: params + h.gamma, beta: params + h.beta, dropout: config.dropout,
                    dropoutKeys: dropoutKeys[l].base + r.lowerBound,
                    a: a[l].base + r.lowerBound * w, gate: gate[l].base + r.lowerBound * w)
                if !isLast {
                    let next = hidden[l + 1]
                    self.linearForward(layer: l + 1, x: a[l].base + r.lowerBound * w, rows: n,
                                       y: z[l + 1].base + r.lowerBound * next.outputs, parameters: params, worker: worker)
                    MLPKernels.columnMoments(z[l + 1].base + r.lowerBound * next.outputs, rows: n, width: next.outputs,
                                             sums: moments[l + 1].base + s * 2 * next.outputs)
                    return
                }
                let partial = slicePartials.base + s * denseCount
                MLPKernels.outputForward(a: a[l].base + r.lowerBound * w, rows: n, width: w,
                                         weight: params + dense.outputWeight, bias: params[dense.outputBias],
                                         logits: logitBuffer.base + r.lowerBound)
                sliceLoss[s] = BinaryCrossEntropy.gradients(
                    logits: logitBuffer.base + r.lowerBound, labels: labels.base + r.lowerBound, rows: n,
                    batchSize: count, dLogits: dLogits.base + r.lowerBound)
                MLPKernels.outputBackward(a: a[l].base + r.lowerBound * w, rows: n, width: w,
                                          weight: params + dense.outputWeight, dLogits: dLogits.base + r.lowerBound,
                                          dWeight: partial + dense.outputWeight, dBias: partial + dense.outputBias,
                                          dA: dA[l].base + r.lowerBound * w)
                self.backwardPartials(layer: l, slice: s, rows: r)
            }
            if isLast {
                try ranks.shareSlices(backwardSums[l], stride: 2 * w, slices: slices, what: "BatchNorm backward sums")
            } else {
                try ranks.shareSlices(moments[l + 1], stride: 2 * hidden[l + 1].outputs, slices: slices, what: "BatchNorm moments")
            }
        }

        // Backward through each hidden layer.
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let h = hidden[l]
            let w = h.outputs
            executor.run(.backward, tasks: mine.count) { t, worker in
                let s = mine.lowerBound + t
                let params = replicas.parameters(worker: worker)
                let r = layout.rows(of: s, count: count)
                let n = r.count
                let partial = slicePartials.base + s * denseCount
                let stats = batchStats.statistics(layer: l, worker: worker, moments: moments[l], slices: slices,
                                                  batchSize: count)
                let scratch = sliceScratch.base + s * scratchStride
                let own = backwardSums[l].base + s * 2 * w
                for j in 0..<w {
                    partial[h.gamma + j] = Float(own[w + j])
                    partial[h.beta + j] = Float(own[j])
                }
                let sums = batchStats.backwardSums(layer: l, worker: worker, partials: backwardSums[l], slices: slices)
                MLPKernels.batchNormBackwardApply(
                    dY: dA[l].base + r.lowerBound * w, xhat: z[l].base + r.lowerBound * w, rows: n, width: w,
                    gamma: params + h.gamma, inverseStd: stats + w, batchSize: count,
                    sumDY: sums, sumDYXhat: sums + w, scratch: scratch)
                let input = l == 0 ? x0.base + r.lowerBound * inputWidth : a[l - 1].base + r.lowerBound * h.inputs
                let dInput = l == 0 ? dX0.base + r.lowerBound * inputWidth : dA[l - 1].base + r.lowerBound * h.inputs
                self.linearBackward(layer: l, x: input, rows: n, dZ: dA[l].base + r.lowerBound * w, dWeight: partial + h.weight,
                                    dBias: partial + h.bias, dX: dInput, parameters: params, worker: worker)
                if l > 0 { self.backwardPartials(layer: l - 1, slice: s, rows: r) }
            }
            if l > 0 {
                try ranks.shareSlices(backwardSums[l - 1], stride: 2 * hidden[l - 1].outputs, slices: slices,
                                      what: "BatchNorm backward sums")
            }
        }
        if !ranks.isSingle {
            try ranks.shareSlices(sliceLoss, stride: 1, slices: slices, what: "losses")
            if let sharded, entriesGoToOwners {
                // Each owner has its rows' positions from the lookup already, and receives their
                // entries alone: a position's entry is its own (its field's block of dX0).
                try sharded.sendEntries(dX0.base, width: model.config.fieldInputWidth)
            } else {
                try ranks.shareExamples(dX0.base, width: inputWidth, count: count, layout: layout, what: "gradient entries")
                // Sharded, each owner has its rows' positions from the lookup already.
                if sharded == nil { try ranks.sharePositions(positions, count: count, layout: layout) }
            }
        }
        pendingCount = count
        pendingEpoch = epoch
        var loss = 0.0
        for s in 0..<slices { loss += sliceLoss[s] }
        return loss / Double(count)
    }

    /// Sharded tables over more than two ranks, or over ranks on several hosts, send each owner
    /// only its rows' per-position gradient entries (each rank receives 1/R of what gathering
    /// every rank's batch moves; the same sums either way). Over two ranks on one host gathering
    /// measured faster: packing a rank's entries by owner cost more than the half it saves over
    /// shared memory (Criteo-shaped FNN 16,16: 0.88x); over a network the halved bytes are the
    /// step's largest exchange.
    var entriesGoToOwners: Bool { sharded != nil && (ranks.size > 2 || ranks.hostCount > 1) }

    /// The gradient of the last batch's mean loss, for tests and diagnostics.
    public func lastGradients() -> BatchGradients {
        precondition(sharded == nil, "lastGradients() reads the whole table")
        let config = model.config
        let slices = layout.slices(for: pendingCount)
        var sum = [Float](repeating: 0, count: dense.count)
        for s in 0..<slices {
            for j in 0..<dense.count { sum[j] += slicePartials[s * dense.count + j] }
        }
        return BatchGradients.collect(dense: sum, rowIds: positions.rows.base, positionCount: pendingCount * positions.stride,
                                      tableRows: config.tableRows, width: config.embedDim, table: deferredOptimizer.liveTable(of: model),
                                      gradients: rowGradients)
    }

    /// Each position's gradient is its field's block of the MLP input's gradient (times its value,
    /// for variable positions: several positions of a multi-hot field share the block).
    /// Where the entries go to owners (`entriesGoToOwners`): the entries each owner received for
    /// its pairs, in their order.
    var rowGradients: RowGradients {
        let fieldWidth = model.config.fieldInputWidth, hasLinear = model.config.hasLinearTable
        let entries = entriesGoToOwners ? sharded!.heldEntries : UnsafePointer(dX0.base)
        var gradients = RowGradients(embedding: entries + (hasLinear ? 1 : 0), embeddingStride: fieldWidth,
                                     linear: hasLinear ? entries : nil, linearStride: fieldWidth)
        gradients.variable = positions.variableLayout(examples: pendingCount)
        gradients.entryFieldCount = model.config.fieldCount
        return gradients
    }

    /// Hidden layer `layer`'s linear forward for a slice, through OpenBLAS or the bf16 kernel.
    @inline(__always) func linearForward(layer l: Int, x: UnsafePointer<Float>, rows n: Int, y: UnsafeMutablePointer<Float>,
                                         parameters params: UnsafePointer<Float>, worker: Int) {
        let h = dense.hidden[l]
        if let packed = packedWeights?.view(worker: worker, parameters: params) {
            MLPKernels.linearForward(x: x, rows: n, inputs: h.inputs, packed: packed.weight(l), bias: params + h.bias,
                                     outputs: h.outputs, y: y, scratch: packed.scratch(layers: dense.hidden.count))
        } else {
            MLPKernels.linearForward(x: x, rows: n, inputs: h.inputs, weight: params + h.weight, bias: params + h.bias,
                                     outputs: h.outputs, y: y)
        }
    }

    /// Hidden layer `layer`'s linear backward for a slice (dW, db, and dX when given).
    @inline(__always) func linearBackward(layer l: Int, x: UnsafePointer<Float>, rows n: Int, dZ: UnsafePointer<Float>,
                                          dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                          dX: UnsafeMutablePointer<Float>?, parameters params: UnsafePointer<Float>, worker: Int) {
        let h = dense.hidden[l]
        if let packed = packedWeights?.view(worker: worker, parameters: params) {
            MLPKernels.linearBackward(x: x, rows: n, inputs: h.inputs, packed: packed.weight(l), outputs: h.outputs, dZ: dZ,
                                      dWeight: dWeight, dBias: dBias, dX: dX, scratch: packed.scratch(layers: dense.hidden.count))
        } else {
            MLPKernels.linearBackward(x: x, rows: n, inputs: h.inputs, weight: params + h.weight, outputs: h.outputs, dZ: dZ,
                                      dWeight: dWeight, dBias: dBias, dX: dX)
        }
    }

    /// The MLP input of batch examples `examples` (one slice) from the rows the forward reads.
    @inline(__always) func gatherInput(rows: UnsafePointer<UInt32>, table: TableRows,
                                       variable: VariablePositions?, examples r: Range<Int>, x: UnsafeMutablePointer<Float>) {
        let config = model.config
        let first = rows + positions.firstPosition(ofExample: r.lowerBound)
        if let variable {
            EmbeddingKernels.gatherMLPInput(rowIds: first, layout: variable.from(example: r.lowerBound), rows: r.count,
                                            fieldCount: config.fieldCount, embedDim: config.embedDim, table: table, x: x)
        } else {
            EmbeddingKernels.gatherMLPInput(rowIds: first, rows: r.count, fieldCount: config.fieldCount, embedDim: config.embedDim,
                                            table: table, x: x)
        }
    }

    /// The optimizer step for the batch of the last `forwardBackward`.
    public func applyUpdates(executor: PhaseExecutor) throws(CommunicatorError) {
        let count = pendingCount
        let fields = positions.stride
        let workers = executor.workerCount
        // One part per CPU: each part scans the whole batch, so surplus threads would only
        // repeat that scan.
        let parts = executor.concurrency
        groupings.prepare(parts: parts, recordSlots: optimizer.recordSlots)
        let slices = layout.slices(for: count)
        let denseCount = dense.count
        // Dense parameters by partition; then touched table rows by partition and running statistics.
        let step = optimizer.beginStep(epoch: pendingEpoch)
        let rateScale = optimizer.stepRateScale
        let denseParts = partition(denseCount, parts: workers)
        let gradients = rowGradients
        if ranks.isSingle {
            executor.run(.denseUpdate, tasks: workers) { p, _ in
                // Reduce, then apply: each worker sums its partition of the dense gradient over
                // the slice tree and steps it.
                let range = denseParts[p], gradient = updateScratch.base + range.lowerBound
                SliceOrder.sum(slicePartials.base + range.lowerBound, sliceStride: denseCount, sliceCount: slices,
                               count: range.count, into: gradient)
                optimizer.dense.apply(parameters: model.dense, gradient: gradient, range: range, step: step, rateScale: rateScale)
            }
        } else {
            try stepAcrossRanks(slices: slices, executor: executor, denseParts: denseParts, step: step, rateScale: rateScale)
        }
        model.denseDidChange()
        updateRunningStatistics(slices: slices, batchSize: count)
        let rows = sharded?.held ?? (pairs: UnsafePointer(positions.rows.base), count: count * fields)
        executor.run(.sparseUpdate, tasks: parts) { p, _ in
            optimizer.updateTable(model: model, groupings: groupings, rowIds: rows.pairs, positionCount: rows.count, batchCount: count,
                                  part: p, step: step, gradients: gradients, pairs: sharded != nil)
        }
    }

    /// The dense step across ranks, ZeRO-1 style: each rank sums the tree nodes that cover its
    /// slices and sends each rank those nodes' values at that rank's columns (`denseColumns`);
    /// each rank finishes the tree for its own columns from everyone's nodes (the very additions
    /// of one process, so the same bits), steps those columns with Adam, and the ranks gather the
    /// stepped parameters. A rank's Adam moments are current for its own columns only until
    /// `gatherOptimizerState`. Bytes in per rank: about twice the dense vector, whatever R.
    private func stepAcrossRanks(slices: Int, executor: PhaseExecutor, denseParts: [Range<Int>], step: Int,
                                 rateScale: Float) throws(CommunicatorError) {
        let denseCount = dense.count
        let nodes = ranks.denseNodes(slices: slices)
        let columns = ranks.denseColumns(denseCount)
        let own = nodes.firstOfRank[ranks.rank]..<nodes.firstOfRank[ranks.rank + 1]
        let mine = columns[ranks.rank]
        if (sentNodes?.count ?? 0) < max(own.count * denseCount, 1) {
            sentNodes = AlignedBuffer(uninitializedCount: max(own.count * denseCount, 1))
        }
        if (receivedNodes?.count ?? 0) < max(nodes.all.count * mine.count, 1) {
            receivedNodes = AlignedBuffer(uninitializedCount: max(nodes.all.count * mine.count, 1))
        }
        let send = sentNodes!, received = receivedNodes!
        executor.run(.denseUpdate, tasks: denseParts.count) { p, _ in
            let range = denseParts[p]
            for target in columns {
                let lower = max(range.lowerBound, target.lowerBound), upper = min(range.upperBound, target.upperBound)
                guard lower < upper else { continue }
                let sub = lower..<upper
                for k in own {
                    let out = send.base + own.count * target.lowerBound + (k - own.lowerBound) * target.count + (sub.lowerBound - target.lowerBound)
                    SliceOrder.sum(node: nodes.all[k], count: sub.count, into: out) { leaf in
                        leaf.count == 1 ? UnsafePointer(slicePartials.base + leaf.lowerBound * denseCount + sub.lowerBound) : nil
                    }
                }
            }
        }
        try ranks.scatterDenseNodes(send: send, receive: received, nodes: nodes, columns: columns)
        let mineParts = partition(mine.count, parts: denseParts.count, alignment: 16).map { ($0.lowerBound + mine.lowerBound)..<($0.upperBound + mine.lowerBound) }
        executor.run(.denseUpdate, tasks: mineParts.count) { p, _ in
            let sub = mineParts[p]
            guard !sub.isEmpty else { return }
            SliceOrder.sum(node: 0..<slices, count: sub.count, into: updateScratch.base + sub.lowerBound) { node in
                nodes.all.firstIndex(of: node).map { UnsafePointer(received.base + $0 * mine.count + (sub.lowerBound - mine.lowerBound)) }
            }
            optimizer.dense.apply(parameters: model.dense, gradient: updateScratch.base + sub.lowerBound, range: sub, step: step,
                                  rateScale: rateScale)
        }
        try ranks.shareDenseColumns(model.dense, columns: columns, what: "dense parameters")
    }

    public func gatherOptimizerState() throws(CommunicatorError) {
        guard !ranks.isSingle, deferredOptimizer.isMade else { return }
        let columns = ranks.denseColumns(dense.count)
        try ranks.shareDenseColumns(optimizer.dense.m, columns: columns, what: "Adam moments")
        try ranks.shareDenseColumns(optimizer.dense.v, columns: columns, what: "Adam moments")
    }

    /// Sizes the per-worker replicas for this executor; on a change, each worker allocates and
    /// fills its own copy on its own thread, so the pages land on its NUMA node.
    private func prepareReplicas(_ executor: PhaseExecutor) {
        if replicas.prepare(workers: executor.workerCount) {
            executor.runOnEachWorker(.prepare) { w in _ = replicas.parameters(worker: w) }
        }
    }

    /// Gates dA of `layer` through ReLU/dropout and publishes the slice's BatchNorm-backward sums.
    private func backwardPartials(layer l: Int, slice s: Int, rows r: Range<Int>) {
        let w = dense.hidden[l].outputs
        MLPKernels.batchNormBackwardPartials(
            dA: dA[l].base + r.lowerBound * w, gate: gate[l].base + r.lowerBound * w,
            xhat: z[l].base + r.lowerBound * w, rows: r.count, width: w,
            sums: backwardSums[l].base + s * 2 * w)
    }

    /// torch's BatchNorm1d running statistics with momentum 0.1 and the unbiased batch variance,
    /// from the same slice moments (so the same bits) the workers used.
    private func updateRunningStatistics(slices: Int, batchSize: Int) {
        let m = MLPKernels.batchNormMomentum
        var offset = 0
        for (l, h) in dense.hidden.enumerated() {
            let w = h.outputs
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * w) { buffer in
                let stats = buffer.baseAddress!
                MLPKernels.batchStatistics(sliceMoments: moments[l].base, sliceCount: slices, stride: 2 * w, width: w,
                                           batchSize: batchSize, mean: stats, inverseStd: stats + w,
                                           unbiasedVariance: stats + 2 * w)
                for j in 0..<w {
                    let rm = model.runningStats.base + offset, rv = rm + w
                    rm[j] = (1 - m) * rm[j] + m * stats[j]
                    rv[j] = (1 - m) * rv[j] + m * stats[2 * w + j]
                }
            }
            offset += 2 * w
        }
        model.batchesTracked += 1
    }

    public func optimizerTensors() -> [String: SafeTensors.Tensor] { optimizer.tensors }

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
        let config = model.config
        let inputWidth = config.mlpInputWidth
        let hidden = dense.hidden
        let scratchStride = 3 * maxWidth
        var statsOffsets: [Int] = []
        var acc = 0
        for h in hidden { statsOffsets.append(acc); acc += 2 * h.outputs }
        prepareReplicas(executor)
        // Under several ranks each scores a contiguous run of the list's batches (whole batches:
        // the same slices, so the same bits) and the ranks gather the logits.
        // Sharded tables make every batch's lookup collective: the ranks go round as often as the
        // longest run, a rank past its own run looking up nothing.
        let chunks = ranks.batches(of: list.count, capacity: layout.capacity)
        let rounds = sharded == nil ? 0 : chunks.all.map { ($0.count + layout.capacity - 1) / layout.capacity }.max() ?? 0
        var start = chunks.mine.lowerBound, round = 0
        while start < chunks.mine.upperBound || round < rounds {
            let count = min(layout.capacity, max(0, chunks.mine.upperBound - start))
            defer { start += count; round += 1 }
            for i in 0..<count { examples[i] = list[start + i] }
            let tables = try sharded.map { (sharded) throws(CommunicatorError) in
                executor.run(.evaluate, tasks: layout.slices(for: count)) { s, _ in
                    positions.gather(from: data, examples: examples.base, range: layout.rows(of: s, count: count))
                }
                return try sharded.fetch(positions: positions, rows: 0..<count, model: model)
            } ?? (rows: positions.rows.base, table: deferredOptimizer.liveTable(of: model))
            let variable = positions.variableLayout(examples: count)
            executor.run(.evaluate, tasks: layout.slices(for: count)) { s, worker in
                let params = replicas.parameters(worker: worker)
                let r = layout.rows(of: s, count: count)
                let n = r.count
                if sharded == nil { positions.gather(from: data, examples: examples.base, range: r) }
                gatherInput(rows: tables.rows, table: tables.table, variable: variable,
                            examples: r, x: x0.base + r.lowerBound * inputWidth)
                var input = UnsafePointer(x0.base + r.lowerBound * inputWidth)
                for (l, h) in hidden.enumerated() {
                    let out = z[l].base + r.lowerBound * h.outputs
                    MLPKernels.linearForward(x: input, rows: n, inputs: h.inputs, weight: params + h.weight,
                                             bias: params + h.bias, outputs: h.outputs, y: out)
                    let rm = model.runningStats.base + statsOffsets[l]
                    MLPKernels.batchNormReLUEval(z: out, rows: n, width: h.outputs, runningMean: rm,
                                                 runningVariance: rm + h.outputs, gamma: params + h.gamma,
                                                 beta: params + h.beta, scratch: sliceScratch.base + s * scratchStride)
                    input = UnsafePointer(out)
                }
                MLPKernels.outputForward(a: input, rows: n, width: dense.outputInputs,
                                         weight: params + dense.outputWeight, bias: params[dense.outputBias],
                                         logits: logitBuffer.base + r.lowerBound)
            }
            for i in 0..<count { out[start + i] = logitBuffer[i] }
        }
        try ranks.shareRows(&out, parts: chunks.all, what: "evaluation logits")
        return out
    }
}
