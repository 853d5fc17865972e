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
                 rates: LearningRateSchedule = .constant, precision: MLPPrecision = .fp32) -> (Model, [EpochRecord]) {
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
        options.mlpPrecision = precision
        let model = Model.initialized(config: config, seed: 4, tables: start)
        let engine = makeEngine(model: model, data: data, options: options)
        let pool = WorkerPool(threads: threads)
        let result = train(engine: engine, data: data, split: split, options: options, executor: pool)
        return (engine.model, result.history)
    }

    func checkAllThreadCounts(_ config: ModelConfig, sparse: SparseUpdate = .lazy,
                              tables: TableOptimizerConfig = TableOptimizerConfig(), start: TableInitialization = .torch,
                              rates: LearningRateSchedule = .constant, precision: MLPPrecision = .fp32) {
        let (reference, history) = trained(config, threads: 1, sparse: sparse, tables: tables, start: start, rates: rates,
                                           precision: precision)
        for threads in [2, 3, 8, 17] {
            let (model, h) = trained(config, threads: threads, sparse: sparse, tables: tables, start: start, rates: rates,
                                     precision: precision)
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

    /// bf16 products: the same bits for every thread count too, at widths that leave partial
    /// row blocks, column panels and odd pairs; and a different model from fp32 (the kernel ran)
    /// that learns as well.
    @Test(.enabled(if: BFloat16GEMM.isSupported, "this CPU has no AVX512-BF16"))
    func fnnInBFloat16() {
        let config = ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 5, mlpDims: [37, 9], dropout: 0.2,
                                 fnnInput: .embeddingPlusLinear)
        checkAllThreadCounts(config, precision: .bf16)
        let (bf16, bf16History) = trained(config, threads: 2, precision: .bf16)
        let (fp32, fp32History) = trained(config, threads: 2)
        #expect(!bf16.bitwiseEqual(fp32))
        for (a, b) in zip(bf16History, fp32History) {
            #expect(abs(a.trainLoss - b.trainLoss) < 0.01, "epoch \(a.epoch): loss \(a.trainLoss) vs fp32 \(b.trainLoss)")
            #expect(abs(a.validationAUC - b.validationAUC) < 0.01)
        }
    }
}
