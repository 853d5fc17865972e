import ArgumentParser
import Core
import Foundation
import Parallel

struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Training data: MovieLens ratings (ML-1M ratings.dat, ML-100K u.data, ML-latest ratings.csv) or a fields TSV. Default: built-in synthetic MovieLens-1M-shaped data.", valueName: "path"))
    var data: String?
    @Option(help: ArgumentHelp("Input format; auto recognises MovieLens and fields files by content.", valueName: "auto|movielens|fields"))
    var format: DataFormat = .auto

    func load(quiet: Bool) throws -> Dataset {
        guard let data else {
            if !quiet {
                FileHandle.standardError.write(Data("no --data given: using the built-in synthetic MovieLens-1M-shaped data set (1,000,209 rows from a planted FM, fields 6040 and 3706)\n".utf8))
            }
            return PlantedFMGenerator.builtInMovieLens1M()
        }
        do {
            return try loadDataset(path: data, format: format)
        } catch {
            throw CLIError(error.description)
        }
    }
}

struct TrainingCommandOptions: ParsableArguments {
    @Option(help: "Worker threads (the calling thread included); more than the CPU count is allowed.")
    var threads = 1
    @Option(help: "Maximum number of epochs.")
    var epochs = 100
    @Option(help: "Stop after this many epochs without a better validation AUC; 0 disables early stopping. The best epoch's model is kept either way.")
    var patience = 2
    @Option(help: "Examples per minibatch.")
    var batchSize = 2048
    @Option(help: "Adam learning rate.")
    var lr: Float = 1e-3
    @Option(help: "L2 weight decay added to the gradient (torch's Adam weight_decay).")
    var weightDecay: Float = 1e-6
    @Option(help: "Embedding dimension.")
    var embedDim = 16
    @Option(help: ArgumentHelp("Hidden layer widths of the FNN's MLP.", valueName: "w1,w2,..."))
    var mlp = "16,16"
    @Option(help: "Dropout probability after each hidden layer.")
    var dropout: Float = 0.2
    @Option(help: ArgumentHelp("Table optimiser: lazy updates only the rows a batch touched (fast); dense is torch's Adam over every row every step (for parity with PyTorch).", valueName: "lazy|dense"))
    var sparseUpdate: SparseUpdate = .lazy
    @Flag(inversion: .prefixedNo, help: "Pin each worker thread to a CPU, filling NUMA nodes one after another.")
    var pin = true
    @Option(help: "Seed of the split, initialisation, shuffles and dropout.")
    var seed: UInt64 = 42

    func mlpDims() throws -> [Int] {
        let parts = mlp.split(separator: ",", omittingEmptySubsequences: false)
        let dims = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, dims.count == parts.count, dims.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--mlp must be a comma-separated list of positive widths, e.g. 16,16 (got '\(mlp)')")
        }
        return dims
    }

    func trainingOptions() throws -> TrainingOptions {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard threads <= 1024 else { throw ValidationError("--threads must be at most 1024") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard patience >= 0 else { throw ValidationError("--patience must be 0 or more") }
        guard batchSize >= 2 else { throw ValidationError("--batch-size must be at least 2") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be 0 or more") }
        guard embedDim >= 1 else { throw ValidationError("--embed-dim must be at least 1") }
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        _ = try mlpDims()
        var options = TrainingOptions()
        options.epochs = epochs
        options.patience = patience
        options.batchSize = batchSize
        options.adam = AdamConfig(learningRate: lr, weightDecay: weightDecay)
        options.seed = seed
        options.sparseUpdate = sparseUpdate
        return options
    }

    func makeExecutor(log: Log) -> PhaseExecutor {
        BLAS.useSingleThread()
        let online = WorkerPool.onlineCPUs
        if threads > online {
            log.say("note: \(threads) threads on \(online) CPUs: workers share CPUs and are left unpinned; the surplus sleeps until needed")
        }
        guard pin, threads <= online else { return WorkerPool(threads: threads) }
        let (topology, problem) = Topology.detect()
        guard let topology else {
            log.say("note: \(problem ?? "NUMA topology unknown"); threads run unpinned")
            return WorkerPool(threads: threads)
        }
        return WorkerPool(threads: threads, cpus: topology.placement(workers: threads))
    }
}
