import FNNSystem

/// Loads a data set from a text file in the given (or detected) format.
///
/// With `unlabeledFields` (prediction input for a model of that many fields), lines may also come
/// without a label: `user::movie` (or tab / comma separated) for MovieLens, just the ids for the
/// fields format. Such rows get label 0 and the data set reports `hasLabels == false`.
public func loadDataset(path: String, format: DataFormat = .auto, unlabeledFields: Int? = nil,
                        skipBadLines: Bool = false, maxIdsPerField: Int = FieldSpec.maximumIdsPerField) throws(InputError) -> Dataset {
    if format == .binary || (format == .auto && (try? detectFormat(path: path)) == .binary) {
        return try DatasetCache.open(path: path)
    }
    let bytes = try readFileBytes(path)
    return try bytes.withUnsafeBufferPointer { (buffer) throws(InputError) -> Dataset in
        let resolved = format == .auto ? try detectFormat(buffer, path: path) : format
        switch resolved {
        case .movielens:
            return try parseMovieLens(buffer, path: path, allowUnlabeled: unlabeledFields != nil, skipBadLines: skipBadLines)
        case .fields:
            return try parseFieldsTSV(buffer, path: path, unlabeledFields: unlabeledFields, skipBadLines: skipBadLines,
                                      maxIdsPerField: maxIdsPerField)
        case .binary:
            return try DatasetCache.open(path: path)
        case .criteo, .avazu, .libffm, .libsvm:
            throw InputError(path: path, "\(resolved.rawValue) data needs a vocabulary: load it with loadCategorical")
        case .auto: fatalError("unreachable: detection returns a concrete format")
        }
    }
}
