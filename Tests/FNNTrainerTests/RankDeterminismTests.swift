import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

/// The determinism contract across processes: R ranks x T threads train the model of one process
/// bit for bit (ranks here are threads of the test process over `InProcessRanks`, a real
/// communicator; `CLITests` runs the binary under mpirun). Batches whose slices do not divide
/// evenly among the ranks, a short last batch, and more ranks than a batch has slices are all
/// covered.
@Suite(.serialized) struct RankDeterminismTests {
    static let data: Dataset = {
        PlantedFMGenerator(fields: [.init(size: 300, zipfExponent: 1.1), .init(size: 120, zipfExponent: 0.5),
                                    .init(size: 7, zipfExponent: 0)], latentDim: 4, seed: 21).generate(rows: 5000)
    }()

    static func options(sliceRows: Int, tables: TableOptimizerConfig, order: DataOrder = .shuffle) -> TrainingOptions {
        var options = TrainingOptions()
        options.dataOrder = order
        options.epochs = 2
        options.patience = 0
        // 4000 training rows: three batches of 1100 and one of 700.
        options.batchSize = 1100
        options.sliceRows = sliceRows
        options.seed = 9
        options.tables = tables
        return options
    }

    /// Rank 0's trained model and history, and whether every rank ended with rank 0's bytes.
    static func trained(_ config: ModelConfig, ranks: Int, threads: Int, sliceRows: Int,
                        tables: TableOptimizerConfig, order: DataOrder) -> (model: Model, history: [EpochRecord], ranksAgree: Bool) {
        let data = Self.data
        let options = Self.options(sliceRows: sliceRows, tables: tables, order: order)
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        let results = InProcessRanks(size: ranks).run { _, communicator in
            let model = Model.initialized(config: config, seed: 4)
            let engine = makeEngine(model: model, data: data, options: options, ranks: RankExchange(communicator))
            let result = train(engine: engine, data: data, split: split, options: options, executor: WorkerPool(threads: threads))
            return UncheckedBox((engine.model, result.history))
        }
        let models = results.map(\.value.0)
        return (models[0], results[0].value.1, models.allSatisfy { $0.bitwiseEqual(models[0]) })
    }

    /// The same with the tables sharded across the ranks: rank 0's gathered whole model.
    /// `hosts`: the host count the ranks are told they span (several hosts change the shape of
    /// the FNN's gradient exchange, `FNNEngine.entriesGoToOwners`, not its sums).
    static func trainedSharded(_ config: ModelConfig, ranks: Int, threads: Int, sliceRows: Int,
                               tables: TableOptimizerConfig, order: DataOrder, hosts: Int = 1) -> (model: Model, history: [EpochRecord]) {
        let data = Self.data
        let options = Self.options(sliceRows: sliceRows, tables: tables, order: order)
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        let results = InProcessRanks(size: ranks).run { rank, communicator in
            let shard = TableShard(tableRows: config.tableRows, rank: rank, ranks: ranks)
            let model = Model.initialized(config: config, seed: 4, shard: shard)
            let exchange = RankExchange(communicator)
            exchange.hostCount = hosts
            let engine = makeEngine(model: model, data: data, options: options, ranks: exchange)
            let result = train(engine: engine, data: data, split: split, options: options, executor: WorkerPool(threads: threads))
            return UncheckedBox((try! exchange.gatherModel(engine.model), result.history))
        }
        return (results[0].value.0!, results[0].value.1)
    }

