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

/// pytorch-fm's treatment of Criteo's integer columns: empty is its own token ("NULL"; nil
/// inside), v > 2 becomes int(ln(v)^2), anything else v - 2. Nil when the column is not an integer.
func criteoIntegerCode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int?? {
    if range.isEmpty { return .some(nil) }
    var i = range.lowerBound
    var negative = false
    if bytes[i] == 0x2D { negative = true; i += 1 }
    guard i < range.upperBound, range.upperBound - i <= 18 else { return nil }
    var v = 0
    var end = range.upperBound
    // CSV exports (DeepCTR's criteo_sample) write the integers as floats: "260.0".
    if let dot = (i..<range.upperBound).first(where: { bytes[$0] == 0x2E }) {
        guard dot > i, (dot + 1..<range.upperBound).allSatisfy({ bytes[$0] == 0x30 }) else { return nil }
        end = dot
    }
    while i < end {
        let d = bytes[i] &- 0x30
        if d > 9 { return nil }
        v = v * 10 + Int(d)
        i += 1
    }
    if negative { v = -v }
    if v > 2 {
        let l = Foundation.log(Double(v))
        return .some(Int(l * l))
    }
    return .some(v - 2)
}

/// Interns the token of a Criteo integer code: its decimal digits, or "NULL".
func internIntegerToken(_ code: Int?, into interner: inout TokenInterner) -> UInt32 {
    guard let code else { return "NULL".utf8.withContiguousStorageIfAvailable { interner.intern(UnsafeRawBufferPointer($0)) }! }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
        var i = 24
        var v = code.magnitude
        repeat {
            i -= 1
            buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        } while v > 0
        if code < 0 { i -= 1; buffer[i] = UInt8(ascii: "-") }
        return interner.intern(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[i..<24])))
    }
}

/// Categorical text (Criteo, Avazu, libffm, libsvm) into interned tokens, parsed in parallel when
/// an executor is given: the file is cut into
/// chunks at line ends, each chunk is parsed on its own (tokens interned per chunk), and the chunks
/// are merged in file order, so tokens get ids in order of first appearance in the file and the
/// result is identical to a sequential parse. Errors carry the line number in the whole file.
/// libsvm needs `fieldMap`. `minimumFields`: libffm takes its field count from the highest field
/// it sees; a model's data may have more (a held-out file that never shows the last field).
public func loadRawCategorical(path: String, format: CategoricalFormat, skipBadLines: Bool = false,
                               executor: PhaseExecutor? = nil, minimumChunkBytes: Int = 4 << 20,
                               fieldMap: FieldMap? = nil, minimumFields: Int = 0,
                               scoring: ScoringInput = ScoringInput()) throws(InputError) -> RawCategoricalData {
    if scoring.identifierColumn != nil && (format == .libffm || format == .libsvm) {
        throw InputError(path: path, "an id column is read from Criteo and Avazu rows only (libffm / libsvm rows have no columns besides the label)")
    }
    if format == .libffm {
        return try loadLibFFM(path: path, skipBadLines: skipBadLines, fieldMap: nil, minimumFields: minimumFields,
                              executor: executor, minimumChunkBytes: minimumChunkBytes, unlabeledRows: scoring.unlabeledRows)
    }
    if format == .libsvm {
        guard let fieldMap else {
            throw InputError(path: path, "libsvm rows (index:value) name no fields, which an FM needs: give --field-map FILE with lines 'INDEX FIELD' or 'FIRST-LAST FIELD'")
        }
        return try loadLibFFM(path: path, skipBadLines: skipBadLines, fieldMap: fieldMap, executor: executor,
                              minimumChunkBytes: minimumChunkBytes, unlabeledRows: scoring.unlabeledRows)
    }
    let bytes = try readFileBytes(path)
    return try bytes.withUnsafeBufferPointer { (b) throws(InputError) -> RawCategoricalData in
        let boxes = parseCategoricalChunks(b, format: format, atFileStart: true, path: path, skipBadLines: skipBadLines,
                                           executor: executor, minimumChunkBytes: minimumChunkBytes, scoring: scoring,
                                           layout: .detect(format, start: b))
        var merger = CategoricalMerger(format: format)
        return try merger.rawData(merging: boxes, format: format, path: path)
    }
}

