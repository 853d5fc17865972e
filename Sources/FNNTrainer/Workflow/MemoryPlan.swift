import FNNCore
/// What a training run will hold, estimated before anything is allocated, so that a run that
/// cannot fit is refused at once with the figures and the option that lowers them (rather than
/// killed by the kernel an hour in, or trapping on an allocation). Every buffer that scales with
/// the model, the batch, the thread count or the data is counted, mirroring what the engines
/// allocate (`workspaceBytes`, `optimizerBytes`; `MemoryPlanTests` holds the two together).
public struct MemoryPlan: Sendable, Equatable {
    /// The model's parameters and the best epoch's copy of them.
    public var parameters = 0
    /// Optimizer state: dense Adam's moments and the table rule's per-row state.
    public var optimizer = 0
    /// Batch workspace: activations, per-slice partial sums, row groupings, per-worker replicas.
    public var workspace = 0
    /// Validation and test scores and labels, and the validation row list.
    public var evaluation = 0
    /// Sharded tables: the lookup's buffers (fetched rows, the unique-row set, requests, rows
    /// served) and the positions as fetched and held indices.
    public var exchange = 0
    /// The examples, when held in memory (mapped data counts as the pages a run keeps resident).
    public var data = 0
    /// The Swift runtime, OpenBLAS, the worker stacks and the binary itself: measured at 25-35 MB.
    public var runtime = 32_000_000
    /// Where training keeps the table rows (fused records hold them a second time).
    public var rowLayout = RowRecords.Layout.separate
    /// Whether `parameters` counts the best epoch's copy (`TrainingRun.keepsBestCopy`).
    public var keepsBestCopy = true
    public var total: Int { parameters + optimizer + workspace + exchange + evaluation + data + runtime }

    /// nil when a size is out of bounds or a product overflows (`ModelConfig.checkedParameterCount`).
    /// `tableShards`: the ranks the tables are sharded across (1: each process holds them whole);
    /// the plan is then the largest shard's (rank 0's).
    public init?(config: ModelConfig, options: TrainingOptions, dataBytes: Int, validationRows: Int, testRows: Int,
                 threads: Int, concurrency: Int, tableShards: Int = 1) {
        guard let parameterCount = config.checkedParameterCount, tableShards >= 1 else { return nil }
        let (d, f, batch) = (config.embedDim, config.fieldCount, options.batchSize)
        let rows = TableShard.rows(of: 0, ranks: tableShards, tableRows: config.tableRows)
        let layout = DenseLayout(config)
        let slices = (batch + options.sliceRows - 1) / max(options.sliceRows, 1)
        let unheld = (config.tableRows - rows) * (d + (config.hasLinearTable ? 1 : 0))
        keepsBestCopy = TrainingRun.keepsBestCopy(epochs: options.epochs)
        parameters = (keepsBestCopy ? 2 : 1) * (parameterCount - unheld) * 4
        // The table rule's row records (`RowRecords`): fused ones hold the live rows too.
        let rowLayout = tableShards > 1 ? RowRecords.Layout.separate : options.rowLayout
        let rowState = options.tables.kind.rowState(width: d, hasLinear: config.hasLinearTable)
        self.rowLayout = rowLayout
        optimizer = 2 * layout.count * 4
            + RowRecords.byteCount(layout: rowLayout, rows: rows, width: d, narrow: rowState.narrow, wide: rowState.wide)
        // Row groupings: one slot per table row, and per part lists sized by the batch's positions
        // (multi-hot and valued rows reserve each field's most ids per example, each position
        // with its value and field beside its row).
        let perExample = config.schema?.positionsPerExample ?? f
        let positionBytes = config.schema == nil ? 4 : 12
        let positions = batch * perExample
        let unique = min(positions, rows)
        // Fused records hold the row slots.
        var work = (rowLayout == .fused ? 0 : rows * 4) + (rows / 64 + 1) * 4
        // Valued positions: each part keeps its positions' values and a coefficient per row.
        let valued = config.schema == nil ? 0 : 4
        work += max(concurrency, 1) * (unique * (4 * d + 12 + valued) + positions * (8 + valued))
        work += batch * (8 + perExample * positionBytes + 4 + 4 + 4)  // examples, positions, labels, logits, logit gradients
        if config.kind == .fm {
            work += batch * d * 4 + slices * (4 + 8) + slices * 3 * d * 4
        } else {
            let widths = layout.hidden.map(\.outputs)
            work += 2 * batch * config.mlpInputWidth * 4
            for w in widths { work += 4 * batch * w * 4 + batch * 8 + 4 * slices * w * 4 }
            work += slices * 3 * max(widths.max() ?? 1, 1) * 4 + slices * (layout.count * 4 + 8) + layout.count * 4
            if threads > 1 { work += threads * layout.count * 4 }
        }
        workspace = work
        if tableShards > 1 {
            // `ShardedTables`: fetched rows (one per position at most: repeats that collide in
            // the recent-row table are fetched again) with their linear weights, the rows served
            // (as many, at most), the recent-row table, five per-row lists and two per-position
            // lists, the per-rank counts, and the positions as (row, entry) pairs: a region per
            // owner out (virtual beyond what a step's pairs touch), the rank's own in.
            let lineBytes = (d + (config.hasLinearTable ? 1 : 0)) * 4
            exchange = 2 * positions * lineBytes + min(1 << 16, max(16, 2 * positions)) * 4 + (positions + 1) * 24
                + positions * 4 + 4 * tableShards * 8 + positions * 8 * (tableShards + 1)
            // An FNN over more than two ranks or several hosts: its positions' gradient entries
            // packed by owner, and those of its own rows received (`FNNEngine.entriesGoToOwners`).
            // Counted at two ranks too, which gather instead when they share a host: the plan is
            // made before the hosts are known, and an upper bound.
            if config.kind == .fnn { exchange += 2 * positions * config.fieldInputWidth * 4 }
        }
        evaluation = validationRows * 16 + testRows * 8
        data = dataBytes
    }

    /// The breakdown in GB, for the run's log and its refusal.
    public var summary: String {
        func size(_ bytes: Int) -> String {
            bytes >= 1_000_000_000 ? String(format: "%.2f GB", Double(bytes) / 1e9) : String(format: "%.1f MB", Double(bytes) / 1e6)
        }
        return "\(size(total)): parameters\(keepsBestCopy ? " and best copy" : "") \(size(parameters)), optimizer \(size(optimizer))\(rowLayout == .fused ? " (fused row records, the rows included)" : ""), workspace \(size(workspace)), "
            + (exchange > 0 ? "table exchange \(size(exchange)), " : "")
            + "evaluation \(size(evaluation)), data \(size(data)), runtime \(size(runtime))"
    }

    /// The part that dominates, with the option that shrinks it.
    public func advice(config: ModelConfig) -> String {
        let parts = [(parameters + optimizer, config.kind == .fnn && config.mlpDims.contains { $0 > 4096 }
                        ? "narrower --mlp layers" : "a smaller --embed-dim, a larger --min-count, or --optimizer rowwise-adagrad (4 bytes of state a row)"),
                     (workspace, "a smaller --batch-size, fewer --threads, or narrower --mlp layers"),
                     (data, "a --memory-budget, so the data streams from its cache"),
                     (evaluation, "smaller validation and test parts (--split)")]
        return parts.max { $0.0 < $1.0 }!.1
    }
}
