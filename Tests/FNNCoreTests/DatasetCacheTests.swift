import FNNCore
import FNNExecution
import FNNSystem
import FNNTrainer
import Foundation
import TestSupport
import Testing

@Suite struct DatasetCacheTests {
    @Test func roundTripIsExactAndMapped() throws {
        let dir = temporaryDirectory()
        let source = dir + "/data.tsv"
        let original = randomDataset(rows: 777, fieldDims: [5, 9, 3], seed: 2)
        try original.writeFieldsTSV(to: source)
        let parsed = try loadDataset(path: source)
        let key = try DatasetCache.Key(source: source, preprocessing: "fields")
        let cache = DatasetCache.path(for: source, directory: nil)
        #expect(DatasetCache.load(cache: cache, key: key, name: source) == nil)
        try DatasetCache.store(parsed, cache: cache, key: key)
        let cached = try #require(DatasetCache.load(cache: cache, key: key, name: source))
        #expect(cached.fieldDims == parsed.fieldDims && cached.rowCount == 777)
        #expect(cached.ids.bitwiseEqual(parsed.ids) && cached.labels.bitwiseEqual(parsed.labels))
        #expect(cached.fingerprint == parsed.fingerprint)
    }

    /// The generators' output is fixed by the seed: benchmarks and users' synthetic files stay the
    /// same data across versions, and a faster sampler must draw the same rows (FNV-1a of the ids
    /// and labels, recorded from the binary-search sampler).
    @Test func generatedRowsAreStable() {
        func digest(_ data: Dataset) -> UInt64 {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for i in 0..<(data.rowCount * data.fieldCount) { h = (h ^ UInt64(data.ids[i])) &* 0x100_0000_01B3 }
            for i in 0..<data.rowCount { h = (h ^ UInt64(data.labels[i].bitPattern)) &* 0x100_0000_01B3 }
            return h
        }
        let criteo = digest(PlantedFMGenerator.criteoShape(seed: 7).generate(rows: 3000))
        let movieLens = digest(PlantedFMGenerator.movieLens1MShape(seed: 7).generate(rows: 20_000))
        #expect(criteo == 3_976_631_950_090_743_886, "criteo \(criteo)")
        #expect(movieLens == 1_114_618_273_966_765_889, "ml1m \(movieLens)")
    }

    /// Drawing a planted-FM data set in chunks gives the rows of one draw; stored as a binary data
    /// file it is detected by content and maps back bit for bit; a damaged one is refused.
    @Test func binaryDataFilesRoundTrip() throws {
        let dir = temporaryDirectory()
        let generator = PlantedFMGenerator.movieLens1MShape(seed: 4)
        let whole = generator.generate(rows: 1000)
        var sampler = generator.makeSampler()
        let ids = AlignedBuffer<UInt32>(count: 2000), labels = AlignedBuffer<Float>(count: 1000)
        for (start, n) in [(0, 1), (1, 400), (401, 599)] {
            sampler.draw(rows: n, ids: ids.base + start * 2, labels: labels.base + start)
        }
        #expect(ids.bitwiseEqual(whole.ids) && labels.bitwiseEqual(whole.labels))
        let path = dir + "/d.fnnpar"
        try DatasetCache.store(whole, cache: path, key: nil)
        #expect(try detectFormat(path: path) == .binary)
        let mapped = try loadDataset(path: path)
        #expect(mapped.isMapped && mapped.fieldDims == whole.fieldDims && mapped.fingerprint == whole.fingerprint)
        var bytes = try readFileBytes(path)
        bytes.removeLast(100)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/cut.fnnpar"))
        #expect(throws: InputError.self) { try loadDataset(path: dir + "/cut.fnnpar", format: .binary) }
        // A header whose offsets point outside the data section reads as no data file, not a crash.
        var damaged = try readFileBytes(path)
        let text = String(decoding: damaged, as: UTF8.self)
        if let range = text.range(of: "\"labels\":{\"dtype\":\"F32\",\"shape\":[1000],\"data_offsets\":[8000,") {
            let at = text.utf8.distance(from: text.startIndex, to: range.upperBound) - 5
            damaged.replaceSubrange(at..<(at + 4), with: Array("-800".utf8))
            try Data(damaged).write(to: URL(fileURLWithPath: dir + "/bad.fnnpar"))
            #expect(throws: InputError.self) { try loadDataset(path: dir + "/bad.fnnpar", format: .binary) }
        } else {
            Issue.record("the labels header entry was not found where expected")
        }
        // Text whose first eight bytes read as a huge length is still text (byte 7 here is 0xA9).
        try "# donn\u{e9}es\n1\t0\t1\n0\t1\t0\n".write(toFile: dir + "/t.tsv", atomically: true, encoding: .utf8)
        #expect(try detectFormat(path: dir + "/t.tsv") == .fields)
        #expect(try loadDataset(path: dir + "/t.tsv").rowCount == 2)
    }