/// Criteo / Avazu bytes cut into chunks at line ends and parsed, in parallel when an executor is
/// given. `atFileStart`: the bytes begin the file (only there may a header line appear).
func parseCategoricalChunks(
    _ b: UnsafeBufferPointer<UInt8>, format: CategoricalFormat, atFileStart: Bool, path: String, skipBadLines: Bool,
    executor: PhaseExecutor?, minimumChunkBytes: Int, scoring: ScoringInput = ScoringInput(), layout: CategoricalLayout? = nil
) -> [CategoricalChunk] {
    let layout = layout ?? (format == .criteo ? .criteoTSV : .avazu)
    let boxes = (0..<categoricalChunkCount(bytes: b.count, executor: executor, minimumChunkBytes: minimumChunkBytes))
        .map { _ in CategoricalChunk() }
    forEachChunk(of: b, executor: executor, minimumChunkBytes: minimumChunkBytes) { k, chunk in
        boxes[k].parse(chunk, format: format, headerAllowed: atFileStart && k == 0, path: path, skipBadLines: skipBadLines,
                       scoring: scoring, layout: layout)
    }
    return boxes
}

/// Chunks merged in file order into file-wide token ids (first appearance in the file), so the
/// result does not depend on how the file was cut. Keeps the distinct tokens and the labels; the
/// rows' token ids go to `emit`, a chunk at a time.
struct CategoricalMerger {
    let fieldCount: Int
    var interners: [TokenInterner]
    var labels: [Float] = []
    var skipped = 0
    var firstSkipped: InputError?
    var skippedPositions: [Int] = []
    var identifiers: [String]?
    var linesBefore = 0

    init(format: CategoricalFormat) {
        self.init(fieldCount: format == .criteo ? 39 : 22)
    }

    init(fieldCount: Int) {
        self.fieldCount = fieldCount
        interners = [TokenInterner](repeating: TokenInterner(), count: fieldCount)
    }

    /// A whole file's chunks merged into its raw data.
    mutating func rawData(merging boxes: [CategoricalChunk], format: CategoricalFormat, path: String) throws(InputError)
        -> RawCategoricalData {
        var tokenIds: [UInt32] = []
        try absorb(boxes) { tokenIds.append(contentsOf: $0) }
        if labels.isEmpty { throw InputError(path: path, "empty file: no data rows") }
        return RawCategoricalData(format: format, path: path, rowCount: labels.count, labels: labels,
                                  tokens: interners.map(\.tokens), tokenIds: tokenIds, skippedLines: skipped,
                                  firstSkipped: firstSkipped, skippedRowPositions: skippedPositions, rowIdentifiers: identifiers)
    }

    mutating func absorb(_ boxes: [CategoricalChunk], emit: (UnsafeBufferPointer<UInt32>) -> Void) throws(InputError) {
        let linesAtStart = linesBefore
        func global(_ e: InputError, _ before: Int) -> InputError {
            InputError(path: e.path, line: e.line.map { $0 + before }, e.message)
        }
        var before = linesAtStart
        for box in boxes {
            if let failure = box.failure { throw global(failure, before) }
            if let f = box.firstSkipped, firstSkipped == nil { firstSkipped = global(f, before) }
            skipped += box.skipped
            skippedPositions += box.skippedAt.map { $0 + labels.count }
            if let ids = box.identifiers { identifiers = (identifiers ?? []) + ids }
            // Chunk-local token ids to file-wide ones, interning in the chunk's order of appearance:
            // one flat table, field k's part starting at starts[k].
            var starts = [Int](repeating: 0, count: fieldCount)
            var map: [UInt32] = []
            for k in 0..<fieldCount {
                starts[k] = map.count
                for token in box.tokens[k] { map.append(interners[k].intern(token)) }
            }
            // Taken out of the chunk, so the remapping below writes in place instead of copying.
            var ids = box.tokenIds
            box.tokenIds = []
            map.withUnsafeBufferPointer { map in
                starts.withUnsafeBufferPointer { starts in
                    ids.withUnsafeMutableBufferPointer { ids in
                        var i = 0
                        while i < ids.count {
                            for k in 0..<fieldCount { ids[i + k] = map[starts[k] + Int(ids[i + k])] }
                            i += fieldCount
                        }
                    }
                }
            }
            ids.withUnsafeBufferPointer { emit($0) }
            labels += box.labels
            before += box.lines
        }
        linesBefore = before
    }
}

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

