import FNNExecution
import FNNSystem
import Foundation

/// Rows of raw tokens, interned per field, before a vocabulary turns them into ids.
public struct RawCategoricalData: Sendable {
    public let format: CategoricalFormat
    public let path: String
    public let rowCount: Int
    public let labels: [Float]
    /// Per field: distinct tokens in order of first appearance.
    public internal(set) var tokens: [[String]]
    /// rowCount x fieldCount indices into `tokens[field]`; empty when the rows are `entries`.
    public let tokenIds: [UInt32]
    /// libffm / libsvm rows that name a field twice or give values: their items, and what they
    /// showed of each field. nil for fixed-width rows.
    public internal(set) var entries: RawEntries?
    public internal(set) var observations: [FieldObservation]?
    /// The fields' kinds, once `resolvingFields` has decided them (always for fixed-width rows).
    public internal(set) var schema: FieldSchema?
    /// Kinds the format fixes whatever the rows show (Criteo's integer columns read as values).
    public internal(set) var declaredSchema: FieldSchema?
    /// Malformed lines left out under `skipBadLines`, and the first of them.
    public var skippedLines = 0
    public var firstSkipped: InputError?
    /// Per left-out line, the rows kept before it (see `Dataset.skippedRowPositions`).
    public var skippedRowPositions: [Int] = []
    /// Per data line, its identifier column's text (see `ScoringInput.identifierColumn`).
    public var rowIdentifiers: [String]?

    public var fieldCount: Int { tokens.count }

    /// What messages call libffm / libsvm fields: their numbers in the file (and the field map).
    public var fieldNames: [String] {
        format == .criteo ? criteoValueSchema.fields.map(\.name) : (0..<fieldCount).map { "f\($0)" }
    }

    /// The kinds the rows call for (`FieldSchema.inferred`); one-hot for fixed-width rows.
    public func inferredSchema(pooling: Pooling) -> FieldSchema {
        if let declaredSchema { return declaredSchema }
        guard let observations else { return .oneHot(fieldCount: fieldCount, names: fieldNames) }
        return .inferred(from: observations, pooling: pooling, names: fieldNames)
    }

    /// The rows under `schema`: a categorical field a row does not name gets the "missing" token
    /// (as in a fixed-width libffm row), other fields stay as the row gives them; tokens are
    /// numbered again in order of first appearance, "missing" included. Only after this do
    /// vocabularies and data sets come from entries.
    public func resolvingFields(_ schema: FieldSchema) -> RawCategoricalData {
        precondition(schema.count == fieldCount)
        var resolved = self
        resolved.schema = schema
        guard let entries else { return resolved }
        let categorical = schema.fields.map { $0.kind == .categorical }
        var numbering = TokenRenumbering(tokens: tokens)
        var out = RawEntries()
        out.starts.reserveCapacity(entries.starts.count)
        out.tokens.reserveCapacity(entries.tokens.count)
        entries.fields.withUnsafeBufferPointer { fields in
            entries.tokens.withUnsafeBufferPointer { tokens in
                entries.values.withUnsafeBufferPointer { values in
                    for r in 0..<entries.rowCount {
                        let row = entries.items(ofRow: r)
                        numbering.resolve(fields: UnsafeBufferPointer(rebasing: fields[row]), tokens: UnsafeBufferPointer(rebasing: tokens[row]),
                                          values: UnsafeBufferPointer(rebasing: values[row]), categorical: categorical) {
                            out.append(field: $0, token: $1, value: $2)
                        }
                        out.endRow()
                    }
                }
            }
        }
        resolved.entries = out
        resolved.tokens = numbering.order
        return resolved
    }
    /// Vocabularies counted over `rows` (nil: every row).
    public func vocabulary(minCount: Int, rows: [Int]? = nil) -> Vocabulary {
        var counts = tokens.map { [Int](repeating: 0, count: $0.count) }
        let f = fieldCount
        if let entries {
            precondition(schema != nil, "entries are counted once their fields are resolved")
            func count(_ r: Int) { for e in entries.items(ofRow: r) { counts[Int(entries.fields[e])][Int(entries.tokens[e])] += 1 } }
            if let rows { rows.forEach(count) } else { (0..<rowCount).forEach(count) }
        } else if let rows {
            for r in rows { for k in 0..<f { counts[k][Int(tokenIds[r * f + k])] += 1 } }
        } else {
            for i in 0..<(rowCount * f) { counts[i % f][Int(tokenIds[i])] += 1 }
        }
        // Ids in order of first appearance in the file, so the mapping does not depend on hashing.
        return Vocabulary.counted(tokens: tokens, counts: counts, minCount: minCount).0
    }

    /// Per field, the rows whose token `vocabulary` maps to the field's rare/unseen row (a token
    /// never seen in training, or seen too rarely to be kept).
    public func rareOrUnseenCounts(vocabulary: Vocabulary) -> [Int] {
        let f = fieldCount
        let unknown = (0..<f).map { k in tokens[k].map { vocabulary.fields[k][$0] == nil } }
        var counts = [Int](repeating: 0, count: f)
        if let entries {
            for e in entries.tokens.indices where unknown[Int(entries.fields[e])][Int(entries.tokens[e])] {
                counts[Int(entries.fields[e])] += 1
            }
            return counts
        }
        for i in 0..<(rowCount * f) where unknown[i % f][Int(tokenIds[i])] { counts[i % f] += 1 }
        return counts
    }

    /// The data set under `vocabulary`.
    public func dataset(vocabulary: Vocabulary) -> Dataset {
        let f = fieldCount
        // Per field: token index -> id.
        let lookup = (0..<f).map { k in tokens[k].map { vocabulary.id(field: k, token: $0) } }
        if let entries {
            guard let schema else { preconditionFailure("entries become a data set once their fields are resolved") }
            var builder = VariableRows.Builder(reservingEntries: entries.tokens.count)
            for r in 0..<rowCount {
                for e in entries.items(ofRow: r) {
                    let k = Int(entries.fields[e])
                    builder.append(field: k, id: lookup[k][Int(entries.tokens[e])], value: entries.values[e])
                }
                builder.endRow()
            }
            let data = Dataset(name: path, fieldDims: vocabulary.fieldDims, schema: schema, rows: builder.finish(),
                               labels: AlignedBuffer(labels))
            return withRowDetails(data, vocabulary: vocabulary)
        }
        var ids = [UInt32](repeating: 0, count: rowCount * f)
        for i in 0..<(rowCount * f) { ids[i] = lookup[i % f][Int(tokenIds[i])] }
        return withRowDetails(Dataset(name: path, fieldDims: vocabulary.fieldDims, ids: ids, labels: labels), vocabulary: vocabulary)
    }

    /// `rows` with what the parse kept besides them: vocabulary, lines left out, identifiers.
    private func withRowDetails(_ rows: Dataset, vocabulary: Vocabulary) -> Dataset {
        var data = rows
        data.vocabulary = vocabulary
        data.skippedLines = skippedLines
        data.firstSkipped = firstSkipped
        data.skippedRowPositions = skippedRowPositions
        data.rowIdentifiers = rowIdentifiers
        data.hasLabels = !labels.contains { $0.isNaN }
        return data
    }
}
