import FNNCore
import FNNExecution
import FNNSystem

/// One throughput measurement as `fnn-par bench` makes it: a freshly initialised model (so the
/// peak resident set counts one model, as a training run does), one untimed step to touch the
/// workspace (page faults, first-touch placement), then `steps` timed steps over `order`.
public struct ThroughputMeasurement: Sendable {
    public var samplesPerSecond: Double
    public var phases: [PhaseProfile.Entry]
    public var peakRSSBytes: Int?
    /// What a run must hold: the data (ids and labels), the parameters and the optimizer state.
    public var stateBytes: Int
    public var workspaceBytes: Int
    /// Per kind of exchange between ranks: calls, bytes received and seconds (empty in one process).
    public var traffic: [String: RankExchange.Traffic] = [:]

    public static func measure(config: ModelConfig, dataset: Dataset, options: TrainingOptions, order: [Int], steps: Int,
                               executor: PhaseExecutor, ranks: RankExchange = RankExchange(),
                               shardTables: Bool = false) throws(CommunicatorError) -> ThroughputMeasurement {
        ResidentMemory.resetPeak()
        let shard = TableShard(tableRows: config.tableRows, rank: shardTables ? ranks.rank : 0, ranks: shardTables ? ranks.size : 1)
        let model = Model.initialized(config: config, seed: 1, shard: shard)
        let engine = makeEngine(model: model, data: dataset, options: options, ranks: ranks)
        try order.withUnsafeBufferPointer { (ids) throws(CommunicatorError) in
            _ = try engine.trainStep(examples: ids.baseAddress!, count: min(options.batchSize, ids.count), epoch: 0, executor: executor)
        }
        executor.profile.reset()
        ranks.resetTraffic()
        let start = PhaseProfile.now()
        var examples = 0
        try order.withUnsafeBufferPointer { (ids) throws(CommunicatorError) in
            var offset = 0
            for _ in 0..<steps {
                if offset >= ids.count { offset = 0 }
                let n = min(options.batchSize, ids.count - offset)
                if n >= 2 { _ = try engine.trainStep(examples: ids.baseAddress! + offset, count: n, epoch: 1, executor: executor) }
                examples += n
                offset += n
            }
        }
        let seconds = PhaseProfile.now() - start
        let parameters = model.embedding.byteCount + (model.linear?.byteCount ?? 0) + model.dense.byteCount
        return ThroughputMeasurement(
            samplesPerSecond: Double(examples) / seconds, phases: executor.profile.entries,
            peakRSSBytes: ResidentMemory.peakSinceReset,
            stateBytes: dataset.ids.byteCount + (dataset.variable?.byteCount ?? 0) + dataset.rowCount * 4 + parameters + engine.optimizerBytes,
            workspaceBytes: engine.workspaceBytes, traffic: ranks.traffic)
    }
}
