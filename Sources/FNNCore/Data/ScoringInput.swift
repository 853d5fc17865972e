import FNNExecution
import FNNSystem
import Foundation

/// What reading rows to score (not to train on) admits: rows without the label (Criteo's and
/// Avazu's test files, libffm / libsvm lines that start with a feature), and an identifier column
/// (0-based) whose text is kept per line so `predict` can write it beside each score.
public struct ScoringInput: Sendable {
    public var unlabeledRows: Bool
    public var identifierColumn: Int?

    public init(unlabeledRows: Bool = false, identifierColumn: Int? = nil) {
        self.unlabeledRows = unlabeledRows
        self.identifierColumn = identifierColumn
    }
}
