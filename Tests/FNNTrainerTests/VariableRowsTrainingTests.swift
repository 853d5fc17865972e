import FNNCore
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// Variable rows in training: one-hot data carried as variable rows trains to the same bytes as
/// the fixed-width fast path (the valued kernels add the same terms in the same order, value 1
/// being exact), and multi-hot data keeps the determinism contract across thread counts.
@Suite(.serialized) struct VariableRowsTrainingTests {
    static let oneHot: Dataset = {
        PlantedFMGenerator(fields: [.init(size: 200, zipfExponent: 1.1), .init(size: 90, zipfExponent: 0.5),
                                    .init(size: 7, zipfExponent: 0)], latentDim: 4, seed: 21).generate(rows: 3000)
    }()

    static let multiHotSchema = FieldSchema(fields: [
        FieldSpec(name: "user"), FieldSpec(name: "item"),
        FieldSpec(name: "genres", kind: .multiHot, pooling: .mean, maxIds: 4), FieldSpec(name: "age", kind: .numeric),
    ])

    static let multiHot: Dataset = randomVariableDataset(rows: 3000, fieldDims: [150, 80, 18, 1],
                                                         schema: multiHotSchema, seed: 8)

    /// The same examples as `oneHot`, as variable rows under an all-categorical schema.
    static let oneHotAsVariable: Dataset = {
        let data = oneHot
        let rows = VariableRows.fromOneHot(ids: data.ids.base, rowCount: data.rowCount, fieldCount: data.fieldCount)
        return Dataset(name: data.name, fieldDims: data.fieldDims, schema: .oneHot(fieldCount: data.fieldCount),
                       rows: rows, labels: data.labels)
    }()

    func trained(_ config: ModelConfig, data: Dataset, threads: Int) -> (Model, [EpochRecord]) {
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        var options = TrainingOptions()
        options.epochs = 3
        options.patience = 0
        options.batchSize = 500
        options.seed = 4
        let model = Model.initialized(config: config, seed: 4)
        let engine = makeEngine(model: model, data: data, options: options)
        let result = train(engine: engine, data: data, split: split, options: options, executor: WorkerPool(threads: threads))
        return (engine.model, result.history)
    }

    @Test(arguments: [ModelKind.fm, .fnn])
    func oneHotAsVariableRowsTrainsToTheSameBytes(kind: ModelKind) {
        let config = ModelConfig(kind: kind, fieldDims: Self.oneHot.fieldDims, embedDim: 8, mlpDims: [16, 8], dropout: 0.2)
        #expect(Self.oneHotAsVariable.variable != nil)
        let (fast, fastHistory) = trained(config, data: Self.oneHot, threads: 2)
        let (valued, valuedHistory) = trained(config, data: Self.oneHotAsVariable, threads: 2)
        #expect(valued.bitwiseEqual(fast), "\(kind): variable rows of one-hot data train differently from the fast path")
        #expect(valuedHistory.map(\.trainLoss) == fastHistory.map(\.trainLoss))
        #expect(valuedHistory.map(\.validationAUC) == fastHistory.map(\.validationAUC))
    }

    @Test(arguments: [ModelKind.fm, .fnn])
    func multiHotModelsAreTheSameForEveryThreadCount(kind: ModelKind) {
        let config = ModelConfig(kind: kind, fieldDims: Self.multiHot.fieldDims, embedDim: 16, mlpDims: [16, 8],
                                 dropout: 0.2, schema: Self.multiHotSchema)
        let (reference, history) = trained(config, data: Self.multiHot, threads: 1)
        #expect(history.last!.trainLoss < history.first!.trainLoss, "\(kind) does not learn on multi-hot rows")
        for threads in [2, 5, 16] {
            let (model, h) = trained(config, data: Self.multiHot, threads: threads)
            #expect(model.bitwiseEqual(reference), "\(kind) with \(threads) threads differs from 1 thread")
            #expect(h.map(\.trainLoss) == history.map(\.trainLoss))
        }
    }

    /// Damaged rows are named by row and problem before anything trains on them.
    @Test func damagedRowsAreFound() {
        let schema = Self.multiHotSchema
        func rows(_ entries: [(Int, UInt32, Float)]) -> VariableRows {
            var builder = VariableRows.Builder()
            for (f, id, v) in entries { builder.append(field: f, id: id, value: v) }
            builder.endRow()
            return builder.finish()
        }
        let dims = [150, 80, 18, 1]
        #expect(rows([(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 0, 0.5)]).firstProblem(schema: schema, fieldDims: dims) == nil)
        #expect(rows([(1, 2, 1), (0, 1, 1)]).firstProblem(schema: schema, fieldDims: dims)?.problem == "fields out of order")
        #expect(rows([(0, 150, 1)]).firstProblem(schema: schema, fieldDims: dims)?.problem.contains("not below its size 150") == true)
        #expect(rows([(3, 0, .nan)]).firstProblem(schema: schema, fieldDims: dims)?.problem.contains("not finite") == true)
        #expect(rows([(2, 1, 1), (2, 2, 1), (2, 3, 1), (2, 4, 1), (2, 5, 1)])
            .firstProblem(schema: schema, fieldDims: dims)?.problem.contains("more than 4 ids") == true)
        #expect(rows([(4, 0, 1)]).firstProblem(schema: schema, fieldDims: dims)?.problem.contains("does not exist") == true)
    }
}
