import FNNCore
import Foundation
import TestSupport
import Testing

/// The `fnn-par` executable end to end: exit codes, messages, files written or not.
@Suite struct CLITests: CLIHarness {

    @Test func malformedDataFailsCleanlyAndWritesNothing() throws {
        let dir = scratch()
        try "1::2::5::978300760\n1::x::4::978300761\n".write(toFile: dir + "/bad.dat", atomically: true, encoding: .utf8)
        let r = try run(["fm", "--data", "bad.dat", "--save", "m.safetensors", "--json", "r.json"], in: dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.dat:2: movie id 'x' is not a positive integer"))
        #expect(!exists(dir + "/m.safetensors") && !exists(dir + "/r.json"))
        let missing = try run(["--data", "nope.dat"], in: dir)
        #expect(missing.status != 0 && missing.stderr.contains("nope.dat: cannot open"))
    }

    /// `split` writes exactly the parts a training run with that seed uses: the fields part read back
    /// trains to the same validation AUC as training on the whole file, and the libsvm rows name
    /// global table rows.
    /// `--slice-rows` sets the unit of parallel work: with 16-example slices the model is the same
    /// bytes on 1 and 3 threads, differs from the default 64's (the sums are cut differently), and
    /// a checkpoint written with one slice size is not resumed with another.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func sliceRowsIsATrainingOption() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        for (threads, name) in [("1", "a"), ("3", "b")] {
            let r = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "2", "--slice-rows", "16", "--threads", threads,
                             "--save", name + ".safetensors", "--keep-checkpoint", "--quiet"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let d = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "2", "--threads", "1", "--save", "d.safetensors",
                         "--quiet"], in: dir)
        #expect(d.status == 0, "\(d.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.safetensors"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir + "/b.safetensors"))))
        #expect(a != (try Data(contentsOf: URL(fileURLWithPath: dir + "/d.safetensors"))))
        let resumed = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "2", "--save", "e.safetensors",
                               "--resume", "a.safetensors.ckpt", "--quiet"], in: dir)
        #expect(resumed.status != 0 && resumed.stderr.contains("slice rows"), "\(resumed.stderr)")
        let bad = try run(["fm", "--data", u, "--slice-rows", "0"], in: dir)
        #expect(bad.status != 0 && bad.stderr.contains("--slice-rows must be between 1 and --batch-size"), "\(bad.stderr)")
    }

    /// `--precision bf16`: the same model bytes on 1 and 2 threads, another model than fp32's, and
    /// recorded, so a checkpoint is not resumed in the other arithmetic, and is in its own, which
    /// is also what the default (auto) takes from the checkpoint: an fp32 checkpoint (as every
    /// older one is) resumes with default options on a bf16 CPU.
    @Test(.enabled(if: TestData.isAvailable && BFloat16GEMM.isSupported, "needs ../shared/data and AVX512-BF16"))
    func bf16PrecisionIsATrainingOption() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let common = ["fnn", "--data", u, "--cache-dir", dir, "--epochs", "2", "--mlp", "24,8", "--quiet"]
        for (threads, name) in [("1", "a"), ("2", "b")] {
            let r = try run(common + ["--precision", "bf16", "--threads", threads, "--save", name + ".safetensors", "--keep-checkpoint"],
                            in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let f = try run(common + ["--precision", "fp32", "--threads", "1", "--save", "f.safetensors", "--keep-checkpoint"], in: dir)
        #expect(f.status == 0, "\(f.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.safetensors"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir + "/b.safetensors"))))
        #expect(a != (try Data(contentsOf: URL(fileURLWithPath: dir + "/f.safetensors"))))
        let wrong = try run(common + ["--epochs", "3", "--precision", "fp32", "--save", "c.safetensors", "--resume", "a.safetensors.ckpt"],
                            in: dir)
        #expect(wrong.status != 0 && wrong.stderr.contains("MLP precision: bf16 -> fp32"), "\(wrong.stderr)")
        let right = try run(common + ["--epochs", "3", "--save", "c.safetensors", "--resume", "a.safetensors.ckpt"], in: dir)
        #expect(right.status == 0, "\(right.stderr)")
        let fromFP32 = try run(common + ["--epochs", "3", "--save", "g.safetensors", "--resume", "f.safetensors.ckpt"], in: dir)
        #expect(fromFP32.status == 0 && !fromFP32.stderr.contains("bf16"), "\(fromFP32.stderr)")
        let bad = try run(["fnn", "--data", u, "--precision", "fp16"], in: dir)
        #expect(bad.status != 0 && bad.stderr.contains("fp16"), "\(bad.stderr)")
    }

    /// Where the rows are kept is not a training option: fused records and separate arrays save
    /// the same model file, a checkpoint of one resumes in the other, the memory plan names
    /// the fused records, and an unknown layout is refused.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason))
    func rowLayoutsSaveTheSameModel() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let common = ["fm", "--data", u, "--cache-dir", dir, "--optimizer", "adam"]
        var plans: [String] = []
        for layout in ["fused", "separate"] {
            let r = try run(common + ["--epochs", "2", "--row-layout", layout, "--save", layout + ".safetensors", "--keep-checkpoint"],
                            in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            plans.append(r.stderr)
        }
        let fused = try Data(contentsOf: URL(fileURLWithPath: dir + "/fused.safetensors"))
        #expect(fused == (try Data(contentsOf: URL(fileURLWithPath: dir + "/separate.safetensors"))))
        #expect(plans[0].contains("fused row records") && !plans[1].contains("fused row records"), "\(plans[0])")
        for (from, to) in [("fused", "separate"), ("separate", "fused")] {
            let resumed = try run(common + ["--epochs", "3", "--row-layout", to, "--resume", from + ".safetensors.ckpt",
                                            "--save", from + "-" + to + ".safetensors"], in: dir)
            #expect(resumed.status == 0, "\(resumed.stderr)")
        }
        #expect((try Data(contentsOf: URL(fileURLWithPath: dir + "/fused-separate.safetensors")))
            == (try Data(contentsOf: URL(fileURLWithPath: dir + "/separate-fused.safetensors"))))
        let bad = try run(["fm", "--data", u, "--row-layout", "interleaved"], in: dir)
        #expect(bad.status != 0 && bad.stderr.contains("interleaved"), "\(bad.stderr)")
    }

    /// Bound by a launcher to fewer CPUs than --threads (mpirun binds each rank to one core when
    /// np <= 2), a run says how to undo the binding; run directly, it says only that workers share.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func launcherBindingTrapIsNamed() throws {
        let dir = scratch()
        let command = "taskset -c 0 '\(Self.binary)' fm --data '\(Self.data)/ml-100k/u.data' --epochs 1 --threads 2 --no-cache"
        let underMPI = try shell("OMPI_COMM_WORLD_SIZE=2 " + command, in: dir)
        #expect(underMPI.status == 0, "\(underMPI.stderr)")
        #expect(underMPI.stderr.contains("2 threads on 1 CPU (this process's affinity mask)"), "\(underMPI.stderr)")
        #expect(underMPI.stderr.contains("mpirun --bind-to none"), "\(underMPI.stderr)")
        let underSlurm = try shell("SLURM_PROCID=0 " + command, in: dir)
        #expect(underSlurm.stderr.contains("srun --cpus-per-task=2"), "\(underSlurm.stderr)")
        let direct = try shell("env -u OMPI_COMM_WORLD_SIZE -u SLURM_PROCID -u SLURM_STEP_ID -u PMI_RANK -u PMI_SIZE " + command, in: dir)
        #expect(direct.status == 0 && direct.stderr.contains("2 threads on 1 CPU") && !direct.stderr.contains("mpirun"),
                "\(direct.stderr)")
    }

    /// `fnn-par ranks` under mpirun: every rank reports through the MPI communicator (bytes
    /// gathered to rank 0, which alone prints), and ranks bound to one core are told the fix.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun"), "needs Open MPI's mpirun"))
    func ranksUnderMPIReportThroughTheCommunicator() throws {
        let dir = scratch()
        let mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 mpirun --oversubscribe"
        let bound = try shell("\(mpirun) -np 2 '\(Self.binary)' ranks --threads 2 > bound.txt", in: dir)
        #expect(bound.status == 0, "\(bound.stderr)")
        let lines = try String(contentsOfFile: dir + "/bound.txt", encoding: .utf8).split(separator: "\n")
        #expect(lines.first?.hasPrefix("rank  host") == true)
        #expect(lines.filter { $0.hasPrefix("   0  ") || $0.hasPrefix("   1  ") }.count == 2, "\(lines)")
        #expect(lines.contains { $0.contains("mpirun --bind-to none") }, "\(lines)")
        // Three ranks on two cores: lengths differ per rank (pids), and every rank's line arrives once.
        let three = try shell("\(mpirun) --bind-to none -np 3 '\(Self.binary)' ranks > three.txt", in: dir)
        #expect(three.status == 0, "\(three.stderr)")
        let rows = try String(contentsOfFile: dir + "/three.txt", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.map { $0.prefix(6) } == ["   0  ", "   1  ", "   2  "], "\(rows)")
        #expect(Set(rows.map { $0.split(separator: " ", omittingEmptySubsequences: true)[2] }).count == 3, "\(rows)")
        let single = try run(["ranks"], in: dir)
        #expect(single.status == 0 && single.stdout.split(separator: "\n").count == 2, "\(single.stdout)")
    }

    /// A diverging run stops at once with a non-zero status and the step, writes no model, and
    /// leaves the last good checkpoint as it was.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func divergingRunStopsAndKeepsTheLastGoodCheckpoint() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let first = try run(["fnn", "--data", u, "--cache-dir", dir, "--epochs", "1", "--save", "m.safetensors",
                             "--checkpoint", "c.ckpt", "--keep-checkpoint", "--quiet"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let model = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.safetensors"))
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: dir + "/c.ckpt"))
        for rates in [["--lr", "1e30"], ["--lr", "1e30", "--optimizer", "rowwise-adagrad", "--table-lr", "1e30"]] {
            let r = try run(["fnn", "--data", u, "--cache-dir", dir, "--epochs", "3", "--save", "m.safetensors",
                             "--checkpoint", "c.ckpt", "--quiet"] + rates, in: dir)
            #expect(r.status == 1)
            #expect(r.stderr.contains("fnn: training diverged in epoch 1 at step"), "\(r.stderr)")
            #expect(r.stderr.contains("Lower the learning rate"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/m.safetensors")) == model)
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/c.ckpt")) == checkpoint)
        }
        let fm = try run(["fm", "--data", u, "--cache-dir", dir, "--table-lr", "1e30", "--json", "r.json"], in: dir)
        #expect(fm.status == 1 && fm.stderr.contains("fm: training diverged") && !exists(dir + "/r.json"))
    }

    /// `eval --split` evaluates on the model's own split (its seed is in the file): the test AUC
    /// of a run with --seed 7 comes back exactly; another seed, or other data, is refused.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func evalUsesTheModelsOwnSplit() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        // Ratings alone: part.data below lies where no side files are.
        let trained = try run(["fm", "--data", u, "--side-info", "off", "--cache-dir", dir, "--seed", "7", "--epochs", "3", "--save", "m.safetensors",
                               "--json", "t.json", "--quiet"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let evaluated = try run(["eval", "--model", "m.safetensors", "--data", u, "--split", "test", "--json", "e.json"], in: dir)
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        #expect(evaluated.stderr.contains("test part of the 80/10/10 split of seed 7"))
        func testAUC(_ name: String) throws -> Double {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))) as! [String: Any]
            return (json["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double
        }
        #expect(try testAUC("t.json") == testAUC("e.json"))
        let otherSeed = try run(["eval", "--model", "m.safetensors", "--data", u, "--split", "test", "--seed", "42"], in: dir)
        #expect(otherSeed.status != 0 && otherSeed.stderr.contains("was trained on the split of --seed 7"))
        #expect(try run(["eval", "--model", "m.safetensors", "--data", u, "--split", "test", "--seed", "7", "--quiet"], in: dir).status == 0)
        let lines = try String(contentsOfFile: u, encoding: .utf8).split(separator: "\n").prefix(500).joined(separator: "\n")
        try (lines + "\n").write(toFile: dir + "/part.data", atomically: true, encoding: .utf8)
        let otherData = try run(["eval", "--model", "m.safetensors", "--data", "part.data", "--split", "test"], in: dir)
        #expect(otherData.status != 0 && otherData.stderr.contains("is not the data"))
        #expect(try run(["eval", "--model", "m.safetensors", "--data", "part.data", "--quiet"], in: dir).status == 0)
        // Unlabelled user<TAB>movie rows are read as MovieLens, the model's training format.
        try "1\t2\n5\t9\n".write(toFile: dir + "/pairs.tsv", atomically: true, encoding: .utf8)
        let predicted = try run(["predict", "--model", "m.safetensors", "--data", "pairs.tsv", "--out", "p.txt"], in: dir)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n").count == 2)
    }

    /// Ids a MovieLens model never saw score through a zero fallback row (not an error), and
    /// --report counts them per field; a FIFO as --out stays a FIFO (no rename over it).
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func unseenIdsScoreThroughFallbackRowsAndNonRegularOutputsStay() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        // Ratings alone (pytorch-fm's two fields): an unseen user's score below is the movie's alone.
        #expect(try run(["fm", "--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "2", "--save", "m.safetensors", "--quiet"],
                        in: dir).status == 0)
        try "1\t2\n5000\t9\n3\t99999\n1\t2\n".write(toFile: dir + "/new.tsv", atomically: true, encoding: .utf8)
        let r = try run(["predict", "--model", "m.safetensors", "--data", "new.tsv", "--out", "-", "--report"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let p = r.stdout.split(separator: "\n").compactMap { Double($0) }
        #expect(p.count == 4 && p[0] == p[3] && p.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(r.stderr.contains("    1                               1   25.0%") && r.stderr.contains("    2                               1   25.0%"), "\(r.stderr)")
        // An unseen user alone: the FM's score is the bias, the movie's linear weight and nothing else.
        try "5000\t9\n".write(toFile: dir + "/one.tsv", atomically: true, encoding: .utf8)
        let one = try run(["predict", "--model", "m.safetensors", "--data", "one.tsv", "--out", "-"], in: dir)
        #expect(Double(one.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == p[1])
        // A FIFO output is written in place.
        let fifo = dir + "/out.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let (reader, _) = try startShell("cat '\(fifo)' > '\(dir)/read.txt'")
        let toFifo = try run(["predict", "--model", "m.safetensors", "--data", "new.tsv", "--out", fifo], in: dir)
        reader.waitUntilExit()
        #expect(toFifo.status == 0, "\(toFifo.stderr)")
        var info = stat()
        #expect(stat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        #expect(try String(contentsOfFile: dir + "/read.txt", encoding: .utf8).split(separator: "\n").count == 4)
    }

    /// `--data -` reads standard input: the same model as from the file; predict scores piped rows.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func standardInputIsData() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        // Standard input has no side files beside it: the file read likewise, ratings alone.
        let fromFile = try run(["fm", "--data", u, "--side-info", "off", "--no-cache", "--epochs", "2", "--save", "a.safetensors", "--quiet"], in: dir)
        let piped = try run(["fm", "--data", "-", "--epochs", "2", "--save", "b.safetensors", "--quiet"], in: dir, standardInput: u)
        #expect(fromFile.status == 0 && piped.status == 0, "\(piped.stderr)")
        func parameters(_ name: String) throws -> Data {
            // The tensors, not the header: its metadata names the source path.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            return bytes.dropFirst(8 + headerLength)
        }
        #expect(try parameters("a.safetensors") == parameters("b.safetensors"))
        try "1\t2\n5\t9\n".write(toFile: dir + "/pairs.tsv", atomically: true, encoding: .utf8)
        let scored = try run(["predict", "--model", "a.safetensors", "--data", "-", "--out", "-"], in: dir, standardInput: dir + "/pairs.tsv")
        #expect(scored.status == 0 && scored.stdout.split(separator: "\n").count == 2, "\(scored.stderr)")
        try "".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        let empty = try run(["fm", "--data", "-"], in: dir, standardInput: dir + "/empty")
        #expect(empty.status != 0 && empty.stderr.contains("standard input: is empty (--data -)"))
    }

    /// `--split 70,15,15` makes those parts, is recorded, and `eval --split test` finds them again.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func splitProportionsAreAnOptionAndRecorded() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let trained = try run(["fm", "--data", u, "--cache-dir", dir, "--split", "70,15,15", "--epochs", "2", "--save", "m.safetensors",
                               "--json", "t.json", "--quiet"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/t.json"))) as! [String: Any]
        let dataset = json["dataset"] as! [String: Any]
        #expect(dataset["train_rows"] as? Int == 70000 && dataset["validation_rows"] as? Int == 15000 && dataset["test_rows"] as? Int == 15000)
        let testAUC = (json["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double
        let evaluated = try run(["eval", "--model", "m.safetensors", "--data", u, "--split", "test", "--json", "e.json"], in: dir)
        #expect(evaluated.stderr.contains("test part of the 70/15/15 split of seed 42"), "\(evaluated.stderr)")
        let e = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/e.json"))) as! [String: Any]
        #expect((e["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double == testAUC)
        for bad in ["70,15", "70,30,0", "80,10,11", "a,b,c"] {
            let r = try run(["fm", "--data", u, "--cache-dir", dir, "--split", bad], in: dir)
            #expect(r.status != 0 && r.stderr.contains("--split must be"), "\(bad)")
        }
    }

    /// --train-on-all trains on every row for exactly --epochs epochs and keeps the last; such a
    /// model has no held-out part for eval --split.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func trainOnAllKeepsTheLastEpochOfEveryRow() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let r = try run(["fm", "--data", u, "--cache-dir", dir, "--train-on-all", "--epochs", "3", "--patience", "1", "--save", "m.safetensors",
                         "--json", "r.json"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        let dataset = json["dataset"] as! [String: Any]
        #expect(dataset["train_rows"] as? Int == 100_000 && dataset["validation_rows"] as? Int == 0 && dataset["test_rows"] as? Int == 0)
        let fm = (json["models"] as! [String: [String: Any]])["fm"]!
        #expect(fm["epochs"] as? Int == 3 && fm["best_epoch"] as? Int == 3)
        let refused = try run(["eval", "--model", "m.safetensors", "--data", u, "--split", "test"], in: dir)
        #expect(refused.status != 0 && refused.stderr.contains("trained on every row"))
        #expect(try run(["eval", "--model", "m.safetensors", "--data", u, "--quiet"], in: dir).status == 0)
    }

    /// --validation and --test files: the run holds out exactly their rows (the test figures are
    /// what `eval` reports on the test file itself), reads them with the training file's
    /// vocabularies, caches the joined data (a changed held-out file is parsed again), and the
    /// model's split cannot be looked up by eval --split.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func heldOutFilesAreTheValidationAndTestRows() throws {
        let dir = scratch()
        let criteo = Self.data + "/criteo-dac-sample"
        try FileManager.default.copyItem(atPath: criteo + "/head8000_dev.txt", toPath: dir + "/dev.txt")
        let train = criteo + "/head8000_train.txt", test = criteo + "/head8000_test.txt"
        func object(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + path))) as! [String: Any]
        }
        func fit(_ extra: [String], save: String) throws -> CLIResult {
            let r = try run(["fm", "--data", train, "--cache-dir", dir, "--epochs", "3", "--save", save, "--json", save + ".json"] + extra, in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            return r
        }
        let first = try fit(["--validation", "dev.txt", "--test", test], save: "a.safetensors")
        #expect(first.stderr.contains("parsed"))
        let report = try object("a.safetensors.json")
        let dataset = report["dataset"] as! [String: Any]
        #expect(dataset["train_rows"] as? Int == 7200 && dataset["validation_rows"] as? Int == 409 && dataset["test_rows"] as? Int == 391)
        let testAUC = (report["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double
        let e = try run(["eval", "--model", "a.safetensors", "--data", test, "--json", "e.json", "--quiet"], in: dir)
        #expect(e.status == 0, "\(e.stderr)")
        #expect((try object("e.json")["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double == testAUC)
        let refused = try run(["eval", "--model", "a.safetensors", "--data", test, "--split", "test"], in: dir)
        #expect(refused.status != 0 && refused.stderr.contains("--validation / --test files"))
        // From the cache: the same model, byte for byte.
        let second = try fit(["--validation", "dev.txt", "--test", test], save: "b.safetensors")
        #expect(second.stderr.contains("read the binary cache"))
        #expect(FileManager.default.contentsEqual(atPath: dir + "/a.safetensors", andPath: dir + "/b.safetensors"))
        // A held-out file that changed is read again.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/dev.txt"))
        handle.seekToEndOfFile()
        handle.write(Data(try String(contentsOfFile: test, encoding: .utf8).split(separator: "\n").prefix(5).map { $0 + "\n" }.joined().utf8))
        try handle.close()
        let third = try fit(["--validation", "dev.txt", "--test", test], save: "c.safetensors")
        #expect(third.stderr.contains("parsed") && !third.stderr.contains("read the binary cache"))
        #expect((try object("c.safetensors.json")["dataset"] as! [String: Any])["validation_rows"] as? Int == 414)
        // --test alone: validation carved from the training file at 80:10; --validation alone: no test figures.
        _ = try fit(["--test", test], save: "d.safetensors")
        let carved = try object("d.safetensors.json")["dataset"] as! [String: Any]
        #expect(carved["train_rows"] as? Int == 6400 && carved["validation_rows"] as? Int == 800 && carved["test_rows"] as? Int == 391)
        let noTest = try fit(["--validation", "dev.txt"], save: "f.safetensors")
        #expect(noTest.stderr.contains("no --test file"))
        // Refused: a held-out file in another format, with --train-on-all, or the training file itself.
        for (extra, message) in [(["--validation", Self.data + "/ml-100k/u.data"], "must be in the training data's format"),
                                 (["--test", test, "--train-on-all"], "--train-on-all holds nothing out"),
                                 (["--test", train], "is the training file itself")] {
            let r = try run(["fm", "--data", train, "--cache-dir", dir, "--save", "x.safetensors"] + extra, in: dir)
            #expect(r.status != 0 && r.stderr.contains(message), "\(extra): \(r.stderr)")
            #expect(!exists(dir + "/x.safetensors"))
        }
    }

    /// gzip and zstd files (data, held-out files, standard input, eval and predict input) read as
    /// their plain text does: the same data fingerprint and test figures; a current cache is read
    /// without decompressing; a file cut short or in another compression is refused by name.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func compressedFilesReadAsTheirText() throws {
        let dir = scratch()
        let criteo = Self.data + "/criteo-dac-sample"
        let packing = try shell("gzip -c \(criteo)/head8000_train.txt > train.gz && zstd -q -c \(criteo)/head8000_dev.txt > dev.zst && head -c 30000 train.gz > cut.gz", in: dir)
        #expect(packing.status == 0, "\(packing.stderr)")
        func object(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + path))) as! [String: Any]
        }
        func figures(_ name: String) throws -> (String, Double) {
            let json = try object(name)
            return ((json["dataset"] as! [String: Any])["fingerprint"] as! String,
                    (json["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double)
        }
        let test = criteo + "/head8000_test.txt"
        let plain = try run(["fm", "--data", criteo + "/head8000_train.txt", "--validation", criteo + "/head8000_dev.txt", "--test", test,
                             "--no-cache", "--epochs", "2", "--json", "plain.json"], in: dir)
        #expect(plain.status == 0, "\(plain.stderr)")
        let packed = try run(["fm", "--data", "train.gz", "--validation", "dev.zst", "--test", test, "--cache-dir", dir, "--epochs", "2",
                              "--json", "packed.json", "--save", "m.safetensors"], in: dir)
        #expect(packed.status == 0, "\(packed.stderr)")
        #expect(packed.stderr.contains("decompressed train.gz (gzip)") && packed.stderr.contains("decompressed dev.zst (zstd)"))
        let (plainFingerprint, plainAUC) = try figures("plain.json")
        let (packedFingerprint, packedAUC) = try figures("packed.json")
        #expect(plainFingerprint == packedFingerprint && plainAUC == packedAUC)
        let cached = try run(["fm", "--data", "train.gz", "--validation", "dev.zst", "--test", test, "--cache-dir", dir, "--epochs", "2",
                              "--json", "cached.json"], in: dir)
        #expect(cached.status == 0 && cached.stderr.contains("read the binary cache") && !cached.stderr.contains("decompressed"))
        let (cachedFingerprint, cachedAUC) = try figures("cached.json")
        #expect(cachedFingerprint == plainFingerprint && cachedAUC == plainAUC)
        // Standard input compressed, and eval / predict on a compressed file.
        let piped = try run(["fm", "--data", "-", "--epochs", "1", "--quiet"], in: dir, standardInput: dir + "/train.gz")
        #expect(piped.status == 0, "\(piped.stderr)")
        let e = try run(["eval", "--model", "m.safetensors", "--data", "dev.zst", "--quiet"], in: dir)
        #expect(e.status == 0, "\(e.stderr)")
        let p = try run(["predict", "--model", "m.safetensors", "--data", "dev.zst", "--out", "p.txt"], in: dir)
        #expect(p.status == 0, "\(p.stderr)")
        let probabilities = try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n")
        #expect(probabilities.count == 409)
        // Refused by name, nothing written.
        let cut = try run(["fm", "--data", "cut.gz", "--save", "x.safetensors"], in: dir)
        #expect(cut.status == 1 && cut.stderr.contains("cut.gz: is gzip data cut short"), "\(cut.stderr)")
        try Data([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0, 0]).write(to: URL(fileURLWithPath: dir + "/d.xz"))
        let xz = try run(["fm", "--data", "d.xz", "--save", "x.safetensors"], in: dir)
        #expect(xz.status == 1 && xz.stderr.contains("d.xz: is xz-compressed") && xz.stderr.contains("xzcat"))
        #expect(!exists(dir + "/x.safetensors"))
    }

    /// Output paths are checked before any work: no training for an output that cannot be written.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func unwritableOutputsAreRefusedBeforeTraining() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        try FileManager.default.createDirectory(atPath: dir + "/adir", withIntermediateDirectories: true)
        for arguments in [["fm", "--save", "missing/m.safetensors"], ["fnn", "--json", "adir"], ["fm", "--plot", "missing/p.svg"],
                          ["fm", "--metrics-csv", "adir"], ["fm", "--checkpoint", "missing/c.ckpt"], ["--json", "missing/r.json"]] {
            let r = try run(arguments + ["--data", u, "--cache-dir", dir], in: dir)
            #expect(r.status != 0, "\(arguments)")
            #expect(!r.stderr.contains("epoch 1"), "\(arguments) trained before failing: \(r.stderr)")
            #expect(r.stderr.contains("does not exist") || r.stderr.contains("is a directory"), "\(r.stderr)")
        }
        let predict = try run(["predict", "--model", "none.safetensors", "--data", u, "--out", "missing/p.txt"], in: dir)
        #expect(predict.status != 0 && predict.stderr.contains("missing/p.txt: the directory missing does not exist"))
        // The checkpoint may not be the model; /dev/stdout (a link, to a pipe here) is written, not renamed over.
        let same = try run(["fm", "--data", u, "--cache-dir", dir, "--save", "m.safetensors", "--checkpoint", "m.safetensors"], in: dir)
        #expect(same.status != 0 && same.stderr.contains("is the --save path"))
        #expect(try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "1", "--save", "m.safetensors", "--quiet"], in: dir).status == 0)
        let toStdout = try run(["predict", "--model", "m.safetensors", "--data", u, "--out", "/dev/stdout"], in: dir)
        #expect(toStdout.status == 0 && toStdout.stdout.split(separator: "\n").count == 100_000, "\(toStdout.stderr)")
        var info = stat()
        #expect(lstat("/dev/stdout", &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK)
    }

    /// Rows without their label (Criteo's test.txt: 39 columns; Avazu's test.csv: no click column,
    /// its header too; libffm lines that start with a feature) score as their labelled selves; an
    /// id column passes through; with --skip-bad-lines a bad line gives nan in its place.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func predictScoresUnlabelledRawRows() throws {
        let dir = scratch()
        func lines(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        func write(_ rows: [String], _ name: String) throws { try (rows.joined(separator: "\n") + "\n").write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        func predict(_ arguments: [String]) throws -> [String] {
            let r = try run(["predict", "--out", "-"] + arguments, in: dir)
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
            return r.stdout.split(separator: "\n").map(String.init)
        }
        // Criteo.
        let criteo = Self.data + "/criteo-dac-sample/head8000_train.txt"
        #expect(try run(["fm", "--data", criteo, "--cache-dir", dir, "--epochs", "2", "--save", "c.safetensors", "--quiet"], in: dir).status == 0)
        let labelled = try lines(Self.data + "/criteo-dac-sample/head8000_test.txt").filter { !$0.isEmpty }.prefix(50)
        try write(Array(labelled), "labelled.txt")
        try write(labelled.map { String($0.drop { $0 != "\t" }.dropFirst()) }, "unlabelled.txt")
        let expected = try predict(["--model", "c.safetensors", "--data", "labelled.txt"])
        #expect(expected.count == 50)
        #expect(try predict(["--model", "c.safetensors", "--data", "unlabelled.txt"]) == expected)
        // A bad line: refused, or nan in its place; the id column comes first.
        var withBad = labelled.map { String($0.drop { $0 != "\t" }.dropFirst()) }
        withBad.insert("not\ta\tcriteo\trow", at: 10)
        try write(withBad, "bad.txt")
        let refused = try run(["predict", "--model", "c.safetensors", "--data", "bad.txt", "--out", "p.txt"], in: dir)
        #expect(refused.status != 0 && refused.stderr.contains("bad.txt:11:") && !exists(dir + "/p.txt"))
        let aligned = try predict(["--model", "c.safetensors", "--data", "bad.txt", "--skip-bad-lines", "--id-column", "2"])
        #expect(aligned.count == 51)
        #expect(aligned[10] == "a\tnan")
        let expectedAligned = Array(expected.prefix(10)) + ["nan"] + Array(expected.dropFirst(10))
        #expect(aligned.map { String($0.split(separator: "\t", omittingEmptySubsequences: false).last!) } == expectedAligned)
        #expect(aligned[0].hasPrefix(withBad[0].split(separator: "\t", omittingEmptySubsequences: false)[1] + "\t"))
        // Avazu, test.csv's shape: header and rows without the click column, id passed through.
        let avazu = Self.data + "/avazu-sample/head9000_train.csv"
        #expect(try run(["fm", "--data", avazu, "--cache-dir", dir, "--epochs", "2", "--save", "a.safetensors", "--quiet"], in: dir).status == 0)
        let avazuRows = try lines(avazu).filter { !$0.isEmpty }.prefix(31)
        try write(Array(avazuRows), "a_labelled.csv")
        let dropClick = avazuRows.map { row -> String in
            var columns = row.split(separator: ",", omittingEmptySubsequences: false)
            columns.remove(at: 1)
            return columns.joined(separator: ",")
        }
        try write(dropClick, "a_unlabelled.csv")
        let avazuExpected = try predict(["--model", "a.safetensors", "--data", "a_labelled.csv"])
        let avazuScored = try predict(["--model", "a.safetensors", "--data", "a_unlabelled.csv", "--id-column", "1"])
        #expect(avazuScored.count == avazuExpected.count)
        let dataRows = avazuRows.first!.hasPrefix("id,") ? Array(avazuRows.dropFirst()) : Array(avazuRows)
        #expect(avazuScored == zip(dataRows, avazuExpected).map { "\($0.0.split(separator: ",")[0])\t\($0.1)" })
        // libffm without labels.
        let ffm = (0..<300).map { i in "\(i % 2) 0:\(i % 7):1 1:\(i % 11):1 2:\(i % 3):1" }
        try write(ffm, "d.ffm")
        #expect(try run(["fm", "--data", "d.ffm", "--no-cache", "--epochs", "2", "--save", "f.safetensors", "--quiet"], in: dir).status == 0)
        try write(Array(ffm.prefix(20)), "f_labelled.ffm")
        try write(ffm.prefix(20).map { String($0.dropFirst(2)) }, "f_unlabelled.ffm")
        #expect(try predict(["--model", "f.safetensors", "--data", "f_unlabelled.ffm"]) == predict(["--model", "f.safetensors", "--data", "f_labelled.ffm"]))
    }

    /// `export` writes one line per table row with its raw token; `--version` names the build.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func exportAndVersion() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        #expect(try run(["fm", "--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--save", "m.safetensors", "--quiet"],
                        in: dir).status == 0)
        let r = try run(["export", "--model", "m.safetensors", "--embeddings", "e.tsv"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: dir + "/e.tsv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(lines.count == 1 + 943 + 1682)
        #expect(lines[0].count == 3 + 16 && lines.dropFirst().allSatisfy { $0.count == 3 + 16 && $0.dropFirst(2).allSatisfy { Float($0) != nil } })
        // MovieLens ids as in the file: user 1 ... 943, then movie 1 ... 1682.
        #expect(lines[1][0] == "1" && lines[1][1] == "1" && lines[943][1] == "943" && lines[944][0] == "2" && lines[944][1] == "1")
        let version = try run(["--version"], in: dir)
        #expect(version.status == 0 && version.stdout.hasPrefix("fnn-par ") && version.stdout.contains("built for CPU"))
    }

    @Test func splitWritesTheTrainingRunsParts() throws {
        let dir = scratch()
        let lines = (0..<600).map { i in "\(i % 3 == 0 ? 1 : 0)\t\(i % 7)\t\(i % 5)" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/d.tsv", atomically: true, encoding: .utf8)
        for form in ["libsvm", "fields", "libffm"] {
            let r = try run(["split", "--data", "d.tsv", "--seed", "3", "--out-dir", "parts-\(form)", "--as", form, "--no-cache"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        func rows(_ path: String) throws -> [String] {
            try String(contentsOfFile: dir + "/" + path, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        #expect(try rows("parts-fields/train.tsv").count == 480)
        #expect(try rows("parts-fields/validation.tsv").count == 60)
        #expect(try rows("parts-fields/test.tsv").count == 60)
        // Every source row lands in exactly one part.
        let all = try rows("parts-fields/train.tsv") + rows("parts-fields/validation.tsv") + rows("parts-fields/test.tsv")
        #expect(all.sorted() == lines.sorted())
        // libsvm: field 2's ids are offset by field 1's size (7); libffm names the field too.
        let svm = try rows("parts-libsvm/test.svm"), tsv = try rows("parts-fields/test.tsv"), ffm = try rows("parts-libffm/test.ffm")
        for (a, (b, c)) in zip(svm, zip(tsv, ffm)) {
            let ids = b.split(separator: "\t").map { Int($0)! }
            #expect(a == "\(ids[0]) \(ids[1]):1 \(7 + ids[2]):1")
            #expect(c == "\(ids[0]) 0:\(ids[1]):1 1:\(7 + ids[2]):1")
        }
        // The validation part is the training run's: the model it kept, scored on that part alone,
        // has the validation AUC the run reported.
        let trained = try run(["fm", "--data", "d.tsv", "--seed", "3", "--epochs", "1", "--save", "m.safetensors",
                               "--json", "r.json", "--quiet", "--no-cache"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let scored = try run(["eval", "--model", "m.safetensors", "--data", "parts-fields/validation.tsv", "--json", "e.json", "--quiet"], in: dir)
        #expect(scored.status == 0, "\(scored.stderr)")
        func object(_ name: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))) as! [String: Any]
        }
        let history = ((try object("r.json")["models"] as! [String: [String: Any]])["fm"]!["history"] as! [[String: Any]])
        let evaluated = (try object("e.json")["models"] as! [String: [String: Any]])["fm"]!["test_auc"] as! Double
        #expect(abs((history[0]["validation_auc"] as! Double) - evaluated) < 1e-12)
    }

    /// `auto` resolves per model kind and the report records what was used.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func autoTableRulePerModelKind() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let r = try run(["--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--json", "r.json"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("fm: tables by rowwise-adagrad, lr 1.0, initial accumulator 100.0"))
        #expect(r.stderr.contains("fnn: tables by adam, lr 0.001"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        let models = json["models"] as! [String: [String: Any]]
        func rule(_ model: String) -> String? { ((models[model]?["options"] as? [String: Any])?["tables"] as? [String: Any])?["kind"] as? String }
        #expect(rule("fm") == "rowwise-adagrad" && rule("fnn") == "adam" && rule("fnn_init") == "adam")
        // The documented report: version, data fingerprint, each model's shape and where its tables started.
        #expect(json["version"] is String && (json["dataset"] as! [String: Any])["fingerprint"] is String)
        #expect((models["fnn"]?["config"] as? [String: Any])?["mlp_dims"] as? [Int] == [16, 16])
        #expect(models["fnn_init"]?["tables_start"] as? String == "from the FM")
        #expect(models["fm"]?["tables_start"] as? String == "N(0, 0.001^2), linear weights 0")
        let parity = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "1", "--optimizer", "adam", "--init", "torch"], in: dir)
        #expect(parity.stderr.contains("fm: tables by adam, lr 0.001; tables start as torch's"))
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func trainSaveEvaluatePredict() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let trained = try run(["fnn", "--data", u, "--cache-dir", dir, "--epochs", "2", "--threads", "2", "--save", "fnn.safetensors",
                               "--json", "train.json", "--metrics-csv", "m.csv", "--plot", "p.svg", "--quiet"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.isEmpty)
        let train = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/train.json"))) as! [String: Any]
        let fnn = (train["models"] as! [String: Any])["fnn"] as! [String: Any]
        let auc = fnn["test_auc"] as! Double
        #expect(auc > 0.7)
        #expect(try String(contentsOfFile: dir + "/m.csv", encoding: .utf8).split(separator: "\n").count == 3)
        #expect(try String(contentsOfFile: dir + "/p.svg", encoding: .utf8).contains("Validation AUC"))
        // eval on the same split reproduces the test AUC of training.
        let evaluated = try run(["eval", "--model", "fnn.safetensors", "--data", u, "--split", "test", "--json", "e.json"], in: dir)
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let e = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/e.json"))) as! [String: Any]
        let again = ((e["models"] as! [String: Any])["fnn"] as! [String: Any])["test_auc"] as! Double
        #expect(abs(again - auc) < 1e-12)
        // predict: labelled and unlabelled rows, in input order.
        try "196\t242\n1\t1\t5\t874965758\n943\t1682\n".write(toFile: dir + "/rows.tsv", atomically: true, encoding: .utf8)
        // Trained with the side files beside u.data (the default, --side-info auto): rows
        // elsewhere are scored with those files, named by --side-files.
        let elsewhere = try run(["predict", "--model", "fnn.safetensors", "--data", "rows.tsv", "--format", "movielens", "--out", "p.txt"], in: dir)
        #expect(elsewhere.status != 0 && elsewhere.stderr.contains("--side-files") && !exists(dir + "/p.txt"), "\(elsewhere.stderr)")
        let predicted = try run(["predict", "--model", "fnn.safetensors", "--data", "rows.tsv", "--format", "movielens", "--out", "p.txt",
                                 "--side-files", Self.data + "/ml-100k"], in: dir)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let values = try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n").compactMap { Double($0) }
        #expect(values.count == 3 && values.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func badModelFilesAndMisfitsGiveOneLineErrors() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        try "not a model".write(toFile: dir + "/junk.safetensors", atomically: true, encoding: .utf8)
        let junk = try run(["predict", "--model", "junk.safetensors", "--data", u, "--out", "p.txt"], in: dir)
        #expect(junk.status != 0 && junk.stderr.contains("junk.safetensors") && !exists(dir + "/p.txt"))
        #expect(junk.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        #expect(try run(["fm", "--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--save", "fm.safetensors", "--quiet"],
                        in: dir).status == 0)
        // A finished --save removes its checkpoint unless asked to keep it.
        #expect(!exists(dir + "/fm.safetensors.ckpt"))
        #expect(try run(["fm", "--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--save", "fm.safetensors", "--keep-checkpoint",
                         "--quiet"], in: dir).status == 0)
        #expect(exists(dir + "/fm.safetensors.ckpt"))
        // Truncated.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/fm.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir + "/cut.safetensors"))
        let cut = try run(["eval", "--model", "cut.safetensors", "--data", u], in: dir)
        #expect(cut.status != 0 && cut.stderr.contains("truncated"))
        // Data with ids beyond the model's field sizes.
        try "1\t5000\t4\t874965758\n".write(toFile: dir + "/big.tsv", atomically: true, encoding: .utf8)
        let misfit = try run(["eval", "--model", "fm.safetensors", "--data", "big.tsv", "--format", "movielens"], in: dir)
        #expect(misfit.status != 0 && misfit.stderr.contains("does not fit"))
        // A checkpoint from other options.
        let other = try run(["fm", "--data", u, "--side-info", "off", "--no-cache", "--epochs", "2", "--lr", "0.01", "--resume", "fm.safetensors.ckpt"], in: dir)
        #expect(other.status != 0 && other.stderr.contains("other training options"))
    }

    /// Ctrl-C (SIGINT) or SIGTERM after the first epoch: exit 130 or 143, a checkpoint, a resume
    /// command; resuming it ends with the same model file as a run never interrupted.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason), arguments: [SIGINT, SIGTERM])
    func signalWritesACheckpointThatResumesExactly(signal: Int32) throws {
        let dir = scratch()
        let data = Self.data + "/ml-1m-sample/ratings_sample100k.dat"
        // The cache goes to the scratch directory, not beside the shared data.
        let common = ["fnn", "--data", data, "--cache-dir", dir, "--epochs", "12", "--patience", "0", "--mlp", "32,16"]
        #expect(try run(common + ["--save", "whole.safetensors", "--quiet"], in: dir).status == 0)

        let (process, err) = try start(common + ["--save", "part.safetensors", "--threads", "2"], in: dir)
        var seen = read(until: "epoch 1:", from: err)
        if signal == SIGINT { process.interrupt() } else { process.terminate() }
        seen += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 128 + signal, "\(seen)")
        #expect(seen.contains("checkpoint written to part.safetensors.ckpt"))
        let resumeLine = seen.split(separator: "\n").first { $0.hasPrefix("resume with: fnn-par ") }
        #expect(resumeLine != nil)
        #expect(!exists(dir + "/part.safetensors"))
        let arguments = resumeLine!.dropFirst("resume with: fnn-par ".count).split(separator: " ").map(String.init)
        #expect(arguments.suffix(2) == ["--resume", "part.safetensors.ckpt"])
        let resumed = try run(arguments.map { $0.replacingOccurrences(of: "'", with: "") } + ["--quiet"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/whole.safetensors"))
        let part = try Data(contentsOf: URL(fileURLWithPath: dir + "/part.safetensors"))
        #expect(whole == part)
    }

    /// A model trained on Criteo text carries its vocabularies (as tensors), so `predict` and
    /// `eval` read raw Criteo rows of other files (sample files of about 400 rows), unseen tokens
    /// included.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func criteoModelPredictsRawRows() throws {
        let dir = scratch()
        let criteo = Self.data + "/criteo-dac-sample"
        let trained = try run(["fm", "--data", criteo + "/head8000_train.txt", "--cache-dir", dir, "--epochs", "1",
                               "--save", "fm.safetensors", "--quiet"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let file = try String(decoding: Data(contentsOf: URL(fileURLWithPath: dir + "/fm.safetensors")).prefix(4096), as: UTF8.self)
        #expect(file.contains("\"vocabulary.tokens\"") && file.contains("\"vocabulary.field_sizes\""))
        let predicted = try run(["predict", "--model", "fm.safetensors", "--data", criteo + "/head8000_dev.txt", "--out", "p.txt"], in: dir)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let lines = try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n")
        let rows = try String(contentsOfFile: criteo + "/head8000_dev.txt", encoding: .utf8).split(separator: "\n").count
        #expect(lines.count == rows && lines.allSatisfy { Float($0).map { $0 >= 0 && $0 <= 1 } ?? false })
        let evaluated = try run(["eval", "--model", "fm.safetensors", "--data", criteo + "/head8000_test.txt", "--split", "all"], in: dir)
        #expect(evaluated.status == 0 && evaluated.stdout.contains("AUC"), "\(evaluated.stderr)")
    }

    /// libsvm data trains with --field-map; the model keeps the map, so predict reads raw rows.
    @Test func libsvmTrainsWithAFieldMapAndPredicts() throws {
        let dir = scratch()
        var rows = ""
        var state: UInt64 = 7
        for _ in 0..<3000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let user = Int(state >> 33) % 50, item = 100 + Int(state >> 20) % 40
            rows += "\((user + item) % 3 == 0 ? 1 : 0) \(user):1 \(item):1\n"
        }
        try rows.write(toFile: dir + "/d.svm", atomically: true, encoding: .utf8)
        try "0-99 0\n100-199 1\n".write(toFile: dir + "/map.txt", atomically: true, encoding: .utf8)
        let refused = try run(["fm", "--data", "d.svm", "--no-cache", "--epochs", "1"], in: dir)
        #expect(refused.status != 0 && refused.stderr.contains("--field-map"))
        let trained = try run(["fm", "--data", "d.svm", "--field-map", "map.txt", "--cache-dir", dir, "--epochs", "2",
                               "--save", "fm.safetensors", "--quiet"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        try "1 3:1 150:1\n0 42:1 199:1\n".write(toFile: dir + "/new.svm", atomically: true, encoding: .utf8)
        let predicted = try run(["predict", "--model", "fm.safetensors", "--data", "new.svm", "--out", "p.txt"], in: dir)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(try String(contentsOfFile: dir + "/p.txt", encoding: .utf8).split(separator: "\n").count == 2)
    }

    /// `generate` writes a binary data file that trains directly (mapped), in memory and
    /// streamed under a tiny memory budget, and matches the same rows written as text.
    @Test func generatedBinaryDataTrains() throws {
        let dir = scratch()
        for out in ["d.fnnpar", "d.tsv"] {
            let made = try run(["generate", "--shape", "ml1m", "--rows", "20000", "--seed", "3", "--out", out], in: dir)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let binary = try run(["fm", "--data", "d.fnnpar", "--epochs", "1", "--json", "b.json", "--quiet"], in: dir)
        let text = try run(["fm", "--data", "d.tsv", "--no-cache", "--epochs", "1", "--json", "t.json", "--quiet"], in: dir)
        #expect(binary.status == 0 && text.status == 0, "\(binary.stderr) \(text.stderr)")
        func testAUC(_ name: String) throws -> Double? {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))) as? [String: Any]
            return ((json?["models"] as? [String: Any])?["fm"] as? [String: Any])?["test_auc"] as? Double
        }
        #expect(try testAUC("b.json") != nil && testAUC("b.json") == testAUC("t.json"))
        let streamed = try run(["fm", "--data", "d.fnnpar", "--epochs", "1", "--memory-budget", "64K"], in: dir)
        #expect(streamed.status == 0 && streamed.stderr.contains("streaming"), "\(streamed.stderr)")
    }

    /// Data larger than the memory budget trains with a peak resident set bounded by the budget,
    /// not by the data: a 48 MB file streamed under a 4 MB budget peaks well below the same run in
    /// memory (which holds the data and the split's row lists).
    @Test func streamingBoundsThePeakResidentSet() throws {
        let dir = scratch()
        let made = try run(["generate", "--shape", "ml1m", "--rows", "4000000", "--out", "big.fnnpar"], in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        func peak(_ budget: String) throws -> Double {
            let r = try run(["fm", "--data", "big.fnnpar", "--epochs", "1", "--memory-budget", budget, "--json", budget + ".json",
                             "--quiet"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + budget + ".json"))) as? [String: Any]
            return try #require(json?["peak_rss_bytes"] as? Double) / 1e6
        }
        let inMemory = try peak("100G"), streamed = try peak("4M")
        // In memory: 48 MB of data plus 8 bytes a training row in each of two lists (51 MB);
        // here about 135 MB against 81 MB streamed (runtime with Open MPI's libraries loaded, two
        // model copies, evaluation scores). The fixed part grew with libmpi (about 1.3 MB), which
        // put the streamed run at 0.601 of the in-memory one: the ratio allows 0.65, the 40 MB
        // difference (the data the streamed run does not hold) is the bound that matters.
        #expect(inMemory - streamed > 40 && streamed < 0.65 * inMemory, "in memory \(inMemory) MB, streamed \(streamed) MB")
        try? FileManager.default.removeItem(atPath: dir + "/big.fnnpar")
    }

    @Test(arguments: [[String](), ["experiment"], ["fm"], ["fnn"], ["eval"], ["predict"], ["bench"]])
    func helpIsCompleteWithExamples(command: [String]) throws {
        let r = try run(command + ["--help"], in: NSTemporaryDirectory())
        #expect(r.status == 0)
        #expect(r.stdout.contains("Examples:"))
        #expect(r.stdout.contains("OPTIONS:"))
    }
}