/// How a Criteo or Avazu file lays out its columns: Criteo's own `train.txt` is tab-separated
/// without a header; its CSV exports start with a header and are comma-separated, DeepCTR's
/// (`label,I1,...,C26`) as the TSV's columns, Kaggle's (`Id,Label,I1,...`) with an id column first.
public struct CategoricalLayout: Sendable, Equatable {
    var separator: Separator
    /// Columns before the label (Kaggle's CSV: its `Id`).
    var leadingColumns: Int
    /// The first line is a header (Criteo CSV; Avazu's is recognised by its names line by line).
    var header: Bool

    public static let criteoTSV = CategoricalLayout(separator: .tab, leadingColumns: 0, header: false)
    public static let avazu = CategoricalLayout(separator: .comma, leadingColumns: 0, header: false)

    /// The layout of `format` text whose first data line (or header) is `firstLine`.
    public static func detect(_ format: CategoricalFormat, firstLine: String) -> CategoricalLayout {
        guard format == .criteo else { return .avazu }
        let names = firstLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        if names.count == 40 && names[0] == "label" && names[1] == "i1" {
            return CategoricalLayout(separator: .comma, leadingColumns: 0, header: true)
        }
        if names.count == 41 && names[0] == "id" && names[1] == "label" && names[2] == "i1" {
            return CategoricalLayout(separator: .comma, leadingColumns: 1, header: true)
        }
        return .criteoTSV
    }

    /// The layout of `format` text starting with `bytes`.
    public static func detect(_ format: CategoricalFormat, start bytes: UnsafeBufferPointer<UInt8>) -> CategoricalLayout {
        let end = bytes.firstIndex(of: 0x0A) ?? bytes.count
        return detect(format, firstLine: String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<min(end, 4096)]), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// One chunk's parse: its rows with chunk-local token ids, or where it failed.
final class CategoricalChunk: @unchecked Sendable {
    var labels: [Float] = []
    var tokenIds: [UInt32] = []
    var tokens: [[String]] = []
    /// Lines scanned (all of the chunk unless it failed).
    var lines = 0
    var skipped = 0
    var firstSkipped: InputError?
    /// Per left-out line, the chunk's rows kept before it.
    var skippedAt: [Int] = []
    /// Per data line (kept or left out), the identifier column's text, when one was asked for.
    var identifiers: [String]?
    var failure: InputError?

    func parse(_ b: UnsafeBufferPointer<UInt8>, format: CategoricalFormat, headerAllowed: Bool, path: String, skipBadLines: Bool,
               scoring: ScoringInput = ScoringInput(), layout: CategoricalLayout = .criteoTSV) {
        var scanner = LineScanner(b)
        var columns: [Range<Int>] = []
        let fieldCount = format == .criteo ? 39 : 22
        // Criteo: [leading (Kaggle CSV's Id)] label, 13 integers, 26 categories; Avazu: id, click, 22.
        let lead = format == .criteo ? layout.leadingColumns : 0
        let expectedColumns = (format == .criteo ? 40 : 24) + lead
        // Rows to score may lack the label column: Criteo's test.txt (39 columns), Avazu's test.csv
        // (id and 22 categories).
        let unlabeledColumns = scoring.unlabeledRows ? expectedColumns - 1 : -1
        let separator: Separator = format == .criteo ? layout.separator : .comma
        if scoring.identifierColumn != nil { identifiers = [] }
        var interners = [TokenInterner](repeating: TokenInterner(), count: fieldCount)
        var integerCodes = [Int?](repeating: nil, count: 13)
        tokenIds.reserveCapacity(b.count / 6)
        defer { tokens = interners.map(\.tokens) }
        var first = headerAllowed
        defer { lines = scanner.lineNumber }
        func reject(_ message: String) -> Bool {
            let e = InputError(path: path, line: scanner.lineNumber, message)
            guard skipBadLines else { failure = e; return false }
            skipped += 1
            skippedAt.append(labels.count)
            if firstSkipped == nil { firstSkipped = e }
            return true
        }
        while let line = scanner.nextLine() {
            if b.isBlank(line) { continue }
            b.splitColumns(line, by: separator, into: &columns)
            if first {
                first = false
                if format == .criteo && layout.header { continue }
                // Avazu's header: "id,click,hour,..." (train.csv) or "id,hour,..." (test.csv).
                if format == .avazu, columns.count == expectedColumns || columns.count == unlabeledColumns,
                   b.text(columns[0]) == "id", ["click", "hour"].contains(b.text(columns[1])) { continue }
            }
            if let k = scoring.identifierColumn { identifiers!.append(k < columns.count ? b.text(columns[k]) : "") }
            guard columns.count == expectedColumns || columns.count == unlabeledColumns else {
                let expected = scoring.unlabeledRows ? "\(expectedColumns) (or \(unlabeledColumns), without the label)" : "\(expectedColumns)"
                if reject("expected \(expected) \(separator == .tab ? "tab" : "comma")-separated columns (\(format.rawValue)), found \(columns.count)") { continue }
                return
            }
            // Where the columns after the label start: without a label, one column sooner.
            let shift = (columns.count == expectedColumns ? 0 : -1) + lead
            var label = Float.nan
            if columns.count == expectedColumns {
                let labelColumn = format == .criteo ? columns[lead] : columns[1]
                guard labelColumn.count == 1, b[labelColumn.lowerBound] == 0x30 || b[labelColumn.lowerBound] == 0x31 else {
                    if reject("label '\(b.text(labelColumn))' is not 0 or 1") { continue }
                    return
                }
                label = b[labelColumn.lowerBound] == 0x31 ? 1 : 0
            }
            if format == .criteo {
                var bad: Int?
                for k in 0..<13 {
                    guard let code = criteoIntegerCode(b, columns[k + 1 + shift]) else { bad = k; break }
                    integerCodes[k] = code
                }
                if let k = bad {
                    if reject("integer column I\(k + 1) holds '\(b.text(columns[k + 1 + shift]))', not an integer") { continue }
                    return
                }
            }
            labels.append(label)
            for k in 0..<fieldCount {
                if format == .criteo && k < 13 {
                    tokenIds.append(internIntegerToken(integerCodes[k], into: &interners[k]))
                } else {
                    let range = columns[(format == .criteo ? k + 1 : k + 2) + shift]
                    tokenIds.append(interners[k].intern(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[range]))))
                }
            }
        }
    }
}

