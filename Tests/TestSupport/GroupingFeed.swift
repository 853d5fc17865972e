import FNNCore

/// Builds `grouping` from a batch of table rows and its gradient entries: one entry per position
/// (`linear` gradients only `withLinear`), or FM's factored form with `positionsPerEntry`
/// positions per example (`factored`), as the table rules' reference tests feed them.
public func buildGrouping(_ grouping: RowGrouping, batch: [UInt32], entries: [Float], linearEntries: [Float], width: Int,
                   withLinear: Bool, factored: Bool, positionsPerEntry: Int) {
    entries.withUnsafeBufferPointer { g in
        linearEntries.withUnsafeBufferPointer { lg in
            var gradients = RowGradients(embedding: g.baseAddress!, embeddingStride: width,
                                         linear: withLinear ? lg.baseAddress! : nil, linearStride: 1)
            if factored {
                gradients = .fm(scaledSums: g.baseAddress!, logitGradients: lg.baseAddress!, embedDim: width,
                                fieldCount: positionsPerEntry)
            }
            batch.withUnsafeBufferPointer { grouping.build(rowIds: $0.baseAddress!, count: batch.count, gradients: gradients) }
        }
    }
}
