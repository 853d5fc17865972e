/// One model's training state (parameters, optimizer, batch workspace) and its step.
public protocol TrainingEngine: AnyObject {
    var model: Model { get }
    /// Trains on one minibatch of `count` example ids; returns the batch's mean loss.
    func trainStep(examples: UnsafePointer<Int>, count: Int, epoch: Int, executor: PhaseExecutor) -> Double
    /// The optimizer's state (moments, step counts) as named tensors, for checkpoints.
    func optimizerTensors() -> [String: SafeTensors.Tensor]
    /// Restores what `optimizerTensors` saved.
    func restoreOptimizer(from file: SafeTensors, path: String) throws(ModelFileError)
    /// Applies every table row's pending catch-up (see `LazyRowAdam`); called at epoch ends.
    /// `epoch`: the epoch just trained (its learning rates apply to the catch-up).
    func synchronizeTables(epoch: Int, executor: PhaseExecutor)
    /// Bytes of the batch workspace (activations, gradient entries, per-slice gradients, row
    /// grouping, per-worker copies): what training needs beyond the model and optimizer state.
    var workspaceBytes: Int { get }
    /// Bytes of the optimizer's state (moments, per-row step records).
    var optimizerBytes: Int { get }
    /// Whether the optimizer's state has been allocated: an engine that only scores never
    /// allocates it (it is made at the first step or restore).
    var holdsOptimizerState: Bool { get }
    /// Evaluation-mode logits, in the order of `examples`.
    func logits(examples: [Int], executor: PhaseExecutor) -> [Float]
}

/// Examples per slice: the unit of work handed to a thread and of every floating-point partial
/// sum. Fixed, so that the order of every sum, and so the trained model, does not depend on the
/// thread count; a batch of 2048 has 32 slices, enough for 32 threads.
public let defaultSliceRows = 64

/// Sizes a step's slices.
public struct SliceLayout: Sendable {
    public let sliceRows: Int
    public let capacity: Int
    public var maxSlices: Int { (capacity + sliceRows - 1) / sliceRows }

    public init(capacity: Int, sliceRows: Int = defaultSliceRows) {
        self.capacity = capacity
        self.sliceRows = sliceRows
    }

    public func slices(for count: Int) -> Int { (count + sliceRows - 1) / sliceRows }
    public func rows(of slice: Int, count: Int) -> Range<Int> {
        (slice * sliceRows)..<min(count, (slice + 1) * sliceRows)
    }
}

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
    /// `LazyRowAdam.apply`).
    func updateTable(model: Model, groupings: PartitionedRowGrouping, rowIds: UnsafePointer<UInt32>, positionCount: Int,
                     batchCount: Int, part: Int, step: Int, gradients: RowGradients) {
        let l2Scale = tableConfig.l2 / Float(batchCount)
        if let table {
            table.apply(mode, table: model.embedding, linear: model.linear, groupings: groupings, rowIds: rowIds,
                        positionCount: positionCount, part: part, step: step, schedule: schedule, l2Scale: l2Scale,
                        rates: currentRates, gradients: gradients)
        } else {
            let grouping = groupings.build(part: part, rowIds: rowIds, count: positionCount, gradients: gradients)
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
                         rates: rates.scale(epoch: epoch), executor: executor)
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
        dense.m.byteCount + dense.v.byteCount + (table.map { $0.moments.byteCount + $0.states.byteCount } ?? 0)
            + (momentumFree?.byteCount ?? 0)
    }
}

extension LazyRowAdam {
    func catchUpAll(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, globalStep: Int, schedule: AdamSchedule,
                    rates: LearningRateScale, executor: PhaseExecutor) {
        let parts = partition(rows, parts: executor.workerCount, alignment: 64)
        executor.run(.sparseUpdate, tasks: parts.count) { p, _ in
            catchUp(table: table, linear: linear, rowRange: parts[p], globalStep: globalStep, schedule: schedule, rates: rates)
        }
    }

    /// Task `part` of a step's table update: sums the gradients of its table range's rows over the
    /// batch positions, then updates those rows (lazy) or every row of the range (dense), then
    /// frees its row slots.
    func apply(
        _ mode: SparseUpdate, table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?,
        groupings: PartitionedRowGrouping, rowIds: UnsafePointer<UInt32>, positionCount: Int, part: Int, step: Int,
        schedule: AdamSchedule, l2Scale: Float = 0, rates: LearningRateScale = .one, gradients: RowGradients
    ) {
        let grouping = groupings.build(part: part, rowIds: rowIds, count: positionCount, gradients: gradients)
        switch mode {
        case .lazy:
            update(table: table, linear: linear, grouping: grouping, uniqueRange: 0..<grouping.uniqueCount,
                   globalStep: step, schedule: schedule, l2Scale: l2Scale, rates: rates)
        case .dense:
            updateAllRows(table: table, linear: linear, grouping: grouping, rowRange: groupings.rows(ofPart: part),
                          globalStep: step, schedule: schedule, l2Scale: l2Scale, rates: rates)
        }
        groupings.finish(part: part)
    }
}

