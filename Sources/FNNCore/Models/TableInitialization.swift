/// How the embedding and linear tables start.
///
/// torch's defaults, which pytorch-fm inherits, suit neither sparse table: xavier-uniform over the
/// whole table divides by the table's row count (2.6M rows: |v| < 0.0015, so interactions start
/// near zero and SGD-like rules barely move them), and N(0, 1) linear weights add a logit of
/// standard deviation sqrt(fields) of pure noise to every example, which a row seen a few times
/// never unlearns. `normal` starts rows at a fixed N(0, scale^2), whatever the table size, and
/// linear weights at 0, as libFM (N(0, 0.1^2)) and xLearn (linear 0) do.
public struct TableInitialization: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// pytorch-fm's: xavier-uniform embedding table, N(0, 1) linear weights.
        case torch
        /// Embedding rows N(0, scale^2), linear weights 0.
        case normal
    }

    public var kind: Kind
    /// The standard deviation of `normal`.
    public var scale: Float

    public init(kind: Kind, scale: Float = 0.01) {
        self.kind = kind
        self.scale = scale
    }

    public static let torch = TableInitialization(kind: .torch)

    /// For logs: "as torch's" or "N(0, s^2), linear weights 0".
    public var summary: String { kind == .torch ? "as torch's" : "N(0, \(scale)^2), linear weights 0" }
    public static func normal(_ scale: Float) -> TableInitialization { TableInitialization(kind: .normal, scale: scale) }
}

extension TableInitialization {
    /// How a model of `kind` starts unless told otherwise (perf/RESULTS.md, "FM quality"): the FM
    /// from `normal(0.001)`, the FNN as pytorch-fm (the random FNN measured best so; FNN-from-FM
    /// takes its tables from the FM either way).
    public static func recommended(for kind: ModelKind) -> TableInitialization {
        kind == .fm ? .normal(0.001) : .torch
    }
}
