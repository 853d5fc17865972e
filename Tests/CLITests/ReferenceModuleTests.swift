import FNNCore
import Foundation
import TestSupport
import Testing

/// The PyTorch reference module for multi-hot and numeric models (Tests/FNNCoreTests/Fixtures/
/// pytorch_reference) gives `fnn-par predict`'s probabilities on our model files. Its NumPy path
/// runs here (the same bags its torch path builds with EmbeddingBag); torch is not installed.
@Suite struct ReferenceModuleTests: CLIHarness {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../FNNCoreTests/Fixtures/pytorch_reference/fnn_par_reference.py").standardizedFileURL.path
    static let hasNumPy: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Mean- and sum-pooled multi-hot fields with some values, a numeric field, empty cells.
    func writeData(_ path: String) {
        var rng = Xoshiro256(seed: 11)
        var text = "# fields: user tags:multi-hot:mean cats:multi-hot:sum price:numeric\n"
        func cell(_ count: Int, _ range: Int) -> String {
            (0..<count).map { _ in
                let id = rng.nextInt(below: range)
                return rng.nextInt(below: 3) == 0 ? "\(id):\(Double(rng.nextInt(below: 1000)) / 400)" : "\(id)"
            }.joined(separator: ",")
        }
        for _ in 0..<1500 {
            let user = rng.nextInt(below: 40)
            let tags = cell(rng.nextInt(below: 4), 10), cats = cell(rng.nextInt(below: 3), 6)
            let price = Double(rng.nextInt(below: 3000)) / 1000 - 1
            let label = (user % 3 == 0) != (tags.hasPrefix("2") || price > 0.5) ? 1 : 0
            text += "\(label)\t\(user)\t\(tags)\t\(cats)\t0:\(price)\n"
        }
        writeText(text, to: path)
    }

    @Test(.enabled(if: hasNumPy, "python3 with numpy is not installed"),
          arguments: [["fm"], ["fnn"], ["fnn", "--fnn-input", "embedding+linear", "--init-from", "fm.safetensors"]])
    func referenceForwardEqualsPredict(command: [String]) throws {
        let dir = scratch()
        writeData(dir + "/d.tsv")
        if command.contains("--init-from") {
            #expect(try run(["fm", "--data", "d.tsv", "--epochs", "2", "--save", "fm.safetensors", "--quiet"], in: dir).status == 0)
        }
        let train = try run(command + ["--data", "d.tsv", "--epochs", "2", "--save", "m.safetensors", "--quiet"], in: dir)
        #expect(train.status == 0, "\(train.stderr)")
        let predict = try run(["predict", "--model", "m.safetensors", "--data", "d.tsv", "--out", "ours.txt"], in: dir)
        #expect(predict.status == 0, "\(predict.stderr)")
        let reference = try shell("python3 '\(Self.script)' --numpy m.safetensors d.tsv > theirs.txt", in: dir)
        #expect(reference.status == 0, "\(reference.stderr)")
        func numbers(_ name: String) throws -> [Double] {
            try String(contentsOfFile: dir + "/" + name, encoding: .utf8).split(separator: "\n").compactMap { Double($0) }
        }
        let ours = try numbers("ours.txt"), theirs = try numbers("theirs.txt")
        #expect(ours.count == 1500 && theirs.count == 1500)
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5, "\(command): max |reference - predict| = \(worst)")
    }
}
