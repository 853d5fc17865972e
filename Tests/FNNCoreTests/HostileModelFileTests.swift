import FNNCore
import FNNExecution
import FNNSystem
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// Model files and checkpoints as a hostile user crafts them: sizes in the header that overflow
/// or ask for terabytes, impossible run states, and bytes flipped at many offsets. Each must be
/// refused with an error naming the file (never a trap, never an allocation the file cannot
/// back), or, where the flip leaves everything consistent, read as what it says.
@Suite struct HostileModelFileTests {
    /// A file's header as JSON and its data bytes, to rewrite the header as an attacker would.
    func split(_ bytes: [UInt8]) throws -> ([String: Any], [UInt8]) {
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        return (header, Array(bytes[(8 + length)...]))
    }

    func join(_ header: [String: Any], _ data: [UInt8]) throws -> [UInt8] {
        let json = Array(try JSONSerialization.data(withJSONObject: header))
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }

    func savedModel(_ kind: ModelKind, in dir: String) throws -> [UInt8] {
        let config = ModelConfig(kind: kind, fieldDims: [30, 12], embedDim: 4, mlpDims: [8, 4])
        let path = dir + "/\(kind).safetensors"
        try ModelFile.save(Model.initialized(config: config, seed: 1), to: path, metadata: [:])
        return try readFileBytes(path)
    }

    @Test(arguments: [ModelKind.fm, .fnn])
    func craftedModelHeadersAreRefused(kind: ModelKind) throws {
        let dir = temporaryDirectory()
        let (header, data) = try split(try savedModel(kind, in: dir))
        typealias Mutation = (inout [String: Any]) -> Void
        func metadata(_ key: String, _ value: String) -> Mutation {
            { h in var m = h["__metadata__"] as! [String: String]; m[key] = value; h["__metadata__"] = m }
        }
        func embedding(_ key: String, _ value: [Int]) -> Mutation {
            { h in var e = h["embedding.embedding.weight"] as! [String: Any]; e[key] = value; h["embedding.embedding.weight"] = e }
        }
        let mutations: [(String, Mutation)] = [
            ("field sizes that overflow", metadata("field_dims", "[9223372036854775807,5]")),
            ("a negative field size", metadata("field_dims", "[-1,43]")),
            ("huge MLP widths", metadata("mlp_dims", "[100000,100000]")),
            ("an embed_dim the tensor denies", metadata("embed_dim", "100000000")),
            ("dropout out of range", metadata("dropout", "1e9")),
            ("a shape [1e12, 0]", embedding("shape", [1_000_000_000_000, 0])),
            ("a shape whose product overflows", embedding("shape", [1 << 62, 4])),
            ("offsets past the file", embedding("data_offsets", [0, 1_000_000_000_000_000])),
            ("a flipped parameter", { _ in }),
        ]
        for (what, mutate) in mutations {
            var crafted = header
            mutate(&crafted)
            var bytes = try join(crafted, data)
            if what == "a flipped parameter" { bytes[bytes.count - 3] ^= 0x10 }
            let path = dir + "/crafted.safetensors"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let error = #expect(throws: ModelFileError.self, "\(kind): \(what)") { try ModelFile.load(path: path) }
            #expect(error?.path == path, "\(kind): \(what)")
        }
    }

    /// A checkpoint with an impossible run state, and one flipped bit at each of 300 offsets:
    /// refused, or (a flip the digest and checks cannot see, in harmless metadata) resumed; never
    /// a trap.
    @Test func craftedAndFlippedCheckpoints() throws {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 2).generate(rows: 2000)
        let split = DataSplit(rowCount: data.rowCount, seed: 1)
        var options = TrainingOptions()
        options.epochs = 1
        options.batchSize = 500
        let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [8])
        func makeRun() -> TrainingRun {
            TrainingRun(engine: makeEngine(model: Model.initialized(config: config, seed: 1), data: data, options: options),
                        data: data, split: split, options: options, executor: SerialExecutor())
        }
        let first = makeRun()
        _ = try first.run()
        let dir = temporaryDirectory()
        let path = dir + "/run.ckpt"
        try Checkpoint.write(first, to: path)
        let original = try readFileBytes(path)
        let (header, tensors) = try self.split(original)
        var state = header
        var meta = state["__metadata__"] as! [String: String]
        meta["state"] = meta["state"]!.replacingOccurrences(of: "\"epoch\":", with: "\"epoch\":-5,\"unused\":")
        state["__metadata__"] = meta
        let crafted = dir + "/state.ckpt"
        _ = FileManager.default.createFile(atPath: crafted, contents: Data(try join(state, tensors)))
        let refusal = #expect(throws: ModelFileError.self) { try Checkpoint.read(path: crafted) }
        #expect(refusal?.message.contains("epoch -5") == true)
        var rng = Xoshiro256(seed: 5)
        var refused = 0
        let flipped = dir + "/flipped.ckpt"
        for _ in 0..<300 {
            var bytes = original
            bytes[rng.nextInt(below: bytes.count)] ^= UInt8(1) << UInt8(rng.nextInt(below: 8))
            _ = FileManager.default.createFile(atPath: flipped, contents: Data(bytes))
            do {
                let run = makeRun()
                try Checkpoint.resume(run, from: try Checkpoint.read(path: flipped), path: flipped)
            } catch {
                refused += 1
            }
        }
        // Nearly every byte is a tensor's (covered by the digest); the rest is header text.
        #expect(refused >= 250, "only \(refused) of 300 flipped checkpoints were refused")
    }
}
