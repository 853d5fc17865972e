import FNNSystem

/// The input formats this loaders understand.
public enum DataFormat: String, CaseIterable, Sendable {
    /// Decide from the file's content.
    case auto
    /// MovieLens ratings: ML-1M `::`, ML-100K tab-separated, ML-latest CSV with header.
    case movielens
    /// Our interchange TSV: `label<TAB>id_1<TAB>...<TAB>id_F`, 0-based ids, `#` comments.
    case fields
    /// Criteo Display Advertising TSV (label, 13 integers, 26 hex categories).
    case criteo
    /// Avazu CSV (id, click, 22 categorical columns).
    case avazu
    /// libffm text (`label field:index:value ...`), categorical features only.
    case libffm
    /// libsvm text (`label index:value ...`) with a field map, categorical features only.
    case libsvm
    /// fnn-par's binary data file (the cache format, as `generate --out DATA.fnnpar` writes it),
    /// memory-mapped.
    case binary

    /// Formats whose raw tokens need vocabularies.
    public var categorical: CategoricalFormat? {
        switch self {
        case .criteo: return .criteo
        case .avazu: return .avazu
        case .libffm: return .libffm
        case .libsvm: return .libsvm
        default: return nil
        }
    }
}
