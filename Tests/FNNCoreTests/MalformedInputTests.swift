import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

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
