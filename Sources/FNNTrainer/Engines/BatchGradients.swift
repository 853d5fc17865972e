import FNNCore
import FNNExecution
import FNNSystem


/// A batch's full gradient in plain arrays, assembled from the workspace for tests.
public struct BatchGradients {
    public var dense: [Float]
    /// tableRows x embedDim.
    public var embedding: [Float]
    /// tableRows, when the model has a linear table.
    public var linear: [Float]?

    /// `table`: the embedding table as the forward pass saw it (FM's factored gradients need it).
    static func collect(dense: [Float], rowIds: UnsafePointer<UInt32>, positionCount: Int, tableRows: Int, width: Int,
                        table: TableRows, gradients: RowGradients) -> BatchGradients {
        let grouping = RowGrouping(tableRows: tableRows, maxPositions: positionCount, width: width)
        grouping.build(rowIds: rowIds, count: positionCount, gradients: gradients)
        var e = [Float](repeating: 0, count: tableRows * width)
        var l: [Float]? = gradients.linear == nil ? nil : [Float](repeating: 0, count: tableRows)
        for u in 0..<grouping.uniqueCount {
            let row = Int(grouping.uniqueRows[u])
            let (g, linear) = grouping.gradient(ofUnique: u, row: table.row(row), width: width)
            for j in 0..<width { e[row * width + j] = g[j] }
            l?[row] = linear
        }
        return BatchGradients(dense: dense, embedding: e, linear: l)
    }
}
