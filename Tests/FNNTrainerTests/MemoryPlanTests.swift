import FNNCore
import FNNExecution
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// The memory plan counts what the engines really allocate: its optimizer and workspace figures
/// against the engines' own byte counts after a step (when every per-part buffer exists), for
/// both models, every table rule and several thread counts.
@Suite struct MemoryPlanTests {
    @Test(arguments: [ModelKind.fm, .fnn], [1, 3])
    func planMatchesTheEnginesAllocations(kind: ModelKind, threads: Int) throws {
        let data = PlantedFMGenerator(fields: [.init(size: 5000, zipfExponent: 1.05), .init(size: 700, zipfExponent: 0.8),
                                               .init(size: 40, zipfExponent: 0)], latentDim: 4, seed: 3).generate(rows: 6000)
        let split = DataSplit(rowCount: data.rowCount, seed: 1)
        for rule in TableOptimizerConfig.Kind.allCases {
            let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 16, mlpDims: [64, 32])
            var options = TrainingOptions()
            options.batchSize = 1024
            options.tables = TableOptimizerConfig(kind: rule)
            let pool = WorkerPool(threads: threads)
            let engine = makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: options)
            let rows = Array(split.train.prefix(1024))
            _ = try rows.withUnsafeBufferPointer { try engine.trainStep(examples: $0.baseAddress!, count: 1024, epoch: 1, executor: pool) }
            let plan = MemoryPlan(config: config, options: options, dataBytes: data.binaryBytes, validationRows: split.validationCount,
                                  testRows: split.testCount, threads: pool.workerCount, concurrency: pool.concurrency)!
            let held = engine.optimizerBytes, work = engine.workspaceBytes
            #expect(abs(Double(plan.optimizer - held)) <= 0.05 * Double(held) + 1024, "\(kind) \(rule) \(threads): optimizer plan \(plan.optimizer), engine \(held)")
            #expect(Double(plan.workspace) >= 0.9 * Double(work) && Double(plan.workspace) <= 1.5 * Double(work) + 65536,
                    "\(kind) \(rule) \(threads): workspace plan \(plan.workspace), engine \(work)")
            #expect(plan.parameters == 2 * 4 * config.checkedParameterCount!)
        }
    }

    /// Multi-hot and valued rows: the plan counts each field's most ids per example, not one.
    @Test(arguments: [ModelKind.fm, .fnn])
    func planMatchesTheEnginesAllocationsOverMultiHotRows(kind: ModelKind) throws {
        let schema = FieldSchema(fields: [FieldSpec(name: "user"), FieldSpec(name: "tags", kind: .multiHot, pooling: .mean, maxIds: 12),
                                          FieldSpec(name: "age", kind: .numeric)])
        let data = randomVariableDataset(rows: 6000, fieldDims: [5000, 300, 1], schema: schema, seed: 3)
        let split = DataSplit(rowCount: data.rowCount, seed: 1)
        let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 16, mlpDims: [64, 32], schema: schema)
        var options = TrainingOptions()
        options.batchSize = 1024
        let pool = WorkerPool(threads: 2)
        let engine = makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: options)
        let rows = Array(split.train.prefix(1024))
        _ = try rows.withUnsafeBufferPointer { try engine.trainStep(examples: $0.baseAddress!, count: 1024, epoch: 1, executor: pool) }
        let plan = MemoryPlan(config: config, options: options, dataBytes: data.binaryBytes, validationRows: split.validationCount,
                              testRows: split.testCount, threads: pool.workerCount, concurrency: pool.concurrency)!
        let work = engine.workspaceBytes
        #expect(Double(plan.workspace) >= 0.9 * Double(work) && Double(plan.workspace) <= 1.5 * Double(work) + 65536,
                "\(kind): workspace plan \(plan.workspace), engine \(work)")
        let oneHot = MemoryPlan(config: ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 16, mlpDims: [64, 32]),
                                options: options, dataBytes: data.binaryBytes, validationRows: split.validationCount,
                                testRows: split.testCount, threads: pool.workerCount, concurrency: pool.concurrency)!
        #expect(plan.workspace > oneHot.workspace)
    }

    /// Sizes that overflow or are out of bounds give no plan (the caller refuses them), not a trap.
    @Test func impossibleSizesGiveNoPlan() {
        var options = TrainingOptions()
        options.batchSize = 2048
        for config in [ModelConfig(kind: .fm, fieldDims: [Int.max, 2]), ModelConfig(kind: .fnn, fieldDims: [10], mlpDims: [1 << 20]),
                       ModelConfig(kind: .fm, fieldDims: [10], embedDim: 0), ModelConfig(kind: .fm, fieldDims: [])] {
            #expect(MemoryPlan(config: config, options: options, dataBytes: 0, validationRows: 0, testRows: 0, threads: 1, concurrency: 1) == nil)
            #expect(config.implausibility != nil)
        }
    }
}

extension MemoryPlanTests {
    /// A rank holding a shard: the plan's parameters, optimizer state and table-exchange
    /// buffers against what the engine of each rank (threads over `InProcessRanks`) allocated.
    @Test(arguments: [ModelKind.fm, .fnn])
    func planOfAShardMatchesTheRanksAllocations(kind: ModelKind) throws {
        let data = PlantedFMGenerator(fields: [.init(size: 5000, zipfExponent: 1.05), .init(size: 700, zipfExponent: 0.8),
                                               .init(size: 40, zipfExponent: 0)], latentDim: 4, seed: 3).generate(rows: 6000)
        let split = DataSplit(rowCount: data.rowCount, seed: 1)
        let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 16, mlpDims: [32], fnnInput: .embeddingPlusLinear)
        let options = { () -> TrainingOptions in
            var options = TrainingOptions()
            options.batchSize = 1024
            options.tables = TableOptimizerConfig(kind: .adam)
            return options
        }()
        let ranks = 3
        let measured = InProcessRanks(size: ranks).run { rank, communicator in
            let shard = TableShard(tableRows: config.tableRows, rank: rank, ranks: ranks)
            let engine = makeEngine(model: Model.initialized(config: config, seed: 1, shard: shard), data: data, options: options,
                                    ranks: RankExchange(communicator))
            let rows = Array(split.train.prefix(1024))
            _ = try! rows.withUnsafeBufferPointer { try engine.trainStep(examples: $0.baseAddress!, count: 1024, epoch: 1, executor: FNNExecution.SerialExecutor()) }
            return UncheckedBox((engine.optimizerBytes, engine.workspaceBytes, engine.model.embedding.byteCount))
        }
        let plan = MemoryPlan(config: config, options: options, dataBytes: 0, validationRows: 0, testRows: 0, threads: 1, concurrency: 1,
                              tableShards: ranks)!
        let whole = MemoryPlan(config: config, options: options, dataBytes: 0, validationRows: 0, testRows: 0, threads: 1, concurrency: 1)!
        let (held, work, table): (Int, Int, Int) = measured[0].value
        let planned: Int = plan.workspace + plan.exchange
        let optimizerError = Double(abs(plan.optimizer - held))
        #expect(optimizerError <= 0.05 * Double(held) + 1024, "\(kind): optimizer plan \(plan.optimizer), rank 0 \(held)")
        let low = 0.9 * Double(work), high = 1.5 * Double(work) + 65536
        #expect(Double(planned) >= low && Double(planned) <= high, "\(kind): workspace and exchange plan \(planned), rank 0 \(work)")
        #expect(plan.keepsBestCopy && plan.parameters < whole.parameters / 2 && plan.parameters >= 2 * table,
                "\(kind): \(plan.parameters) of \(whole.parameters)")
    }
}
