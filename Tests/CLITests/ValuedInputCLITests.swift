import FNNCore
import Foundation
import TestSupport
import Testing

/// libffm and libsvm files with values and repeated fields, end to end: trained models record
/// the kinds, score raw files the same way, and refuse files their fields cannot take.
@Suite struct ValuedInputCLITests: CLIHarness {
    /// A libffm file with a multi-hot field (0 to 4 tags), a numeric one and shuffled items.
    func writeValuedLibFFM(_ path: String, rows: Int = 3000, seed: UInt64 = 3) {
        var rng = Xoshiro256(seed: seed)
        var text = ""
        for _ in 0..<rows {
            let user = rng.nextInt(below: 60), item = rng.nextInt(below: 80)
            let tags = (0..<rng.nextInt(below: 5)).map { _ in rng.nextInt(below: 12) }
            let x = Double(rng.nextInt(below: 1000)) / 1000
            let label = (user % 3 == 0) != (tags.contains(3) || x > 0.8) ? 1 : 0
            var items = ["0:\(user):1", "1:\(item):1", "3:0:\(x)"] + tags.map { "2:\($0):1" }
            items.reverse()
            text += "\(label) " + items.joined(separator: " ") + "\n"
        }
        writeText(text, to: path)
    }

    @Test func valuedLibFFMTrainsScoresAndIsThreadIndependent() throws {
        let dir = scratch()
        writeValuedLibFFM(dir + "/train.ffm")
        let one = try run(["fm", "--data", "train.ffm", "--epochs", "3", "--threads", "1", "--pooling", "mean",
                           "--save", "one.safetensors"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stderr.contains("f2:multi-hot(mean,<=4)") && one.stderr.contains("f3:numeric"), "\(one.stderr)")
        // From the cache, on three threads: the same model bytes.
        let three = try run(["fm", "--data", "train.ffm", "--epochs", "3", "--threads", "3", "--pooling", "mean",
                             "--save", "three.safetensors"], in: dir)
        #expect(three.status == 0 && three.stderr.contains("read the binary cache"), "\(three.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/one.safetensors") == FileManager.default.contents(atPath: dir + "/three.safetensors"))
        let fnn = try run(["fnn", "--data", "train.ffm", "--epochs", "2", "--pooling", "mean", "--init-from", "one.safetensors",
                           "--fnn-input", "embedding+linear", "--save", "fnn.safetensors"], in: dir)
        #expect(fnn.status == 0, "\(fnn.stderr)")
        // Scoring a raw file: its rows read under the model's kinds, one probability per line.
        writeValuedLibFFM(dir + "/new.ffm", rows: 50, seed: 8)
        let predict = try run(["predict", "--model", "fnn.safetensors", "--data", "new.ffm", "--out", "p.txt"], in: dir)
        #expect(predict.status == 0, "\(predict.stderr)")
        let probabilities = try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n").compactMap { Double($0) }
        #expect(probabilities.count == 50 && probabilities.allSatisfy { $0 > 0 && $0 < 1 })
        // Lines with no tags at all still read as the model's multi-hot field (empty).
        writeText("1 0:1:1 1:2:1 3:0:0.5\n0 0:2:1 1:3:1 3:0:0.1\n", to: dir + "/plain.ffm")
        let plain = try run(["eval", "--model", "one.safetensors", "--data", "plain.ffm"], in: dir)
        #expect(plain.status == 0, "\(plain.stderr)")
        // Sum pooling is another model: trained apart, not served from the mean cache.
        let summed = try run(["fm", "--data", "train.ffm", "--epochs", "3", "--threads", "1", "--save", "sum.safetensors"], in: dir)
        #expect(summed.status == 0 && !summed.stderr.contains("read the binary cache") && summed.stderr.contains("multi-hot(sum"),
                "\(summed.stderr)")
    }

