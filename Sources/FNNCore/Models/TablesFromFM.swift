/// FNN-from-FM, the paper's second stage: the FNN's embedding table starts as a trained FM's (and
/// its linear weights too, when the MLP sees them: `--fnn-input embedding+linear`), while its MLP
/// keeps its own initialisation, so an FNN from the FM and one from random init differ only in
/// their tables. One place for the experiment and `fnn-par fnn --init-from`.
extension Model {
    /// Copies `fm`'s tables into this model; `source` names the FM in errors (a file path).
    public func startTables(from fm: Model, source: String) throws(TablesFromFMError) {
        guard fm.config.embedDim == config.embedDim else {
            throw TablesFromFMError("\(source): its embedding dimension is \(fm.config.embedDim), this FNN's is \(config.embedDim) (--embed-dim)")
        }
        guard fm.config.fieldDims == config.fieldDims else {
            throw TablesFromFMError("\(source): its fields are \(fm.config.fieldDims), this FNN's are \(config.fieldDims): the FM was trained on other data")
        }
        // Both hold the same rows: the experiment makes both stages with one shard, and
        // `--init-from` loads the FM's file cut to this model's shard.
        precondition(fm.shard == shard, "an FM's tables start an FNN only of the same shard")
        embedding.copy(from: fm.embedding)
        tablesDidChange()
        if let linear {
            guard let fmLinear = fm.linear else {
                throw TablesFromFMError("\(source): --fnn-input embedding+linear needs linear weights, and this model has none")
            }
            linear.copy(from: fmLinear)
        }
    }
}

/// Why an FM's tables cannot start this FNN.
public struct TablesFromFMError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}
