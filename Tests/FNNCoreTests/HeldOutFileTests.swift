import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

/// Validation and test rows from their own files: joined after the training file's rows, split by
/// row ranges, ids as one file would give them.
@Suite struct HeldOutFileTests {
    /// The three parts cover every row once, `part(ofRow:)` agrees with `rows(of:)`, held-out rows
    /// keep their files' order, and without a validation file the training file gives up
    /// validation rows at the proportions' ratio.
    @Test func splitByFilesIsThreeRanges() {
        for (trainFile, validation, test) in [(1000, 137, 91), (1000, 0, 91), (1000, 137, 0), (7, 0, 3)] {
            let heldOut = HeldOutFiles(validationRows: validation, testRows: test)
            let split = DataSplit(rowCount: trainFile + validation + test, seed: 9, proportions: .standard, heldOut: heldOut)
            #expect(split.heldOut == heldOut)
            let carved = validation == 0 ? trainFile - Int(Double(trainFile) * 80 / 90) : 0
            #expect(split.trainCount == trainFile - carved)
            #expect(split.validationCount == validation + carved && split.testCount == test)
            let parts = [DataSplit.Part.train, .validation, .test].map { split.rows(of: $0) }
            #expect(parts.flatMap { $0 }.sorted() == Array(0..<split.rowCount))
            for (part, rows) in zip([DataSplit.Part.train, .validation, .test], parts) {
                #expect(rows.allSatisfy { split.part(ofRow: $0) == part })
            }
            // The held-out files' rows come last, in file order.
            #expect(parts[1].suffix(validation) == ArraySlice(trainFile..<(trainFile + validation)))
            #expect(parts[2] == Array((trainFile + validation)..<split.rowCount))
            #expect(parts[0].allSatisfy { $0 < trainFile })
        }
        // One file's split is unchanged by the new storage: the counts torch's random_split gives.
        let plain = DataSplit(rowCount: 1001, seed: 42, proportions: .standard)
        #expect(plain.heldOut == nil && plain.trainCount == 800 && plain.validationCount == 100 && plain.testCount == 101)
    }

    /// Joining the Criteo sample's three files gives exactly what their concatenation as one file
    /// gives, with the vocabulary counted on the training file's rows: same tokens in the same
    /// order, same ids. A token only the held-out files show falls into its field's rare/unseen id.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func joinedCategoricalFilesReadAsOneFile() throws {
        let dir = TestData.path("criteo-dac-sample")
        let names = ["head8000_train.txt", "head8000_dev.txt", "head8000_test.txt"]
        let parts = try names.map { try loadRawCategorical(path: dir + "/" + $0, format: .criteo) }
        let joined = try RawCategoricalData.joining(parts)
        let scratch = temporaryDirectory()
        let whole = scratch + "/whole.txt"
        let text = try names.map { try String(contentsOfFile: dir + "/" + $0, encoding: .utf8) }.joined()
        writeText(text, to: whole)
        let one = try loadRawCategorical(path: whole, format: .criteo)
        #expect(joined.rowCount == one.rowCount && joined.tokens == one.tokens && joined.tokenIds == one.tokenIds)
        #expect(joined.labels == one.labels)
        let trainRows = Array(0..<parts[0].rowCount)
        let vocabulary = joined.vocabulary(minCount: 10, rows: trainRows)
        #expect(vocabulary.fieldDims == parts[0].vocabulary(minCount: 10).fieldDims)
        let a = joined.dataset(vocabulary: vocabulary), b = one.dataset(vocabulary: one.vocabulary(minCount: 10, rows: trainRows))
        #expect(a.fieldDims == b.fieldDims && a.fingerprint == b.fingerprint)
        // A token of the test file the training file never shows maps to its field's last (rare/unseen) id.
        let f = joined.fieldCount
        let trainTokens = (0..<f).map { k in Set(trainRows.map { joined.tokenIds[$0 * f + k] }) }
        var checked = 0
        for r in (parts[0].rowCount + parts[1].rowCount)..<joined.rowCount {
            for k in 0..<f where !trainTokens[k].contains(joined.tokenIds[r * f + k]) {
                #expect(a.ids[r * f + k] == UInt32(a.fieldDims[k] - 1))
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    /// libffm files count fields up to the highest they show; a file short of a field reads as
    /// rows whose value there is "missing", and labelled rows are required.
    @Test func joiningPadsLibffmFieldsAndRefusesUnlabelledRows() throws {
        let dir = temporaryDirectory()
        writeText("1 0:a:1 1:b:1 2:c:1\n0 0:a:1 1:d:1 2:c:1\n", to: dir + "/train.ffm")
        writeText("1 0:a:1 1:b:1\n", to: dir + "/valid.ffm")
        let train = try loadRawCategorical(path: dir + "/train.ffm", format: .libffm)
        let valid = try loadRawCategorical(path: dir + "/valid.ffm", format: .libffm)
        #expect(train.fieldCount == 3 && valid.fieldCount == 2)
        let joined = try RawCategoricalData.joining([train, valid])
        #expect(joined.fieldCount == 3 && joined.rowCount == 3)
        #expect(joined.tokens[2][Int(joined.tokenIds[2 * 3 + 2])] == "missing")
        #expect(joined.tokens[1][Int(joined.tokenIds[2 * 3 + 1])] == "b")
        let a = Dataset(name: "a", fieldDims: [3, 4], ids: [0, 1, 2, 3], labels: [1, 0])
        var unlabelled = Dataset(name: "b", fieldDims: [5, 2], ids: [4, 1], labels: [0])
        let both = try Dataset.joining([a, unlabelled])
        #expect(both.fieldDims == [5, 4] && both.rowCount == 3 && (0..<6).map { both.ids[$0] } == [0, 1, 2, 3, 4, 1])
        unlabelled.hasLabels = false
        #expect(throws: InputError.self) { try Dataset.joining([a, unlabelled]) }
        let narrow = Dataset(name: "c", fieldDims: [3], ids: [0], labels: [1])
        #expect(throws: InputError.self) { try Dataset.joining([a, narrow]) }
    }
}
