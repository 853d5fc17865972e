import Foundation
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
    @Test func absurdOptionsAreRefusedUpFront() throws {
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
    @Test func outputsNeverDestroyInputs() throws {
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
}
