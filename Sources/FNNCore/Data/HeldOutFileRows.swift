import FNNSystem

/// Joining a training file with its own validation and test files (`--validation`, `--test`):
/// the rows follow one another in one data set, so the split is three ranges of rows
/// (`DataSplit(rowCount:seed:proportions:heldOut:)`), and ids mean the same thing in every file.
///
/// Ids that are numbers in the text (MovieLens, fields TSV, binary data) are already shared: the
/// joined field sizes are the largest of the files'. Tokens (Criteo, Avazu, libffm, libsvm) are
/// joined before any vocabulary is counted, so the vocabulary can be counted on the training rows
/// alone and a held-out token the training file never shows lands in its field's rare/unseen row,
/// exactly as a held-out row of one file would.

extension Dataset {
    /// The rows of `parts`, in order, as one data set named after the first. Every part must be
    /// labelled and have the same field count.
    public static func joining(_ parts: [Dataset]) throws(InputError) -> Dataset {
        guard let first = parts.first else { preconditionFailure("joining no data sets") }
        if parts.count == 1 { return first }
        let fieldCount = first.fieldCount
        for part in parts {
            guard part.fieldCount == fieldCount else {
                throw InputError(path: part.name, "has \(part.fieldCount) fields but \(first.name) has \(fieldCount): held-out files must have the training file's fields")
            }
            guard part.hasLabels else { throw InputError(path: part.name, "has rows without labels: validation and test rows need them") }
        }
        let rowCount = parts.reduce(0) { $0 + $1.rowCount }
        let fieldDims = (0..<fieldCount).map { f in parts.map { $0.fieldDims[f] }.max()! }
        if parts.contains(where: { $0.variable != nil }) { return try joiningVariable(parts, fieldDims: fieldDims) }
        let ids = AlignedBuffer<UInt32>(count: rowCount * fieldCount)
        let labels = AlignedBuffer<Float>(count: rowCount)
        var row = 0
        for part in parts {
            for i in 0..<(part.rowCount * fieldCount) { ids[row * fieldCount + i] = part.ids[i] }
            for r in 0..<part.rowCount { labels[row + r] = part.labels[r] }
            row += part.rowCount
        }
        var joined = Dataset(name: first.name, fieldDims: fieldDims, rowCount: rowCount, ids: ids, labels: labels)
        joined.sourceFormat = first.sourceFormat
        joined.skippedLines = parts.reduce(0) { $0 + $1.skippedLines }
        joined.firstSkipped = parts.lazy.compactMap(\.firstSkipped).first
        return joined
    }
}

extension Dataset {
    /// `joining` for variable rows: every part must have the first's kinds (a held-out file read
    /// as one-hot where training declared multi-hot would pool differently); multi-hot limits are
    /// the largest of the parts'.
    private static func joiningVariable(_ parts: [Dataset], fieldDims: [Int]) throws(InputError) -> Dataset {
        let first = parts[0]
        var schema = first.schema
        for part in parts.dropFirst() {
            if let problem = first.schema.mismatch(withData: part.schema) {
                throw InputError(path: part.name, "\(problem.replacingOccurrences(of: "the model", with: first.name)): held-out files must have the training file's kinds of fields")
            }
            for f in schema.fields.indices { schema.fields[f].maxIds = max(schema.fields[f].maxIds, part.schema.fields[f].maxIds) }
        }
        var builder = VariableRows.Builder()
        var labels: [Float] = []
        for part in parts {
            for r in 0..<part.rowCount {
                if let rows = part.variable {
                    for e in rows.entries(ofRow: r) {
                        let entry = rows.table[e]
                        builder.append(field: Int(entry.field), id: entry.id, value: entry.value)
                    }
                } else {
                    for f in 0..<part.fieldCount { builder.append(field: f, id: part.ids[r * part.fieldCount + f], value: 1) }
                }
                builder.endRow()
                labels.append(part.labels[r])
            }
        }
        var joined = Dataset(name: first.name, fieldDims: fieldDims, schema: schema, rows: builder.finish(), labels: AlignedBuffer(labels))
        joined.sourceFormat = first.sourceFormat
        joined.skippedLines = parts.reduce(0) { $0 + $1.skippedLines }
        joined.firstSkipped = parts.lazy.compactMap(\.firstSkipped).first
        return joined
    }
}

