import FNNCore
import FNNExecution
import FNNSystem
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// Files written by torchfm itself (Fixtures/torchfm, made by make_fixture.py there with torch
/// 2.15 and torchfm 0.7.0): our forward pass on their weights equals torchfm's eval-mode output.
@Suite struct TorchFixtureTests {
    struct Expected: Decodable {
        var field_dims: [Int]
        var inputs: [[UInt32]]
        var fm: [Double]
        var fnn: [Double]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/torchfm").path

    @Test(arguments: ["fm", "fnn"])
    func predictionsMatchTorchfm(name: String) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: Self.directory + "/expected.json")))
        let (model, info) = try ModelFile.load(path: Self.directory + "/\(name)_torch.safetensors", fieldDims: expected.field_dims)
        #expect(!info.isNative)
        #expect(model.config.kind == (name == "fm" ? .fm : .fnn))
        let data = Dataset(name: "fixture", fieldDims: expected.field_dims, ids: expected.inputs.flatMap { $0 },
                           labels: [Float](repeating: 0, count: expected.inputs.count))
        let engine = makeEngine(model: model, data: data, options: TrainingOptions())
        let probabilities = try engine.logits(examples: Array(0..<data.rowCount), executor: SerialExecutor())
            .map { Double(BinaryCrossEntropy.sigmoid($0)) }
        let reference = name == "fm" ? expected.fm : expected.fnn
        #expect(probabilities.count == reference.count)
        for (ours, theirs) in zip(probabilities, reference) { #expect(abs(ours - theirs) < 1e-5, "\(ours) vs \(theirs)") }
        // And back out: our file of the same weights carries the same tensors.
        let path = temporaryDirectory() + "/again.safetensors"
        try ModelFile.save(model, to: path)
        let original = try SafeTensors.read(path: Self.directory + "/\(name)_torch.safetensors")
        let ours = try SafeTensors.read(path: path)
        #expect(Set(ours.tensors.keys) == Set(original.tensors.keys))
        for (key, tensor) in original.tensors {
            #expect(ours.tensors[key]?.shape == tensor.shape && ours.tensors[key]?.dtype == tensor.dtype)
            #expect(ours.tensors[key]?.bytes == tensor.bytes, "\(key)")
        }
    }
}
