import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// Fused row records (`RowRecords`) change where training keeps the rows, never the arithmetic:
/// every table rule, both update modes, both models and multi-hot rows train to the same model
/// and optimizer bytes as the separate arrays, for any thread count; checkpoints cross layouts;
/// and the model's tensors are current whenever they are read, or lead when written from outside.
@Suite(.serialized) struct RowLayoutTests {
    static let data: Dataset = PlantedFMGenerator(fields: [.init(size: 300, zipfExponent: 1.1), .init(size: 120, zipfExponent: 0.5),
                                                           .init(size: 7, zipfExponent: 0)], latentDim: 4, seed: 12).generate(rows: 4000)

    static let multiHotSchema = FieldSchema(fields: [
        FieldSpec(name: "user"), FieldSpec(name: "genres", kind: .multiHot, pooling: .mean, maxIds: 4),
        FieldSpec(name: "age", kind: .numeric),
    ])
    static let multiHot: Dataset = randomVariableDataset(rows: 3000, fieldDims: [150, 18, 1], schema: multiHotSchema, seed: 8)

    struct Case: CustomTestStringConvertible, Sendable {
        var kind: ModelKind
        var rule: TableOptimizerConfig.Kind
        var sparse = SparseUpdate.lazy
        var width = 16
        var linearInput = false
        var multiHot = false
        var testDescription: String {
            "\(kind) \(rule) \(sparse) width \(width)" + (linearInput ? " embedding+linear" : "") + (multiHot ? " multi-hot" : "")
        }
    }

    static let cases: [Case] = [
        Case(kind: .fm, rule: .adam), Case(kind: .fm, rule: .adam, sparse: .dense, width: 5), Case(kind: .fm, rule: .rowwiseAdagrad),
        Case(kind: .fm, rule: .adagrad, width: 5), Case(kind: .fm, rule: .sgd), Case(kind: .fnn, rule: .adam),
        Case(kind: .fnn, rule: .adam, linearInput: true), Case(kind: .fnn, rule: .rowwiseAdagrad, width: 5),
        Case(kind: .fm, rule: .adam, multiHot: true), Case(kind: .fnn, rule: .adam, multiHot: true),
    ]