/// libffm text, categorically (see `CategoricalFormat.libffm`); with a field map, libsvm text,
/// each feature's field taken from the map. Parsed in parallel chunks when an executor is given,
/// with the same result as a sequential parse (see `loadRawCategorical`).
func loadLibFFM(path: String, skipBadLines: Bool, fieldMap: FieldMap?, minimumFields: Int = 0,
                executor: PhaseExecutor? = nil, minimumChunkBytes: Int = 4 << 20,
                unlabeledRows: Bool = false) throws(InputError) -> RawCategoricalData {
    let bytes = try readFileBytes(path)
    return try bytes.withUnsafeBufferPointer { (b) throws(InputError) -> RawCategoricalData in
        var fieldCount = minimumFields
        if let fieldMap {
            fieldCount = fieldMap.fieldCount
        } else {
            let highest = libFFMHighestField(b, executor: executor, minimumChunkBytes: minimumChunkBytes)
            try refuseTooManyLibFFMFields(highest: highest, b, path: path)
            fieldCount = max(highest + 1, minimumFields)
        }
        guard fieldCount > 0 else { throw LibFFMRows.noFeatures(path) }
        let boxes = parseLibFFMChunks(b, fieldCount: fieldCount, fieldMap: fieldMap, path: path, skipBadLines: skipBadLines,
                                      executor: executor, minimumChunkBytes: minimumChunkBytes, unlabeledRows: unlabeledRows)
        var merger = CategoricalMerger(fieldCount: fieldCount)
        return try merger.rawData(merging: boxes, format: fieldMap == nil ? .libffm : .libsvm, path: path)
    }
}

/// Runs `body` on each chunk of `b` (see `categoricalChunkCount`), in parallel when an executor is
/// given; returns the number of chunks.
@discardableResult
func forEachChunk(of b: UnsafeBufferPointer<UInt8>, executor: PhaseExecutor?, minimumChunkBytes: Int,
                  _ body: (Int, UnsafeBufferPointer<UInt8>) -> Void) -> Int {
    let bounds = chunkBounds(b, chunks: categoricalChunkCount(bytes: b.count, executor: executor,
                                                               minimumChunkBytes: minimumChunkBytes))
    let chunkCount = bounds.count - 1
    func chunk(_ k: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[bounds[k]..<bounds[k + 1]]) }
    if let executor, chunkCount > 1 {
        executor.run(.prepare, tasks: chunkCount) { k, _ in body(k, chunk(k)) }
    } else {
        for k in 0..<chunkCount { body(k, chunk(k)) }
    }
    return chunkCount
}