/// A batch's full gradient in plain arrays, assembled from the workspace for tests.
public struct BatchGradients {
    public var dense: [Float]
    /// tableRows x embedDim.
    public var embedding: [Float]
    /// tableRows, when the model has a linear table.
    public var linear: [Float]?

    /// `table`: the embedding table as the forward pass saw it (FM's factored gradients need it).
    static func collect(dense: [Float], rowIds: UnsafePointer<UInt32>, positionCount: Int, tableRows: Int, width: Int,
                        table: UnsafePointer<Float>, gradients: RowGradients) -> BatchGradients {
        let grouping = RowGrouping(tableRows: tableRows, maxPositions: positionCount, width: width)
        grouping.build(rowIds: rowIds, count: positionCount, gradients: gradients)
        var e = [Float](repeating: 0, count: tableRows * width)
        var l: [Float]? = gradients.linear == nil ? nil : [Float](repeating: 0, count: tableRows)
        for u in 0..<grouping.uniqueCount {
            let row = Int(grouping.uniqueRows[u])
            let (g, linear) = grouping.gradient(ofUnique: u, row: table + row * width, width: width)
            for j in 0..<width { e[row * width + j] = g[j] }
            l?[row] = linear
        }
        return BatchGradients(dense: dense, embedding: e, linear: l)
    }
}

/// Checkpoint tensors of the optimizers.
extension DenseAdam {
    func tensors(prefix: String) -> [String: SafeTensors.Tensor] {
        [
            "\(prefix).m": ModelFile.tensor(m, [m.count]), "\(prefix).v": ModelFile.tensor(v, [v.count]),
            "\(prefix).step": SafeTensors.Tensor(int64: Int64(step)),
        ]
    }

    func restore(prefix: String, from file: SafeTensors, path: String) throws(ModelFileError) {
        try restoreFloats(file, "\(prefix).m", m, path: path)
        try restoreFloats(file, "\(prefix).v", v, path: path)
        guard let t = file.tensors["\(prefix).step"], t.dtype == .i64, t.elementCount == 1, t.int64 >= 0, t.int64 < Int64(UInt32.max) else {
            throw ModelFileError(path: path, "checkpoint lacks a valid '\(prefix).step'")
        }
        step = Int(t.int64)
    }
}

extension LazyRowAdam {
    /// The checkpoint tensors, in torch-like separate arrays: `prefix`.m / .v (rows x width),
    /// .steps / .last_update, and `linearPrefix`.m / .v for the linear weights.
    func tensors(prefix: String, linearPrefix: String) -> [String: SafeTensors.Tensor] {
        let rows = self.rows, width = self.width
        let moments = self.moments, states = self.states
        func momentTensor(_ half: Int) -> SafeTensors.Tensor {
            SafeTensors.Tensor(dtype: .f32, shape: [rows, width]) { raw in
                let out = raw.baseAddress!
                for r in 0..<rows {
                    (out + r * width * 4).copyMemory(from: moments.base + (r * 2 + half) * width, byteCount: width * 4)
                }
            }
        }
        func stateTensor(_ field: KeyPath<LazyRowState, UInt32>) -> SafeTensors.Tensor {
            SafeTensors.Tensor(dtype: .u32, shape: [rows]) { raw in
                for r in 0..<rows { raw.storeBytes(of: states[r][keyPath: field], toByteOffset: r * 4, as: UInt32.self) }
            }
        }
        var t = [
            "\(prefix).m": momentTensor(0), "\(prefix).v": momentTensor(1),
            "\(prefix).steps": stateTensor(\.steps), "\(prefix).last_update": stateTensor(\.lastUpdate),
        ]
        if hasLinear {
            for (name, field) in [("m", \LazyRowState.linearM), ("v", \LazyRowState.linearV)] {
                t["\(linearPrefix).\(name)"] = SafeTensors.Tensor(dtype: .f32, shape: [rows, 1]) { raw in
                    for r in 0..<rows { raw.storeBytes(of: states[r][keyPath: field], toByteOffset: r * 4, as: Float.self) }
                }
            }
        }
        return t
    }