    /// Training on the mapped cache equals training on the parsed data: same model, same
    /// validation figures, same test metrics to the last bit.
    @Test func mappedDataTrainsLikeParsedData() throws {
        let dir = temporaryDirectory()
        let source = dir + "/d.tsv"
        try PlantedFMGenerator.movieLens1MShape(seed: 9).generate(rows: 3000).writeFieldsTSV(to: source)
        let parsed = try loadDataset(path: source)
        let key = try DatasetCache.Key(source: source, preprocessing: "fields")
        let cache = DatasetCache.path(for: source, directory: nil)
        try DatasetCache.store(parsed, cache: cache, key: key)
        let mapped = try #require(DatasetCache.load(cache: cache, key: key, name: source))
        func run(_ data: Dataset) -> (Model, [EpochRecord], EvaluationResult) {
            var options = TrainingOptions()
            options.epochs = 2
            options.patience = 0
            options.batchSize = 300
            let split = DataSplit(rowCount: data.rowCount, seed: 1)
            let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [8], dropout: 0.1)
            let engine = makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: options)
            let result = train(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
            engine.model.copyParameters(from: result.model)
            return (engine.model, result.history, try! evaluate(engine: engine, data: data, rows: split.test, executor: SerialExecutor()))
        }
        let (a, historyA, testA) = run(parsed)
        let (b, historyB, testB) = run(mapped)
        #expect(a.bitwiseEqual(b))
        #expect(historyA.map(\.validationLogLoss) == historyB.map(\.validationLogLoss))
        #expect(testA == testB)
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func vocabulariesTravelWithTheCache() throws {
        let source = TestData.path("avazu-sample/head9000_dev.csv")
        let raw = try loadRawCategorical(path: source, format: .avazu)
        let data = raw.dataset(vocabulary: raw.vocabulary(minCount: 2))
        let dir = temporaryDirectory()
        let key = try DatasetCache.Key(source: source, preprocessing: "avazu min-count 2 vocab-from all")
        let cache = DatasetCache.path(for: source, directory: dir)
        #expect(cache.hasPrefix(dir + "/head9000_dev.csv-"))
        try DatasetCache.store(data, cache: cache, key: key)
        let cached = try #require(DatasetCache.load(cache: cache, key: key, name: source))
        #expect(cached.vocabulary == data.vocabulary)
        #expect(cached.ids.bitwiseEqual(data.ids))
    }

    /// A changed source (even of the same size), other preprocessing, or a damaged cache file:
    /// the cache is not used.
    @Test func staleOrDamagedCachesAreIgnored() throws {
        let dir = temporaryDirectory()
        let source = dir + "/d.tsv"
        writeText("1\t3\t4\n0\t2\t1\n", to: source)
        let key = try DatasetCache.Key(source: source, preprocessing: "fields")
        let cache = DatasetCache.path(for: source, directory: nil)
        try DatasetCache.store(try loadDataset(path: source), cache: cache, key: key)
        #expect(DatasetCache.load(cache: cache, key: key, name: source) != nil)
        // Same size, other content.
        writeText("1\t3\t4\n0\t2\t2\n", to: source)
        let changed = try DatasetCache.Key(source: source, preprocessing: "fields")
        #expect(changed.sourceFingerprint != key.sourceFingerprint)
        #expect(DatasetCache.load(cache: cache, key: changed, name: source) == nil)
        // Other preprocessing of the same source.
        var other = key
        other.preprocessing = "criteo min-count 10"
        #expect(DatasetCache.load(cache: cache, key: other, name: source) == nil)
        // Damaged.
        var bytes = try readFileBytes(cache)
        bytes.removeLast(8)
        #expect(FileManager.default.createFile(atPath: cache, contents: Data(bytes)))
        #expect(DatasetCache.load(cache: cache, key: key, name: source) == nil)
        writeText("garbage", to: cache)
        #expect(DatasetCache.load(cache: cache, key: key, name: source) == nil)
    }
}
