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
    public let tokens: [[String]]
    /// rowCount x fieldCount indices into `tokens[field]`.
    public let tokenIds: [UInt32]
    /// Malformed lines left out under `skipBadLines`, and the first of them.
    public var skippedLines = 0
    public var firstSkipped: InputError?
    /// Per left-out line, the rows kept before it (see `Dataset.skippedRowPositions`).
    public var skippedRowPositions: [Int] = []
    /// Per data line, its identifier column's text (see `ScoringInput.identifierColumn`).
    public var rowIdentifiers: [String]?

    public var fieldCount: Int { tokens.count }

    /// Vocabularies counted over `rows` (nil: every row).
    public func vocabulary(minCount: Int, rows: [Int]? = nil) -> Vocabulary {
        var counts = tokens.map { [Int](repeating: 0, count: $0.count) }
        let f = fieldCount
        if let rows {
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
        for i in 0..<(rowCount * f) where unknown[i % f][Int(tokenIds[i])] { counts[i % f] += 1 }
        return counts
    }

    /// The data set under `vocabulary`.
    public func dataset(vocabulary: Vocabulary) -> Dataset {
        let f = fieldCount
        // Per field: token index -> id.
        let lookup = (0..<f).map { k in tokens[k].map { vocabulary.id(field: k, token: $0) } }
        var ids = [UInt32](repeating: 0, count: rowCount * f)
        for i in 0..<(rowCount * f) { ids[i] = lookup[i % f][Int(tokenIds[i])] }
        var data = Dataset(name: path, fieldDims: vocabulary.fieldDims, ids: ids, labels: labels)
        data.vocabulary = vocabulary
        data.skippedLines = skippedLines
        data.firstSkipped = firstSkipped
        data.skippedRowPositions = skippedRowPositions
        data.rowIdentifiers = rowIdentifiers
        data.hasLabels = !labels.contains { $0.isNaN }
        return data
    }
}