    @Test func aOneHotModelRefusesValuedRowsByField() throws {
        let dir = scratch()
        var text = ""
        for r in 0..<400 { text += "\(r % 2) 0:\(r % 13):1 1:\(r % 7):1\n" }
        writeText(text, to: dir + "/onehot.ffm")
        let train = try run(["fm", "--data", "onehot.ffm", "--epochs", "1", "--save", "m.safetensors"], in: dir)
        #expect(train.status == 0 && !train.stderr.contains("multi-hot"), "\(train.stderr)")
        writeText("1 0:1:1 1:2:1\n0 0:2:1 1:3:1 1:4:1\n", to: dir + "/two.ffm")
        let twice = try run(["eval", "--model", "m.safetensors", "--data", "two.ffm"], in: dir)
        #expect(twice.status != 0 && twice.stderr.contains("two.ffm:2: field 1 appears twice, but the model m.safetensors takes one-hot fields only"),
                "\(twice.stderr)")
        writeText("1 0:1:1 1:2:1\n1 0:1:0.5 1:2:1\n0 0:3:1 1:4:1\n", to: dir + "/valued.ffm")
        let valued = try run(["predict", "--model", "m.safetensors", "--data", "valued.ffm", "--out", "p.txt"], in: dir)
        #expect(valued.status != 0 && valued.stderr.contains("valued.ffm:2: field 0 has value 0.5, but the model m.safetensors takes one-hot fields only")
                && !exists(dir + "/p.txt"), "\(valued.stderr)")
        // Left out under --skip-bad-lines: nan in its place, the other lines scored.
        let skipped = try run(["predict", "--model", "m.safetensors", "--data", "valued.ffm", "--out", "p.txt", "--skip-bad-lines"], in: dir)
        #expect(skipped.status == 0, "\(skipped.stderr)")
        let lines = try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3 && lines[1] == "nan" && Double(lines[0]) != nil && Double(lines[2]) != nil, "\(lines)")
    }

    /// libsvm through a field map: several indices of one field are multi-hot, values numeric.
    @Test func libsvmValuesThroughAFieldMap() throws {
        let dir = scratch()
        var text = ""
        for r in 0..<600 { text += "\(r % 2) \(r % 50):1 \(100 + r % 7):1 \(100 + r % 3):1 200:\(Double(r % 10) / 10)\n" }
        writeText(text, to: dir + "/a.svm")
        writeText("0-99 0\n100-119 1\n200 2\n", to: dir + "/map.txt")
        let r = try run(["fm", "--data", "a.svm", "--format", "libsvm", "--field-map", "map.txt", "--epochs", "2",
                         "--save", "m.safetensors"], in: dir)
        #expect(r.status == 0 && r.stderr.contains("f1:multi-hot(sum,<=2)") && r.stderr.contains("f2:numeric"), "\(r.stderr)")
        let eval = try run(["eval", "--model", "m.safetensors", "--data", "a.svm"], in: dir)
        #expect(eval.status == 0, "\(eval.stderr)")
    }

    /// Criteo's integer columns as values: the model records them numeric, and scoring the raw
    /// test file reads them as values again without being told.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func criteoNumericValuesTrainAndScore() throws {
        let dir = scratch()
        let train = Self.data + "/criteo-dac-sample/head8000_train.txt", test = Self.data + "/criteo-dac-sample/head8000_test.txt"
        let r = try run(["fm", "--data", train, "--numeric", "value", "--cache-dir", dir, "--epochs", "2",
                         "--save", "m.safetensors"], in: dir)
        #expect(r.status == 0 && r.stderr.contains("I13:numeric 2, C1 "), "\(r.stderr)")
        // With a held-out file joined to the training file, the integer columns stay values.
        let heldOut = try run(["fm", "--data", train, "--test", test, "--numeric", "value", "--cache-dir", dir, "--epochs", "1",
                               "--save", "h.safetensors"], in: dir)
        #expect(heldOut.status == 0 && heldOut.stderr.contains("I13:numeric"), "\(heldOut.stderr)")
        let heldOutEval = try run(["eval", "--model", "h.safetensors", "--data", test], in: dir)
        #expect(heldOutEval.status == 0, "\(heldOutEval.stderr)")
        #expect(try SafeTensors.read(path: dir + "/h.safetensors").metadata["field_schema"]?.contains("numeric") == true)
        let eval = try run(["eval", "--model", "m.safetensors", "--data", test], in: dir)
        #expect(eval.status == 0 && eval.stdout.contains("fm "), "\(eval.stderr)")
        // Bucketed (the default) is other data: its own cache, one-hot fields.
        let bucket = try run(["fm", "--data", train, "--cache-dir", dir, "--epochs", "1"], in: dir)
        #expect(bucket.status == 0 && !bucket.stderr.contains("numeric") && !bucket.stderr.contains("read the binary cache"),
                "\(bucket.stderr)")
    }

    /// `generate --shape ml1m-genres` writes a fields TSV declaring its multi-hot column; models
    /// trained on it score files that declare the same kinds and refuse plain ones.
    @Test func generatedGenresTrainAndScoreThroughTheFieldsTSV() throws {
        let dir = scratch()
        let generate = try run(["generate", "--shape", "ml1m-genres", "--rows", "4000", "--out", "g.tsv"], in: dir)
        #expect(generate.status == 0, "\(generate.stderr)")
        let head = try String(contentsOfFile: dir + "/g.tsv", encoding: .utf8).split(separator: "\n").prefix(2)
        #expect(head.last == "# fields: user:categorical movie:categorical genres:multi-hot:mean")
        let train = try run(["fm", "--data", "g.tsv", "--epochs", "2", "--save", "m.safetensors"], in: dir)
        #expect(train.status == 0 && train.stderr.contains("genres:multi-hot(mean,<=6)"), "\(train.stderr)")
        let eval = try run(["eval", "--model", "m.safetensors", "--data", "g.tsv"], in: dir)
        #expect(eval.status == 0, "\(eval.stderr)")
        writeText("1\t3\t4\t5\n0\t1\t2\t3\n", to: dir + "/plain.tsv")
        let plain = try run(["eval", "--model", "m.safetensors", "--data", "plain.tsv"], in: dir)
        #expect(plain.status != 0 && plain.stderr.contains("is categorical in the data but multi-hot in the model")
                && plain.stderr.contains("# fields:"), "\(plain.stderr)")
    }
}
