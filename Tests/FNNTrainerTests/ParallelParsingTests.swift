import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import TestSupport
import Testing
import Foundation

/// Parallel parsing merges its chunks into exactly what a sequential parse gives, and reports
/// errors with their line number in the whole file.
@Suite struct ParallelParsingTests {
    static let sample = TestData.path("criteo-dac-sample/head8000_train.txt")

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason), arguments: [2, 3, 8])
    func chunksMergeToTheSequentialResult(workers: Int) throws {
        let serial = try loadRawCategorical(path: Self.sample, format: .criteo)
        let parallel = try loadRawCategorical(path: Self.sample, format: .criteo, executor: WorkerPool(threads: workers),
                                              minimumChunkBytes: 64 << 10)
        #expect(parallel.rowCount == serial.rowCount && parallel.labels == serial.labels)
        #expect(parallel.tokens == serial.tokens && parallel.tokenIds == serial.tokenIds)
    }

    /// Converting text to the cache a segment at a time (for files larger than memory) writes
    /// exactly the data and vocabularies of the whole-file path, for either vocabulary source, with
    /// skipped lines numbered from the start of the file.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason), arguments: [(VocabularySource.train, 1), (.all, 3)])
    func segmentedConversionEqualsTheWholeFile(from: VocabularySource, threads: Int) throws {
        let dir = NSTemporaryDirectory() + "fnn-par-convert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var lines = try String(contentsOfFile: Self.sample, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[5000] = "1\tbroken"
        let path = dir + "/c.txt"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let pool = WorkerPool(threads: threads)
        let raw = try loadRawCategorical(path: path, format: .criteo, skipBadLines: true)
        let rows = from == .train ? DataSplit(rowCount: raw.rowCount, seed: 5).train : nil
        let whole = raw.dataset(vocabulary: raw.vocabulary(minCount: 3, rows: rows))
        let converted = try convertCategoricalToCache(
            path: path, format: .criteo, minCount: 3, vocabularyFrom: from, seed: 5, skipBadLines: true, executor: pool,
            cache: dir + "/c.cache", key: nil, segmentBytes: 200_000, minimumChunkBytes: 30_000)
        #expect(converted.isMapped && converted.rowCount == whole.rowCount && converted.fieldDims == whole.fieldDims)
        #expect(converted.ids.bitwiseEqual(whole.ids) && converted.labels.bitwiseEqual(whole.labels))
        #expect(converted.vocabulary == whole.vocabulary)
        #expect(converted.skippedLines == 1 && converted.firstSkipped?.line == 5001)
        #expect(!FileManager.default.fileExists(atPath: dir + "/c.cache.ids-\(getpid())"))
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func errorLinesCountFromTheStartOfTheFile() throws {
        var lines = try String(contentsOfFile: Self.sample, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[6000] = "1\tbroken"
        let path = NSTemporaryDirectory() + "fnn-par-chunks-\(UUID().uuidString).txt"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try loadRawCategorical(path: path, format: .criteo, executor: WorkerPool(threads: 4), minimumChunkBytes: 64 << 10)
            Issue.record("a broken line was accepted")
        } catch {
            #expect(error.line == 6001)
        }
        let skipped = try loadRawCategorical(path: path, format: .criteo, skipBadLines: true, executor: WorkerPool(threads: 4),
                                             minimumChunkBytes: 64 << 10)
        #expect(skipped.skippedLines == 1 && skipped.firstSkipped?.line == 6001 && skipped.rowCount == lines.count - 1)
    }

    /// libffm and libsvm text: chunks parsed in parallel (both passes) give the sequential parse's
    /// tokens, ids and labels; a bad line is reported, or skipped, with its line in the whole file.
    @Test(arguments: [1, 2, 3])
    func libFFMChunksMergeToTheSequentialResult(workers: Int) throws {
        let dir = NSTemporaryDirectory() + "fnn-par-ffm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rng = Xoshiro256(seed: 9)
        var ffm: [String] = ["# libffm, written by the test"], svm: [String] = []
        for i in 0..<6000 {
            if i % 997 == 0 { ffm.append(""); svm.append("") }
            // Fields 0-4; field 4 only in the file's second half, so a chunk's highest field varies.
            let fields = (0..<(i < 3000 ? 4 : 5)).filter { _ in rng.nextDouble() < 0.9 }
            let label = rng.nextInt(below: 2)
            ffm.append("\(label) " + fields.map { "\($0):\(rng.nextInt(below: 40 * ($0 + 1))):1" }.joined(separator: " "))
            svm.append("\(label)\t" + fields.map { "\($0 * 1000 + rng.nextInt(below: 50)):1" }.joined(separator: " "))
        }
        // No newline after the last line.
        try ffm.joined(separator: "\n").write(toFile: dir + "/a.ffm", atomically: true, encoding: .utf8)
        try (svm.joined(separator: "\n") + "\n").write(toFile: dir + "/a.svm", atomically: true, encoding: .utf8)
        let map = try FieldMap(ranges: (0..<5).map { (first: $0 * 1000, last: $0 * 1000 + 999, field: $0) })
        let pool = WorkerPool(threads: workers)
        for (path, format) in [(dir + "/a.ffm", CategoricalFormat.libffm), (dir + "/a.svm", .libsvm)] {
            let serial = try loadRawCategorical(path: path, format: format, fieldMap: map)
            let parallel = try loadRawCategorical(path: path, format: format, executor: pool, minimumChunkBytes: 4 << 10,
                                                  fieldMap: map)
            #expect(serial.tokens.count == 5 && serial.rowCount == 6000)
            #expect(parallel.rowCount == serial.rowCount && parallel.labels == serial.labels)
            #expect(parallel.tokens == serial.tokens && parallel.tokenIds == serial.tokenIds)
            // Converted a segment at a time (as for text over the memory budget): the same cache.
            let whole = serial.dataset(vocabulary: serial.vocabulary(minCount: 2))
            let converted = try convertCategoricalToCache(
                path: path, format: format, minCount: 2, vocabularyFrom: .all, seed: 1, skipBadLines: false,
                executor: pool, cache: path + ".cache", key: nil, fieldMap: map, segmentBytes: 20_000,
                minimumChunkBytes: 4 << 10)
            #expect(converted.ids.bitwiseEqual(whole.ids) && converted.labels.bitwiseEqual(whole.labels))
            #expect(converted.vocabulary == whole.vocabulary && converted.fieldDims == whole.fieldDims)
        }
        // Sparse libffm (one of 40 fields per row): 18 bytes of ids per byte of text, so the
        // conversion cuts shorter segments; still the whole-file cache.
        let sparse = (0..<3000).map { "\($0 % 2) \($0 % 40):\($0 % 7):1" }.joined(separator: "\n") + "\n"
        try sparse.write(toFile: dir + "/s.ffm", atomically: true, encoding: .utf8)
        let sparseRaw = try loadRawCategorical(path: dir + "/s.ffm", format: .libffm)
        let sparseWhole = sparseRaw.dataset(vocabulary: sparseRaw.vocabulary(minCount: 1))
        let sparseConverted = try convertCategoricalToCache(
            path: dir + "/s.ffm", format: .libffm, minCount: 1, vocabularyFrom: .all, seed: 1, skipBadLines: false,
            executor: pool, cache: dir + "/s.cache", key: nil, segmentBytes: 4_000, minimumChunkBytes: 1 << 10)
        #expect(sparseRaw.fieldCount == 40 && sparseConverted.ids.bitwiseEqual(sparseWhole.ids))
        #expect(sparseConverted.vocabulary == sparseWhole.vocabulary)
        // A broken line deep in the file (line 4,801 of the libffm file: its comment line, then
        // the data and blank lines before it).
        ffm[4800] = "1 0:3:1 2:5:seven"
        try (ffm.joined(separator: "\n") + "\n").write(toFile: dir + "/b.ffm", atomically: true, encoding: .utf8)
        do {
            _ = try loadRawCategorical(path: dir + "/b.ffm", format: .libffm, executor: pool, minimumChunkBytes: 4 << 10)
            Issue.record("a value that is not a number was accepted")
        } catch {
            #expect(error.line == 4801)
        }
        let skipped = try loadRawCategorical(path: dir + "/b.ffm", format: .libffm, skipBadLines: true, executor: pool,
                                             minimumChunkBytes: 4 << 10)
        #expect(skipped.skippedLines == 1 && skipped.firstSkipped?.line == 4801 && skipped.rowCount == 5999)
        let converted = try convertCategoricalToCache(
            path: dir + "/b.ffm", format: .libffm, minCount: 1, vocabularyFrom: .all, seed: 1, skipBadLines: true,
            executor: pool, cache: dir + "/b.cache", key: nil, segmentBytes: 20_000, minimumChunkBytes: 4 << 10)
        #expect(converted.skippedLines == 1 && converted.firstSkipped?.line == 4801 && converted.rowCount == 5999)
        try? FileManager.default.removeItem(atPath: dir)
    }
}
