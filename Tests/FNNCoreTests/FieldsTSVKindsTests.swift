import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

/// The fields TSV's `# fields:` declaration: multi-hot and numeric columns read into variable
/// rows exactly as written, written back the same, and malformed cells refused by line.
@Suite struct FieldsTSVKindsTests {
    @Test func declaredColumnsReadAsWritten() throws {
        let dir = temporaryDirectory()
        writeText("""
            # a comment first
            # fields: user tags:multi-hot:mean price:numeric
            1\t3\t5,2:0.5,7\t0:2.5
            0\t0\t\t
            1\t1\t4\t0:-1e-2

            """, to: dir + "/a.tsv")
        let data = try loadDataset(path: dir + "/a.tsv")
        let rows = try #require(data.variable)
        #expect(data.schema.fields.map(\.kind) == [.categorical, .multiHot, .numeric])
        #expect(data.schema.fields.map(\.name) == ["user", "tags", "price"])
        #expect(data.schema.fields[1].pooling == .mean && data.schema.fields[1].maxIds == 3)
        #expect(data.fieldDims == [4, 8, 1] && data.labels.array == [1, 0, 1])
        #expect(rows.starts.array == [0, 5, 6, 9])
        #expect(rows.fields.array == [0, 1, 1, 1, 2, 0, 0, 1, 2])
        #expect(rows.ids.array == [3, 5, 2, 7, 0, 0, 1, 4, 0])
        #expect(rows.values.array == [1, 1, 0.5, 1, 2.5, 1, 1, 1, -0.01])
        // Only categorical columns declared: today's fixed-width rows.
        writeText("# fields: user movie\n1\t3\t4\n0\t1\t2\n", to: dir + "/b.tsv")
        let plain = try loadDataset(path: dir + "/b.tsv")
        #expect(plain.variable == nil && plain.ids.array == [3, 4, 1, 2])
    }

    /// Variable rows written as a fields TSV read back to the same examples.
    @Test func writtenAndReadBackTheSame() throws {
        let dir = temporaryDirectory()
        let generated = PlantedGenresGenerator(mostGenres: 6, seed: 4).generate(rows: 3000, name: "g")
        try generated.writeFieldsTSV(to: dir + "/g.tsv", comment: "test")
        // Sizes come from the largest ids the text shows; under the generator's, the same data.
        let read = try loadDataset(path: dir + "/g.tsv").reindexed(for: generated.fieldDims)
        #expect(read.schema == generated.schema && read.fingerprint == generated.fingerprint)
        // Values other than 1 and numeric fields survive the text too.
        var builder = VariableRows.Builder()
        for r in 0..<50 {
            builder.append(field: 0, id: UInt32(r % 4), value: 1)
            if r % 3 != 0 { builder.append(field: 1, id: UInt32(r % 5), value: Float(r) / 7) }
            builder.append(field: 2, id: 0, value: Float(r) * 1e-7 - 3)
            builder.endRow()
        }
        let schema = FieldSchema(fields: [FieldSpec(name: "a"), FieldSpec(name: "b", kind: .multiHot, maxIds: 1),
                                          FieldSpec(name: "c", kind: .numeric)])
        let valued = Dataset(name: "v", fieldDims: [4, 5, 1], schema: schema, rows: builder.finish(),
                             labels: AlignedBuffer((0..<50).map { Float($0 % 2) }))
        try valued.writeFieldsTSV(to: dir + "/v.tsv")
        let back = try loadDataset(path: dir + "/v.tsv")
        #expect(back.fingerprint == valued.fingerprint && back.schema == valued.schema)
    }

