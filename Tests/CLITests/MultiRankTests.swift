import FNNCore
import Foundation
import TestSupport
import Testing

/// `mpirun -np R fnn-par ...` end to end, over Open MPI's shared-memory transport on this machine
/// (oversubscribed: more ranks than cores is allowed): the same model and checkpoint bytes as one
/// process, resume across rank counts, a killed rank, and ranks that disagree.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun") && TestData.isAvailable,
                             "needs Open MPI's mpirun and the shared data"))
struct MultiRankTests: CLIHarness {
    static let mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 300 mpirun --oversubscribe --bind-to none"

    func ranks(_ count: Int, _ arguments: [String], in dir: String) throws -> (status: Int32, stderr: String) {
        try shell("\(Self.mpirun) -np \(count) '\(Self.binary)' " + arguments.map { "'\($0)'" }.joined(separator: " "), in: dir)
    }

    /// A checkpoint's tensors (parameters, best model, optimizer state) by name: the bytes a
    /// resumed run continues from. Its metadata also holds timings, which differ between runs.
    func checkpointTensors(_ path: String) throws -> [String: [UInt8]] {
        let file = try SafeTensors.read(path: path)
        return file.tensors.mapValues { $0.bytes }
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Starts `arguments` as two ranks, waits for their first checkpoint (`c.ckpt`), sends one
    /// rank `signal` (a `kill` option) and returns the run once it has ended, with its stderr.
    func signalARank(_ signal: String, twoRanks arguments: [String], in dir: String,
                     waitingFor checkpoint: String = "c.ckpt") throws -> (process: Process, stderr: String) {
        let (process, err) = try startShell(Self.mpirun.replacingOccurrences(of: "timeout", with: "exec timeout") + " -np 2 '\(Self.binary)' "
                                            + arguments.map { "'\($0)'" }.joined(separator: " "), in: dir)
        var waited = 0
        while !exists(dir + "/" + checkpoint) && waited < 600 && process.isRunning { usleep(100_000); waited += 1 }
        #expect(exists(dir + "/" + checkpoint), "no checkpoint after 60 s")
        // The launched process is `timeout`, its child mpirun, whose children are the ranks.
        let sent = try shell("kill \(signal) $(pgrep -P $(pgrep -P \(process.processIdentifier)) | tail -1)")
        #expect(sent.status == 0, "\(sent.stderr)")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process, stderr)
    }

    /// u.data's side files join by default: multi-hot rows over ranks; `--side-info off` keeps
    /// the one-hot fast path's exchange covered.
    @Test(arguments: [["fm"], ["fm", "--side-info", "off"], ["fnn", "--fnn-input", "embedding+linear", "--dropout", "0.2"]])
    func modelsAndCheckpointsMatchOneProcess(command: [String]) throws {
        let dir = scratch()
        let common = command + ["--data", Self.data + "/ml-100k/u.data", "--cache-dir", dir, "--epochs", "2", "--patience", "0",
                                "--seed", "3", "--keep-checkpoint", "--quiet"]
        let one = try run(common + ["--threads", "2", "--save", "one.safetensors"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        for (count, threads) in [(2, 1), (3, 1), (2, 2)] {
            let name = "np\(count)x\(threads)"
            let r = try ranks(count, common + ["--threads", "\(threads)", "--save", name + ".safetensors"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try bytes(dir + "/\(name).safetensors") == bytes(dir + "/one.safetensors"), "\(command[0]) \(name)")
            #expect(try checkpointTensors(dir + "/\(name).safetensors.ckpt") == checkpointTensors(dir + "/one.safetensors.ckpt"))
        }
        // Only rank 0 wrote: no stray files from the others (temporaries, second copies).
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix("fnnpar-cache") }.sorted()
        #expect(files == ["np2x1.safetensors", "np2x1.safetensors.ckpt", "np2x2.safetensors", "np2x2.safetensors.ckpt",
                          "np3x1.safetensors", "np3x1.safetensors.ckpt", "one.safetensors", "one.safetensors.ckpt"], "\(files)")
    }

    /// A run checkpointed by 3 ranks, continued by 2, then finished by 1 process, ends at the bytes
    /// of one uninterrupted process.
    @Test func resumeAcrossRankCounts() throws {
        let dir = scratch()
        let common = ["fnn", "--data", Self.data + "/ml-100k/u.data", "--cache-dir", dir, "--patience", "0", "--seed", "5",
                      "--mlp", "32,16", "--quiet"]
        let whole = try run(common + ["--epochs", "3", "--threads", "2", "--save", "whole.safetensors"], in: dir)
        #expect(whole.status == 0, "\(whole.stderr)")
        let first = try ranks(3, common + ["--epochs", "1", "--threads", "1", "--save", "a.safetensors", "--keep-checkpoint"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try ranks(2, common + ["--epochs", "2", "--threads", "1", "--resume", "a.safetensors.ckpt", "--save", "b.safetensors",
                                            "--keep-checkpoint"], in: dir)
        #expect(second.status == 0, "\(second.stderr)")
        let third = try run(common + ["--epochs", "3", "--threads", "1", "--resume", "b.safetensors.ckpt", "--save", "c.safetensors"], in: dir)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try bytes(dir + "/c.safetensors") == bytes(dir + "/whole.safetensors"))
    }

    /// A rank killed mid-run ends every rank with a non-zero status, no model is written, and the
    /// last checkpoint stays whole: it resumes.
    @Test func aKilledRankEndsTheRunAndKeepsTheCheckpoint() throws {
        let dir = scratch()
        let args = ["fnn", "--data", Self.data + "/ml-100k/u.data", "--cache-dir", dir, "--epochs", "300", "--patience", "0",
                    "--mlp", "256,256", "--threads", "1", "--save", "m.safetensors", "--checkpoint", "c.ckpt", "--quiet"]
        // Killed as the OOM killer would.
        let (process, stderr) = try signalARank("-9", twoRanks: args, in: dir)
        #expect(process.terminationStatus != 0, "\(stderr)")
        #expect(!exists(dir + "/m.safetensors"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix("fnnpar-cache") && $0 != "c.ckpt" }
        #expect(leftovers.isEmpty, "\(leftovers)")
        let resumed = try run(["fnn", "--data", Self.data + "/ml-100k/u.data", "--cache-dir", dir, "--epochs", "1", "--patience", "0",
                               "--mlp", "256,256", "--resume", "c.ckpt", "--quiet"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    /// Ranks started with different options (an MPMD launch) are refused at start, naming the rank,
    /// by training and by bench.
    @Test func ranksThatDisagreeAreRefused() throws {
        let dir = scratch()
        let base = "'\(Self.binary)' fm --data '\(Self.data)/ml-100k/u.data' --cache-dir '\(dir)' --epochs 1 --save m.safetensors"
        let r = try shell("\(Self.mpirun) -np 1 \(base) --lr 0.01 : -np 1 \(base) --lr 0.02", in: dir)
        #expect(r.status != 0)
        #expect(r.stderr.contains("rank 1 differs from rank 0 in its options"), "\(r.stderr)")
        #expect(!exists(dir + "/m.safetensors"))
        // bench too: ranks measuring different things would print one rank's label over a mix.
        let bench = "'\(Self.binary)' bench --shape ml1m --rows 5000 --models fnn --threads 1 --repeats 1 --steps 2"
        let b = try shell("\(Self.mpirun) -np 1 \(bench) --precision fp32 : -np 1 \(bench) --dropout 0.1 --precision fp32", in: dir)
        #expect(b.status != 0 && b.stderr.contains("rank 1 differs from rank 0 in its arguments"), "\(b.stderr)")
    }
}

extension MultiRankTests {
    /// A rank that stops answering (here: stopped by SIGSTOP) ends every rank after
    /// --rank-timeout with a message naming the waiting rank, instead of a hang.
    @Test func aHungRankEndsEveryRankAfterTheTimeout() throws {
        let dir = scratch()
        let args = ["fnn", "--data", Self.data + "/ml-100k/u.data", "--cache-dir", dir, "--epochs", "300", "--patience", "0",
                    "--threads", "1", "--rank-timeout", "3", "--checkpoint", "c.ckpt", "--quiet"]
        let (process, stderr) = try signalARank("-STOP", twoRanks: args, in: dir)
        #expect(process.terminationStatus != 0 && process.terminationStatus != 124, "\(stderr)")
        #expect(stderr.contains("the other ranks have not answered for 3 s (--rank-timeout); ending every rank"), "\(stderr)")
    }

    /// Standard input reaches one rank only: refused under several ranks, with the fix.
    @Test func standardInputIsRefusedUnderSeveralRanks() throws {
        let dir = scratch()
        let r = try shell("\(Self.mpirun) -np 2 '\(Self.binary)' fm --data - --epochs 1 < /dev/null", in: dir)
        #expect(r.status != 0)
        #expect(r.stderr.contains("reaches one rank only"), "\(r.stderr)")
        // A one-process command under two ranks refuses rather than doing the job twice.
        let scoring = try shell("\(Self.mpirun) -np 2 '\(Self.binary)' generate --rows 100 --out g.tsv", in: dir)
        #expect(scoring.status != 0 && scoring.stderr.contains("fnn-par generate runs in one process"), "\(scoring.stderr)")
        #expect(!exists(dir + "/g.tsv"))
    }
}

extension MultiRankTests {
    /// The reference experiment (FM, FNN, FNN from the FM) under three ranks keeps the same three
    /// models and reports as one process, rank 0 alone printing the results table.
    @Test func experimentUnderThreeRanksMatchesOneProcess() throws {
        let dir = scratch()
        let common = ["--data", Self.data + "/ml-100k/u.data", "--cache-dir", dir, "--epochs", "2", "--patience", "0", "--seed", "2",
                      "--mlp", "16,8", "--quiet"]
        let one = try run(common + ["--threads", "2", "--save-dir", "one"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        let three = try shell("\(Self.mpirun) -np 3 '\(Self.binary)' " + (common + ["--threads", "1", "--save-dir", "three"]).map { "'\($0)'" }
                                .joined(separator: " ") + " > three.txt", in: dir)
        #expect(three.status == 0, "\(three.stderr)")
        for name in ["fm", "fnn", "fnn_init"] {
            #expect(try bytes(dir + "/three/\(name).safetensors") == bytes(dir + "/one/\(name).safetensors"), "\(name)")
        }
        let table = try String(contentsOfFile: dir + "/three.txt", encoding: .utf8)
        #expect(table.components(separatedBy: "test AUC").count == 2, "the results table once: \(table)")
        // Model, test AUC, log loss, epochs and best epoch as one process reports them (the
        // seconds and rates differ).
        func figures(_ text: String) -> [[Substring]] {
            text.split(separator: "\n").map { Array($0.split(separator: " ").prefix(5)) }
        }
        #expect(figures(table) == figures(one.stdout), "\(table) vs \(one.stdout)")
    }

    /// `bench` under two ranks reports once, with the exchanges' table (fp32 and, where the CPU has
    /// it, bf16 side by side).
    @Test func benchUnderTwoRanksReportsTheExchanges() throws {
        let dir = scratch()
        let r = try shell("\(Self.mpirun) -np 2 '\(Self.binary)' bench --shape criteo --rows 5000 --models fnn --threads 1 --repeats 1 --steps 3 --precision \(BFloat16GEMM.isSupported ? "fp32,bf16" : "fp32") > bench.txt", in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let out = try String(contentsOfFile: dir + "/bench.txt", encoding: .utf8)
        #expect(out.contains("fnn at 1 thread x 2 ranks: exchanges between ranks, per training step"), "\(out)")
        #expect(out.contains("dense gradient") && out.contains("gradient entries") && out.contains("BatchNorm moments"), "\(out)")
        #expect(out.components(separatedBy: "samples/s (median)").count == 2, "one report: \(out)")
        if BFloat16GEMM.isSupported { #expect(out.contains("fnn bf16 at 1 thread x 2 ranks: exchanges"), "\(out)") }
    }
}

extension MultiRankTests {
    /// Ranks sharing a host plan their memory against their share of it (read from the
    /// launcher's local-rank variables; Slurm's here, so no MPI is started).
    @Test func ranksOnOneHostPlanForTheirShareOfMemory() throws {
        let dir = scratch()
        let r = try shell("SLURM_LOCALID=0 SLURM_NTASKS_PER_NODE=2 '\(Self.binary)' fm --data '\(Self.data)/ml-100k/u.data' --cache-dir . --epochs 1 --threads 1", in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("shared by 2 ranks on this host"), "\(r.stderr)")
        let alone = try run(["fm", "--data", Self.data + "/ml-100k/u.data", "--cache-dir", ".", "--epochs", "1", "--threads", "1"], in: dir)
        #expect(alone.status == 0 && !alone.stderr.contains("shared by"), "\(alone.stderr)")
    }
}

extension MultiRankTests {
    /// Tables sharded across 2 and 3 ranks give the model file of one process, byte for byte,
    /// for the FM and the FNN with linear inputs; the checkpoint is a directory of one shard per
    /// rank and a manifest, and only rank 0's files appear besides.
    @Test(arguments: [["fm"], ["fnn", "--fnn-input", "embedding+linear", "--dropout", "0.2"]])
    func shardedTablesMatchOneProcess(command: [String]) throws {
        let dir = scratch()
        let common = command + ["--data", Self.data + "/ml-100k/u.data", "--side-info", "off", "--cache-dir", dir, "--epochs", "2", "--patience", "0",
                                "--seed", "3", "--keep-checkpoint", "--quiet"]
        let one = try run(common + ["--threads", "2", "--save", "one.safetensors"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        for count in [2, 3] {
            let name = "sharded\(count)"
            let r = try ranks(count, common + ["--threads", "1", "--tables", "sharded", "--save", name + ".safetensors"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try bytes(dir + "/\(name).safetensors") == bytes(dir + "/one.safetensors"), "\(command[0]) \(name)")
            let shards = try FileManager.default.contentsOfDirectory(atPath: dir + "/\(name).safetensors.ckpt").sorted()
            #expect(shards.count == count + 1 && shards.contains("manifest.json"), "\(shards)")
        }
        // Data over the memory budget streams from its cache on every rank, sharded too.
        let streamed = common + ["--memory-budget", "300K"]
        let alone = try run(streamed + ["--threads", "1", "--save", "stream1.safetensors"], in: dir)
        #expect(alone.status == 0 && alone.stderr.isEmpty, "\(alone.stderr)")
        let two = try ranks(2, streamed + ["--threads", "1", "--tables", "sharded", "--save", "stream2.safetensors"], in: dir)
        #expect(two.status == 0, "\(two.stderr)")
        #expect(try bytes(dir + "/stream2.safetensors") == bytes(dir + "/stream1.safetensors"), "\(command[0]) streamed")
        // (Streaming orders the epoch by chunks: another model than the in-memory run's, so it did stream.)
        #expect(try bytes(dir + "/stream1.safetensors") != bytes(dir + "/one.safetensors"))
    }

    /// A sharded run checkpointed by 4 ranks, continued by 3 (sharded), then finished by one
    /// process, ends at the bytes of one uninterrupted process.
    @Test func shardedResumeFromFourToThreeToOne() throws {
        let dir = scratch()
        let common = ["fm", "--data", Self.data + "/ml-100k/u.data", "--side-info", "off", "--cache-dir", dir, "--patience", "0", "--seed", "5", "--quiet"]
        let whole = try run(common + ["--epochs", "3", "--threads", "1", "--save", "whole.safetensors"], in: dir)
        #expect(whole.status == 0, "\(whole.stderr)")
        let first = try ranks(4, common + ["--epochs", "1", "--threads", "1", "--tables", "sharded", "--checkpoint", "c4"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try ranks(3, common + ["--epochs", "2", "--threads", "1", "--tables", "sharded", "--resume", "c4",
                                            "--checkpoint", "c3"], in: dir)
        #expect(second.status == 0, "\(second.stderr)")
        let third = try run(common + ["--epochs", "3", "--threads", "2", "--resume", "c3", "--save", "c.safetensors"], in: dir)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try bytes(dir + "/c.safetensors") == bytes(dir + "/whole.safetensors"))
        // A sharded run does not write its directory over a single-file checkpoint.
        let single = try run(common + ["--epochs", "1", "--threads", "1", "--checkpoint", "file.ckpt"], in: dir)
        #expect(single.status == 0, "\(single.stderr)")
        let refused = try ranks(2, common + ["--epochs", "1", "--threads", "1", "--tables", "sharded", "--checkpoint", "file.ckpt"], in: dir)
        #expect(refused.status != 0 && refused.stderr.contains("single-file checkpoint"), "\(refused.stderr)")
    }

    /// A table whose whole copy (with its optimizer state) is over a rank's memory limit (here
    /// `ulimit -d`) is sharded by --tables auto across 3 ranks and trains to one process's model.
    @Test func autoShardsATableOverARanksMemory() throws {
        let dir = scratch()
        let made = try run(["generate", "--shape", "criteo", "--rows", "6000", "--seed", "2", "--out", "c.fnnpar"], in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        let common = ["fm", "--data", "c.fnnpar", "--epochs", "1", "--patience", "0", "--seed", "1", "--threads", "1",
                      "--optimizer", "adam", "--batch-size", "512"]
        let one = try run(common + ["--save", "one.safetensors"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        // The whole table with Adam's moments plans at about 0.6 GB (one epoch: no best copy), a
        // third of it well under 500 MB.
        let limited = try shell("ulimit -d 500000 && \(Self.mpirun) -np 3 '\(Self.binary)' "
                                + (common + ["--save", "three.safetensors"]).map { "'\($0)'" }.joined(separator: " "), in: dir)
        #expect(limited.status == 0, "\(limited.stderr)")
        #expect(limited.stderr.contains("tables sharded across the 3 ranks") && limited.stderr.contains("whole they would not fit a rank"),
                "\(limited.stderr)")
        #expect(try bytes(dir + "/three.safetensors") == bytes(dir + "/one.safetensors"))
    }

    /// A rank of a sharded run killed mid-run (between exchanges of rows) ends every rank, writes
    /// no model, and leaves the last sharded checkpoint whole: it resumes in one process.
    @Test func aKilledShardedRankEndsTheRunAndKeepsTheCheckpoint() throws {
        let dir = scratch()
        let args = ["fm", "--data", Self.data + "/ml-100k/u.data", "--side-info", "off", "--cache-dir", dir, "--epochs", "3000", "--patience", "0",
                    "--threads", "1", "--tables", "sharded", "--save", "m.safetensors", "--checkpoint", "c.ckpt", "--quiet"]
        let (process, stderr) = try signalARank("-9", twoRanks: args, in: dir, waitingFor: "c.ckpt/manifest.json")
        #expect(process.terminationStatus != 0, "\(stderr)")
        #expect(!exists(dir + "/m.safetensors"))
        let resumed = try run(["fm", "--data", Self.data + "/ml-100k/u.data", "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--patience", "0",
                               "--resume", "c.ckpt", "--quiet"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }
}

extension MultiRankTests {
    /// eval and predict under mpirun score together (each rank a run of the rows, the tables
    /// sharded or whole) and give one process's figures and probabilities; rank 0 alone writes.
    @Test func scoringUnderSeveralRanksMatchesOneProcess() throws {
        let dir = scratch()
        let data = Self.data + "/ml-100k/u.data"
        // Ratings alone (one-hot: the sharded lookup's case); side information below.
        let trained = try run(["fm", "--data", data, "--side-info", "off", "--cache-dir", dir, "--epochs", "2", "--save", "m.safetensors",
                               "--quiet"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let one = try run(["eval", "--model", "m.safetensors", "--data", data, "--split", "test"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        let alone = try run(["predict", "--model", "m.safetensors", "--data", data, "--out", "one.txt"], in: dir)
        #expect(alone.status == 0, "\(alone.stderr)")
        for tables in ["sharded", "replicated"] {
            let r = try shell("\(Self.mpirun) -np 3 '\(Self.binary)' eval --model m.safetensors --data '\(data)' --split test --threads 1 --tables \(tables) > eval.txt", in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let text = try String(contentsOfFile: dir + "/eval.txt", encoding: .utf8)
            func aucs(_ t: String) -> [Substring] { t.split(separator: "\n").dropFirst().map { $0.split(separator: " ").prefix(3) }.flatMap { $0 } }
            #expect(aucs(one.stdout).count == 3 && aucs(text) == aucs(one.stdout), "\(tables): \(text) vs \(one.stdout)")
            let p = try ranks(2, ["predict", "--model", "m.safetensors", "--data", data, "--out", "\(tables).txt", "--threads", "1",
                                  "--tables", tables], in: dir)
            #expect(p.status == 0, "\(p.stderr)")
            #expect(try bytes(dir + "/\(tables).txt") == bytes(dir + "/one.txt"), "\(tables)")
        }
        // Multi-hot side fields: replicated scoring gives one process's probabilities; sharded is
        // refused by name on every rank (no crash, no hang).
        #expect(try run(["fm", "--data", data, "--cache-dir", dir, "--epochs", "1", "--save", "s.safetensors", "--quiet"], in: dir).status == 0)
        #expect(try run(["predict", "--model", "s.safetensors", "--data", data, "--out", "s-one.txt"], in: dir).status == 0)
        let replicated = try ranks(2, ["predict", "--model", "s.safetensors", "--data", data, "--out", "s-two.txt", "--threads", "1",
                                       "--tables", "replicated"], in: dir)
        #expect(replicated.status == 0, "\(replicated.stderr)")
        #expect(try bytes(dir + "/s-two.txt") == bytes(dir + "/s-one.txt"))
        let sharded = try ranks(2, ["eval", "--model", "s.safetensors", "--data", data, "--threads", "1", "--tables", "sharded"], in: dir)
        #expect(sharded.status != 0 && sharded.stderr.contains("score one-hot fields only"), "\(sharded.stderr)")
    }
}
