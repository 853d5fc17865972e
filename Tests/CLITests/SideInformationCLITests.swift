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
        // Off (the default) is pytorch-fm's two fields: the model does not fit those.
        let plain = try run(["fm", "--data", u, "--cache-dir", dir, "--epochs", "1", "--save", "plain.safetensors"], in: dir)
        #expect(plain.status == 0 && !plain.stderr.contains("side information"), "\(plain.stderr)")
        // An FNN over ratings only cannot start from an FM with side fields.
        let mismatched = try run(["fnn", "--data", u, "--cache-dir", dir, "--epochs", "1", "--init-from", "fm.safetensors",
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
}