extension RawCategoricalData {
    /// The rows of `parts`, in order, with each field's tokens in order of first appearance over
    /// all of them (so the ids a vocabulary gives do not depend on how the rows were spread over
    /// files). libffm files may show different numbers of fields (each counts up to the highest it
    /// shows); a row of a file without a field holds that field's "missing" token, as a libffm
    /// row without the field does. Rows as entries join rows as entries only (read every file
    /// as entries when one needs them, `loadRawCategorical(entries:)`); their fields are
    /// resolved after the join, over every file's rows.
    public static func joining(_ parts: [RawCategoricalData]) throws(InputError) -> RawCategoricalData {
        guard let first = parts.first else { preconditionFailure("joining no data") }
        if parts.count == 1 { return first }
        let fieldCount = parts.map(\.fieldCount).max()!
        for part in parts where part.fieldCount != fieldCount && part.format != .libffm {
            throw InputError(path: part.path, "has \(part.fieldCount) fields but another file has \(fieldCount): held-out files must have the training file's fields")
        }
        for part in parts where part.labels.contains(where: \.isNaN) {
            throw InputError(path: part.path, "has rows without labels: validation and test rows need them")
        }
        let asEntries = parts.contains { $0.entries != nil }
        precondition(!asEntries || parts.allSatisfy { $0.entries != nil && $0.schema == nil },
                     "rows as entries join unresolved rows as entries")
        var tokens = [[String]](repeating: [], count: fieldCount)
        var index = [[String: UInt32]](repeating: [:], count: fieldCount)
        var tokenIds: [UInt32] = []
        tokenIds.reserveCapacity(parts.reduce(0) { $0 + $1.rowCount } * fieldCount)
        var labels: [Float] = []
        var entries = RawEntries()
        var observations = [FieldObservation](repeating: FieldObservation(), count: fieldCount)
        for part in parts {
            // Per field of the part: its token index -> the joined index.
            let remap: [[UInt32]] = (0..<fieldCount).map { k in
                let own = k < part.fieldCount ? part.tokens[k] : ["missing"]
                return own.map { token in
                    if let known = index[k][token] { return known }
                    let id = UInt32(tokens[k].count)
                    tokens[k].append(token)
                    index[k][token] = id
                    return id
                }
            }
            if let own = part.entries {
                let base = entries.tokens.count
                entries.starts += own.starts.dropFirst().map { $0 + base }
                entries.fields += own.fields
                entries.values += own.values
                entries.tokens += own.fields.indices.map { remap[Int(own.fields[$0])][Int(own.tokens[$0])] }
                for (f, seen) in (part.observations ?? []).enumerated() { observations[f].merge(seen) }
                labels += part.labels
                continue
            }
            let f = part.fieldCount
            for r in 0..<part.rowCount {
                for k in 0..<fieldCount {
                    tokenIds.append(k < f ? remap[k][Int(part.tokenIds[r * f + k])] : remap[k][0])
                }
            }
            labels += part.labels
        }
        var joined = RawCategoricalData(format: first.format, path: first.path, rowCount: labels.count, labels: labels,
                                        tokens: tokens, tokenIds: tokenIds)
        if asEntries {
            joined.entries = entries
            joined.observations = observations
        }
        // Kinds the format fixes (Criteo's integers as values) hold for every part alike.
        guard parts.allSatisfy({ $0.declaredSchema == first.declaredSchema }) else {
            preconditionFailure("held-out files read with other options than the training file")
        }
        joined.declaredSchema = first.declaredSchema
        joined.skippedLines = parts.reduce(0) { $0 + $1.skippedLines }
        joined.firstSkipped = parts.lazy.compactMap(\.firstSkipped).first
        return joined
    }
}
