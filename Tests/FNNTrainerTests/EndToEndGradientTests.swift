import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

/// Analytic gradients (Float kernels, several slices) against central differences of the Double
/// reference models.
@Suite struct EndToEndGradientTests {
    func close(_ analytic: Float, _ numeric: Double) -> Bool {
        abs(Double(analytic) - numeric) <= 2e-5 + 2e-3 * abs(numeric)
    }

    func check(config: ModelConfig, rows: Int, sliceRows: Int, data given: Dataset? = nil) throws {
        let data = given ?? randomDataset(rows: rows, fieldDims: config.fieldDims, seed: 11)
        let model = Model.initialized(config: config, seed: 3)
        // Nudge BatchNorm off its identity initialisation so gamma and beta matter non-trivially.
        for h in model.layout.hidden {
            for j in 0..<h.outputs { model.dense[h.gamma + j] = 0.7 + 0.1 * Float(j % 5); model.dense[h.beta + j] = 0.05 * Float(j % 3) }
        }
        let seed: UInt64 = 77, epoch = 3
        let engine: TrainingEngine
        var options = TrainingOptions()
        options.seed = seed
        options.batchSize = rows
        options.sliceRows = sliceRows
        engine = makeEngine(model: model, data: data, options: options)
        var examples = Array(0..<rows)
        var rng = Xoshiro256(seed: 5)
        examples.shuffleDeterministically(using: &rng)
        let serial = SerialExecutor()
        let loss: Double
        let grads: BatchGradients
        if let fnn = engine as? FNNEngine {
            loss = try examples.withUnsafeBufferPointer { try fnn.forwardBackward(examples: $0.baseAddress!, count: rows, epoch: epoch, executor: serial) }
            grads = fnn.lastGradients()
        } else {
            let fm = engine as! FMEngine
            loss = try examples.withUnsafeBufferPointer { try fm.forwardBackward(examples: $0.baseAddress!, count: rows, epoch: epoch, executor: serial) }
            grads = fm.lastGradients()
        }
        let reference = ReferenceModel(model, seed: seed, epoch: epoch)
        #expect(abs(loss - reference.meanLoss(data, examples)) < 1e-5)
        var checked = 0
        for j in 0..<model.dense.count {
            let numeric = reference.numericGradient(data, examples, \.dense, j)
            #expect(close(grads.dense[j], numeric), "dense parameter \(j): analytic \(grads.dense[j]) numeric \(numeric)")
            checked += 1
        }
        for j in 0..<model.embedding.count {
            let numeric = reference.numericGradient(data, examples, \.embedding, j)
            #expect(close(grads.embedding[j], numeric), "embedding \(j): analytic \(grads.embedding[j]) numeric \(numeric)")
            checked += 1
        }
        if let linear = grads.linear {
            for j in 0..<linear.count {
                let numeric = reference.numericGradient(data, examples, \.linear, j)
                #expect(close(linear[j], numeric), "linear \(j): analytic \(linear[j]) numeric \(numeric)")
            }
        }
        #expect(checked > 50)
    }

    /// Multi-hot fields under sum and mean pooling (some rows with an empty field) and a numeric
    /// field whose value scales its row: the valued kernels and the valued row grouping.
    static let valuedSchema = FieldSchema(fields: [
        FieldSpec(name: "user"), FieldSpec(name: "genres", kind: .multiHot, pooling: .mean, maxIds: 3),
        FieldSpec(name: "tags", kind: .multiHot, pooling: .sum, maxIds: 2), FieldSpec(name: "age", kind: .numeric),
    ])
    static let valuedDims = [5, 6, 4, 1]

    func valuedData(rows: Int) -> Dataset {
        randomVariableDataset(rows: rows, fieldDims: Self.valuedDims, schema: Self.valuedSchema, seed: 13)
    }

    @Test func factorizationMachineOverValuedFields() throws {
        try check(config: ModelConfig(kind: .fm, fieldDims: Self.valuedDims, embedDim: 4, schema: Self.valuedSchema),
                  rows: 150, sliceRows: 64, data: valuedData(rows: 150))
    }

    @Test func fnnOverValuedFieldsWithDropout() throws {
        try check(config: ModelConfig(kind: .fnn, fieldDims: Self.valuedDims, embedDim: 4, mlpDims: [6, 5], dropout: 0.3,
                                      schema: Self.valuedSchema),
                  rows: 150, sliceRows: 64, data: valuedData(rows: 150))
    }

    @Test func fnnWithLinearInputsOverValuedFields() throws {
        try check(config: ModelConfig(kind: .fnn, fieldDims: Self.valuedDims, embedDim: 16, mlpDims: [12], dropout: 0,
                                      fnnInput: .embeddingPlusLinear, schema: Self.valuedSchema),
                  rows: 100, sliceRows: 32, data: valuedData(rows: 100))
    }

    @Test func factorizationMachine() throws {
        try check(config: ModelConfig(kind: .fm, fieldDims: [5, 7, 3], embedDim: 4), rows: 150, sliceRows: 64)
    }

    @Test func fnnWithDropoutAcrossUnevenSlices() throws {
        try check(config: ModelConfig(kind: .fnn, fieldDims: [5, 7, 3], embedDim: 4, mlpDims: [6, 5], dropout: 0.3),
              rows: 150, sliceRows: 64)
    }

    /// Layers of 12 and 9 units: the BatchNorm, ReLU and dropout kernel's eight-unit lanes and
    /// its tail (the others here are narrower than a lane); embeddings of the default width 16,
    /// which the FM kernel and the row grouping take as a constant.
    @Test func fnnWideLayersWithDropout() throws {
        try check(config: ModelConfig(kind: .fnn, fieldDims: [5, 7, 3], embedDim: 16, mlpDims: [12, 9], dropout: 0.3),
              rows: 100, sliceRows: 32)
    }

    @Test func factorizationMachineDefaultWidth() throws {
        try check(config: ModelConfig(kind: .fm, fieldDims: [5, 7, 3], embedDim: 16), rows: 100, sliceRows: 32)
    }

    @Test func fnnOneSliceNoDropoutThreeLayers() throws {
        try check(config: ModelConfig(kind: .fnn, fieldDims: [4, 6], embedDim: 3, mlpDims: [7, 4, 3], dropout: 0),
              rows: 40, sliceRows: 64)
    }

    @Test func fnnWithLinearWeightsAsInput() throws {
        try check(config: ModelConfig(kind: .fnn, fieldDims: [5, 7, 3], embedDim: 4, mlpDims: [6], dropout: 0.2,
                                  fnnInput: .embeddingPlusLinear), rows: 100, sliceRows: 16)
    }
}