    @Test func malformedCellsNameTheirLine() throws {
        let dir = temporaryDirectory()
        func failure(_ body: String, declaration: String = "# fields: user tags:multi-hot price:numeric") -> InputError? {
            writeText(declaration + "\n1\t1\t2\t0:1\n" + body, to: dir + "/x.tsv")
            do { _ = try loadDataset(path: dir + "/x.tsv"); return nil } catch { return error }
        }
        #expect(failure("1\t1,2\t3\t0:1\n")?.message.contains("one id, found a comma") == true)
        #expect(failure("1\t1,2\t3\t0:1\n")?.line == 3)
        #expect(failure("1\t1:0.5\t3\t0:1\n")?.message.contains("is categorical") == true)
        #expect(failure("1\t\t3\t0:1\n")?.message.contains("needs an id") == true)
        #expect(failure("1\t1\t3,\t0:1\n")?.message.contains("is not a non-negative integer") == true)
        #expect(failure("1\t1\t3:nan\t0:1\n")?.message.contains("not a finite number") == true)
        #expect(failure("1\t1\t3\t0.5\n")?.message.contains("needs ID:VALUE") == true)
        #expect(failure("1\t1\t3\n")?.message.contains("expected 4 columns") == true)
        #expect(failure("", declaration: "# fields: user tags:many")?.message.contains("unknown kind") == true)
        #expect(failure("", declaration: "# fields: user tags:multi-hot:max")?.message.contains("sum or mean") == true)
        // Left out and counted instead.
        writeText("# fields: user tags:multi-hot\n1\t1\t2\n1\t1,2\t3\n0\t2\t\n", to: dir + "/y.tsv")
        let skipped = try loadDataset(path: dir + "/y.tsv", skipBadLines: true)
        #expect(skipped.rowCount == 2 && skipped.skippedLines == 1 && skipped.firstSkipped?.line == 3)
        #expect(skipped.variable?.entryCount == 3)
        // A line left out widens no field and raises no limit: its id 4,000,000,000 and its
        // three tags are gone with it.
        writeText("# fields: user tags:multi-hot\n1\t1\t2\n0\t4000000000\t1,2,3\tx\n1\t2\t1:nan,2,3\n", to: dir + "/z.tsv")
        let narrow = try loadDataset(path: dir + "/z.tsv", skipBadLines: true)
        #expect(narrow.rowCount == 1 && narrow.skippedLines == 2 && narrow.fieldDims == [2, 3] && narrow.schema.fields[1].maxIds == 1)
    }

    /// Held-out files join only with the training file's kinds.
    @Test func heldOutFilesNeedTheSameKinds() throws {
        let dir = temporaryDirectory()
        var train = "# fields: user tags:multi-hot:mean\n"
        for r in 0..<100 { train += "\(r % 2)\t\(r % 9)\t\(r % 4),\(r % 3 + 4)\n" }
        writeText(train, to: dir + "/train.tsv")
        writeText("# fields: user tags:multi-hot:mean\n1\t3\t1\n0\t20\t\n", to: dir + "/test.tsv")
        var request = DataRequest(path: dir + "/train.tsv")
        request.testPath = dir + "/test.tsv"
        request.useCache = false
        let joined = try DataSource(request, note: { _ in }).load()
        #expect(joined.rowCount == 102 && joined.fieldDims == [21, 7] && joined.schema.fields[1].maxIds == 2)
        writeText("1\t3\t1\n", to: dir + "/plain.tsv")
        request.testPath = dir + "/plain.tsv"
        #expect(throws: InputError.self) { try DataSource(request, note: { _ in }).load() }
        do { _ = try DataSource(request, note: { _ in }).load() } catch {
            #expect(error.description.contains("plain.tsv") && error.description.contains("multi-hot"), "\(error)")
        }
    }

    /// The genres generator: each movie's genres are fixed; one genre per movie is one-hot.
    @Test func genresGeneratorShapes() throws {
        let multi = PlantedGenresGenerator(mostGenres: 6, seed: 2).generate(rows: 20000, name: "m")
        let rows = try #require(multi.variable)
        var genresOf: [UInt32: [UInt32]] = [:]
        var counts = Set<Int>()
        for r in 0..<multi.rowCount {
            let e = rows.entries(ofRow: r)
            let movie = rows.ids[e.lowerBound + 1]
            let genres = e.dropFirst(2).map { rows.ids[$0] }
            counts.insert(genres.count)
            if let known = genresOf[movie] { #expect(known == genres) } else { genresOf[movie] = genres }
        }
        #expect(counts == Set(1...6) && multi.schema.fields[2].pooling == .mean)
        let one = PlantedGenresGenerator(mostGenres: 1, seed: 2).generate(rows: 20000, name: "o")
        #expect(one.variable == nil && one.fieldDims == [6040, 3706, 18])
        #expect(one.positiveCount > 5000 && one.positiveCount < 15000)
    }
}
