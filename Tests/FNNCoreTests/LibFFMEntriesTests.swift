import FNNCore
import FNNSystem
import FNNThreads
import Foundation
import TestSupport
import Testing

/// libffm and libsvm rows that name a field twice or give values: read as entries, their fields'
/// kinds inferred, categorical fields a row lacks given the "missing" token, and held in the
/// binary cache; one-hot files keep the fixed-width form.
@Suite struct LibFFMEntriesTests {
    /// Every item of a hand-written file, in field order, against what the lines say.
    @Test func valuesAndRepeatedFieldsBecomeEntries() throws {
        let dir = temporaryDirectory()
        // Row 1: field 2 twice, items out of order, a value; row 2: field 1 absent, field 2 empty;
        // row 3: field 2 three times, one repeated id.
        writeText("1 2:a:1 0:u1:1 3:x:0.5 2:b:1 1:m1:1\n0 0:u2:1 3:x:2.25\n# a comment\n1 0:u1:1 1:m2:1 2:b:1 2:c:1 2:b:1 3:x:-1e-3\n",
                  to: dir + "/a.ffm")
        let raw = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm)
        let entries = try #require(raw.entries)
        #expect(raw.rowCount == 3 && raw.tokenIds.isEmpty && raw.labels == [1, 0, 1])
        #expect(entries.starts == [0, 5, 7, 13])
        #expect(entries.fields == [0, 1, 2, 2, 3, 0, 3, 0, 1, 2, 2, 2, 3])
        #expect(entries.values == [1, 1, 1, 1, 0.5, 1, 2.25, 1, 1, 1, 1, 1, -0.001])
        #expect(raw.observations == [FieldObservation(mostItems: 1), FieldObservation(mostItems: 1),
                                     FieldObservation(mostItems: 3), FieldObservation(mostItems: 1, valued: true)])
        let schema = raw.inferredSchema(pooling: .mean)
        #expect(schema.fields.map(\.kind) == [.categorical, .categorical, .multiHot, .numeric])
        #expect(schema.fields[2].pooling == .mean && schema.fields[2].maxIds == 3 && schema.fields[2].name == "f2")
        // Row 2 lacks categorical field 1: the "missing" token, numbered where it first appears.
        let resolved = raw.resolvingFields(schema)
        #expect(resolved.tokens == [["u1", "u2"], ["m1", "missing", "m2"], ["a", "b", "c"], ["x"]])
        let data = resolved.dataset(vocabulary: resolved.vocabulary(minCount: 1))
        let rows = try #require(data.variable)
        #expect(data.schema == schema && data.fieldDims == [3, 4, 4, 2])
        #expect(rows.starts.array == [0, 5, 8, 14])
        #expect(rows.fields.array == [0, 1, 2, 2, 3, 0, 1, 3, 0, 1, 2, 2, 2, 3])
        #expect(rows.ids.array == [0, 0, 0, 1, 0, 1, 1, 0, 0, 2, 1, 2, 1, 0])
        #expect(rows.values.array == [1, 1, 1, 1, 0.5, 1, 1, 2.25, 1, 1, 1, 1, 1, -0.001])
        #expect(rows.firstProblem(schema: data.schema, fieldDims: data.fieldDims) == nil)
    }

    /// A one-hot file stays fixed-width (today's fast path, unchanged) unless entries are asked
    /// for; asked, its entries equal its fixed rows.
    @Test func oneHotFilesKeepTheFixedWidthForm() throws {
        let dir = temporaryDirectory()
        writeText("1 0:5:1 1:7:1\n0 0:6:1\n1 1:8:1.0 0:5:1\n", to: dir + "/a.ffm")
        let fixed = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm)
        #expect(fixed.entries == nil && fixed.tokenIds.count == 6)
        let asked = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm, entries: true)
        let schema = asked.inferredSchema(pooling: .sum)
        #expect(schema.isOneHot)
        let resolved = asked.resolvingFields(schema)
        #expect(resolved.tokens == fixed.tokens)
        let fromEntries = resolved.dataset(vocabulary: resolved.vocabulary(minCount: 1))
        let fromFixed = fixed.dataset(vocabulary: fixed.vocabulary(minCount: 1))
        #expect(fromEntries.fieldDims == fromFixed.fieldDims)
        let rows = try #require(fromEntries.variable)
        #expect(rows.ids.array == fromFixed.ids.array && rows.values.array == [Float](repeating: 1, count: 6))
    }

    /// A line needing entries late in a file parsed in many chunks: the whole file as entries,
    /// the same as one sequential parse; bad lines keep their numbers and can be left out.
    @Test func chunkedParseOfEntriesEqualsTheSequentialOne() throws {
        let dir = temporaryDirectory()
        var text = ""
        for r in 0..<3000 {
            text += "\(r % 2) 0:u\(r % 37):1 1:m\(r % 91):1"
            if r > 2500 { text += " 2:g\(r % 5):1 2:g\((r + 1) % 5):1 3:v:0.\(r % 10)" }
            text += "\n"
        }
        writeText(text, to: dir + "/a.ffm")
        let serial = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm)
        let pool = WorkerPool(threads: 4)
        let chunked = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm, executor: pool, minimumChunkBytes: 4096)
        #expect(serial.entries != nil && chunked.entries == serial.entries)
        #expect(chunked.tokens == serial.tokens && chunked.observations == serial.observations && chunked.labels == serial.labels)
        // Damaged lines: the error names the line; left out, they are counted.
        var lines = text.split(separator: "\n").map(String.init)
        lines[2700] = "1 0:u1:1 3:v:inf"
        lines[100] = "1 0:u1:1 0"
        writeText(lines.joined(separator: "\n") + "\n", to: dir + "/b.ffm")
        #expect(throws: InputError(path: dir + "/b.ffm", line: 101, "'0' is not field:index:value (libsvm's index:value needs --field-map)")) {
            try loadRawCategorical(path: dir + "/b.ffm", format: .libffm, executor: pool, minimumChunkBytes: 4096)
        }
        let skipped = try loadRawCategorical(path: dir + "/b.ffm", format: .libffm, skipBadLines: true, executor: pool,
                                             minimumChunkBytes: 4096)
        #expect(skipped.skippedLines == 2 && skipped.rowCount == 2998 && skipped.entries?.rowCount == 2998)
        #expect(skipped.firstSkipped?.line == 101)
    }

    /// More ids in one field than any row may hold is refused by line.
    @Test func aFieldNamedTooOftenIsRefused() throws {
        let dir = temporaryDirectory()
        let items = (0...FieldSpec.maximumIdsPerField).map { "1:\($0):1" }.joined(separator: " ")
        writeText("1 0:a:1\n1 0:a:1 \(items)\n", to: dir + "/a.ffm")
        #expect(throws: InputError.self) { try loadRawCategorical(path: dir + "/a.ffm", format: .libffm) }
        do { _ = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm) } catch {
            #expect(error.line == 2 && error.message.contains("at most \(FieldSpec.maximumIdsPerField) ids"))
        }
    }

    /// `--max-ids`: a row giving a field more ids than the stated limit is a bad line, in
    /// libffm and in the fields TSV; left out and counted under --skip-bad-lines.
    @Test func aStatedLimitOfIdsPerFieldIsKept() throws {
        let dir = temporaryDirectory()
        writeText("1 0:a:1 1:x:1 1:y:1\n0 0:b:1 1:x:1 1:y:1 1:z:1\n1 0:c:1\n", to: dir + "/a.ffm")
        #expect(throws: InputError(path: dir + "/a.ffm", line: 2, "field 1 is named 3 times; at most 2 ids per field in a row (--max-ids)")) {
            try loadRawCategorical(path: dir + "/a.ffm", format: .libffm, maxIdsPerField: 2)
        }
        let skipped = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm, skipBadLines: true, maxIdsPerField: 2)
        #expect(skipped.rowCount == 2 && skipped.skippedLines == 1 && skipped.observations?[1].mostItems == 2)
        #expect(try loadRawCategorical(path: dir + "/a.ffm", format: .libffm).observations?[1].mostItems == 3)
        writeText("# fields: u tags:multi-hot\n1\t0\t1,2\n0\t1\t1,2,3\n", to: dir + "/a.tsv")
        #expect(throws: InputError.self) { try loadDataset(path: dir + "/a.tsv", maxIdsPerField: 2) }
        let tsv = try loadDataset(path: dir + "/a.tsv", skipBadLines: true, maxIdsPerField: 2)
        #expect(tsv.rowCount == 1 && tsv.skippedLines == 1 && tsv.schema.fields[1].maxIds == 2)
    }

    /// A model's kinds rule scoring data: fewer ids than training showed are fine, more ids in a
    /// one-id field or values in a categorical one are refused by the field's name.
    @Test func aModelSchemaFitsOrNamesTheField() throws {
        let model = FieldSchema(fields: [FieldSpec(name: "f0"), FieldSpec(name: "f1", kind: .multiHot, pooling: .mean, maxIds: 4),
                                         FieldSpec(name: "f2", kind: .numeric)])
        let fitted = try model.fitting([FieldObservation(mostItems: 1), FieldObservation(mostItems: 6),
                                        FieldObservation(mostItems: 1, valued: true)], path: "x")
        #expect(fitted.fields[1].maxIds == 6 && fitted.fields[1].pooling == .mean)
        #expect(throws: InputError(path: "x", "field 1 (f0) has values other than 1, but it is categorical in the model: the model does not fit this data")) {
            try model.fitting([FieldObservation(mostItems: 1, valued: true), FieldObservation(), FieldObservation()], path: "x")
        }
        #expect(throws: InputError.self) {
            try model.fitting([FieldObservation(mostItems: 1), FieldObservation(), FieldObservation(mostItems: 2)], path: "x")
        }
        #expect(throws: InputError.self) { try model.fitting([FieldObservation()], path: "x") }
    }

    /// A training file of one-hot rows with a test file that needs entries: both read as
    /// entries, the kinds inferred over both.
    @Test func heldOutFilesNeedingEntriesTurnEveryFileToEntries() throws {
        let dir = temporaryDirectory()
        var train = ""
        for r in 0..<200 { train += "\(r % 2) 0:u\(r % 7):1 1:m\(r % 11):1\n" }
        writeText(train, to: dir + "/train.ffm")
        writeText("1 0:u1:1 1:m2:1 1:m3:1\n0 0:u2:1\n", to: dir + "/test.ffm")
        var request = DataRequest(path: dir + "/train.ffm")
        request.testPath = dir + "/test.ffm"
        request.useCache = false
        let data = try DataSource(request, note: { _ in }).load()
        #expect(data.schema.fields.map(\.kind) == [.categorical, .multiHot])
        #expect(data.rowCount == 202 && data.heldOut?.testRows == 2)
        let rows = try #require(data.variable)
        // The last test row: u2, and nothing in the multi-hot field.
        #expect(rows.entries(ofRow: 201).count == 1)
    }

    /// Variable rows through the binary cache: the second read maps the cache and gives the same
    /// examples; a cache whose entries were damaged is no cache (the text is parsed again).
    @Test func variableRowsRoundTripTheCache() throws {
        let dir = temporaryDirectory()
        var text = ""
        for r in 0..<500 { text += "\(r % 2) 0:u\(r % 7):1 1:g\(r % 3):1 1:g\(r % 5):1 2:v:\(Double(r % 9) / 4)\n" }
        writeText(text, to: dir + "/a.ffm")
        var request = DataRequest(path: dir + "/a.ffm")
        request.pooling = .mean
        var notes: [String] = []
        let parsed = try DataSource(request, note: { notes.append($0) }).load()
        let mapped = try DataSource(request, note: { notes.append($0) }).load()
        #expect(notes.contains { $0.hasPrefix("read the binary cache") }, "\(notes)")
        #expect(mapped.isMapped && mapped.schema == parsed.schema && mapped.fieldDims == parsed.fieldDims)
        #expect(mapped.fingerprint == parsed.fingerprint && mapped.vocabulary == parsed.vocabulary)
        // Other pooling is other data: not served from this cache.
        var summed = request
        summed.pooling = .sum
        notes = []
        let other = try DataSource(summed, note: { notes.append($0) }).load()
        #expect(!notes.contains { $0.hasPrefix("read the binary cache") } && other.schema.fields[1].pooling == .sum)
        // An id past its field, written into the cache: it is ignored and the text parsed again.
        let cache = DatasetCache.path(for: dir + "/a.ffm", directory: nil)
        _ = try DataSource(request, note: { _ in }).load()
        var bytes = try #require(FileManager.default.contents(atPath: cache))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: bytes[8..<(8 + headerLength)]) as? [String: Any])
        let tableAt = 8 + headerLength + (try #require(((header["entry_table"] as? [String: Any])?["data_offsets"] as? [Int])?.first))
        // Row 1's second entry (field 1; entries are id, field, value) gets id 65535.
        bytes.replaceSubrange((tableAt + 12)..<(tableAt + 16), with: [0xFF, 0xFF, 0, 0])
        try bytes.write(to: URL(fileURLWithPath: cache))
        #expect(throws: InputError.self) { try DatasetCache.open(path: cache) }
        notes = []
        let reparsed = try DataSource(request, note: { notes.append($0) }).load()
        #expect(!notes.contains { $0.hasPrefix("read the binary cache") } && reparsed.fingerprint == parsed.fingerprint)
    }

    /// Criteo with `--numeric value`: the integer columns become numeric entries of
    /// sign(v) ln(1 + |v|) (an empty column none), the categorical ones stay one-hot.
    @Test func criteoIntegerColumnsAsValues() throws {
        let dir = temporaryDirectory()
        let integers = ["0", "-2", "", "5", "1000000", "1", "", "3", "0", "7", "2", "", "9"]
        let categories = (1...26).map { $0 == 4 ? "" : "c\($0)" }
        var text = ""
        for r in 0..<20 { text += (["\(r % 2)"] + integers + categories).joined(separator: "\t") + "\n" }
        writeText(text, to: dir + "/c.txt")
        let raw = try loadRawCategorical(path: dir + "/c.txt", format: .criteo, criteoNumeric: .value)
        #expect(raw.inferredSchema(pooling: .sum) == criteoValueSchema)
        let resolved = raw.resolvingFields(criteoValueSchema)
        let data = resolved.dataset(vocabulary: resolved.vocabulary(minCount: 1))
        let rows = try #require(data.variable)
        let present = integers.indices.filter { !integers[$0].isEmpty }
        #expect(rows.entries(ofRow: 3).count == present.count + 26)
        let first = rows.entries(ofRow: 0)
        #expect(Array(rows.fields.array[first].prefix(present.count)) == present.map(UInt32.init))
        let expected = present.map { k -> Float in
            let v = Double(integers[k])!
            return Float(v < 0 ? -Foundation.log1p(-v) : Foundation.log1p(v))
        }
        #expect(Array(rows.values.array[first].prefix(present.count)) == expected)
        #expect(rows.values.array[first].dropFirst(present.count).allSatisfy { $0 == 1 })
        // Each numeric field is one embedding and the rare/unseen row (a column never filled has
        // only that); C4's empty cell is a token.
        #expect(Array(data.fieldDims.prefix(13)) == integers.map { $0.isEmpty ? 1 : 2 } && data.fieldDims[16] == 2)
        // The bucket form of the same file stays fixed-width, pytorch-fm's.
        #expect(try loadRawCategorical(path: dir + "/c.txt", format: .criteo).entries == nil)
    }

    /// Text over the memory budget converted a segment at a time gives the in-memory path's data
    /// set (entries, kinds, vocabularies): a file that needs entries only near its end, with a bad
    /// line, for both vocabulary sources; and Criteo read with --numeric value.
    @Test(arguments: [VocabularySource.train, .all]) func segmentedConversionOfEntriesEqualsTheWholeFile(from: VocabularySource) throws {
        let dir = temporaryDirectory()
        var text = ""
        for r in 0..<4000 {
            // Every 13th row lacks field 1 (categorical: its "missing" token).
            text += "\(r % 2) 0:u\(r % 53):1" + (r % 13 == 0 ? "" : " 1:m\(r % 71):1")
            if r % 7 == 0 { text += " 2:t\(r % 5):1" }
            if r > 3500 { text += " 2:t\(r % 3):1 3:x:\(Double(r % 11) / 8)" }
            text += r == 1200 ? " 9:9\n" : "\n"
        }
        writeText(text, to: dir + "/a.ffm")
        let pool = WorkerPool(threads: 3)
        var request = DataRequest(path: dir + "/a.ffm")
        request.useCache = false
        request.skipBadLines = true
        request.vocabularyFrom = from
        request.pooling = .mean
        request.minCount = 2
        request.seed = 4
        let whole = try DataSource(request, note: { _ in }).load(executor: pool)
        let converted = try convertCategoricalToCache(
            path: dir + "/a.ffm", format: .libffm, minCount: 2, vocabularyFrom: from, seed: 4, skipBadLines: true, executor: pool,
            cache: dir + "/a.cache", key: nil, segmentBytes: 6_000, minimumChunkBytes: 1_000, pooling: .mean)
        #expect(whole.variable != nil && converted.isMapped)
        #expect(converted.schema == whole.schema && converted.fieldDims == whole.fieldDims && converted.vocabulary == whole.vocabulary)
        #expect(converted.fingerprint == whole.fingerprint)
        #expect(converted.skippedLines == 1 && converted.firstSkipped?.line == 1201)

        let criteo = dir + "/c.txt"
        var rows = ""
        for r in 0..<600 {
            let integers = (0..<13).map { k in (r + k) % 5 == 0 ? "" : "\((r * (k + 1)) % 97 - 3)" }
            rows += (["\(r % 2)"] + integers + (1...26).map { "c\((r + $0) % 9)" }).joined(separator: "\t") + "\n"
        }
        writeText(rows, to: criteo)
        var criteoRequest = DataRequest(path: criteo)
        criteoRequest.useCache = false
        criteoRequest.criteoNumeric = .value
        criteoRequest.vocabularyFrom = from
        let criteoWhole = try DataSource(criteoRequest, note: { _ in }).load(executor: pool)
        let criteoConverted = try convertCategoricalToCache(
            path: criteo, format: .criteo, minCount: 10, vocabularyFrom: from, seed: 42, skipBadLines: false, executor: pool,
            cache: dir + "/c.cache", key: nil, segmentBytes: 5_000, minimumChunkBytes: 1_000, criteoNumeric: .value)
        #expect(criteoConverted.schema == criteoValueSchema && criteoConverted.fingerprint == criteoWhole.fingerprint)
        #expect(criteoConverted.vocabulary == criteoWhole.vocabulary)
    }
}
