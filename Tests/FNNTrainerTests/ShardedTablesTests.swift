import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// Tables sharded across ranks (ranks as threads over `InProcessRanks`): checkpoints written
/// as one shard per rank resume under another rank count, sharded or whole, and end at the
/// model of one uninterrupted process; the model file rank 0 streams from the shards is the
/// file one process writes, byte for byte.
@Suite(.serialized) struct ShardedTablesTests {
    static let data: Dataset = RankDeterminismTests.data

    static func options(epochs: Int) -> TrainingOptions {
        var options = RankDeterminismTests.options(sliceRows: 64, tables: TableOptimizerConfig())
        options.epochs = epochs
        return options
    }

    static let split = DataSplit(rowCount: data.rowCount, seed: 4)

    /// Trains `config` for `epochs` on `ranks` ranks (sharded or whole tables), resuming from
    /// `resume` and checkpointing to `checkpoint`; rank 0's kept model, gathered whole, and the
    /// bytes of the model file the ranks saved together.
    static func stage(_ config: ModelConfig, ranks: Int, sharded: Bool, epochs: Int, resume: String?, checkpoint: String?,
                      save: String? = nil) -> Model {
        let data = Self.data, split = Self.split, options = Self.options(epochs: epochs)
        let results = InProcessRanks(size: ranks).run { rank, communicator in
            let shard = sharded ? TableShard(tableRows: config.tableRows, rank: rank, ranks: ranks) : nil
            let exchange = RankExchange(communicator)
            var stage = ModelTrainingStage(name: "m", dataset: data, split: split, options: options, executor: WorkerPool(threads: 2))
            stage.ranks = exchange
            stage.checkpointPath = checkpoint
            stage.resumePath = resume
            let model = resume == nil ? Model.initialized(config: config, seed: 4, shard: shard) : Model(config: config, shard: shard)
            guard case .trained(let report) = try! stage.run(model: model) else { fatalError("interrupted") }
            if let save, sharded || rank == 0 {
                try! saveTrainedModel(report.trained!, to: save, dataset: data, options: options, report: report, ranks: exchange)
            }
            return UncheckedBox(try! exchange.gatherModel(report.trained!))
        }
        return results[0].value!
    }

    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "fnnpar-sharded-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(arguments: [ModelKind.fm, .fnn])
    func checkpointsReshardAcrossRankCounts(kind: ModelKind) throws {
        let config = kind == .fm ? ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 8)
            : ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 8, mlpDims: [16], dropout: 0.1, fnnInput: .embeddingPlusLinear)
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = Self.stage(config, ranks: 1, sharded: false, epochs: 4, resume: nil, checkpoint: nil, save: dir + "/one.safetensors")
        // 3 sharded ranks, then 2, then one process, then 2 sharded from that whole checkpoint file.
        _ = Self.stage(config, ranks: 3, sharded: true, epochs: 1, resume: nil, checkpoint: dir + "/a.ckpt")
        #expect(isDirectory(dir + "/a.ckpt") && FileManager.default.fileExists(atPath: dir + "/a.ckpt/manifest.json"))
        _ = Self.stage(config, ranks: 2, sharded: true, epochs: 2, resume: dir + "/a.ckpt", checkpoint: dir + "/b.ckpt")
        _ = Self.stage(config, ranks: 1, sharded: false, epochs: 3, resume: dir + "/b.ckpt", checkpoint: dir + "/c.ckpt")
        #expect(isRegularFile(dir + "/c.ckpt"))
        let last = Self.stage(config, ranks: 2, sharded: true, epochs: 4, resume: dir + "/c.ckpt", checkpoint: dir + "/c2.ckpt",
                              save: dir + "/two.safetensors")
        #expect(last.bitwiseEqual(reference), "\(kind): 3 -> 2 -> 1 -> 2 ranks resumed differ from one run")
        let one = try Data(contentsOf: URL(fileURLWithPath: dir + "/one.safetensors"))
        let two = try Data(contentsOf: URL(fileURLWithPath: dir + "/two.safetensors"))
        // The training options record nothing of the ranks, so the files match byte for byte.
        #expect(one == two, "\(kind): the model file streamed from two shards differs from one process's")
        _ = try ModelFile.load(path: dir + "/two.safetensors")
        // A later generation replaces the earlier one's files.
        let entries = directoryEntries(dir + "/c2.ckpt") ?? []
        #expect(entries.filter { $0.hasPrefix("shard-") }.count == 2, "\(entries)")
    }

    /// A shard file changed on disk is refused by name.
    @Test func aDamagedShardIsRefused() throws {
        let config = ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 8)
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = Self.stage(config, ranks: 2, sharded: true, epochs: 1, resume: nil, checkpoint: dir + "/a.ckpt")
        let shard = (directoryEntries(dir + "/a.ckpt") ?? []).first { $0.hasPrefix("shard-1-") }!
        let path = dir + "/a.ckpt/" + shard
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 5] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelFileError.self) { _ = try Checkpoint.read(path: dir + "/a.ckpt", shardOf: (0, 1)) }
        do { _ = try Checkpoint.read(path: dir + "/a.ckpt", shardOf: (0, 1)) } catch {
            #expect(error.description.contains(shard) && error.description.contains("damaged"), "\(error)")
        }
    }
}
