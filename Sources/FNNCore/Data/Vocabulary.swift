import FNNExecution
import FNNSystem
import Foundation

/// Per-field vocabularies for raw categorical tokens: how tokens become ids.
///
/// As pytorch-fm's Criteo and Avazu datasets: a token seen at least `minCount` times (in the rows
/// the vocabulary is built from) gets its own id, in order of first appearance; every other
/// token, and any token never seen, maps to the field's last id, its rare/unseen index. So a
/// field of k kept tokens has size k + 1.
public struct Vocabulary: Sendable, Equatable {
    /// Per field: kept token -> id.
    public var fields: [[String: UInt32]]

    public var fieldDims: [Int] { fields.map { $0.count + 1 } }

    public func id(field: Int, token: String) -> UInt32 {
        fields[field][token] ?? UInt32(fields[field].count)
    }

    public init(fields: [[String: UInt32]]) { self.fields = fields }

    /// The vocabularies of tokens with their counts (per field, tokens in order of first
    /// appearance), and, per field, each token's id. Tokens are interned by their bytes, but a
    /// vocabulary is keyed by String, and Strings compare by canonical equivalence (NFC and NFD
    /// spellings of "é" are one String): such tokens are merged, counts added, before the
    /// threshold, so every path gives the same ids.
    static func counted(tokens: [[String]], counts: [[Int]], minCount: Int) -> (Vocabulary, lookups: [[UInt32]]) {
        var maps: [[String: UInt32]] = []
        var lookups: [[UInt32]] = []
        for (field, fieldTokens) in tokens.enumerated() {
            let (map, lookup) = countedField(tokens: fieldTokens, counts: counts[field], minCount: minCount)
            maps.append(map)
            lookups.append(lookup)
        }
        return (Vocabulary(fields: maps), lookups)
    }

    /// One field of `counted`: the kept tokens' ids, and each token's id.
    static func countedField(tokens: [String], counts: [Int], minCount: Int) -> ([String: UInt32], [UInt32]) {
        // Classes of String-equal tokens: their counts added, named by their first spelling. All-ASCII
        // tokens that differ in bytes differ as Strings too, so there each token is its own class
        // and the dictionary over every token (the large part, for a field of millions) is skipped.
        var classOf: [Int]?
        var firstOfClass: [Int]?
        var classCounts = counts
        if !tokens.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) {
            var classOfToken: [String: Int] = [:]
            var of = [Int](repeating: 0, count: tokens.count)
            var first: [Int] = []
            classCounts = []
            for (t, token) in tokens.enumerated() {
                if let c = classOfToken[token] {
                    of[t] = c
                    classCounts[c] += counts[t]
                } else {
                    classOfToken[token] = first.count
                    of[t] = first.count
                    first.append(t)
                    classCounts.append(counts[t])
                }
            }
            classOf = of
            firstOfClass = first
        }
        var map: [String: UInt32] = [:]
        var idOfClass = [UInt32?](repeating: nil, count: classCounts.count)
        for c in classCounts.indices where classCounts[c] >= minCount {
            idOfClass[c] = UInt32(map.count)
            map[tokens[firstOfClass?[c] ?? c]] = UInt32(map.count)
        }
        let unseen = UInt32(map.count)
        return (map, tokens.indices.map { idOfClass[classOf?[$0] ?? $0] ?? unseen })
    }

    /// Per field, the kept tokens in id order.
    public var orderedTokens: [[String]] { fields.map { map in map.sorted { $0.value < $1.value }.map(\.key) } }

    /// JSON: per field, the kept tokens in id order. Read for files written before vocabularies
    /// became tensors.
    public func serialized() -> String {
        String(decoding: try! JSONEncoder().encode(orderedTokens), as: UTF8.self)
    }

    /// Tensor names, under a prefix: the UTF-8 bytes of every kept token back to back (U8), the
    /// byte offset where each token starts plus the end (I64), and each field's number of kept
    /// tokens (I64). Tensors, not header metadata: a full Criteo or Avazu vocabulary runs to tens
    /// of millions of tokens, past what a safetensors header (JSON, at most 100 MB) may hold.
    public static let tensorPrefix = "vocabulary."

    public func tensors() -> [String: SafeTensors.Tensor] {
        let ordered = orderedTokens
        var bytes: [UInt8] = []
        var offsets: [Int64] = [0]
        for field in ordered {
            for token in field {
                bytes.append(contentsOf: token.utf8)
                offsets.append(Int64(bytes.count))
            }
        }
        let p = Self.tensorPrefix
        return [
            p + "tokens": SafeTensors.Tensor(dtype: .u8, shape: [bytes.count]) { raw in bytes.withUnsafeBytes { raw.copyMemory(from: $0) } },
            p + "token_offsets": SafeTensors.Tensor(int64s: offsets),
            p + "field_sizes": SafeTensors.Tensor(int64s: ordered.map { Int64($0.count) }),
        ]
    }

    /// The vocabulary stored in `file` as tensors, or, in older files, as JSON metadata; nil when
    /// there is none. A malformed one is an error naming `path`.
    public init?(file: SafeTensors, path: String) throws(ModelFileError) {
        let p = Self.tensorPrefix
        guard let tokens = file.tensors[p + "tokens"] else {
            guard let text = file.metadata["vocabulary"] else { return nil }
            guard let v = Vocabulary(serialized: text) else { throw ModelFileError(path: path, "corrupt vocabulary metadata") }
            self = v
            return
        }
        guard tokens.dtype == .u8, tokens.shape.count == 1,
              let offsets = file.tensors[p + "token_offsets"]?.int64s, let sizes = file.tensors[p + "field_sizes"]?.int64s,
              offsets.count == Int(sizes.reduce(0, +)) + 1, sizes.allSatisfy({ $0 >= 0 }), offsets.first == 0,
              offsets.last == Int64(tokens.bytes.count), zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw ModelFileError(path: path, "corrupt vocabulary tensors") }
        var maps: [[String: UInt32]] = []
        var next = 0
        tokens.bytes.withUnsafeBufferPointer { raw in
            for size in sizes {
                var map: [String: UInt32] = [:]
                map.reserveCapacity(Int(size))
                for id in 0..<Int(size) {
                    let token = String(decoding: raw[Int(offsets[next])..<Int(offsets[next + 1])], as: UTF8.self)
                    if map[token] == nil { map[token] = UInt32(id) }
                    next += 1
                }
                maps.append(map)
            }
        }
        guard zip(maps, sizes).allSatisfy({ $0.count == Int($1) }) else {
            throw ModelFileError(path: path, "corrupt vocabulary: a token is listed twice")
        }
        fields = maps
    }

    public init?(serialized text: String) {
        guard let ordered = try? JSONDecoder().decode([[String]].self, from: Data(text.utf8)) else { return nil }
        let maps = ordered.map { tokens in Dictionary(tokens.enumerated().map { ($0.element, UInt32($0.offset)) }) { first, _ in first } }
        // A token listed twice is a corrupt file, not a vocabulary.
        guard zip(maps, ordered).allSatisfy({ $0.count == $1.count }) else { return nil }
        fields = maps
    }
}

/// Which rows vocabularies are counted on.
public enum VocabularySource: String, Sendable, CaseIterable, Codable {
    /// The training split only: validation and test tokens the training rows never showed map to
    /// the unseen index, as they will in production. The default.
    case train
    /// Every row, as pytorch-fm does (its counts include the test rows).
    case all
}
