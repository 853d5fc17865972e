import FNNCore
import FNNExecution
import FNNSystem

/// The run's memory plan against the memory the process may really use: a run that would not
/// fit is refused before its model is allocated, with the breakdown and the option that lowers
/// the largest part. `alsoHeld`: bytes kept alongside (the experiment's FM while its FNNs train).
/// Returns the line that says what the plan is, for the caller to show.
public func checkTrainingMemory(_ config: ModelConfig, options: TrainingOptions, dataset: Dataset, split: DataSplit,
                                executor: PhaseExecutor, alsoHeld: Int = 0) throws(WorkflowError) -> String {
    try planTables(config, options: options, dataset: dataset, split: split, executor: executor, alsoHeld: alsoHeld,
                   placement: .replicated, ranks: 1).note
}

/// The memory check of a run of `ranks` processes, and where its tables go: `placement` auto
/// shards them when the whole table and its optimizer state would not fit a rank (and there is
/// more than one rank). Returns the shard count (1: whole tables) and the line to show.
public func planTables(_ config: ModelConfig, options: TrainingOptions, dataset: Dataset, split: DataSplit,
                       executor: PhaseExecutor, alsoHeld: Int = 0, placement: TablePlacement, ranks: Int) throws(WorkflowError)
    -> (shards: Int, note: String) {
    // The sharded exchange moves one table row per field of an example; multi-hot and valued
    // rows have not been taught to it, so they train on replicated tables.
    if dataset.variable != nil && ranks > 1 && placement != .replicated {
        guard placement != .sharded else {
            throw WorkflowError("\(dataset.name): --tables sharded takes one-hot fields only; multi-hot and valued fields (\(dataset.schema.summary)) train with --tables replicated")
        }
        return try planTables(config, options: options, dataset: dataset, split: split, executor: executor,
                              alsoHeld: alsoHeld, placement: .replicated, ranks: ranks)
    }
    if ranks > 1 && placement == .auto {
        if let whole = try? memoryNote(config, options: options, dataset: dataset, split: split, executor: executor,
                                       alsoHeld: alsoHeld, shards: 1) {
            return (1, whole + "; tables replicated on each of the \(ranks) ranks")
        }
    }
    let shards = ranks > 1 && placement != .replicated ? ranks : 1
    var note = try memoryNote(config, options: options, dataset: dataset, split: split, executor: executor, alsoHeld: alsoHeld,
                              shards: shards)
    if ranks > 1 {
        note += shards > 1 ? "; tables sharded across the \(ranks) ranks (row g at rank g mod \(ranks))" + (placement == .auto ? ": whole they would not fit a rank" : "")
            : "; tables replicated on each of the \(ranks) ranks"
    }
    return (shards, note)
}

func memoryNote(_ config: ModelConfig, options: TrainingOptions, dataset: Dataset, split: DataSplit,
                executor: PhaseExecutor, alsoHeld: Int, shards: Int) throws(WorkflowError) -> String {
    let rowBytes = (dataset.fieldCount + 1) * 4
    let dataBytes = dataset.isMapped
        ? min(dataset.binaryBytes, options.streamChunkRows.map { $0 * rowBytes * 2 * options.streamWindow } ?? dataset.binaryBytes)
        : dataset.binaryBytes
    let limit = MemoryLimit.current()
    guard var plan = MemoryPlan(config: config, options: options, dataBytes: dataBytes, validationRows: split.validationCount,
                                testRows: split.testCount, threads: executor.workerCount, concurrency: executor.concurrency,
                                tableShards: shards) else {
        throw WorkflowError("\(dataset.name): a \(config.kind.rawValue) model with \(config.implausibility ?? "these sizes") cannot be built")
    }
    plan.parameters += alsoHeld
    let gigabytes = String(format: "%.1f", Double(limit.bytes) / 1e9)
    guard Double(plan.total) <= Double(limit.bytes) * 0.9 else {
        let hashes = dataset.vocabulary == nil && plan.parameters + plan.optimizer > plan.total / 2
            ? " Check for ids that are really hashes or timestamps (\(config.tableRows) table rows), or use a format with vocabularies (criteo, avazu)." : ""
        throw WorkflowError("\(dataset.name): this \(config.kind.rawValue) run needs about \(plan.summary), more than \(gigabytes) GB, the limit set by \(limit.source). Lower it with \(plan.advice(config: config)).\(hashes)")
    }
    return "\(config.kind.rawValue) memory plan" + (shards > 1 ? " per rank" : "") + ": \(plan.summary); the limit is \(gigabytes) GB (\(limit.source))"
}
