import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

@Suite struct TrainingTests {
    /// A short run on the real ML-100K: both models must learn far more than chance.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func shortRunOnMovieLens100KLearns() throws {
        let data = try loadDataset(path: TestData.path("ml-100k/u.data"))
        let split = DataSplit(rowCount: data.rowCount, seed: 1)
        var options = TrainingOptions()
        options.epochs = 4
        options.patience = 0
        options.seed = 1
        let executor = SerialExecutor()
        let fnn = Model.initialized(config: ModelConfig(kind: .fnn, fieldDims: data.fieldDims), seed: 1)
        let engine = makeEngine(model: fnn, data: data, options: options)
        let result = train(engine: engine, data: data, split: split, options: options, executor: executor)
        engine.model.copyParameters(from: result.model)
        let test = try evaluate(engine: engine, data: data, rows: split.test, executor: executor)
        #expect(test.auc > 0.74, "FNN test AUC \(test.auc)")
        #expect(result.history.count == 4)
        #expect(result.history.last!.trainLoss < result.history.first!.trainLoss)

        var fmOptions = options
        fmOptions.epochs = 20
        fmOptions.adam.learningRate = 1e-2
        let fm = Model.initialized(config: ModelConfig(kind: .fm, fieldDims: data.fieldDims), seed: 1)
        let fmEngine = makeEngine(model: fm, data: data, options: fmOptions)
        let fmResult = train(engine: fmEngine, data: data, split: split, options: fmOptions, executor: executor)
        fmEngine.model.copyParameters(from: fmResult.model)
        let fmTest = try evaluate(engine: fmEngine, data: data, rows: split.test, executor: executor)
        #expect(fmTest.auc > 0.70, "FM test AUC \(fmTest.auc)")
    }

    /// The kept epoch is the best on the stopping metric: highest validation AUC, or lowest
    /// validation log loss; the kept model is that epoch's (its validation figures come back). On
    /// this run the two metrics pick different epochs (AUC peaks at 3, log loss still falls at 6).
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func keptEpochIsTheBestOnTheStoppingMetric() throws {
        let data = try loadDataset(path: TestData.path("ml-100k/u.data"))
        let split = DataSplit(rowCount: data.rowCount, seed: 2)
        var kept: [StoppingMetric: Int] = [:]
        for metric in StoppingMetric.allCases {
            var options = TrainingOptions()
            options.epochs = 6
            options.patience = 0
            options.seed = 2
            options.stoppingMetric = metric
            options.initialization = .normal(0.001)
            let executor = SerialExecutor()
            let model = Model.initialized(config: ModelConfig(kind: .fm, fieldDims: data.fieldDims), seed: 2, tables: .normal(0.001))
            let engine = makeEngine(model: model, data: data, options: options)
            let result = train(engine: engine, data: data, split: split, options: options, executor: executor)
            let history = result.history
            let best = metric == .auc ? history.max { $0.validationAUC < $1.validationAUC }!
                : history.min { $0.validationLogLoss < $1.validationLogLoss }!
            #expect(result.bestEpoch == best.epoch)
            kept[metric] = result.bestEpoch
            engine.model.copyParameters(from: result.model)
            let validation = try evaluate(engine: engine, data: data, split: split, part: .validation, executor: executor)
            #expect(validation.auc == best.validationAUC && validation.logLoss == best.validationLogLoss)
            var other = options
            other.stoppingMetric = metric == .auc ? .logloss : .auc
            #expect(!options.sameTraining(as: other))
        }
        #expect(kept[.auc] != kept[.logloss], "\(kept)")
    }

    /// Streaming order: a permutation of the training rows per epoch, taken window by window,
    /// each window's rows from its `streamWindow` chunks of the file only.
    @Test func streamingOrderKeepsWindowsLocal() {
        let data = randomDataset(rows: 5000, fieldDims: [20, 10], seed: 3)
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        var options = TrainingOptions()
        options.streamChunkRows = 500  // ten chunks of the file
        options.streamWindow = 2
        let engine = makeEngine(model: Model.initialized(config: ModelConfig(kind: .fm, fieldDims: data.fieldDims, embedDim: 4), seed: 1),
                                data: data, options: options)
        let run = TrainingRun(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        let sortedTrain = split.train.sorted()
        for epoch in 1...3 {
            let order = run.order(epoch: epoch)
            #expect(order.sorted() == sortedTrain)
            #expect(order == run.order(epoch: epoch))
            var start = 0
            for window in run.streamWindows(epoch: epoch) {
                #expect(window.chunks.count <= 2)
                #expect(order[start..<window.end].allSatisfy { window.chunks.contains($0 / 500) })
                start = window.end
            }
            #expect(start == order.count)
        }
        #expect(run.order(epoch: 1) != run.order(epoch: 2))
    }

    /// The split is a permutation of the rows: parts of the requested sizes, disjoint, covering
    /// every row, and each row's part found without the lists agrees with them.
    @Test(arguments: [1, 2, 3, 10, 1001, 65_537])
    func splitPartsCoverTheRows(rows: Int) {
        let split = DataSplit(rowCount: rows, seed: 9)
        let parts = [split.train, split.validation, split.test]
        #expect(parts.map(\.count) == [split.trainCount, split.validationCount, split.testCount])
        #expect(parts.joined().sorted() == Array(0..<rows))
        for (part, list) in zip([DataSplit.Part.train, .validation, .test], parts) {
            #expect(list.allSatisfy { split.part(ofRow: $0) == part })
        }
        let permutation = KeyedPermutation(count: rows, seed: 3)
        #expect((0..<rows).allSatisfy { permutation.inverse(permutation.apply($0)) == $0 })
    }

    @Test func earlyStoppingKeepsTheBestEpoch() throws {
        // Random labels: validation AUC wanders around 0.5, so patience 1 stops early.
        let data = randomDataset(rows: 3000, fieldDims: [50, 40], seed: 4)
        let split = DataSplit(rowCount: data.rowCount, seed: 2)
        var options = TrainingOptions()
        options.epochs = 30
        options.patience = 1
        options.batchSize = 256
        options.adam.learningRate = 0.05
        let model = Model.initialized(config: ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4), seed: 2)
        let engine = makeEngine(model: model, data: data, options: options)
        let result = train(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        #expect(result.history.count < 30)
        let best = result.history.max { $0.validationAUC < $1.validationAUC }!
        #expect(result.bestEpoch == best.epoch)
        // The kept model reproduces the best epoch's validation AUC.
        engine.model.copyParameters(from: result.model)
        let again = try evaluate(engine: engine, data: data, rows: split.validation, executor: SerialExecutor())
        #expect(again.auc == best.validationAUC)
    }

    @Test func trainingIsReproducibleForASeed() {
        let data = randomDataset(rows: 2000, fieldDims: [30, 20, 10], seed: 6)
        let split = DataSplit(rowCount: data.rowCount, seed: 3)
        var options = TrainingOptions()
        options.epochs = 2
        options.patience = 0
        options.batchSize = 300
        func run() -> Model {
            let m = Model.initialized(config: ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [8, 4]), seed: 9)
            let e = makeEngine(model: m, data: data, options: options)
            _ = train(engine: e, data: data, split: split, options: options, executor: SerialExecutor())
            return e.model
        }
        #expect(run().bitwiseEqual(run()))
    }
}
