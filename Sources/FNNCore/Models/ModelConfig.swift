public enum ModelKind: String, Sendable, Codable, CaseIterable {
    case fm
    case fnn
}

/// What the FNN's MLP sees for each field.
public enum FNNInput: String, Sendable, Codable, CaseIterable {
    /// The field's embedding vector only, as pytorch-fm's FNN.
    case embedding
    /// The paper's z_i = (w_i, v_i): the FM linear weight followed by the embedding vector.
    case embeddingPlusLinear = "embedding+linear"
}

public struct ModelConfig: Sendable, Codable, Equatable {
    public var kind: ModelKind
    public var fieldDims: [Int]
    public var embedDim: Int
    public var mlpDims: [Int]
    public var dropout: Float
    public var fnnInput: FNNInput
    /// The fields' kinds and pooling when some field is not categorical (multi-hot, numeric);
    /// nil for one-hot models, which are pytorch-fm's.
    public var schema: FieldSchema?

    public init(kind: ModelKind, fieldDims: [Int], embedDim: Int = 16, mlpDims: [Int] = [16, 16],
                dropout: Float = 0.2, fnnInput: FNNInput = .embedding, schema: FieldSchema? = nil) {
        self.kind = kind
        self.fieldDims = fieldDims
        self.embedDim = embedDim
        self.mlpDims = mlpDims
        self.dropout = dropout
        self.fnnInput = fnnInput
        self.schema = schema.flatMap { $0.isOneHot ? nil : $0 }
    }

    /// The schema, one-hot when none is recorded.
    public var fieldSchema: FieldSchema { schema ?? .oneHot(fieldCount: fieldCount) }

    public var fieldCount: Int { fieldDims.count }
    public var tableRows: Int { fieldDims.reduce(0, +) }
    /// Whether the model has a per-feature linear weight table.
    public var hasLinearTable: Bool { kind == .fm || fnnInput == .embeddingPlusLinear }
    /// Floats per field in the MLP input.
    public var fieldInputWidth: Int { fnnInput == .embeddingPlusLinear ? embedDim + 1 : embedDim }
    public var mlpInputWidth: Int { fieldCount * fieldInputWidth }
}

/// Where each dense parameter lives in the flat dense vector, which is what the optimizer and the
/// gradient reduction see. FM: [bias]. FNN: per hidden layer W (out x in, torch layout), b, gamma,
/// beta; then the output layer's W (1 x in) and b.
public struct DenseLayout: Sendable, Equatable {
    public struct Hidden: Sendable, Equatable {
        public let inputs: Int, outputs: Int
        public let weight: Int, bias: Int, gamma: Int, beta: Int
    }

    public let hidden: [Hidden]
    public let outputWeight: Int
    public let outputBias: Int
    public let outputInputs: Int
    public let count: Int

    public init(_ config: ModelConfig) {
        guard config.kind == .fnn else {
            hidden = []; outputWeight = 0; outputBias = 0; outputInputs = 0; count = 1
            return
        }
        var layers: [Hidden] = []
        var offset = 0
        var inputs = config.mlpInputWidth
        for outputs in config.mlpDims {
            let w = offset; offset += outputs * inputs
            let b = offset; offset += outputs
            let g = offset; offset += outputs
            let be = offset; offset += outputs
            layers.append(Hidden(inputs: inputs, outputs: outputs, weight: w, bias: b, gamma: g, beta: be))
            inputs = outputs
        }
        hidden = layers
        outputInputs = inputs
        outputWeight = offset; offset += inputs
        outputBias = offset; offset += 1
        count = offset
    }

    /// Offsets of each layer's running mean and variance in the running-statistics vector.
    public var runningStatsCount: Int { hidden.reduce(0) { $0 + 2 * $1.outputs } }
}
