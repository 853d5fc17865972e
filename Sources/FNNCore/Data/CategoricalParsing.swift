import FNNExecution
import FNNSystem
import Foundation

/// Categorical text (Criteo, Avazu, libffm, libsvm) into interned tokens, parsed in parallel when
/// an executor is given: the file is cut into
/// chunks at line ends, each chunk is parsed on its own (tokens interned per chunk), and the chunks
/// are merged in file order, so tokens get ids in order of first appearance in the file and the
/// result is identical to a sequential parse. Errors carry the line number in the whole file.
/// libsvm needs `fieldMap`. `minimumFields`: libffm takes its field count from the highest field
/// it sees; a model's data may have more (a held-out file that never shows the last field).
/// `entries`: libffm / libsvm rows as entries even when every line would fit the fixed width.
public func loadRawCategorical(path: String, format: CategoricalFormat, skipBadLines: Bool = false,
                               executor: PhaseExecutor? = nil, minimumChunkBytes: Int = 4 << 20,
                               fieldMap: FieldMap? = nil, minimumFields: Int = 0,
                               scoring: ScoringInput = ScoringInput(), entries: Bool = false,
                               criteoNumeric: CriteoNumeric = .bucket,
                               maxIdsPerField: Int = FieldSpec.maximumIdsPerField,
                               oneHotOnly: String? = nil) throws(InputError) -> RawCategoricalData {
    if scoring.identifierColumn != nil && (format == .libffm || format == .libsvm) {
        throw InputError(path: path, "an id column is read from Criteo and Avazu rows only (libffm / libsvm rows have no columns besides the label)")
    }
    if format == .libffm {
        return try loadLibFFM(path: path, skipBadLines: skipBadLines, fieldMap: nil, minimumFields: minimumFields,
                              executor: executor, minimumChunkBytes: minimumChunkBytes, unlabeledRows: scoring.unlabeledRows,
                              entries: entries, maxIds: maxIdsPerField, oneHotOnly: oneHotOnly)
    }
    if format == .libsvm {
        guard let fieldMap else {
            throw InputError(path: path, "libsvm rows (index:value) name no fields, which an FM needs: give --field-map FILE with lines 'INDEX FIELD' or 'FIRST-LAST FIELD'")
        }
        return try loadLibFFM(path: path, skipBadLines: skipBadLines, fieldMap: fieldMap, executor: executor,
                              minimumChunkBytes: minimumChunkBytes, unlabeledRows: scoring.unlabeledRows, entries: entries,
                              maxIds: maxIdsPerField, oneHotOnly: oneHotOnly)
    }
    let bytes = try readFileBytes(path)
    return try bytes.withUnsafeBufferPointer { (b) throws(InputError) -> RawCategoricalData in
        let numericValues = format == .criteo && criteoNumeric == .value
        let boxes = parseCategoricalChunks(b, format: format, atFileStart: true, path: path, skipBadLines: skipBadLines,
                                           executor: executor, minimumChunkBytes: minimumChunkBytes, scoring: scoring,
                                           layout: .detect(format, start: b), numericValues: numericValues)
        var merger = CategoricalMerger(format: format)
        var raw = try merger.rawData(merging: boxes, format: format, path: path)
        if numericValues { raw.declaredSchema = criteoValueSchema }
        return raw
    }
}

/// Criteo / Avazu bytes cut into chunks at line ends and parsed, in parallel when an executor is
/// given. `atFileStart`: the bytes begin the file (only there may a header line appear).
func parseCategoricalChunks(
    _ b: UnsafeBufferPointer<UInt8>, format: CategoricalFormat, atFileStart: Bool, path: String, skipBadLines: Bool,
    executor: PhaseExecutor?, minimumChunkBytes: Int, scoring: ScoringInput = ScoringInput(), layout: CategoricalLayout? = nil,
    numericValues: Bool = false
) -> [CategoricalChunk] {
    let layout = layout ?? (format == .criteo ? .criteoTSV : .avazu)
    let boxes = (0..<categoricalChunkCount(bytes: b.count, executor: executor, minimumChunkBytes: minimumChunkBytes))
        .map { _ in CategoricalChunk() }
    forEachChunk(of: b, executor: executor, minimumChunkBytes: minimumChunkBytes) { k, chunk in
        boxes[k].parse(chunk, format: format, headerAllowed: atFileStart && k == 0, path: path, skipBadLines: skipBadLines,
                       scoring: scoring, layout: layout, numericValues: numericValues)
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
    /// libffm / libsvm rows parsed as entries, and what they showed of each field.
    var entries: RawEntries?
    var observations: [FieldObservation]
    /// Where chunks' entries go (file-wide tokens) instead of `entries`, when set: the
    /// conversion of text larger than memory writes them to a file.
    var entrySink: ((RawEntries) -> Void)?

    init(format: CategoricalFormat) {
        self.init(fieldCount: format == .criteo ? 39 : 22)
    }

    init(fieldCount: Int) {
        self.fieldCount = fieldCount
        interners = [TokenInterner](repeating: TokenInterner(), count: fieldCount)
        observations = [FieldObservation](repeating: FieldObservation(), count: fieldCount)
    }

    /// A whole file's chunks merged into its raw data.
    mutating func rawData(merging boxes: [CategoricalChunk], format: CategoricalFormat, path: String) throws(InputError)
        -> RawCategoricalData {
        var tokenIds: [UInt32] = []
        try absorb(boxes) { tokenIds.append(contentsOf: $0) }
        if labels.isEmpty { throw InputError(path: path, "empty file: no data rows") }
        var raw = RawCategoricalData(format: format, path: path, rowCount: labels.count, labels: labels,
                                     tokens: interners.map(\.tokens), tokenIds: tokenIds, skippedLines: skipped,
                                     firstSkipped: firstSkipped, skippedRowPositions: skippedPositions, rowIdentifiers: identifiers)
        raw.entries = entries
        raw.observations = entries == nil ? nil : observations
        return raw
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
            if let boxEntries = box.entries {
                if let entrySink {
                    var remapped = boxEntries
                    for e in remapped.tokens.indices {
                        remapped.tokens[e] = map[starts[Int(remapped.fields[e])] + Int(remapped.tokens[e])]
                    }
                    entrySink(remapped)
                } else {
                    absorb(boxEntries, tokenMap: map, fieldStarts: starts)
                }
                for f in observations.indices { observations[f].merge(box.observations[f]) }
                box.entries = nil
                labels += box.labels
                before += box.lines
                continue
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

    /// A chunk's entries appended with file-wide token ids.
    private mutating func absorb(_ chunk: RawEntries, tokenMap map: [UInt32], fieldStarts starts: [Int]) {
        var all = entries ?? RawEntries()
        entries = nil  // `all` alone holds the arrays, so appending does not copy them
        let base = all.tokens.count
        all.starts += chunk.starts.dropFirst().map { $0 + base }
        all.fields += chunk.fields
        all.values += chunk.values
        all.tokens.reserveCapacity(base + chunk.tokens.count)
        for e in chunk.tokens.indices { all.tokens.append(map[starts[Int(chunk.fields[e])] + Int(chunk.tokens[e])]) }
        entries = all
    }
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
