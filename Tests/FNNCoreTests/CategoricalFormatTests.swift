import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

/// Criteo and Avazu samples in ../shared/data: counts from its README, field sizes computed
/// here independently with plain string handling.
@Suite struct CategoricalFormatTests {
    /// pytorch-fm's preprocessing written out again: per field, how many tokens occur >= minCount.
    func independentFieldSizes(path: String, separator: Character, skipHeader: Bool, labelColumn: Int, firstFeature: Int,
                               featureCount: Int, criteoIntegers: Bool, minCount: Int) throws -> [Int] {
        var counts = [[String: Int]](repeating: [:], count: featureCount)
        // Kaggle's CSV ends its lines with CRLF, one Character in Swift: split on any newline.
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
        if skipHeader { lines.removeFirst() }
        for line in lines {
            let cols = line.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            for k in 0..<featureCount {
                var token = cols[firstFeature + k]
                if criteoIntegers && k < 13 {
                    if token.isEmpty { token = "NULL" } else {
                        let v = Int(token) ?? Int(Double(token)!)
                        token = v > 2 ? String(Int(pow(log(Double(v)), 2))) : String(v - 2)
                    }
                }
                counts[k][token, default: 0] += 1
            }
        }
        return counts.map { $0.values.filter { $0 >= minCount }.count + 1 }
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func criteoSamples() throws {
        let dir = TestData.path("criteo-dac-sample")
        let train = try loadRawCategorical(path: dir + "/head8000_train.txt", format: .criteo)
        let dev = try loadRawCategorical(path: dir + "/head8000_dev.txt", format: .criteo)
        let test = try loadRawCategorical(path: dir + "/head8000_test.txt", format: .criteo)
        #expect(train.rowCount == 7200 && dev.rowCount == 409 && test.rowCount == 391)
        let clicks = [train, dev, test].reduce(0) { $0 + Int($1.labels.reduce(0, +)) }
        #expect(clicks == 1728)
        #expect(train.fieldCount == 39)
        let expected = try independentFieldSizes(path: dir + "/head8000_train.txt", separator: "\t", skipHeader: false,
                                                 labelColumn: 0, firstFeature: 1, featureCount: 39, criteoIntegers: true, minCount: 10)
        #expect(train.vocabulary(minCount: 10).fieldDims == expected)
        #expect(try detectFormat(path: dir + "/head8000_dev.txt") == .criteo)
    }

    /// Criteo's CSV exports: DeepCTR's (header "label,I1,...", integers written as "260.0") and
    /// Kaggle's (header "Id,Label,I1,..."), detected by their header and read as the TSV is; a TSV
    /// rewritten as DeepCTR's CSV parses to the same tokens, ids and labels.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func criteoCSVExports() throws {
        let dir = TestData.path("criteo-dac-sample")
        let deepctr = dir + "/deepctr_criteo_sample.csv", kaggle = dir + "/kaggle_train.tiny.csv"
        #expect(try detectFormat(path: deepctr) == .criteo && detectFormat(path: kaggle) == .criteo)
        let a = try loadRawCategorical(path: deepctr, format: .criteo)
        #expect(a.rowCount == 200 && a.fieldCount == 39)
        #expect(a.vocabulary(minCount: 1).fieldDims == (try independentFieldSizes(
            path: deepctr, separator: ",", skipHeader: true, labelColumn: 0, firstFeature: 1, featureCount: 39, criteoIntegers: true, minCount: 1)))
        let b = try loadRawCategorical(path: kaggle, format: .criteo, executor: nil)
        #expect(b.rowCount == 1999)
        let kaggleSizes = try independentFieldSizes(
            path: kaggle, separator: ",", skipHeader: true, labelColumn: 1, firstFeature: 2, featureCount: 39, criteoIntegers: true, minCount: 1)
        #expect(b.vocabulary(minCount: 1).fieldDims == kaggleSizes, "\(b.vocabulary(minCount: 1).fieldDims) vs \(kaggleSizes)")
        let tsv = dir + "/head8000_dev.txt"
        let rows = try String(contentsOfFile: tsv, encoding: .utf8).split(separator: "\n").map { line -> String in
            line.split(separator: "\t", omittingEmptySubsequences: false).enumerated().map { k, v in
                (1...13).contains(k) && !v.isEmpty ? v + ".0" : String(v)
            }.joined(separator: ",")
        }
        let header = (["label"] + (1...13).map { "I\($0)" } + (1...26).map { "C\($0)" }).joined(separator: ",")
        let csv = temporaryDirectory() + "/dev.csv"
        try ([header] + rows).joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let fromTSV = try loadRawCategorical(path: tsv, format: .criteo), fromCSV = try loadRawCategorical(path: csv, format: .criteo)
        #expect(fromCSV.tokens == fromTSV.tokens && fromCSV.tokenIds == fromTSV.tokenIds && fromCSV.labels == fromTSV.labels)
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func avazuSamplesWithAndWithoutHeader() throws {
        let dir = TestData.path("avazu-sample")
        let train = try loadRawCategorical(path: dir + "/head9000_train.csv", format: .avazu)
        let dev = try loadRawCategorical(path: dir + "/head9000_dev.csv", format: .avazu)
        let test = try loadRawCategorical(path: dir + "/head9000_test.csv", format: .avazu)
        #expect(train.rowCount == 8087 && Int(train.labels.reduce(0, +)) == 1397)
        #expect(dev.rowCount == 480 && Int(dev.labels.reduce(0, +)) == 86)
        #expect(test.rowCount == 432 && Int(test.labels.reduce(0, +)) == 80)
        let expected = try independentFieldSizes(path: dir + "/head9000_train.csv", separator: ",", skipHeader: true,
                                                 labelColumn: 1, firstFeature: 2, featureCount: 22, criteoIntegers: false, minCount: 4)
        #expect(train.vocabulary(minCount: 4).fieldDims == expected)
        #expect(try detectFormat(path: dir + "/head9000_train.csv") == .avazu)
        #expect(try detectFormat(path: dir + "/head9000_dev.csv") == .avazu)
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func trainingSplitVocabularyMapsUnseenTokensToTheLastId() throws {
        let raw = try loadRawCategorical(path: TestData.path("avazu-sample/head9000_train.csv"), format: .avazu)
        let split = DataSplit(rowCount: raw.rowCount, seed: 3)
        let vocabulary = raw.vocabulary(minCount: 1, rows: split.train)
        let data = raw.dataset(vocabulary: vocabulary)
        let trainTokens = (0..<raw.fieldCount).map { k in Set(split.train.map { raw.tokenIds[$0 * raw.fieldCount + k] }) }
        var unseen = 0
        for r in split.test {
            for k in 0..<raw.fieldCount {
                let token = raw.tokenIds[r * raw.fieldCount + k]
                let id = data.ids[r * raw.fieldCount + k]
                if trainTokens[k].contains(token) {
                    #expect(Int(id) < vocabulary.fields[k].count)
                    #expect(vocabulary.id(field: k, token: raw.tokens[k][Int(token)]) == id)
                } else {
                    #expect(Int(id) == vocabulary.fields[k].count)
                    unseen += 1
                }
            }
        }
        #expect(unseen > 0)
        // Counting all rows (pytorch-fm's way) knows more tokens.
        #expect(raw.vocabulary(minCount: 1).fieldDims.reduce(0, +) > vocabulary.fieldDims.reduce(0, +))
        #expect(Vocabulary(serialized: vocabulary.serialized()) == vocabulary)
        // Stored as tensors, through a file's bytes, it reads back the same; damage is an error.
        var file = SafeTensors()
        file.tensors = vocabulary.tensors()
        let parsed = try SafeTensors.parse(file.serialized(), path: "v")
        #expect(try Vocabulary(file: parsed, path: "v") == vocabulary)
        var damaged = parsed
        damaged.tensors["vocabulary.field_sizes"] = SafeTensors.Tensor(int64s: vocabulary.fields.map { Int64($0.count) + 1 })
        #expect(throws: ModelFileError.self) { _ = try Vocabulary(file: damaged, path: "v") }
        #expect(try Vocabulary(file: SafeTensors(), path: "v") == nil)
        #expect(vocabulary.id(field: 0, token: "never-seen") == UInt32(vocabulary.fields[0].count))
    }

    /// Tokens are interned by their bytes, but a vocabulary is keyed by String, where the NFC and
    /// NFD spellings of "é" are equal: they share one id, with their counts added, on the
    /// in-memory and the segmented path alike.
    @Test func canonicallyEqualTokensShareAnId() throws {
        let dir = temporaryDirectory()
        func row(_ id: Int, _ token: String) -> String {
            "\(id),\(id % 2)," + ([token] + (0..<21).map { "c\($0)" }).joined(separator: ",")
        }
        let text = [row(1, "caf\u{e9}"), row(2, "cafe\u{301}"), row(3, "tea"), row(4, "cafe\u{301}")].joined(separator: "\n") + "\n"
        writeText(text, to: dir + "/a.csv")
        let raw = try loadRawCategorical(path: dir + "/a.csv", format: .avazu)
        #expect(raw.tokens[0].count == 3)  // three byte spellings
        let vocabulary = raw.vocabulary(minCount: 2)
        // The two spellings together reach the threshold of 2; "tea" alone does not.
        #expect(vocabulary.fieldDims[0] == 2)
        let data = raw.dataset(vocabulary: vocabulary)
        #expect(data.ids[0 * 22] == 0 && data.ids[1 * 22] == 0 && data.ids[3 * 22] == 0 && data.ids[2 * 22] == 1)
        let converted = try convertCategoricalToCache(
            path: dir + "/a.csv", format: .avazu, minCount: 2, vocabularyFrom: .all, seed: 1, skipBadLines: false,
            executor: nil, cache: dir + "/a.cache", key: nil, segmentBytes: 40)
        #expect(converted.ids.bitwiseEqual(data.ids) && converted.vocabulary == vocabulary)
    }

    @Test func libffmCategoricalFeatures() throws {
        let dir = temporaryDirectory()
        writeText("1 0:5:1 1:7:1 2:3:1\n0 0:5:1 2:9:1\n0 0:6:1 1:7:1 2:3:1\n", to: dir + "/a.ffm")
        #expect(try detectFormat(path: dir + "/a.ffm") == .libffm)
        let raw = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm)
        #expect(raw.rowCount == 3 && raw.fieldCount == 3 && Int(raw.labels.reduce(0, +)) == 1)
        // Field 1 of row 2 is missing: its own token.
        #expect(raw.tokens[1] == ["7", "missing"])
        let data = raw.dataset(vocabulary: raw.vocabulary(minCount: 1))
        #expect(data.fieldDims == [3, 3, 3])
        let converted = try convertCategoricalToCache(
            path: dir + "/a.ffm", format: .libffm, minCount: 1, vocabularyFrom: .all, seed: 1, skipBadLines: false,
            executor: nil, cache: dir + "/a.cache", key: nil)
        #expect(converted.ids.bitwiseEqual(data.ids) && converted.vocabulary == data.vocabulary)
        // Read for a model of more fields (a held-out file that never shows the last one).
        let wider = try loadRawCategorical(path: dir + "/a.ffm", format: .libffm, minimumFields: 4)
        #expect(wider.fieldCount == 4 && wider.tokens[3] == ["missing"])
        func message(_ text: String) -> String? {
            writeText(text, to: dir + "/b.ffm")
            do { _ = try loadRawCategorical(path: dir + "/b.ffm", format: .libffm); return nil } catch { return error.message }
        }
        #expect(message("1 0:5:x 1:2:1\n")?.contains("not a number") == true)
        #expect(message("1 0:5:nan 1:2:1\n")?.contains("not finite") == true)
        #expect(message("1 0:5:1e60 1:2:1\n")?.contains("not finite") == true)
        #expect(message("1 0:5:0.5 1:2:1\n") == nil && message("1 0:5:1 0:6:1\n") == nil)
        writeText("1 3:1 5:1\n", to: dir + "/c.svm")
        #expect(try detectFormat(path: dir + "/c.svm") == .libsvm)
    }

    /// libsvm rows take their fields from a field map; a field a row lacks is "missing", and
    /// unmapped indices and values that are not finite numbers are errors with the line.
    @Test func libsvmWithAFieldMap() throws {
        let dir = temporaryDirectory()
        writeText("# users, items, a flag\n0-99 0\n100-199 1  # items\n500 2\n", to: dir + "/map.txt")
        let map = try FieldMap.read(path: dir + "/map.txt")
        #expect(map.fieldCount == 3 && map.field(of: 0) == 0 && map.field(of: 99) == 0 && map.field(of: 100) == 1)
        #expect(map.field(of: 200) == nil && map.field(of: 500) == 2 && map.field(of: 501) == nil)
        writeText("1 3:1 150:1 500:1\n0 7:1 150:1\n1 3:1 120:1\n", to: dir + "/a.svm")
        #expect(throws: InputError.self) { try loadRawCategorical(path: dir + "/a.svm", format: .libsvm) }
        let raw = try loadRawCategorical(path: dir + "/a.svm", format: .libsvm, fieldMap: map)
        #expect(raw.format == .libsvm && raw.rowCount == 3 && raw.fieldCount == 3 && raw.labels == [1, 0, 1])
        #expect(raw.tokens[0] == ["3", "7"] && raw.tokens[1] == ["150", "120"] && raw.tokens[2] == ["500", "missing"])
        #expect(raw.dataset(vocabulary: raw.vocabulary(minCount: 1)).fieldDims == [3, 3, 3])
        func failure(_ text: String) -> InputError? {
            writeText(text, to: dir + "/b.svm")
            do { _ = try loadRawCategorical(path: dir + "/b.svm", format: .libsvm, fieldMap: map); return nil } catch { return error }
        }
        #expect(failure("1 3:1\n1 300:1\n")?.message.contains("feature index 300 is in no field") == true)
        #expect(failure("1 3:1\n1 300:1\n")?.line == 2)
        #expect(failure("1 3:inf\n")?.message.contains("not finite") == true)
        #expect(failure("1 3:1 4:1\n") == nil && failure("1 3:0.5\n") == nil)
        // Maps that cannot be right.
        func mapFailure(_ text: String) -> InputError? {
            writeText(text, to: dir + "/bad.txt")
            do { _ = try FieldMap.read(path: dir + "/bad.txt"); return nil } catch { return error }
        }
        #expect(mapFailure("0-9 0\n5-20 1\n")?.message.contains("overlap") == true)
        #expect(mapFailure("0-9 0\n10-20 2\n")?.message.contains("field 1 has no features") == true)
        #expect(mapFailure("0-9 0\nten 1\n")?.line == 2)
        // Converted a row at a time (for files larger than memory), the same data and vocabularies.
        let whole = raw.dataset(vocabulary: raw.vocabulary(minCount: 1))
        let converted = try convertCategoricalToCache(
            path: dir + "/a.svm", format: .libsvm, minCount: 1, vocabularyFrom: .all, seed: 1, skipBadLines: false,
            executor: nil, cache: dir + "/a.cache", key: nil, fieldMap: map)
        #expect(converted.ids.bitwiseEqual(whole.ids) && converted.labels.bitwiseEqual(whole.labels))
        #expect(converted.vocabulary == whole.vocabulary)
        // Stored in a file, it reads back the same.
        var file = SafeTensors()
        file.tensors = map.tensors()
        #expect(try FieldMap(file: try SafeTensors.parse(file.serialized(), path: "m"), path: "m") == map)
    }

    @Test func malformedRowsNameTheLine() {
        let dir = temporaryDirectory()
        let good = "0\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13" + String(repeating: "\tab12cd34", count: 26)
        writeText(good + "\n" + good + "\n0\t1\t2\n", to: dir + "/short.txt")
        writeText(good + "\n" + good.replacingOccurrences(of: "0\t1\t2\t3", with: "0\t1\tx\t3") + "\n", to: dir + "/int.txt")
        writeText(good.replacingOccurrences(of: "0\t1\t2\t3", with: "7\t1\t2\t3") + "\n", to: dir + "/label.txt")
        func failure(_ name: String) -> InputError? {
            do { _ = try loadRawCategorical(path: dir + "/" + name, format: .criteo); return nil } catch { return error }
        }
        #expect(failure("short.txt")?.line == 3)
        #expect(failure("short.txt")?.message.contains("expected 40 tab-separated columns") == true)
        #expect(failure("int.txt")?.line == 2 && failure("int.txt")?.message.contains("I2 holds 'x'") == true)
        #expect(failure("label.txt")?.line == 1 && failure("label.txt")?.message == "label '7' is not 0 or 1")
    }
}
