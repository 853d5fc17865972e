import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

@Suite struct RealDataLoaderTests {
    // Counts from ../shared/data/README.md.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLens100K() throws {
        let data = try loadDataset(path: TestData.path("ml-100k/u.data"))
        #expect(data.rowCount == 100_000)
        #expect(data.positiveCount == 55_375)
        #expect(data.fieldDims == [943, 1682])
        // First line: 196 242 3 -> ids 195, 241, label 0.
        #expect(data.ids[0] == 195 && data.ids[1] == 241 && data.labels[0] == 0)
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLens1MSample() throws {
        let data = try loadDataset(path: TestData.path("ml-1m-sample/ratings_sample100k.dat"))
        #expect(data.rowCount == 100_000)
        #expect(data.positiveCount == 57_483)
        #expect(data.fieldDims[0] <= 6040 && data.fieldDims[1] <= 3952)
        #expect(data.fieldDims == [6040, 3952])
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLensLatestCSVWithHalfStars() throws {
        let data = try loadDataset(path: TestData.path("ml-latest-small/ratings.csv"))
        #expect(data.rowCount == 100_836)
        // Rating strictly above 3.0: 3.5 counts, 3.0 does not.
        #expect(data.positiveCount == 61_716)
        #expect(data.fieldDims == [610, 193_609])
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func forcedFormatAgreesWithDetection() throws {
        let auto = try loadDataset(path: TestData.path("ml-100k/u.data"))
        let forced = try loadDataset(path: TestData.path("ml-100k/u.data"), format: .movielens)
        #expect(auto.fingerprint == forced.fingerprint)
    }
}

@Suite struct FieldsFormatTests {
    @Test func roundTripThroughTheFieldsTSV() throws {
        let dir = temporaryDirectory()
        let original = randomDataset(rows: 500, fieldDims: [3, 17, 5], seed: 9)
        let path = dir + "/data.tsv"
        try original.writeFieldsTSV(to: path, comment: "test data")
        let loaded = try loadDataset(path: path)
        #expect(loaded.rowCount == 500)
        #expect(loaded.ids.array == original.ids.array)
        #expect(loaded.labels.array == original.labels.array)
        // Field size is the largest id + 1, which can be below the generator's size.
        for f in 0..<3 {
            let largest = (0..<500).map { Int(original.ids[$0 * 3 + f]) }.max()!
            #expect(loaded.fieldDims[f] == largest + 1)
        }
    }

    @Test func commentsBlankLinesAndCRLF() throws {
        let dir = temporaryDirectory()
        writeText("# generated\r\n1\t0\t4\r\n\r\n0\t2\t1\r\n", to: dir + "/f.tsv")
        let data = try loadDataset(path: dir + "/f.tsv")
        #expect(data.rowCount == 2 && data.fieldDims == [3, 5] && data.positiveCount == 1)
    }

    @Test func detectionTellsFieldsFromMovieLensTabs() throws {
        let dir = temporaryDirectory()
        // Four tab columns both; only the first-column labels say "fields".
        writeText("1\t5\t3\t881250949\n0\t2\t4\t881250950\n", to: dir + "/a.tsv")
        writeText("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", to: dir + "/b.tsv")
        #expect(try loadDataset(path: dir + "/a.tsv").fieldDims == [6, 5, 881_250_951])
        #expect(try loadDataset(path: dir + "/b.tsv").fieldDims == [196, 302])
    }
}

@Suite struct MalformedInputTests {
    func failure(_ text: String, format: DataFormat = .auto) -> InputError? {
        let dir = temporaryDirectory()
        let path = dir + "/bad.txt"
        writeText(text, to: path)
        do {
            _ = try loadDataset(path: path, format: format)
            return nil
        } catch {
            return error
        }
    }

    @Test func wrongColumnCountNamesTheLine() {
        let e = failure("1::2::5::978300760\n1::3::4::978300761\n1::4::4\n")
        #expect(e?.line == 3)
        #expect(e?.message.contains("expected 4 columns") == true)
        #expect(e?.description.hasSuffix("bad.txt:3: expected 4 columns (user, movie, rating, timestamp) separated by '::', found 3") == true)
    }

    @Test func nonNumericRating() {
        let e = failure("1\t2\t5\t978300760\n1\t3\tfive\t978300761\n", format: .movielens)
        #expect(e?.line == 2)
        #expect(e?.message == "rating 'five' is not a number")
    }

    @Test func nonPositiveIds() {
        #expect(failure("0::2::5::978300760\n")?.message == "user id '0' is not a positive integer")
        #expect(failure("1::-2::5::978300760\n")?.message == "movie id '-2' is not a positive integer")
        #expect(failure("1,x,5,978300760\n")?.message == "movie id 'x' is not a positive integer")
    }

    @Test func emptyFiles() {
        #expect(failure("")?.message == "empty file: no data rows")
        #expect(failure("\n\n")?.message == "empty file: no data rows")
        #expect(failure("# only a comment\n")?.message == "empty file: no data rows")
        #expect(failure("userId,movieId,rating,timestamp\n", format: .movielens)?.message == "empty file: no data rows")
    }

    @Test func unreadableFiles() {
        do {
            _ = try loadDataset(path: "/nonexistent/ratings.dat")
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/ratings.dat: cannot open"))
        }
        let dir = temporaryDirectory()
        do {
            _ = try loadDataset(path: dir)
            Issue.record("loading a directory succeeded")
        } catch {
            #expect(error.message.contains("directory"))
        }
    }

    @Test func fieldsFormatErrors() {
        let e1 = failure("1\t2\t3\n0\t1\n")
        #expect(e1?.line == 2 && e1?.message.contains("expected 3 columns") == true)
        let e2 = failure("# c\n1\t2\n2\t1\n", format: .fields)
        #expect(e2?.line == 3 && e2?.message == "label '2' is not 0 or 1")
        let e3 = failure("1\t2\n0\t-1\n", format: .fields)
        #expect(e3?.line == 2 && e3?.message.contains("id '-1' in field 1") == true)
    }

    /// With skipBadLines, malformed lines are left out whole and counted; the rest loads as if
    /// they had never been there.
    @Test func skippingBadLinesKeepsTheGoodOnes() throws {
        let dir = temporaryDirectory()
        writeText("1\t2\t3\n0\t5\tx\n1\t9\n0\t1\t1\n2\t1\t1\n", to: dir + "/f.tsv")
        let fields = try loadDataset(path: dir + "/f.tsv", format: .fields, skipBadLines: true)
        #expect(fields.rowCount == 2 && fields.skippedLines == 3 && fields.firstSkipped?.line == 2)
        // The bad line's 5 in field 1 must not have widened the field.
        #expect(fields.fieldDims == [3, 4] && fields.ids.array == [2, 3, 1, 1])
        writeText("1::2::5::1\n1::0::4::2\nfoo\n3::3::1::3\n", to: dir + "/m.dat")
        let movielens = try loadDataset(path: dir + "/m.dat", skipBadLines: true)
        #expect(movielens.rowCount == 2 && movielens.skippedLines == 2 && movielens.fieldDims == [3, 3])
        let good = "0\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13" + String(repeating: "\tab12cd34", count: 26)
        writeText(good + "\n0\t1\n" + good.replacingOccurrences(of: "0\t1\t2\t3", with: "1\t1\tq\t3") + "\n" + good + "\n", to: dir + "/c.txt")
        let criteo = try loadRawCategorical(path: dir + "/c.txt", format: .criteo, skipBadLines: true)
        #expect(criteo.rowCount == 2 && criteo.skippedLines == 2 && criteo.tokenIds.count == 2 * 39)
        #expect(throws: InputError.self) { try loadRawCategorical(path: dir + "/c.txt", format: .criteo) }
    }

    @Test func strayHugeIdNamesItsLine() {
        let e = failure("1\t3\t4\n0\t4000000000\t2\n1\t1\t1\n")
        #expect(e?.line == 2)
        #expect(e?.message.contains("id in field 1 4000000000") == true)
    }

    /// 40 tab columns of decimal ids with 0/1 labels is a 39-field fields file, not Criteo.
    @Test func thirtyNineFieldTSVIsNotCriteo() throws {
        let dir = temporaryDirectory()
        let line = (0..<40).map { $0 == 0 ? "1" : String($0 % 7) }.joined(separator: "\t")
        writeText(line + "\n" + line.replacingOccurrences(of: "1\t1", with: "0\t1") + "\n", to: dir + "/f.tsv")
        #expect(try detectFormat(path: dir + "/f.tsv") == .fields)
        #expect(try loadDataset(path: dir + "/f.tsv").fieldCount == 39)
    }

    @Test func undetectableFormat() {
        #expect(failure("hello world\n")?.message.contains("cannot detect the format") == true)
    }
}

@Suite struct SplitTests {
    @Test func eightyTenTenDisjointAndSeeded() {
        let a = DataSplit(rowCount: 1001, seed: 5)
        #expect(a.train.count == 800 && a.validation.count == 100 && a.test.count == 101)
        #expect(Set(a.train + a.validation + a.test).count == 1001)
        let b = DataSplit(rowCount: 1001, seed: 5)
        #expect(a.train == b.train && a.test == b.test)
        let c = DataSplit(rowCount: 1001, seed: 6)
        #expect(a.train != c.train)
    }

    @Test func syntheticDataIsDeterministicAndPlanted() {
        let g = PlantedFMGenerator.movieLens1MShape(seed: 3)
        let a = g.generate(rows: 20_000)
        let b = g.generate(rows: 20_000)
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fieldDims == [6040, 3706])
        let rate = Double(a.positiveCount) / 20_000
        #expect(rate > 0.35 && rate < 0.75)
    }
}