/// The first libffm pass, which the row width needs: the highest field of any chunk (-1 if none).
func libFFMHighestField(_ b: UnsafeBufferPointer<UInt8>, executor: PhaseExecutor?, minimumChunkBytes: Int) -> Int {
    let highest = AlignedBuffer<Int>(count: categoricalChunkCount(bytes: b.count, executor: executor,
                                                                  minimumChunkBytes: minimumChunkBytes))
    let chunks = forEachChunk(of: b, executor: executor, minimumChunkBytes: minimumChunkBytes) { k, chunk in
        highest[k] = libFFMHighestField(chunk)
    }
    return (0..<chunks).map { highest[$0] }.max()!
}

/// libffm / libsvm rows of `b` in chunks with chunk-local token ids (see `CategoricalMerger`).
func parseLibFFMChunks(_ b: UnsafeBufferPointer<UInt8>, fieldCount: Int, fieldMap: FieldMap?, path: String,
                       skipBadLines: Bool, executor: PhaseExecutor?, minimumChunkBytes: Int,
                       unlabeledRows: Bool = false) -> [CategoricalChunk] {
    let boxes = (0..<categoricalChunkCount(bytes: b.count, executor: executor, minimumChunkBytes: minimumChunkBytes))
        .map { _ in CategoricalChunk() }
    forEachChunk(of: b, executor: executor, minimumChunkBytes: minimumChunkBytes) { k, chunk in
        boxes[k].parseLibFFM(chunk, fieldCount: fieldCount, fieldMap: fieldMap, path: path, skipBadLines: skipBadLines,
                             unlabeledRows: unlabeledRows)
    }
    return boxes
}

/// How many chunks to parse `bytes` of text in: at least `minimumChunkBytes` each, and a few per
/// worker so uneven chunks even out; one without parallel workers, where merging would only add work.
func categoricalChunkCount(bytes: Int, executor: PhaseExecutor?, minimumChunkBytes: Int) -> Int {
    guard let executor, executor.workerCount > 1 else { return 1 }
    return max(1, min(executor.workerCount * 4, bytes / max(minimumChunkBytes, 1)))
}

/// `chunks` pieces of `b` cut at line ends: chunks + 1 offsets (some chunks may be empty).
func chunkBounds(_ b: UnsafeBufferPointer<UInt8>, chunks: Int) -> [Int] {
    var bounds = [0]
    for k in 1..<max(chunks, 1) {
        var i = max(bounds.last!, b.count * k / chunks)
        while i < b.count && i > 0 && b[i - 1] != 0x0A { i += 1 }
        bounds.append(i)
    }
    bounds.append(b.count)
    return bounds
}

/// What a parse of categorical text keeps besides the rows' token ids: the distinct tokens, the
/// labels and the lines left out.
struct ParsedTokens {
    var interners: [TokenInterner]
    var labels: [Float]
    var skipped: Int
    var firstSkipped: InputError?
    var fieldCount: Int { interners.count }
}

/// The highest field number of libffm lines in `b` (-1 if none): the first pass, which the row
/// width needs. Items that are not field:index:value are left to the row pass to report.
/// Rows hold one value per field (a field a libffm line does not name holds "missing"), so the
/// data's size is rows x fields whatever the file's: one line naming field 99999 would make every
/// row 100,000 values wide (a 240 KB file asked for 3.3 GB). Field indices are meant to run from
/// 0 to the field count; this many is far beyond any real data.
public let maximumLibFFMFields = 4096

/// Refuses a highest field index past `maximumLibFFMFields`, naming the first line that shows
/// one when the text is at hand.
func refuseTooManyLibFFMFields(highest: Int, _ b: UnsafeBufferPointer<UInt8>?, path: String) throws(InputError) {
    guard highest >= maximumLibFFMFields else { return }
    var line: Int?
    if let b {
        var items = LibFFMItems()
        var scanner = LineScanner(b)
        search: while let range = scanner.nextLine() {
            if b.isBlank(range) || b[range.lowerBound] == 0x23 { continue }
            items.split(b, range)
            for item in items.list.dropFirst() {
                let p = LibFFMItems.parts(b, item)
                if p.count == 3, let f = b.parseUnsigned(p.first), f >= maximumLibFFMFields { line = scanner.lineNumber; break search }
            }
        }
    }
    throw InputError(path: path, line: line, "field index \(highest) or more: fnn-par keeps one value per field per row, so every row would be \(highest + 1) values wide; at most \(maximumLibFFMFields) fields (number them from 0)")
}

