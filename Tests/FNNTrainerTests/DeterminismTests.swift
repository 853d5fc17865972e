import FNNCore
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// The determinism contract: for a seed and data, the trained model is bit-for-bit the same for
/// every thread count.
@Suite(.serialized) struct DeterminismTests {
    static let data: Dataset = {
        // Skewed ids so that some rows are hit by many slices and others by one.
        PlantedFMGenerator(fields: [.init(size: 300, zipfExponent: 1.1), .init(size: 120, zipfExponent: 0.5),
                                    .init(size: 7, zipfExponent: 0)], latentDim: 4, seed: 12).generate(rows: 5000)
    }()

    func trained(_ config: ModelConfig, threads: Int, sparse: SparseUpdate = .lazy,
                 tables: TableOptimizerConfig = TableOptimizerConfig(), start: TableInitialization = .torch,
                 rates: LearningRateSchedule = .constant) -> (Model, [EpochRecord]) {
        let data = Self.data
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        var options = TrainingOptions()
        options.epochs = 3
        options.patience = 0
        options.batchSize = 1000
        options.seed = 4
        options.sparseUpdate = sparse
        options.tables = tables
        options.initialization = start
        options.rates = rates
        let model = Model.initialized(config: config, seed: 4, tables: start)
        let engine = makeEngine(model: model, data: data, options: options)
        let pool = WorkerPool(threads: threads)
        let result = train(engine: engine, data: data, split: split, options: options, executor: pool)
        return (engine.model, result.history)
    }

    func checkAllThreadCounts(_ config: ModelConfig, sparse: SparseUpdate = .lazy,
                              tables: TableOptimizerConfig = TableOptimizerConfig(), start: TableInitialization = .torch,
                              rates: LearningRateSchedule = .constant) {
        let (reference, history) = trained(config, threads: 1, sparse: sparse, tables: tables, start: start, rates: rates)
        for threads in [2, 3, 8, 17] {
            let (model, h) = trained(config, threads: threads, sparse: sparse, tables: tables, start: start, rates: rates)
            #expect(model.bitwiseEqual(reference), "\(config.kind) with \(threads) threads differs from 1 thread")
            #expect(h.map(\.trainLoss) == history.map(\.trainLoss))
            #expect(h.map(\.validationAUC) == history.map(\.validationAUC))
        }
    }

    @Test func factorizationMachine() {
        checkAllThreadCounts(ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 8))
    }

    /// The default width (the kernels' constant-width paths) and torch's dense table updates.
    @Test func factorizationMachineDefaultWidthDenseUpdates() {
        checkAllThreadCounts(ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 16), sparse: .dense)
    }

    /// Every momentum-free table rule, with per-occurrence L2, at the default width and another.
    @Test(arguments: [TableOptimizerConfig.Kind.rowwiseAdagrad, .adagrad, .sgd], [16, 5])
    func factorizationMachineMomentumFreeRules(rule: TableOptimizerConfig.Kind, width: Int) {
        let tables = TableOptimizerConfig(kind: rule, l2: 0.01, initialAccumulator: 100)
        checkAllThreadCounts(ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: width), tables: tables,
                             start: .normal(0.01))
    }

    /// The recommended FM setup, and Adam with per-occurrence L2.
    @Test func factorizationMachineRecommendedAndAdamWithL2() {
        let config = ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 16)
        checkAllThreadCounts(config, tables: .recommended(for: .fm), start: .recommended(for: .fm))
        checkAllThreadCounts(config, tables: TableOptimizerConfig(kind: .adam, l2: 0.05), start: .normal(0.01))
    }

    @Test func fnnWithRowwiseAdagradTables() {
        checkAllThreadCounts(ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 8, mlpDims: [16, 8], dropout: 0.2,
                                         fnnInput: .embeddingPlusLinear),
                             tables: TableOptimizerConfig(kind: .rowwiseAdagrad, learningRate: 0.05, l2: 0.01, initialAccumulator: 10))
    }

    /// A learning-rate schedule (warm-up across the first epoch's end, decay per epoch) on every
    /// update path: lazy and dense Adam tables, a momentum-free rule, the FNN's dense Adam.
    @Test func learningRateSchedule() {
        let rates = LearningRateSchedule(decayPerEpoch: 0.7, warmupSteps: 6)
        let fm = ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 16)
        checkAllThreadCounts(fm, rates: rates)
        checkAllThreadCounts(fm, sparse: .dense, rates: rates)
        checkAllThreadCounts(fm, tables: .recommended(for: .fm), start: .recommended(for: .fm), rates: rates)
        checkAllThreadCounts(ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 8, mlpDims: [16, 8], dropout: 0.2),
                             rates: rates)
    }

    @Test func fnn() {
        checkAllThreadCounts(ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 8, mlpDims: [16, 8], dropout: 0.2))
    }

    @Test func fnnWithLinearInputAndDenseTableUpdates() {
        checkAllThreadCounts(ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 5, mlpDims: [12],
                                         dropout: 0.1, fnnInput: .embeddingPlusLinear), sparse: .dense)
    }
}

