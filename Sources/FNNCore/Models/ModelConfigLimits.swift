/// A model configuration read from a file (model, checkpoint) or built from options is checked
/// before anything is allocated for it: every size within bounds, and its parameter count summed
/// with overflow-checked arithmetic, so that a crafted header cannot trap an addition or ask for
/// terabytes.
extension ModelConfig {
    /// Bounds well beyond any real model, and small enough that products of them cannot overflow.
    public static let maximumTableRows = 1 << 40
    public static let maximumEmbedDim = 4096
    public static let maximumLayerWidth = 1 << 16
    public static let maximumLayers = 64

    /// Parameters of every kind (tables, linear weights, dense vector, BatchNorm statistics), or
    /// nil when a size is out of bounds or the count overflows.
    public var checkedParameterCount: Int? {
        guard !fieldDims.isEmpty, fieldDims.count <= Self.maximumTableRows, (1...Self.maximumEmbedDim).contains(embedDim),
              mlpDims.count <= Self.maximumLayers, mlpDims.allSatisfy({ (1...Self.maximumLayerWidth).contains($0) }),
              dropout >= 0, dropout < 1
        else { return nil }
        var rows = 0
        for d in fieldDims {
            guard d >= 1, d <= Self.maximumTableRows else { return nil }
            rows += d
            guard rows <= Self.maximumTableRows else { return nil }
        }
        var total = rows * embedDim + (hasLinearTable ? rows : 0)
        if kind == .fnn {
            // Fields are at most 2^40 and widths 2^16: products of two stay below 2^63, and
            // each step is checked.
            var inputs = fieldCount.multipliedReportingOverflow(by: fieldInputWidth)
            guard !inputs.overflow else { return nil }
            for outputs in mlpDims {
                let weights = inputs.partialValue.multipliedReportingOverflow(by: outputs)
                guard !weights.overflow else { return nil }
                // Weights, bias, BatchNorm gamma and beta, running mean and variance.
                let added = total.addingReportingOverflow(weights.partialValue + 5 * outputs)
                guard !added.overflow else { return nil }
                total = added.partialValue
                inputs = (outputs, false)
            }
            let output = total.addingReportingOverflow(inputs.partialValue + 1)
            guard !output.overflow else { return nil }
            total = output.partialValue
        } else {
            total += 1
        }
        return total
    }

    /// Why this configuration cannot be a real model, or nil.
    public var implausibility: String? {
        if checkedParameterCount != nil { return nil }
        if fieldDims.isEmpty { return "no fields" }
        if let bad = fieldDims.first(where: { $0 < 1 || $0 > Self.maximumTableRows }) { return "a field of size \(bad)" }
        if !(1...Self.maximumEmbedDim).contains(embedDim) { return "embedding dimension \(embedDim) (at most \(Self.maximumEmbedDim))" }
        if let bad = mlpDims.first(where: { !(1...Self.maximumLayerWidth).contains($0) }) { return "an MLP layer of width \(bad) (at most \(Self.maximumLayerWidth))" }
        if mlpDims.count > Self.maximumLayers { return "\(mlpDims.count) MLP layers (at most \(Self.maximumLayers))" }
        if !(dropout >= 0 && dropout < 1) { return "dropout \(dropout)" }
        return "more than \(Self.maximumTableRows) table rows, or a parameter count that overflows"
    }
}
