/// Which update rule trains the embedding and linear tables, and its hyper-parameters.
///
/// Sparse CTR tables are not dense parameters: most rows appear in a few batches per epoch, so
/// what a row does between its touches and how far its first updates move it decide what the
/// model learns from rare features (see perf/RESULTS.md, "FM quality"). Adagrad and SGD have no
/// momentum, so updating only the touched rows is exactly the dense rule (a zero gradient changes
/// nothing); Adam is made lazy with a closed-form catch-up (`LazyRowAdam`).
public struct TableOptimizerConfig: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// torch's Adam, lazily per row (`LazyRowAdam`), with the dense optimizer's settings.
        case adam
        /// Per-element Adagrad: acc += g^2; p -= lr g / sqrt(acc) (xLearn's rule).
        case adagrad
        /// One accumulator per row, of the row's mean squared gradient (FBGEMM / TorchRec's
        /// `EXACT_ROWWISE_ADAGRAD`): a quarter of Adagrad's state for width 16.
        case rowwiseAdagrad = "rowwise-adagrad"
        /// Plain SGD: p -= lr g.
        case sgd
    }

    public var kind: Kind
    /// nil: the dense optimizer's learning rate.
    public var learningRate: Float?
    /// L2 per occurrence: every example adds (l2 / 2) |row|^2 for each table row (embedding and
    /// linear weight) it holds, so a row's penalty grows with how often it is seen, as in xLearn
    /// and libFM's per-example SGD. Only touched rows get its gradient, which is exact.
    public var l2: Float
    /// Adagrad's starting accumulator, in units of the summed loss's squared gradient (see
    /// `RowAdagrad`): a row's first steps are then about lr g / sqrt(initial), SGD-like, rather than
    /// lr sign(g), which a rare row's noisy first gradient would follow in full.
    public var initialAccumulator: Float

    public init(kind: Kind = .adam, learningRate: Float? = nil, l2: Float = 0, initialAccumulator: Float = 1) {
        self.kind = kind
        self.learningRate = learningRate
        self.l2 = l2
        self.initialAccumulator = initialAccumulator
    }
}

extension TableOptimizerConfig {
    /// Whether two configurations train alike: the initial accumulator matters to the Adagrads
    /// only (a run recorded before these options existed reads as Adam with the default one).
    public func sameRule(as other: TableOptimizerConfig) -> Bool {
        kind == other.kind && learningRate == other.learningRate && l2 == other.l2
            && (!(kind == .adagrad || kind == .rowwiseAdagrad) || initialAccumulator == other.initialAccumulator)
    }

    /// The tables' rule a model of `kind` trains with unless told otherwise, chosen by the
    /// measurements in perf/RESULTS.md ("FM quality"): the FM with row-wise Adagrad (initial
    /// accumulator 100, learning rate `learningRate(fieldCount:)`), which on every data set tried
    /// beat Adam by 0.01-0.09 test AUC and reached it in a third of the epochs; the FNN with Adam,
    /// which stayed within noise of the best there and keeps pytorch-fm's behaviour.
    public static func recommended(for kind: ModelKind) -> TableOptimizerConfig {
        kind == .fm ? TableOptimizerConfig(kind: .rowwiseAdagrad, initialAccumulator: 100) : TableOptimizerConfig(kind: .adam)
    }

    /// The learning rate this rule uses: the given one, else Adam's the dense optimizer's, and the
    /// momentum-free rules one that falls with the field count. An FM row's gradient is its logit
    /// gradient times the sum of the other fields' rows, so its size grows with the field count;
    /// the best measured rates were inversely proportional to it (2 fields: 1.0, 39 fields: 0.05
    /// for Adagrad; 0.04 and 0.002 for SGD), which is also what xLearn's instance normalisation
    /// does to one-hot rows.
    public func learningRate(fieldCount: Int, denseLearningRate: Float) -> Float {
        if let learningRate { return learningRate }
        switch kind {
        case .adam: return denseLearningRate
        case .adagrad, .rowwiseAdagrad: return 2 / Float(max(fieldCount, 1))
        case .sgd: return 0.08 / Float(max(fieldCount, 1))
        }
    }
}