@Suite struct WorkerPoolTests {
    /// Many phases with more threads than CPUs: every task of every phase runs exactly once.
    @Test(arguments: [1, 2, 5, 33])
    func everyTaskOfEveryPhaseRunsOnce(threads: Int) {
        let pool = WorkerPool(threads: threads)
        let counts = AlignedBuffer<Int>(count: 64)
        for round in 0..<3000 {
            let tasks = 1 + round % 64
            pool.run(.forward, tasks: tasks) { t, _ in counts[t] += 1 }
        }
        var expected = [Int](repeating: 0, count: 64)
        for round in 0..<3000 { for t in 0..<(1 + round % 64) { expected[t] += 1 } }
        #expect(counts.array == expected)
    }

    /// Every worker runs its own task in every round, even with 33 threads on this machine.
    @Test func everyRoundIsSeenByEveryWorker() {
        let workers = 33, rounds = 500
        let pool = WorkerPool(threads: workers)
        let seen = AlignedBuffer<Int>(count: workers * rounds)
        for round in 0..<rounds {
            pool.runOnEachWorker(.forward) { w in seen[w * rounds + round] += 1 }
        }
        #expect(seen.array.allSatisfy { $0 == 1 })
    }

    @Test func poolsComeAndGo() {
        for threads in 1...6 {
            let pool = WorkerPool(threads: threads)
            let hits = AlignedBuffer<Int>(count: threads)
            pool.run(.forward, tasks: threads) { t, _ in hits[t] = 1 }
            #expect(hits.array.allSatisfy { $0 == 1 })
        }
    }
}

/// Streaming from a mapped cache (pages handed back window by window) trains the same model for
/// every thread count.
@Suite struct StreamingDeterminismTests {
    @Test func streamingFromTheMappedCacheIsThreadIndependent() throws {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 6).generate(rows: 6000)
        let dir = NSTemporaryDirectory() + "fnn-par-stream-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = dir + "/d.tsv"
        try data.writeFieldsTSV(to: source)
        let parsed = try loadDataset(path: source)
        let key = try DatasetCache.Key(source: source, preprocessing: "fields")
        let cache = DatasetCache.path(for: source, directory: nil)
        try DatasetCache.store(parsed, cache: cache, key: key)
        let mapped = try #require(DatasetCache.load(cache: cache, key: key, name: source))
        #expect(mapped.isMapped)
        func trained(threads: Int) throws -> Model {
            var options = TrainingOptions()
            options.epochs = 2
            options.patience = 0
            options.batchSize = 500
            options.streamChunkRows = 700
            let config = ModelConfig(kind: .fnn, fieldDims: mapped.fieldDims, embedDim: 4, mlpDims: [8], dropout: 0.1)
            let engine = makeEngine(model: Model.initialized(config: config, seed: 2), data: mapped, options: options)
            let run = TrainingRun(engine: engine, data: mapped, split: DataSplit(rowCount: mapped.rowCount, seed: 2),
                                  options: options, executor: WorkerPool(threads: threads))
            _ = try run.run()
            return engine.model
        }
        let one = try trained(threads: 1)
        #expect(try trained(threads: 3).bitwiseEqual(one))
    }
}
