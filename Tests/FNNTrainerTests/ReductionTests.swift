import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import TestSupport
import Testing

/// The partitioned dense reduction and the partitioned sparse row update, run by a pool, against
/// a plain sequential reference: bit-identical to the one-worker run, and within rounding of a
/// Double reference.
@Suite struct ParallelUpdateTests {
    @Test(arguments: [(1001, 3, 5), (64, 1, 8), (4097, 32, 3), (7, 2, 17)])
    func denseReductionAndAdam(size: Int, slices: Int, workers: Int) {
        var rng = Xoshiro256(seed: UInt64(size * 31 + slices))
        let config = AdamConfig(weightDecay: 1e-3)
        let initial = (0..<size).map { _ in Float(rng.nextGaussian()) }
        let parallelParams = AlignedBuffer<Float>(initial), serialParams = AlignedBuffer<Float>(initial)
        let parallelAdam = DenseAdam(config: config, count: size), serialAdam = DenseAdam(config: config, count: size)
        let partials = AlignedBuffer<Float>(count: slices * size)
        let scratchA = AlignedBuffer<Float>(count: size), scratchB = AlignedBuffer<Float>(count: size)
        var reference = initial.map(Double.init)
        var referenceAdam = ReferenceAdam(count: size, weightDecay: 1e-3)
        let pool = WorkerPool(threads: workers)
        for step in 1...5 {
            var sum = [Double](repeating: 0, count: size)
            for i in 0..<(slices * size) {
                partials[i] = Float(rng.nextGaussian())
                sum[i % size] += Double(partials[i])
            }
            let parts = partition(size, parts: workers)
            pool.run(.denseUpdate, tasks: workers) { p, _ in
                parallelAdam.update(parameters: parallelParams, slicePartials: partials, sliceCount: slices,
                                    range: parts[p], step: step, scratch: scratchA.base + parts[p].lowerBound)
            }
            serialAdam.update(parameters: serialParams, slicePartials: partials, sliceCount: slices, range: 0..<size,
                              step: step, scratch: scratchB.base)
            referenceAdam.step(&reference, sum, t: step)
        }
        #expect(parallelParams.bitwiseEqual(serialParams))
        for j in 0..<size { #expect(abs(Double(parallelParams[j]) - reference[j]) < 5e-5) }
    }

    /// Row 0 is in every slice, row 1 in one slice only, rows 2-9 many times at random, and the
    /// batch has more slices than some pools have workers and fewer than others.
    @Test(arguments: [1, 2, 3, 8, 33])
    func sparseRowUpdate(workers: Int) {
        let rows = 40, width = 7, positionsPerSlice = 13, slices = 6
        var rng = Xoshiro256(seed: 99)
        var rowIds: [UInt32] = []
        for s in 0..<slices {
            for p in 0..<positionsPerSlice {
                if p == 0 { rowIds.append(0) } else if s == 3 && p == 1 { rowIds.append(1) } else {
                    rowIds.append(UInt32(2 + rng.nextInt(below: rng.nextDouble() < 0.7 ? 8 : rows - 2)))
                }
            }
        }
        let config = AdamConfig(weightDecay: 1e-2)
        let initial = (0..<(rows * width)).map { _ in Float(rng.nextGaussian()) }
        let table = AlignedBuffer<Float>(initial), serialTable = AlignedBuffer<Float>(initial)
        let adam = LazyRowAdam(config: config, rows: rows, width: width)
        let serialAdam = LazyRowAdam(config: config, rows: rows, width: width)
        let schedule = AdamSchedule(config: config)
        let grouping = RowGrouping(tableRows: rows, maxPositions: rowIds.count, width: width)
        let serialGrouping = RowGrouping(tableRows: rows, maxPositions: rowIds.count, width: width)
        let pool = WorkerPool(threads: workers)
        var reference = (0..<rows).map { r in (0..<width).map { Double(initial[r * width + $0]) } }
        var referenceAdams = (0..<rows).map { _ in ReferenceAdam(count: width, weightDecay: 1e-2) }
        for step in 1...3 {
            let grads = AlignedBuffer<Float>((0..<(rowIds.count * width)).map { _ in Float(rng.nextGaussian()) })
            schedule.ensure(upTo: step)
            for g in [grouping, serialGrouping] {
                rowIds.withUnsafeBufferPointer {
                    g.build(rowIds: $0.baseAddress!, count: rowIds.count,
                            gradients: RowGradients(embedding: grads.base, embeddingStride: width))
                }
            }
            let parts = partition(grouping.uniqueCount, parts: workers, alignment: 1)
            pool.run(.sparseUpdate, tasks: workers) { p, _ in
                adam.update(table: table, grouping: grouping, uniqueRange: parts[p], globalStep: step, schedule: schedule)
            }
            serialAdam.update(table: serialTable, grouping: serialGrouping, uniqueRange: 0..<serialGrouping.uniqueCount,
                              globalStep: step, schedule: schedule)
            // Every touched row is touched every step here, so no catch-up is involved.
            for r in Set(rowIds.map(Int.init)) {
                var g = [Double](repeating: 0, count: width)
                for (p, row) in rowIds.enumerated() where Int(row) == r {
                    for j in 0..<width { g[j] += Double(grads[p * width + j]) }
                }
                referenceAdams[r].step(&reference[r], g, t: step)
            }
        }
        #expect(table.bitwiseEqual(serialTable))
        for r in 0..<rows {
            for j in 0..<width { #expect(abs(Double(table[r * width + j]) - reference[r][j]) < 5e-5) }
        }
    }
}

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
        ffm[4800] = "1 0:3:1 2:5:7"
        try (ffm.joined(separator: "\n") + "\n").write(toFile: dir + "/b.ffm", atomically: true, encoding: .utf8)
        do {
            _ = try loadRawCategorical(path: dir + "/b.ffm", format: .libffm, executor: pool, minimumChunkBytes: 4 << 10)
            Issue.record("a non-categorical feature was accepted")
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