    func options(_ c: Case, layout: RowRecords.Layout) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = 3
        options.patience = 0
        options.batchSize = 500
        options.seed = 4
        options.sparseUpdate = c.sparse
        options.tables = TableOptimizerConfig(kind: c.rule, l2: 0.01, initialAccumulator: 10)
        options.initialization = c.rule == .adam ? .torch : .normal(0.01)
        options.rowLayout = layout
        return options
    }

    func config(_ c: Case) -> ModelConfig {
        let data = c.multiHot ? Self.multiHot : Self.data
        return ModelConfig(kind: c.kind, fieldDims: data.fieldDims, embedDim: c.width, mlpDims: [16, 8], dropout: 0.2,
                           fnnInput: c.linearInput ? .embeddingPlusLinear : .embedding, schema: c.multiHot ? Self.multiHotSchema : nil)
    }

    func trained(_ c: Case, layout: RowRecords.Layout, threads: Int) -> (engine: TrainingEngine, history: [EpochRecord]) {
        let data = c.multiHot ? Self.multiHot : Self.data
        let options = options(c, layout: layout)
        let model = Model.initialized(config: config(c), seed: 4, tables: options.initialization)
        let engine = makeEngine(model: model, data: data, options: options)
        let result = train(engine: engine, data: data, split: DataSplit(rowCount: data.rowCount, seed: 4), options: options,
                           executor: WorkerPool(threads: threads))
        return (engine, result.history)
    }

    static func bytes(_ tensors: [String: SafeTensors.Tensor]) -> [String: [UInt8]] {
        tensors.mapValues { t in t.withUnsafeBytes { Array($0) } }
    }

    @Test(arguments: cases)
    func fusedRecordsTrainTheBitsOfSeparateArrays(_ c: Case) {
        let separate = trained(c, layout: .separate, threads: 1)
        #expect(separate.engine.rowLayout == .separate)
        let tensors = Self.bytes(separate.engine.optimizerTensors())
        #expect(!tensors.isEmpty || c.rule == .sgd)
        for threads in [1, 3] {
            let fused = trained(c, layout: .fused, threads: threads)
            #expect(fused.engine.rowLayout == .fused)
            #expect(fused.engine.model.bitwiseEqual(separate.engine.model), "\(c.testDescription), \(threads) threads")
            let sameState = Self.bytes(fused.engine.optimizerTensors()) == tensors
            #expect(sameState, "\(c.testDescription), \(threads) threads: the optimizer tensors differ")
            #expect(fused.history.map(\.validationAUC) == separate.history.map(\.validationAUC))
            #expect(fused.history.map(\.trainLoss) == separate.history.map(\.trainLoss))
        }
    }

    /// A checkpoint written mid-epoch by a run on fused records resumes on separate arrays (and
    /// the other way) to the bytes of an uninterrupted run: the interruption wrote the records
    /// back to the model, and the optimizer tensors are the same whatever the layout.
    @Test(arguments: [(RowRecords.Layout.fused, RowRecords.Layout.separate), (.separate, .fused)],
          [TableOptimizerConfig.Kind.adam, .rowwiseAdagrad])
    func checkpointsCrossLayouts(from first: (RowRecords.Layout, RowRecords.Layout), rule: TableOptimizerConfig.Kind) throws {
        let (written, resumedIn) = first
        let c = Case(kind: .fm, rule: rule)
        let data = Self.data
        let split = DataSplit(rowCount: data.rowCount, seed: 2)
        func makeRun(_ layout: RowRecords.Layout) -> TrainingRun {
            let options = options(c, layout: layout)
            let engine = makeEngine(model: Model.initialized(config: config(c), seed: 5, tables: options.initialization), data: data,
                                    options: options)
            return TrainingRun(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        }
        let whole = makeRun(written)
        let wholeResult = try whole.run()
        let path = temporaryDirectory() + "/run.ckpt"
        let interrupted = makeRun(written)
        var steps = 0
        interrupted.shouldStop = { steps += 1; return steps > 9 }  // 6.4 steps per epoch: stops in epoch 2
        #expect(try interrupted.run().interrupted)
        try Checkpoint.write(interrupted, to: path)
        let resumed = makeRun(resumedIn)
        try Checkpoint.resume(resumed, from: try Checkpoint.read(path: path), path: path)
        let result = try resumed.run()
        #expect(resumed.engine.model.bitwiseEqual(whole.engine.model))
        #expect(result.model.bitwiseEqual(wholeResult.model))
        let sameState = Self.bytes(resumed.engine.optimizerTensors()) == Self.bytes(whole.engine.optimizerTensors())
        #expect(sameState, "the optimizer tensors differ")
    }

    /// Mid-epoch the records lead: the engine scores from them, and `publishTables` writes them
    /// to the model. A write to the model's tensors from outside then leads: the engine scores
    /// the written model, and the next step trains from it, as an engine on separate arrays does.
    @Test(arguments: [ModelKind.fm, .fnn])
    func whicheverCopyWasWrittenLastLeads(kind: ModelKind) throws {
        let c = Case(kind: kind, rule: .adam)
        let data = Self.data
        let split = DataSplit(rowCount: data.rowCount, seed: 3)
        let batch = Array(split.train.prefix(500)), scored = Array(split.validation.prefix(300))
        let serial = SerialExecutor()
        func engine(_ layout: RowRecords.Layout) -> TrainingEngine {
            makeEngine(model: Model.initialized(config: config(c), seed: 6), data: data, options: options(c, layout: layout))
        }
        func step(_ e: TrainingEngine) throws {
            _ = try batch.withUnsafeBufferPointer { try e.trainStep(examples: $0.baseAddress!, count: batch.count, epoch: 1, executor: serial) }
        }
        let fused = engine(.fused), separate = engine(.separate)
        for _ in 0..<3 { try step(fused); try step(separate) }
        #expect(try fused.logits(examples: scored, executor: serial) == separate.logits(examples: scored, executor: serial))
        #expect(!fused.model.bitwiseEqual(separate.model), "the records lead: the model's tensors are a step behind")
        fused.publishTables(executor: serial)
        #expect(fused.model.bitwiseEqual(separate.model))

        let other = Model.initialized(config: config(c), seed: 9)
        fused.model.copyParameters(from: other)
        separate.model.copyParameters(from: other)
        let fresh = makeEngine(model: other.copy(), data: data, options: options(c, layout: .separate))
        #expect(try fused.logits(examples: scored, executor: serial) == fresh.logits(examples: scored, executor: serial))
        try step(fused)
        try step(separate)
        fused.synchronizeTables(epoch: 1, executor: serial)
        separate.synchronizeTables(epoch: 1, executor: serial)
        #expect(fused.model.bitwiseEqual(separate.model))
        #expect(try fused.logits(examples: scored, executor: serial) == separate.logits(examples: scored, executor: serial))
    }

    /// The whole stage as the CLI runs it (early stopping on a patience, the best epoch's model
    /// copied back for the test figures, an interruption's checkpoint, the resume): the same
    /// report and model from fused records as from separate arrays.
    @Test func aTrainingStageReportsTheSameOnEitherLayout() throws {
        let data = Self.data
        let split = DataSplit(rowCount: data.rowCount, seed: 5)
        let config = ModelConfig(kind: .fm, fieldDims: data.fieldDims, embedDim: 8)
        func stage(_ layout: RowRecords.Layout, stopAfter: Int? = nil, checkpoint: String? = nil, resume: String? = nil)
            throws -> ModelTrainingStage.Outcome {
            var options = TrainingOptions()
            options.epochs = 6
            options.patience = 2
            options.batchSize = 400
            options.rowLayout = layout
            var stage = ModelTrainingStage(name: "fm", dataset: data, split: split, options: options, executor: WorkerPool(threads: 2))
            stage.checkpointPath = checkpoint
            stage.resumePath = resume
            if let stopAfter {
                var steps = 0
                stage.shouldStop = { steps += 1; return steps > stopAfter }
            }
            return try stage.run(model: resume == nil ? Model.initialized(config: config, seed: 3) : Model(config: config))
        }
        guard case .trained(let separate) = try stage(.separate), case .trained(let fused) = try stage(.fused) else {
            Issue.record("a stage was interrupted")
            return
        }
        #expect(fused.testAUC == separate.testAUC && fused.testLogLoss == separate.testLogLoss)
        #expect(fused.history.map(\.validationAUC) == separate.history.map(\.validationAUC))
        #expect(fused.trained!.bitwiseEqual(separate.trained!))
        let path = temporaryDirectory() + "/fm.ckpt"
        guard case .interrupted = try stage(.fused, stopAfter: 13, checkpoint: path),
              case .trained(let resumed) = try stage(.separate, checkpoint: path, resume: path) else {
            Issue.record("the interruption or the resume did not happen")
            return
        }
        #expect(resumed.testAUC == separate.testAUC)
        #expect(resumed.trained!.bitwiseEqual(separate.trained!))
    }
}
