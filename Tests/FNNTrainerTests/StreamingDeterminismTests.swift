import FNNCore
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// Streaming from a mapped cache (pages handed back window by window) trains the same model for
/// every thread count.
@Suite struct StreamingDeterminismTests {
    @Test func streamingFromTheMappedCacheIsThreadIndependent() throws {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 6).generate(rows: 6000)
        let dir = NSTemporaryDirectory() + "fnn-par-stream-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = dir + "/d.tsv"
        try data.writeFieldsTSV(to: source)
        let parsed = try loadDataset(path: source)
        let key = try DatasetCache.Key(source: source, preprocessing: "fields")
        let cache = DatasetCache.path(for: source, directory: nil)
        try DatasetCache.store(parsed, cache: cache, key: key)
        let mapped = try #require(DatasetCache.load(cache: cache, key: key, name: source))
        #expect(mapped.isMapped)
        func trained(threads: Int) throws -> Model {
            var options = TrainingOptions()
            options.epochs = 2
            options.patience = 0
            options.batchSize = 500
            options.streamChunkRows = 700
            let config = ModelConfig(kind: .fnn, fieldDims: mapped.fieldDims, embedDim: 4, mlpDims: [8], dropout: 0.1)
            let engine = makeEngine(model: Model.initialized(config: config, seed: 2), data: mapped, options: options)
            let run = TrainingRun(engine: engine, data: mapped, split: DataSplit(rowCount: mapped.rowCount, seed: 2),
                                  options: options, executor: WorkerPool(threads: threads))
            _ = try run.run()
            return engine.model
        }
        let one = try trained(threads: 1)
        #expect(try trained(threads: 3).bitwiseEqual(one))
    }

    /// Variable rows (a mean-pooled multi-hot field) written as a binary data file and mapped:
    /// streamed in chunks, the model is the same for every thread count, and it differs from the
    /// in-memory order's (the chunked order is another order, not the same one read lazily).
    @Test(arguments: [ModelKind.fm, .fnn]) func streamingVariableRowsIsThreadIndependent(kind: ModelKind) throws {
        let data = PlantedGenresGenerator(mostGenres: 6, seed: 3).generate(rows: 6000, name: "g")
        let path = temporaryDirectory() + "/g.fnnpar"
        try DatasetCache.store(data, cache: path, key: nil)
        let mapped = try DatasetCache.open(path: path)
        #expect(mapped.isMapped && mapped.variable != nil && mapped.fingerprint == data.fingerprint)
        func trained(threads: Int, chunkRows: Int?) throws -> Model {
            var options = TrainingOptions()
            options.epochs = 2
            options.patience = 0
            options.batchSize = 500
            options.streamChunkRows = chunkRows
            var config = ModelConfig(kind: kind, fieldDims: mapped.fieldDims, embedDim: 4, mlpDims: [8], dropout: 0.1)
            config.schema = mapped.modelSchema
            let engine = makeEngine(model: Model.initialized(config: config, seed: 2), data: mapped, options: options)
            let run = TrainingRun(engine: engine, data: mapped, split: DataSplit(rowCount: mapped.rowCount, seed: 2),
                                  options: options, executor: WorkerPool(threads: threads))
            _ = try run.run()
            return engine.model
        }
        let one = try trained(threads: 1, chunkRows: 700)
        #expect(try trained(threads: 3, chunkRows: 700).bitwiseEqual(one))
        #expect(try !trained(threads: 1, chunkRows: nil).bitwiseEqual(one))
    }
}