    /// `globalStep`: the optimizer's restored step; every row's counts must lie within it.
    func restore(prefix: String, linearPrefix: String, from file: SafeTensors, path: String,
                 globalStep: Int) throws(ModelFileError) {
        var names = [("\(prefix).m", SafeTensors.DType.f32, width), ("\(prefix).v", .f32, width),
                     ("\(prefix).steps", .u32, 1), ("\(prefix).last_update", .u32, 1)]
        if hasLinear { names += [("\(linearPrefix).m", .f32, 1), ("\(linearPrefix).v", .f32, 1)] }
        for (name, dtype, perRow) in names {
            guard let t = file.tensors[name], t.dtype == dtype, t.elementCount == rows * perRow else {
                throw ModelFileError(path: path, "checkpoint lacks '\(name)' of \(rows * perRow) values")
            }
        }
        func bytes(_ name: String, _ body: (UnsafeRawBufferPointer) -> Void) { file.tensors[name]!.bytes.withUnsafeBytes(body) }
        let rows = self.rows, width = self.width
        for half in 0..<2 {
            bytes(half == 0 ? "\(prefix).m" : "\(prefix).v") { raw in
                for r in 0..<rows {
                    UnsafeMutableRawPointer(moments.base + (r * 2 + half) * width)
                        .copyMemory(from: raw.baseAddress! + r * width * 4, byteCount: width * 4)
                }
            }
        }
        bytes("\(prefix).steps") { raw in
            for r in 0..<rows { states[r].steps = raw.loadUnaligned(fromByteOffset: r * 4, as: UInt32.self) }
        }
        bytes("\(prefix).last_update") { raw in
            for r in 0..<rows { states[r].lastUpdate = raw.loadUnaligned(fromByteOffset: r * 4, as: UInt32.self) }
        }
        if hasLinear {
            bytes("\(linearPrefix).m") { raw in
                for r in 0..<rows { states[r].linearM = raw.loadUnaligned(fromByteOffset: r * 4, as: Float.self) }
            }
            bytes("\(linearPrefix).v") { raw in
                for r in 0..<rows { states[r].linearV = raw.loadUnaligned(fromByteOffset: r * 4, as: Float.self) }
            }
        }
        for r in 0..<rows where states[r].steps > states[r].lastUpdate || Int(states[r].lastUpdate) > globalStep {
            throw ModelFileError(path: path, "corrupt checkpoint: row \(r)'s step counts are inconsistent")
        }
    }
}

extension RowAdagrad {
    /// The checkpoint tensors: `prefix`.accumulator (rows x width, or rows x 1 row-wise) and
    /// `linearPrefix`.accumulator (rows x 1); SGD has none.
    func tensors(prefix: String, linearPrefix: String) -> [String: SafeTensors.Tensor] {
        var t: [String: SafeTensors.Tensor] = [:]
        if accumulatorsPerRow > 0 { t["\(prefix).accumulator"] = ModelFile.tensor(accumulators, [rows, accumulatorsPerRow]) }
        if linearAccumulators.count > 0 { t["\(linearPrefix).accumulator"] = ModelFile.tensor(linearAccumulators, [rows, 1]) }
        return t
    }

    func restore(prefix: String, linearPrefix: String, from file: SafeTensors, path: String) throws(ModelFileError) {
        if accumulatorsPerRow > 0 { try restoreFloats(file, "\(prefix).accumulator", accumulators, path: path) }
        if linearAccumulators.count > 0 { try restoreFloats(file, "\(linearPrefix).accumulator", linearAccumulators, path: path) }
        for i in 0..<accumulators.count where !(accumulators[i] >= 0) || !accumulators[i].isFinite {
            throw ModelFileError(path: path, "corrupt checkpoint: an Adagrad accumulator is negative or not finite")
        }
        for i in 0..<linearAccumulators.count where !(linearAccumulators[i] >= 0) || !linearAccumulators[i].isFinite {
            throw ModelFileError(path: path, "corrupt checkpoint: an Adagrad accumulator is negative or not finite")
        }
    }
}

func restoreFloats(_ file: SafeTensors, _ name: String, _ buffer: AlignedBuffer<Float>, path: String) throws(ModelFileError) {
    guard let t = file.tensors[name], t.dtype == .f32, t.elementCount == buffer.count else {
        throw ModelFileError(path: path, "checkpoint lacks '\(name)' of \(buffer.count) values")
    }
    t.copyFloats(into: buffer.base)
}