func libFFMHighestField(_ b: UnsafeBufferPointer<UInt8>) -> Int {
    var items = LibFFMItems()
    var scanner = LineScanner(b)
    var highest = -1
    while let line = scanner.nextLine() {
        if b.isBlank(line) || b[line.lowerBound] == 0x23 { continue }
        items.split(b, line)
        for item in items.list.dropFirst() {
            let p = LibFFMItems.parts(b, item)
            if p.count == 3, let f = b.parseUnsigned(p.first) { highest = max(highest, Int(min(f, 1 << 40))) }
        }
    }
    return highest
}

/// A line's space- or tab-separated items, in a reused array (no allocation per line).
struct LibFFMItems {
    var list: [Range<Int>] = []

    mutating func split(_ b: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) {
        list.removeAll(keepingCapacity: true)
        var i = line.lowerBound
        while i < line.upperBound {
            while i < line.upperBound && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
            let start = i
            while i < line.upperBound && b[i] != 0x20 && b[i] != 0x09 { i += 1 }
            if i > start { list.append(start..<i) }
        }
    }

    /// field:index:value split at the colons: the parts (at most three kept) and how many there are.
    static func parts(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>)
        -> (count: Int, first: Range<Int>, second: Range<Int>, third: Range<Int>) {
        var found: (Range<Int>, Range<Int>, Range<Int>) = (r, r.upperBound..<r.upperBound, r.upperBound..<r.upperBound)
        var count = 1
        var start = r.lowerBound
        for i in r where b[i] == 0x3A {
            if count == 1 { found.0 = start..<i } else if count == 2 { found.1 = start..<i }
            count += 1
            start = i + 1
        }
        switch count {
        case 1: found.0 = start..<r.upperBound
        case 2: found.1 = start..<r.upperBound
        case 3: found.2 = start..<r.upperBound
        default: break
        }
        return (count, found.0, found.1, found.2)
    }
}

/// libffm / libsvm rows, one line at a time, into interned tokens (a chunk's parser).
struct LibFFMRows {
    let fieldCount: Int
    let fieldMap: FieldMap?
    let path: String
    var interners: [TokenInterner]
    var labels: [Float] = []
    /// Rows to score may come without the label: a line whose first item is a feature has none.
    var unlabeledRows = false
    private var items = LibFFMItems()
    private var row: [Range<Int>?]
    private var ids: [UInt32]
    private let missing: [UInt8] = Array("missing".utf8)

    static func noFeatures(_ path: String) -> InputError {
        InputError(path: path, "no field:index:value features found (libffm); for libsvm's index:value give --format libsvm and --field-map")
    }

    init(fieldCount: Int, fieldMap: FieldMap?, path: String) {
        self.fieldCount = fieldCount
        self.fieldMap = fieldMap
        self.path = path
        interners = [TokenInterner](repeating: TokenInterner(), count: fieldCount)
        row = [Range<Int>?](repeating: nil, count: fieldCount)
        ids = [UInt32](repeating: 0, count: fieldCount)
    }

