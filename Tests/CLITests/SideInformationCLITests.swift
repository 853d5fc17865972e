import Foundation
import TestSupport
import Testing

/// `--side-info` end to end: trained models record their fields and score the same data with
/// its side files joined again; data or placements it cannot serve are refused by name.
@Suite struct SideInformationCLITests: CLIHarness {
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func trainedWithSideFilesScoresWithThem() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        let fm = try run(["fm", "--data", u, "--cache-dir", dir, "--side-info", "on", "--epochs", "2", "--threads", "2",
                          "--save", "fm.safetensors"], in: dir)
        #expect(fm.status == 0, "\(fm.stderr)")
        #expect(fm.stderr.contains("side information from") && fm.stderr.contains("genres"), "\(fm.stderr)")
        let fnn = try run(["fnn", "--data", u, "--cache-dir", dir, "--side-info", "on", "--epochs", "2", "--threads", "2",
                           "--init-from", "fm.safetensors", "--save", "fnn.safetensors"], in: dir)
        #expect(fnn.status == 0, "\(fnn.stderr)")
        // Scoring joins the side files again without being asked: 7 fields, not the ratings' 2.
        let eval = try run(["eval", "--model", "fnn.safetensors", "--data", u], in: dir)
        #expect(eval.status == 0, "\(eval.stderr)")
        // Another process, another thread count: the same file, schema metadata included.
        let again = try run(["fm", "--data", u, "--cache-dir", dir, "--side-info", "on", "--epochs", "2", "--threads", "1",
                             "--save", "fm-again.safetensors"], in: dir)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/fm.safetensors") == FileManager.default.contents(atPath: dir + "/fm-again.safetensors"))
        // auto, the default, joins them too: the same model as --side-info on.
        let auto = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "2", "--threads", "2", "--save", "fm-auto.safetensors"], in: dir)
        #expect(auto.status == 0 && auto.stderr.contains("side information from"), "\(auto.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/fm.safetensors") == FileManager.default.contents(atPath: dir + "/fm-auto.safetensors"))
        // Off is pytorch-fm's two fields: the model does not fit those.
        let plain = try run(["fm", "--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--save", "plain.safetensors"], in: dir)
        #expect(plain.status == 0 && !plain.stderr.contains("side information"), "\(plain.stderr)")
        // An FNN over ratings only cannot start from an FM with side fields.
        let mismatched = try run(["fnn", "--data", u, "--side-info", "off", "--cache-dir", dir, "--epochs", "1", "--init-from", "fm.safetensors",
                                  "--save", "bad.safetensors"], in: dir)
        #expect(mismatched.status != 0 && !exists(dir + "/bad.safetensors"), "\(mismatched.stderr)")
    }

    @Test func sideFilesMustBeThereWhenAskedFor() throws {
        let dir = scratch()
        try "1::1::5::1\n2::1::2::1\n".write(toFile: dir + "/ratings.dat", atomically: true, encoding: .utf8)
        let r = try run(["fm", "--data", "ratings.dat", "--side-info", "on", "--epochs", "1", "--save", "m.safetensors"], in: dir)
        #expect(r.status != 0 && r.stderr.contains("no side files beside it"), "\(r.stderr)")
        #expect(!exists(dir + "/m.safetensors"))
        let auto = try run(["fm", "--data", "ratings.dat", "--side-info", "auto", "--epochs", "1", "--split", "34,33,33",
                            "--save", "m.safetensors"], in: dir)
        #expect(!auto.stderr.contains("no side files"), "\(auto.stderr)")
    }

    /// Side ids are the side files' sorted values: scoring beside other side files would read
    /// other values under the same ids, so files with other value counts are refused.
    @Test func scoringBesideOtherSideFilesIsRefused() throws {
        let dir = scratch()
        var ratings = ""
        for i in 0..<60 { ratings += "\(i % 6 + 1)::\(i % 5 + 1)::\(i % 3 == 0 ? 5 : 2)::\(i)\n" }
        try ratings.write(toFile: dir + "/ratings.dat", atomically: true, encoding: .utf8)
        let users = (1...6).map { "\($0)::\($0 % 2 == 0 ? "F" : "M")::25::\($0 % 3)::1000\($0)" }.joined(separator: "\n") + "\n"
        try users.write(toFile: dir + "/users.dat", atomically: true, encoding: .utf8)
        try (1...5).map { "\($0)::Film \($0) (1999)::Drama|Comedy" }.joined(separator: "\n")
            .write(toFile: dir + "/movies.dat", atomically: true, encoding: .utf8)
        let train = try run(["fm", "--data", "ratings.dat", "--side-info", "on", "--epochs", "1", "--split", "60,20,20",
                             "--save", "m.safetensors"], in: dir)
        #expect(train.status == 0, "\(train.stderr)")
        let same = try run(["eval", "--model", "m.safetensors", "--data", "ratings.dat"], in: dir)
        #expect(same.status == 0, "\(same.stderr)")
        // Same value counts, another user's gender: the digest tells.
        try users.replacingOccurrences(of: "1::M::25", with: "1::F::25")
            .write(toFile: dir + "/users.dat", atomically: true, encoding: .utf8)
        let swapped = try run(["eval", "--model", "m.safetensors", "--data", "ratings.dat"], in: dir)
        #expect(swapped.status != 0 && swapped.stderr.contains("their values differ"), "\(swapped.stderr)")
        try users.replacingOccurrences(of: "6::F::25::0", with: "6::F::25::7")
            .write(toFile: dir + "/users.dat", atomically: true, encoding: .utf8)
        let other = try run(["eval", "--model", "m.safetensors", "--data", "ratings.dat"], in: dir)
        #expect(other.status != 0 && other.stderr.contains("not the side files it was trained with"), "\(other.stderr)")
        try FileManager.default.removeItem(atPath: dir + "/users.dat")
        let none = try run(["eval", "--model", "m.safetensors", "--data", "ratings.dat"], in: dir)
        #expect(none.status != 0 && none.stderr.contains("no side files beside"), "\(none.stderr)")
    }

    /// New users and movies score through fallback rows with side information too, the side
    /// files named by --side-files when the rows are elsewhere.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func unseenIdsWithSideInformation() throws {
        let dir = scratch()
        let u = Self.data + "/ml-100k/u.data"
        #expect(try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "1", "--save", "m.safetensors", "--quiet"], in: dir).status == 0)
        try "1\t2\n5000\t9\n3\t99999\n1\t2\n".write(toFile: dir + "/new.tsv", atomically: true, encoding: .utf8)
        let r = try run(["predict", "--model", "m.safetensors", "--data", "new.tsv", "--out", "-", "--report",
                         "--side-files", Self.data + "/ml-100k"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let p = r.stdout.split(separator: "\n").compactMap { Double($0) }
        #expect(p.count == 4 && p[0] == p[3] && p.allSatisfy { $0 > 0 && $0 < 1 } && p[1] != p[0])
        let missing = try run(["predict", "--model", "m.safetensors", "--data", "new.tsv", "--out", "-", "--side-files", dir], in: dir)
        #expect(missing.status != 0 && missing.stderr.contains("no side files in"), "\(missing.stderr)")
    }
}
