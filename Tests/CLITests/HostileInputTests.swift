import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12's classes, as a hostile user tries them: every case must end with a clear error
/// (non-zero status, the file / line / option named) or a correct result; never a crash, a hang,
/// or an input destroyed.
@Suite struct HostileInputTests: CLIHarness {
    /// A run that ended by a signal (a trap, SIGSEGV, SIGBUS) reports status 128+n through
    /// Process as the signal itself; either way, a crash is not a clear error.
    func expectCleanRefusal(_ r: CLIResult, mentioning text: String, _ what: String) {
        #expect(r.status == 1 || r.status == 64, "\(what): status \(r.status), \(r.stderr)")
        #expect(r.stderr.contains(text), "\(what): \(r.stderr)")
    }

    /// Options whose values would trap a conversion or ask for nonsense are refused before any work.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func absurdOptionsAreRefusedUpFront() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let cases: [([String], String)] = [
            (["fm", "--memory-budget", "inf"], "--memory-budget"), (["fm", "--memory-budget", "1e30"], "--memory-budget"),
            (["fm", "--memory-budget", "99999999999T"], "--memory-budget"), (["fm", "--memory-budget", "nan"], "--memory-budget"),
            (["fm", "--memory-budget", "0.0001"], "--memory-budget"),
            (["fm", "--batch-size", "0"], "--batch-size"), (["fm", "--embed-dim", "0"], "--embed-dim"),
            (["fnn", "--dropout", "1"], "--dropout"), (["fm", "--threads", "0"], "--threads"), (["fm", "--epochs", "0"], "--epochs"),
            (["fm", "--min-count=-1"], "--min-count"), (["fm", "--lr", "nan"], "--lr"), (["fm", "--lr-decay", "0"], "--lr-decay"),
            (["bench", "--dropout", "1"], "--dropout"), (["fnn", "--mlp", "0"], "--mlp"), (["fm", "--split", "90,10,0"], "--split"),
        ]
        for (arguments, option) in cases {
            let r = try run(arguments + ["--data", u, "--no-cache"], in: dir)
            expectCleanRefusal(r, mentioning: option, "\(arguments)")
            #expect(!r.stderr.contains("epoch 1"), "\(arguments) trained first")
        }
    }

    /// No output may be an input (by path, by another spelling, through a link) or another output;
    /// a killed run's temporary file is cleaned up by the next write of that file.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func outputsNeverDestroyInputs() throws {
        let dir = scratch()
        try FileManager.default.copyItem(atPath: Self.data + "/ml-100k/u.data", toPath: dir + "/u.data")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.dat", withDestinationPath: dir + "/u.data")
        let original = try Data(contentsOf: URL(fileURLWithPath: dir + "/u.data"))
        #expect(try run(["fm", "--data", "u.data", "--no-cache", "--epochs", "1", "--save", "m.safetensors", "--quiet"], in: dir).status == 0)
        let model = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.safetensors"))
        let cases: [([String], String)] = [
            (["fm", "--data", "u.data", "--save", "u.data"], "--save u.data is the --data file"),
            (["fm", "--data", "u.data", "--json", "./u.data"], "is the --data file"),
            (["fm", "--data", "u.data", "--checkpoint", "link.dat", "--save", "x.safetensors"], "is the --data file"),
            (["fm", "--data", "u.data", "--metrics-csv", "r.json", "--json", "r.json"], "are the same file"),
            (["fnn", "--data", "u.data", "--init-from", "m.safetensors", "--save", "m.safetensors"], "is the --init-from file"),
            (["fm", "--data", "u.data", "--field-map", "m.safetensors", "--plot", "m.safetensors"], "is the --field-map file"),
            (["--data", "u.data", "--json", "u.data"], "is the --data file"),
            (["predict", "--model", "m.safetensors", "--data", "u.data", "--out", "m.safetensors"], "is the --model file"),
            (["predict", "--model", "m.safetensors", "--data", "u.data", "--out", "link.dat"], "is the --data file"),
            (["eval", "--model", "m.safetensors", "--data", "u.data", "--json", "u.data"], "is the --data file"),
            (["export", "--model", "m.safetensors", "--embeddings", "m.safetensors"], "is the --model file"),
            (["split", "--data", "\(dir)/train.svm", "--out-dir", dir], "is the --data file"),
        ]
        try original.write(to: URL(fileURLWithPath: dir + "/train.svm"))
        for (arguments, message) in cases {
            let r = try run(arguments + ["--no-cache"].filter { _ in !["predict", "eval", "export"].contains(arguments[0]) }, in: dir)
            expectCleanRefusal(r, mentioning: message, "\(arguments)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/u.data")) == original)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/m.safetensors")) == model)
        #expect(!exists(dir + "/x.safetensors"))
        // A temporary file left by a killed writer (its process gone) goes with the next write.
        let stale = dir + "/m.safetensors.tmp-\(Int32.max - 7)"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stale))
        #expect(try run(["fm", "--data", "u.data", "--no-cache", "--epochs", "1", "--save", "m.safetensors", "--quiet"], in: dir).status == 0)
        #expect(!exists(stale))
    }

    /// A safetensors-framed file's header, where its data starts and its size; nil when the
    /// framing does not parse.
    func framing(_ path: String) throws -> (header: [String: Any], dataStart: Int, size: Int)? {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        guard bytes.count >= 8 else { return nil }
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard length > 0, 8 + length <= bytes.count,
              let header = try? JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any] else { return nil }
        return (header, 8 + length, bytes.count)
    }

    /// Where tensor `name` of an fnn-par data file or cache starts.
    func tensorOffset(_ path: String, _ name: String = "ids") throws -> Int {
        let file = try #require(try framing(path))
        return file.dataStart + ((file.header[name] as! [String: Any])["data_offsets"] as! [Int])[0]
    }

    func patch(_ path: String, at offset: Int, id: UInt32) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(offset))
        handle.write(withUnsafeBytes(of: id.littleEndian) { Data($0) })
        try handle.close()
    }

    /// Ids in a binary data file or cache are checked when it is opened: one just past its field
    /// (which would train another field's row) and one far past the table are refused by row and
    /// field; a cache holding one is parsed again. A data file truncated under a run stops it with
    /// a message, not a bus error.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func mappedIdsAreCheckedAndAChangedFileIsReported() throws {
        let dir = scratch()
        #expect(try run(["generate", "--rows", "5000", "--seed", "3", "--out", "d.fnnpar"], in: dir).status == 0)
        #expect(try run(["fm", "--data", "d.fnnpar", "--epochs", "1", "--save", "m.safetensors", "--quiet"], in: dir).status == 0)
        let offset = try tensorOffset(dir + "/d.fnnpar")
        // Row 10's second field: ML-1M-shaped data has fields of 6040 and 3706.
        for bad: UInt32 in [3706, 0xFFFF_FFF0] {
            try FileManager.default.copyItem(atPath: dir + "/d.fnnpar", toPath: dir + "/bad.fnnpar")
            try patch(dir + "/bad.fnnpar", at: offset + (9 * 2 + 1) * 4, id: bad)
            for arguments in [["fm", "--data", "bad.fnnpar", "--epochs", "1"],
                              ["eval", "--model", "m.safetensors", "--data", "bad.fnnpar"],
                              ["predict", "--model", "m.safetensors", "--data", "bad.fnnpar", "--out", "p.txt"]] {
                let r = try run(arguments, in: dir)
                expectCleanRefusal(r, mentioning: "row 10, field 2 holds id \(bad), but the field has 3706 ids", "\(arguments) id \(bad)")
            }
            try FileManager.default.removeItem(atPath: dir + "/bad.fnnpar")
        }
        // A label flipped to 2.0 (0x40000000) is refused by row too.
        let labels = try tensorOffset(dir + "/d.fnnpar", "labels")
        try FileManager.default.copyItem(atPath: dir + "/d.fnnpar", toPath: dir + "/label.fnnpar")
        try patch(dir + "/label.fnnpar", at: labels + 6 * 4, id: 0x4000_0000)
        expectCleanRefusal(try run(["fm", "--data", "label.fnnpar", "--epochs", "1"], in: dir), mentioning: "row 7 has label 2.0", "label 2")
        // A cache with a bad id is no cache: the text is parsed again, and the run is right.
        let u = Self.data + "/ml-100k/u.data"
        #expect(try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "1", "--quiet"], in: dir).status == 0)
        let cache = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".fnnpar-cache") }!
        try patch(dir + "/" + cache, at: try tensorOffset(dir + "/" + cache) + 4, id: 0xFFFF_0000)
        let reparsed = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "1"], in: dir)
        #expect(reparsed.status == 0 && reparsed.stderr.contains("parsed") && !reparsed.stderr.contains("read the binary cache"))
        // Truncated while training: the run stops with status 1 and says which file changed.
        #expect(try run(["generate", "--rows", "3000000", "--seed", "4", "--out", "big.fnnpar"], in: dir).status == 0)
        let (process, err) = try start(["fm", "--data", "big.fnnpar", "--epochs", "50", "--patience", "0", "--threads", "1"], in: dir)
        var seen = read(until: "epoch 1:", from: err)
        #expect(truncate(dir + "/big.fnnpar", 4096) == 0)
        seen += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(process.terminationStatus): \(seen)")
        #expect(seen.contains("big.fnnpar changed while it was being read"), "\(seen)")
    }

    /// Sizes a file or an option claims are planned before anything is allocated: a libffm line
    /// naming field 99999 (every row 100,000 values wide), an MLP of 60000-wide layers, and a
    /// model past `ulimit -v` are refused at once with the figures and the option to change.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func claimedSizesArePlannedBeforeAllocation() throws {
        let dir = scratch()
        var text = ""
        for i in 0..<2000 { text += "\(i % 2) 0:\(i % 50):1 1:\(i % 7):1" + (i == 1500 ? " 99999:5:1" : "") + "\n" }
        try text.write(toFile: dir + "/wide.ffm", atomically: true, encoding: .utf8)
        let wide = try run(["fm", "--data", "wide.ffm", "--no-cache"], in: dir)
        expectCleanRefusal(wide, mentioning: "wide.ffm:1501: field index 99999", "libffm field 99999")
        let u = Self.data + "/ml-100k/u.data"
        let mlp = try run(["fnn", "--data", u, "--no-cache", "--mlp", "60000,60000"], in: dir)
        expectCleanRefusal(mlp, mentioning: "narrower --mlp layers", "--mlp 60000,60000")
        #expect(mlp.stderr.contains("GB") && !mlp.stderr.contains("epoch 1"))
        #expect(try run(["generate", "--shape", "criteo", "--rows", "5000", "--out", "c.fnnpar"], in: dir).status == 0)
        let (status, message) = try shell("ulimit -v 2000000; exec '\(Self.binary)' fnn --data c.fnnpar --embed-dim 256 --epochs 1", in: dir)
        #expect(status == 1, "\(message)")
        #expect(message.contains("the limit set by ulimit -v") && message.contains("--embed-dim"), "\(message)")
    }

    /// Inputs that never end or are no text: a FIFO is read once (copied, not reopened), a
    /// gzip stream through a FIFO too; /dev/zero and /dev/urandom as data stop after their
    /// first megabyte, as a model or field map at once; a binary file is named as not text.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason), .timeLimit(.minutes(2)))
    func streamsAndEndlessInputsNeverHang() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        for (name, writer) in [("plain", "cat '\(u)'"), ("gzip", "gzip -c '\(u)'")] {
            let fifo = dir + "/\(name).fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            let (feeder, _) = try startShell("\(writer) > '\(fifo)'")
            let r = try run(["fm", "--data", fifo, "--epochs", "1", "--json", "\(name).json"], in: dir)
            feeder.waitUntilExit()
            #expect(r.status == 0, "\(name) FIFO: \(r.stderr)")
            let rows = ((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).json"))) as! [String: Any])["dataset"] as! [String: Any])["rows"] as? Int
            #expect(rows == 100_000)
        }
        for (arguments, message) in [(["fm", "--data", "/dev/zero"], "/dev/zero"), (["fm", "--data", "/dev/urandom"], "is not text"),
                                     (["eval", "--model", "/dev/zero", "--data", u], "/dev/zero: is not a regular file"),
                                     (["fm", "--data", u, "--field-map", "/dev/zero", "--no-cache"], "/dev/zero: is not a regular file"),
                                     (["fm", "--data", Self.binary], "is not text")] {
            expectCleanRefusal(try run(arguments, in: dir), mentioning: message, "\(arguments)")
        }
    }

    /// A format that holds for 50 lines and breaks at line 51 is named at line 51, with why.
    @Test func detectionNamesTheLineThatBrokeTheFormat() throws {
        let dir = scratch()
        var text = ""
        for i in 0..<100 { text += "\(i == 50 ? 2 : i % 2)\t\(i % 9)\t\(i % 5)\n" }
        try text.write(toFile: dir + "/f.tsv", atomically: true, encoding: .utf8)
        let r = try run(["fm", "--data", "f.tsv", "--no-cache"], in: dir)
        expectCleanRefusal(r, mentioning: "f.tsv:51: cannot detect the format: this line breaks the fields format", "label 2 at line 51")
        #expect(r.stderr.contains("label '2' is not 0 or 1"))
    }

    /// The experiment's --resume reuses a finished model only when this run would make it: other
    /// data with the same field sizes, another lr or another epoch limit are refused, each named.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func experimentResumeRefusesForeignModels() throws {
        let dir = scratch()
        try FileManager.default.copyItem(atPath: Self.data + "/ml-100k/u.data", toPath: dir + "/u.data")
        let base = ["--data", "u.data", "--save-dir", "D", "--epochs", "1", "--no-cache"]
        #expect(try run(base + ["--quiet"], in: dir).status == 0)
        let again = try run(base + ["--resume"], in: dir)
        #expect(again.status == 0 && again.stderr.contains("fm: already trained in D, read back"), "\(again.stderr)")
        let lr = try run(base + ["--resume", "--lr", "0.01"], in: dir)
        expectCleanRefusal(lr, mentioning: "lr: 0.001 -> 0.01", "another lr")
        let epochs = try run(["--data", "u.data", "--save-dir", "D", "--epochs", "2", "--no-cache", "--resume"], in: dir)
        expectCleanRefusal(epochs, mentioning: "epochs: 1 -> 2", "another epoch limit")
        // The same field sizes, one rating changed: other data.
        var lines = try String(contentsOfFile: dir + "/u.data", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var fields = lines[4].split(separator: "\t").map(String.init)
        fields[2] = fields[2] == "5" ? "1" : "5"
        lines[4] = fields.joined(separator: "\t")
        try lines.joined(separator: "\n").write(toFile: dir + "/u.data", atomically: true, encoding: .utf8)
        let data = try run(base + ["--resume"], in: dir)
        expectCleanRefusal(data, mentioning: "the data (fingerprint", "other data of the same field sizes")
    }

    /// Whether `path` is a whole safetensors-framed file: its header parses and its last tensor
    /// ends exactly at the end of the file (a torn write would be shorter).
    func isComplete(_ path: String) throws -> Bool {
        guard let file = try framing(path) else { return false }
        let end = file.header.values.compactMap { ($0 as? [String: Any])?["data_offsets"] as? [Int] }.map { $0[1] }.max() ?? 0
        return file.dataStart + end == file.size
    }

    /// SIGKILL at 100 random moments of runs that write a cache, a checkpoint per epoch and a
    /// model: every file under its own name is always whole (the old one or the new one), and
    /// the temporary files the kills leave are cleared by the next writes.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason), .timeLimit(.minutes(5)))
    func killedWritesNeverTearAFile() throws {
        let dir = scratch()
        try FileManager.default.copyItem(atPath: Self.data + "/ml-100k/u.data", toPath: dir + "/u.data")
        var rng = SystemRandomNumberGenerator()
        var killedWhileRunning = 0
        for round in 0..<100 {
            if round % 10 == 0 { try? FileManager.default.removeItem(atPath: dir + "/u.data.fnnpar-cache") }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = ["fm", "--data", "u.data", "--epochs", "30", "--patience", "0", "--save", "m.safetensors",
                                 "--keep-checkpoint", "--quiet", "--threads", "1"]
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 5_000...300_000, using: &rng))
            if process.isRunning { killedWhileRunning += 1 }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            for name in ["m.safetensors", "m.safetensors.ckpt", "u.data.fnnpar-cache"] where exists(dir + "/" + name) {
                #expect(try isComplete(dir + "/" + name), "round \(round): \(name) is torn")
            }
        }
        #expect(killedWhileRunning >= 50, "only \(killedWhileRunning) kills landed during a run")
        // One clean run clears what the kills left behind, and its files load.
        let clean = try run(["fm", "--data", "u.data", "--epochs", "1", "--save", "m.safetensors", "--keep-checkpoint", "--quiet"], in: dir)
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(try run(["eval", "--model", "m.safetensors", "--data", "u.data", "--quiet"], in: dir).status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
    }

    /// A full disk (a small tmpfs, where the test may mount one): the cache that does not fit is
    /// skipped with a note, a model that does not fit fails with the file and the reason, the
    /// model already there stays whole, and no temporary file is left.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func fullDiskLosesNothing() throws {
        let mountPoint = scratch()
        guard try shell("mount -t tmpfs -o size=1000k tmpfs '\(mountPoint)'").status == 0 else {
            print("fullDiskLosesNothing: skipped (cannot mount a tmpfs here: needs root)")
            return
        }
        defer { _ = try? shell("umount '\(mountPoint)'") }
        let u = Self.data + "/ml-100k/u.data"
        // A model of 180 KB fits once; a second one (with its temporary copy) does not.
        let first = try run(["fm", "--data", u, "--cache-dir", mountPoint, "--epochs", "1", "--save", mountPoint + "/m.safetensors"], in: mountPoint)
        #expect(first.status == 0 && first.stderr.contains("cannot write the binary cache"), "\(first.stderr)")
        let saved = try Data(contentsOf: URL(fileURLWithPath: mountPoint + "/m.safetensors"))
        let second = try run(["fm", "--data", u, "--no-cache", "--epochs", "1", "--embed-dim", "64", "--save", mountPoint + "/m.safetensors"], in: mountPoint)
        expectCleanRefusal(second, mentioning: "m.safetensors", "saving to a full disk")
        #expect(second.stderr.contains("No space left on device"), "\(second.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mountPoint + "/m.safetensors")) == saved)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: mountPoint).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
    }
}