    /// Parses line `line` (number `lineNumber` for errors) of `b`: a data row's label is appended
    /// and its token ids go to `emit`; a blank or comment line is passed over; a bad line is
    /// returned as its error, with nothing kept.
    mutating func parse(_ b: UnsafeBufferPointer<UInt8>, line: Range<Int>, lineNumber: Int,
                        emit: (UnsafeBufferPointer<UInt32>) -> Void) -> InputError? {
        if b.isBlank(line) || b[line.lowerBound] == 0x23 { return nil }
        items.split(b, line)
        let list = items.list
        let hasLabel = !(unlabeledRows && list[0].contains { b[$0] == 0x3A })
        var label = Double.nan
        if hasLabel {
            guard let parsed = b.parseDecimal(list[0]) else {
                return InputError(path: path, line: lineNumber, "label '\(b.text(list[0]))' is not a number")
            }
            label = parsed
        }
        for k in 0..<fieldCount { row[k] = nil }
        for item in list.dropFirst(hasLabel ? 1 : 0) {
            let split = LibFFMItems.parts(b, item)
            // (field, token, value) as libffm spells them; libsvm's index is both field key and token.
            var p = (split.first, split.second, split.third)
            let f: UInt64
            if let fieldMap {
                guard split.count == 2, let index = b.parseUnsigned(split.first), index < 1 << 62 else {
                    return InputError(path: path, line: lineNumber, "'\(b.text(item))' is not index:value (libsvm)")
                }
                guard let mapped = fieldMap.field(of: Int(index)) else {
                    return InputError(path: path, line: lineNumber, "feature index \(index) is in no field of the field map")
                }
                f = UInt64(mapped)
                p = (split.first, split.first, split.second)
            } else {
                guard split.count == 3, let field = b.parseUnsigned(split.first), field < UInt64(fieldCount), !split.second.isEmpty else {
                    return InputError(path: path, line: lineNumber,
                                      "'\(b.text(item))' is not field:index:value (libsvm's index:value needs --field-map)")
                }
                f = field
            }
            guard let value = b.parseDecimal(p.2), value == 1 else {
                return InputError(path: path, line: lineNumber,
                                  "feature '\(b.text(item))' has value \(b.text(p.2)); only categorical features (value 1) are supported")
            }
            guard row[Int(f)] == nil else {
                return InputError(path: path, line: lineNumber, "field \(f) appears twice; multi-hot fields are not supported")
            }
            row[Int(f)] = p.1
        }
        labels.append(label.isNaN ? .nan : label > 0 ? 1 : 0)
        for k in 0..<fieldCount {
            if let range = row[k] {
                ids[k] = interners[k].intern(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[range])))
            } else {
                ids[k] = missing.withUnsafeBytes { interners[k].intern($0) }
            }
        }
        ids.withUnsafeBufferPointer { emit($0) }
        return nil
    }
}

extension CategoricalChunk {
    /// One chunk of libffm / libsvm text (see `LibFFMRows`), recording bad lines as `parse` does.
    func parseLibFFM(_ b: UnsafeBufferPointer<UInt8>, fieldCount: Int, fieldMap: FieldMap?, path: String,
                     skipBadLines: Bool, unlabeledRows: Bool = false) {
        var rows = LibFFMRows(fieldCount: fieldCount, fieldMap: fieldMap, path: path)
        rows.unlabeledRows = unlabeledRows
        var scanner = LineScanner(b)
        var ids: [UInt32] = []
        defer {
            tokens = rows.interners.map(\.tokens)
            labels = rows.labels
            tokenIds = ids
            lines = scanner.lineNumber
        }
        while let line = scanner.nextLine() {
            guard let error = rows.parse(b, line: line, lineNumber: scanner.lineNumber, emit: { ids.append(contentsOf: $0) }) else {
                continue
            }
            guard skipBadLines else { failure = error; return }
            skipped += 1
            skippedAt.append(rows.labels.count)
            if firstSkipped == nil { firstSkipped = error }
        }
    }
}

/// One field's distinct tokens, numbered in order of first appearance.
struct TokenInterner {
    /// Token bytes back to back; token k is arena[starts[k] ..< starts[k + 1]].
    private var arena: [UInt8] = []
    private var starts: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Open addressing: slot -> token id, or -1.
    private var table = [Int32](repeating: -1, count: 64)

    var count: Int { hashes.count }

    /// Tokens are looked up by their bytes, without building a String per token (which cost
    /// more than the rest of the parse); Strings are made once per distinct token, at the end.
    var tokens: [String] {
        (0..<count).map { k in String(decoding: arena[starts[k]..<starts[k + 1]], as: UTF8.self) }
    }

    mutating func intern(_ token: String) -> UInt32 {
        var token = token
        return token.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hash = FNV1a()
        for b in bytes { hash.add(b) }
        let h = SplitMix64.mix(hash.value)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = Int(table[slot])
            if id < 0 { break }
            if hashes[id] == h && equal(id, bytes) { return UInt32(id) }
            slot = (slot + 1) & mask
        }
        let id = hashes.count
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        hashes.append(h)
        table[slot] = Int32(id)
        if 2 * hashes.count > table.count { grow() }
        return UInt32(id)
    }

    private func equal(_ id: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = starts[id], length = starts[id + 1] - start
        guard length == bytes.count else { return false }
        return arena.withUnsafeBytes { memcmp($0.baseAddress! + start, bytes.baseAddress ?? UnsafeRawPointer($0.baseAddress!), length) == 0 }
    }

    private mutating func grow() {
        table = [Int32](repeating: -1, count: table.count * 2)
        let mask = table.count - 1
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(id)
        }
    }
}
