import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

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
