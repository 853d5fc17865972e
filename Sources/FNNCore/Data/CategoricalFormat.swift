import FNNExecution
import FNNSystem
import Foundation

/// The raw categorical formats.
public enum CategoricalFormat: String, Sendable {
    /// Criteo Display Advertising (Kaggle / DAC) `train.txt`: label, 13 integer columns, 26 hex
    /// categorical columns, tab-separated, empty values allowed.
    case criteo
    /// Avazu `train.csv`: id, click, then 22 categorical columns; header line optional.
    case avazu
    /// libffm text, `label field:index:value ...`, used categorically: each field's index is its
    /// token, values must be 1, a field may appear at most once per row (one-hot), and a field a
    /// row lacks gets the token "missing". Numeric values and multi-hot fields are not supported.
    case libffm
    /// libsvm text, `label index:value ...`, with a `FieldMap` that assigns each feature index to
    /// a field; then as libffm.
    case libsvm

    public var defaultMinCount: Int {
        switch self {
        case .criteo: return 10
        case .avazu: return 4
        case .libffm, .libsvm: return 1
        }
    }
}
