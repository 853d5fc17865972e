import FNNExecution
import FNNSystem
import Foundation

/// `convertCategoricalToCache` for rows that need entries (libffm / libsvm lines naming a field
/// twice or giving values, Criteo read with `--numeric value`): the text is parsed a segment at a
/// time as entries, each chunk's items (field, file-wide token, value) and each row's item count
/// going to temporary files; then three sequential passes over those files, with memory bounded
/// by the distinct tokens and 4 bytes of label a row: the fields are resolved (the "missing"
/// token where a categorical field is absent, tokens numbered by first appearance, exactly as
/// `RawCategoricalData.resolvingFields`) while counting the vocabulary's rows, then the cache's
/// entry offsets and its entries are written. The cache is the in-memory path's, bit for bit.
func convertEntriesToCache(
    source: MappedFile, path: String, format: CategoricalFormat, fieldCount: Int, fieldMap: FieldMap?, numericValues: Bool,
    pooling: Pooling, minCount: Int, vocabularyFrom: VocabularySource, seed: UInt64, skipBadLines: Bool,
    executor: PhaseExecutor?, cache: String, key: DatasetCache.Key?, segmentBytes: Int, minimumChunkBytes: Int,
    split proportions: DataSplit.Proportions, maxIds: Int = FieldSpec.maximumIdsPerField
) throws -> Dataset {
    let itemsPath = cache + ".entries-\(processID)", lengthsPath = cache + ".lengths-\(processID)"
    // Removed on every way out, whichever of them was created.
    defer { _ = removeFile(itemsPath); _ = removeFile(lengthsPath) }
    guard FileManager.default.createFile(atPath: itemsPath, contents: nil), let items = FileHandle(forWritingAtPath: itemsPath),
          FileManager.default.createFile(atPath: lengthsPath, contents: nil), let lengths = FileHandle(forWritingAtPath: lengthsPath)
    else { throw FileWriteError(path: itemsPath, message: "cannot create the temporary entry files") }
    var writeError: Error?
    var merger = format == .libffm || format == .libsvm ? CategoricalMerger(fieldCount: fieldCount) : CategoricalMerger(format: format)
    merger.entrySink = { chunk in
        guard writeError == nil else { return }
        var records = [VariableEntry]()
        records.reserveCapacity(chunk.tokens.count)
        for e in chunk.tokens.indices { records.append(VariableEntry(id: chunk.tokens[e], field: chunk.fields[e], value: chunk.values[e])) }
        let counts = (0..<chunk.rowCount).map { UInt32(chunk.starts[$0 + 1] - chunk.starts[$0]) }
        do {
            try records.withUnsafeBytes { try items.write(contentsOf: Data($0)) }
            try counts.withUnsafeBytes { try lengths.write(contentsOf: Data($0)) }
        } catch { writeError = error }
    }
    let bytes = source.base.assumingMemoryBound(to: UInt8.self)
    var layout = CategoricalLayout.criteoTSV
    var offset = 0
    while offset < source.size {
        var end = min(source.size, offset + max(segmentBytes, 1))
        while end < source.size && bytes[end - 1] != 0x0A { end += 1 }
        let segment = UnsafeBufferPointer(start: bytes + offset, count: end - offset)
        let boxes: [CategoricalChunk]
        if format == .criteo {
            if offset == 0 { layout = .detect(format, start: segment) }
            boxes = parseCategoricalChunks(segment, format: format, atFileStart: offset == 0, path: path, skipBadLines: skipBadLines,
                                           executor: executor, minimumChunkBytes: minimumChunkBytes, layout: layout,
                                           numericValues: numericValues)
        } else {
            boxes = parseLibFFMChunks(segment, fieldCount: fieldCount, fieldMap: format == .libsvm ? fieldMap : nil, path: path,
                                      skipBadLines: skipBadLines, executor: executor, minimumChunkBytes: minimumChunkBytes,
                                      variable: true, maxIds: maxIds)
        }
        try merger.absorb(boxes) { _ in }
        if let writeError { throw FileWriteError(path: itemsPath, message: "cannot write: \(writeError)") }
        source.releasePages(offset..<end)
        offset = end
    }
    try items.close()
    try lengths.close()
    let rows = merger.labels.count
    guard rows > 0 else { throw InputError(path: path, "empty file: no data rows") }
    guard rows <= Int(UInt32.max) else { throw InputError(path: path, "\(rows) rows: more than the 2^32 that 32-bit row ids address") }
    let names = format == .criteo ? criteoValueSchema.fields.map(\.name) : (0..<fieldCount).map { "f\($0)" }
    let schema = numericValues ? criteoValueSchema : FieldSchema.inferred(from: merger.observations, pooling: pooling, names: names)
    let categorical = schema.fields.map { $0.kind == .categorical }

    // A file of no items (every kept row empty) cannot be mapped; a dummy record stands in, never read.
    if (try? FileStatus.of(itemsPath).size) == 0 {
        let empty = FileHandle(forWritingAtPath: itemsPath)
        try empty?.write(contentsOf: Data(count: MemoryLayout<VariableEntry>.stride))
        try empty?.close()
    }
    let itemFile = try MappedFile(path: itemsPath), lengthFile = try MappedFile(path: lengthsPath)
    let records = itemFile.base.assumingMemoryBound(to: VariableEntry.self)
    let counts = lengthFile.base.assumingMemoryBound(to: UInt32.self)
    /// Every row resolved in order (a sequential read of both files, pages handed back behind).
    func forEachResolvedRow(_ numbering: inout TokenRenumbering, _ body: (_ row: Int, _ field: Int, _ token: UInt32, _ value: Float) -> Void,
                            endRow: (Int) -> Void = { _ in }) {
        var first = 0, released = 0
        for r in 0..<rows {
            let n = Int(counts[r]), items = records + first
            numbering.resolve(count: n, field: { items[$0].field }, token: { items[$0].id }, value: { items[$0].value },
                              categorical: categorical) { body(r, $0, $1, $2) }
            endRow(r)
            first += n
            if first - released > (1 << 20) {
                itemFile.releasePages((released * 12)..<(first * 12))
                released = first
            }
        }
    }
    // Pass 1: the numbering, and each new token's count on the vocabulary's rows.
    var numbering = TokenRenumbering(tokens: merger.interners.map(\.tokens))
    let split = DataSplit(rowCount: rows, seed: seed, proportions: proportions)
    var tokenCounts = [[Int]](repeating: [], count: fieldCount)
    var entryCount = 0
    forEachResolvedRow(&numbering) { r, f, token, _ in
        entryCount += 1
        if Int(token) >= tokenCounts[f].count { tokenCounts[f].append(0) }
        if vocabularyFrom == .all || split.part(ofRow: r) == .train { tokenCounts[f][Int(token)] += 1 }
    }
    var maps: [[String: UInt32]] = [], lookups: [[UInt32]] = []
    for f in 0..<fieldCount {
        let (map, lookup) = Vocabulary.countedField(tokens: numbering.order[f], counts: tokenCounts[f], minCount: minCount)
        maps.append(map)
        lookups.append(lookup)
    }
    let vocabulary = Vocabulary(fields: maps)
    let heldNumbering = numbering
    // Passes 2 and 3, inside the writer: offsets, then entries with vocabulary ids, in blocks.
    try merger.labels.withUnsafeBufferPointer { labels in
        try DatasetCache.writeVariable(
            cache: cache, key: key, rowCount: rows, entryCount: entryCount, fieldDims: vocabulary.fieldDims, schema: schema,
            hasLabels: !merger.labels.contains { $0.isNaN }, vocabulary: vocabulary, labels: labels,
            writeStarts: { out in
                var numbering = heldNumbering
                var block = [Int](), total = 0
                block.reserveCapacity(1 << 16)
                block.append(0)
                var failure: Error?
                forEachResolvedRow(&numbering, { _, _, _, _ in total += 1 }, endRow: { _ in
                    block.append(total)
                    if block.count == 1 << 16, failure == nil {
                        do { try block.withUnsafeBytes { try out.write($0) } } catch { failure = error }
                        block.removeAll(keepingCapacity: true)
                    }
                })
                if let failure { throw failure }
                try block.withUnsafeBytes { try out.write($0) }
            },
            writeTable: { out in
                var numbering = heldNumbering
                var block = [VariableEntry]()
                block.reserveCapacity(1 << 16)
                var failure: Error?
                forEachResolvedRow(&numbering) { _, f, token, value in
                    block.append(VariableEntry(id: lookups[f][Int(token)], field: UInt32(f), value: value))
                    if block.count == 1 << 16, failure == nil {
                        do { try block.withUnsafeBytes { try out.write($0) } } catch { failure = error }
                        block.removeAll(keepingCapacity: true)
                    }
                }
                if let failure { throw failure }
                try block.withUnsafeBytes { try out.write($0) }
            })
    }
    guard var data = DatasetCache.map(cache: cache, key: key, name: path) else {
        throw FileWriteError(path: cache, message: "the cache just written does not read back")
    }
    data.skippedLines = merger.skipped
    data.firstSkipped = merger.firstSkipped
    return data
}