    static func check(_ config: ModelConfig, tables: TableOptimizerConfig = TableOptimizerConfig(), order: DataOrder = .shuffle) {
        for sliceRows in [64, 300] {
            let reference = trained(config, ranks: 1, threads: 1, sliceRows: sliceRows, tables: tables, order: order)
            // 300-row slices: four per full batch, three in the last, so five ranks leave some idle.
            for (ranks, threads) in [(2, 1), (3, 2), (5, 1)] {
                let run = trained(config, ranks: ranks, threads: threads, sliceRows: sliceRows, tables: tables, order: order)
                #expect(run.ranksAgree, "\(config.kind): the \(ranks) ranks disagree")
                #expect(run.model.bitwiseEqual(reference.model), "\(config.kind), \(ranks) ranks x \(threads) threads, slices of \(sliceRows)")
                #expect(run.history.map(\.trainLoss) == reference.history.map(\.trainLoss))
                #expect(run.history.map(\.validationAUC) == reference.history.map(\.validationAUC))
                #expect(run.history.map(\.validationLogLoss) == reference.history.map(\.validationLogLoss))
            }
            for (ranks, threads, hosts) in [(2, 1, 1), (3, 2, 1), (2, 1, 2)] {
                let run = trainedSharded(config, ranks: ranks, threads: threads, sliceRows: sliceRows, tables: tables, order: order,
                                         hosts: hosts)
                #expect(run.model.bitwiseEqual(reference.model),
                        "\(config.kind), sharded over \(ranks) ranks on \(hosts) host(s) x \(threads) threads, slices of \(sliceRows)")
                #expect(run.history.map(\.trainLoss) == reference.history.map(\.trainLoss))
                #expect(run.history.map(\.validationAUC) == reference.history.map(\.validationAUC))
            }
        }
    }

    @Test func factorizationMachine() {
        Self.check(ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 8), tables: .recommended(for: .fm))
    }

    @Test func factorizationMachineLazyAdam() {
        Self.check(ModelConfig(kind: .fm, fieldDims: Self.data.fieldDims, embedDim: 16))
    }

    @Test func fnnWithLinearInputAndDropout() {
        Self.check(ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 8, mlpDims: [16, 8], dropout: 0.2,
                               fnnInput: .embeddingPlusLinear))
    }

    /// The rank-local data order gives one model for every rank count too.
    @Test func fnnInThePartsOrder() {
        Self.check(ModelConfig(kind: .fnn, fieldDims: Self.data.fieldDims, embedDim: 8, mlpDims: [16], dropout: 0.1), order: .parts)
    }

    /// A failing rank's error reaches the step's caller instead of a hang: a communicator whose
    /// exchange fails names the rank and where the run was.
    @Test func aFailedExchangeNamesTheRankAndStep() throws {
        let data = Self.data
        let options = Self.options(sliceRows: 64, tables: TableOptimizerConfig())
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 8, mlpDims: [8])
        let engine = makeEngine(model: Model.initialized(config: config, seed: 4), data: data, options: options,
                                ranks: RankExchange(FailingCommunicator()))
        let run = TrainingRun(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        #expect(throws: CommunicatorError(rank: 1, "epoch 1, step 1, exchanging BatchNorm moments: rank 1 stopped answering")) {
            _ = try run.run()
        }
    }
}

/// Two ranks whose peer has gone: every exchange fails as MPI reports a lost process.
private final class FailingCommunicator: Communicator, @unchecked Sendable {
    var rank: Int { 0 }
    var size: Int { 2 }
    func allGather(_ local: [UInt8]) throws(CommunicatorError) -> [[UInt8]] { throw CommunicatorError(rank: 1, "rank 1 stopped answering") }
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws(CommunicatorError) { throw CommunicatorError(rank: 1, "rank 1 stopped answering") }
    func allGather(inPlace buffer: UnsafeMutableRawBufferPointer, parts: [Range<Int>]) throws(CommunicatorError) {
        throw CommunicatorError(rank: 1, "rank 1 stopped answering")
    }
    func allToAll(send: UnsafeRawBufferPointer, sendParts: [Range<Int>], receive: UnsafeMutableRawBufferPointer,
                  receiveParts: [Range<Int>]) throws(CommunicatorError) {
        throw CommunicatorError(rank: 1, "rank 1 stopped answering")
    }
    func barrier() throws(CommunicatorError) { throw CommunicatorError(rank: 1, "rank 1 stopped answering") }
}

/// Carries a non-Sendable result out of a rank's thread (each rank's objects stay its own).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
