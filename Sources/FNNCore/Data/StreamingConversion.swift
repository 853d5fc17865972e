import FNNExecution
import FNNSystem
import Foundation

/// Categorical text of any size to the binary cache, with memory bounded by the distinct tokens
/// (and 4 bytes of label a row), not by the rows: the text is mapped and parsed a segment at a
/// time, each segment in parallel chunks merged in file order exactly as a whole-file parse, its
/// pages handed back after (libffm reads the file twice: its first pass finds the field count),
/// the rows' file-wide token ids go to a temporary file, the vocabularies are counted from
/// that file once the row count (and so the split) is known, and the cache is written from it,
/// token ids mapped to vocabulary ids. The result is the cache the in-memory path writes, bit for
/// bit. A segment's text and its parsed token ids are what the conversion holds besides the
/// tokens; `segmentBytes` bounds it (text plus ids within about 2.5 times that: a libffm row has
/// one id per field however few it names, so sparse libffm gets shorter segments).
public func convertCategoricalToCache(
    path: String, format: CategoricalFormat, minCount: Int, vocabularyFrom: VocabularySource, seed: UInt64,
    skipBadLines: Bool, executor: PhaseExecutor?, cache: String, key: DatasetCache.Key?, fieldMap: FieldMap? = nil,
    segmentBytes: Int = 256 << 20, minimumChunkBytes: Int = 4 << 20, split proportions: DataSplit.Proportions = .standard,
    pooling: Pooling = .sum, criteoNumeric: CriteoNumeric = .bucket, maxIdsPerField: Int = FieldSpec.maximumIdsPerField
) throws -> Dataset {
    if format == .libsvm && fieldMap == nil {
        throw InputError(path: path, "libsvm rows (index:value) name no fields, which an FM needs: give --field-map FILE with lines 'INDEX FIELD' or 'FIRST-LAST FIELD'")
    }
    let source = try MappedFile(path: path)
    /// Rows that need entries (values, repeated fields, Criteo's integers as values) go the
    /// entries' way, with the same segments.
    func asEntries(fieldCount: Int) throws -> Dataset {
        try convertEntriesToCache(source: source, path: path, format: format, fieldCount: fieldCount, fieldMap: fieldMap,
                                  numericValues: format == .criteo && criteoNumeric == .value, pooling: pooling, minCount: minCount,
                                  vocabularyFrom: vocabularyFrom, seed: seed, skipBadLines: skipBadLines, executor: executor,
                                  cache: cache, key: key, segmentBytes: segmentBytes, minimumChunkBytes: minimumChunkBytes,
                                  split: proportions, maxIds: maxIdsPerField)
    }
    if format == .criteo && criteoNumeric == .value { return try asEntries(fieldCount: 39) }
    let temporary = cache + ".ids-\(processID)"
    guard FileManager.default.createFile(atPath: temporary, contents: nil), let out = FileHandle(forWritingAtPath: temporary) else {
        throw FileWriteError(path: temporary, message: "cannot create the temporary token file")
    }
    defer { removeFile(temporary) }
    var writeError: Error?
    func write(_ ids: UnsafeBufferPointer<UInt32>) {
        guard writeError == nil else { return }
        do { try out.write(contentsOf: Data(buffer: ids)) } catch { writeError = error }
    }
    let bytes = source.base.assumingMemoryBound(to: UInt8.self)
    // A segment at a time, in parallel chunks merged in file order, its pages handed back after.
    var segmentLength = max(segmentBytes, 1)
    func forEachSegment(_ body: (UnsafeBufferPointer<UInt8>, _ atFileStart: Bool) throws -> Void) throws {
        var offset = 0
        while offset < source.size {
            var end = min(source.size, offset + segmentLength)
            while end < source.size && bytes[end - 1] != 0x0A { end += 1 }
            try body(UnsafeBufferPointer(start: bytes + offset, count: end - offset), offset == 0)
            if let writeError { throw FileWriteError(path: temporary, message: "cannot write: \(writeError)") }
            source.releasePages(offset..<end)
            offset = end
        }
    }
    var merger: CategoricalMerger
    switch format {
    case .criteo, .avazu:
        merger = CategoricalMerger(format: format)
        // The file's first line tells its layout (TSV, or a CSV export with a header); every
        // segment is cut the same way.
        var layout = CategoricalLayout.criteoTSV
        try forEachSegment { segment, atFileStart in
            if atFileStart { layout = .detect(format, start: segment) }
            let boxes = parseCategoricalChunks(segment, format: format, atFileStart: atFileStart, path: path,
                                               skipBadLines: skipBadLines, executor: executor, minimumChunkBytes: minimumChunkBytes,
                                               layout: layout)
            try merger.absorb(boxes) { write($0) }
        }
    case .libffm, .libsvm:
        let map = format == .libsvm ? fieldMap : nil
        var fieldCount = map?.fieldCount ?? -1
        if map == nil {
            // libffm's first pass: the number of fields, which the rows' width needs.
            try forEachSegment { segment, _ in
                fieldCount = max(fieldCount, libFFMHighestField(segment, executor: executor, minimumChunkBytes: minimumChunkBytes))
            }
            try refuseTooManyLibFFMFields(highest: fieldCount, nil, path: path)
            fieldCount += 1
        }
        guard fieldCount > 0 else { throw LibFFMRows.noFeatures(path) }
        // Token-id bytes per text byte, from the lines of the file's first segment: with more
        // than about one, segments shrink so their ids stay within the segment size.
        let sample = min(source.size, segmentLength)
        var lines = 0
        for i in 0..<sample where bytes[i] == 0x0A { lines += 1 }
        let idBytesPerTextByte = Double(max(lines, 1) * fieldCount * 4) / Double(max(sample, 1))
        if idBytesPerTextByte > 1 { segmentLength = max(1, Int(Double(segmentLength) / idBytesPerTextByte)) }
        merger = CategoricalMerger(fieldCount: fieldCount)
        do {
            try forEachSegment { segment, _ in
                let boxes = parseLibFFMChunks(segment, fieldCount: fieldCount, fieldMap: map, path: path, skipBadLines: skipBadLines,
                                              executor: executor, minimumChunkBytes: minimumChunkBytes)
                if let first = boxes.firstIndex(where: { $0.wantsEntries || $0.failure != nil }), boxes[first].wantsEntries {
                    throw NeedsEntries()
                }
                try merger.absorb(boxes) { write($0) }
            }
        } catch is NeedsEntries {
            try? out.close()
            return try asEntries(fieldCount: fieldCount)
        }
    }
    let parsed = ParsedTokens(interners: merger.interners, labels: merger.labels, skipped: merger.skipped,
                              firstSkipped: merger.firstSkipped)
    try out.close()
    let rows = parsed.labels.count
    guard rows > 0 else { throw InputError(path: path, "empty file: no data rows") }
    let fieldCount = parsed.fieldCount
    let tokenFile = try MappedFile(path: temporary)
    let ids = tokenFile.base.assumingMemoryBound(to: UInt32.self)

    // Counts on the rows the vocabularies come from (the split needs the row count, known only now).
    guard rows <= Int(UInt32.max) else {
        throw InputError(path: path, "\(rows) rows: more than the 2^32 that 32-bit row ids address")
    }
    var counts = parsed.interners.map { [Int](repeating: 0, count: $0.count) }
    let split = DataSplit(rowCount: rows, seed: seed, proportions: proportions)
    let release = max(1, (8 << 20) / (fieldCount * 4))
    for r in 0..<rows {
        if vocabularyFrom == .all || split.part(ofRow: r) == .train {
            for f in 0..<fieldCount { counts[f][Int(ids[r * fieldCount + f])] += 1 }
        }
        if (r + 1) % release == 0 { tokenFile.releasePages(((r + 1 - release) * fieldCount * 4)..<((r + 1) * fieldCount * 4)) }
    }
    // Kept tokens in order of first appearance, as `RawCategoricalData.vocabulary`; one field at
    // a time, so only one field's Strings exist at once.
    var maps: [[String: UInt32]] = []
    var lookups: [[UInt32]] = []
    for f in 0..<fieldCount {
        let (map, lookup) = Vocabulary.countedField(tokens: parsed.interners[f].tokens, counts: counts[f], minCount: minCount)
        maps.append(map)
        lookups.append(lookup)
        counts[f] = []
    }
    let vocabulary = Vocabulary(fields: maps)
    try parsed.labels.withUnsafeBufferPointer { labels in
        try DatasetCache.write(cache: cache, key: key, rowCount: rows, fieldDims: vocabulary.fieldDims, hasLabels: true,
                               vocabulary: vocabulary, labels: labels) { writer in
            let blockRows = max(1, (8 << 20) / (fieldCount * 4))
            var block = [UInt32](repeating: 0, count: blockRows * fieldCount)
            var r = 0
            while r < rows {
                let n = min(blockRows, rows - r)
                for i in 0..<(n * fieldCount) { block[i] = lookups[i % fieldCount][Int(ids[r * fieldCount + i])] }
                try block.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<(n * fieldCount * 4)])) }
                tokenFile.releasePages((r * fieldCount * 4)..<((r + n) * fieldCount * 4))
                r += n
            }
        }
    }
    guard var data = DatasetCache.map(cache: cache, key: key, name: path) else {
        throw FileWriteError(path: cache, message: "the cache just written does not read back")
    }
    data.skippedLines = parsed.skipped
    data.firstSkipped = parsed.firstSkipped
    return data
}

/// A line only entries can hold, met by the fixed-width conversion: it starts over as entries.
private struct NeedsEntries: Error {}
