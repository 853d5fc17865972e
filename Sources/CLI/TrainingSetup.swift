import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// What every training command does first: options, workers, data (streamed when over the
/// memory budget), the split, a summary line, and the Ctrl-C handler. `precision`: the FNN's
/// arithmetic as this process resolved it, which every rank must share (`auto` resolves per CPU).
func prepareTraining(dataOptions: DataOptions, training: TrainingCommandOptions, kind: ModelKind, log: Log,
                     precision: MLPPrecision = .fp32) throws
    -> (TrainingOptions, PhaseExecutor, Dataset, DataSplit)
{
    var options = training.trainingOptions(for: kind)
    options.split = try dataOptions.splitProportions()
    options.trainOnAll = dataOptions.trainOnAll
    if options.trainOnAll {
        log.say("--train-on-all: every row trains for exactly \(options.epochs) epoch\(options.epochs == 1 ? "" : "s"); nothing is held out, so there are no validation or test figures")
    }
    let ranks = try ProcessRanks.shared()
    let executor = training.threading.makeExecutor(log: log)
    let slices = (options.batchSize + options.sliceRows - 1) / options.sliceRows
    // Each rank computes its share of the slices: ranks x threads workers share a batch.
    let workers = executor.workerCount * ranks.size
    if workers > slices {
        let who = ranks.isSingle ? "the \(workers) threads" : "the \(workers) workers (\(ranks.size) ranks x \(executor.workerCount) thread\(executor.workerCount == 1 ? "" : "s"))"
        log.say("note: a batch of \(options.batchSize) has \(slices) slice\(slices == 1 ? "" : "s") of \(options.sliceRows) examples, so at most \(slices) of \(who) share a step's forward and backward work; --slice-rows \(max(1, options.batchSize / workers)) (or a larger --batch-size) gives every one a slice")
    }
    if !ranks.isSingle, try dataOptions.request(seed: options.seed).readsAStream {
        throw CLIError("--data: standard input, a pipe or a device reaches one rank only; under mpirun every rank reads the data, so give a file")
    }
    // Rank 0 reads first (converting text and writing the binary cache once); the others then
    // read that cache. The wait is not under --rank-timeout: conversion may take long.
    if ranks.rank > 0 { try rankBarrier(ranks) }
    let dataset = try dataOptions.load(log: log, seed: options.seed, executor: executor)
    if ranks.rank == 0 && !ranks.isSingle { try rankBarrier(ranks) }
    if !ranks.isSingle {
        try ProcessRanks.agree(on: [("fnn-par binary", executableDigest()), ("options", optionsText(options) + "\n" + argumentsWithoutThreads()),
                                    ("data", String(dataset.sampledFingerprint(), radix: 16)),
                                    (arithmeticAgreement, precision.rawValue)],
                               threads: executor.workerCount, log: log)
        // The fingerprint read rows all over a mapped file, and each fault maps the pages around
        // it too: handed back, so each rank keeps only the pages of its own part.
        dataset.releasePages(rows: 0..<dataset.rowCount)
        ProcessRanks.armTimeout(seconds: training.threading.rankTimeout)
    }
    let streaming = streamChunkRows(for: dataset, budget: try dataOptions.memoryBudgetBytes(), batchSize: options.batchSize,
                                    window: options.streamWindow)
    options.streamChunkRows = streaming.rows
    if let note = streaming.note { log.say(note) }
    if streaming.rows != nil && options.dataOrder == .parts {
        log.say("note: --data-order parts applies to data trained in memory or from its whole mapped cache; this run streams by windows of chunks, in their own order")
    }
    options.heldOut = dataset.heldOut
    let (split, note) = try trainingSplit(of: dataset, options: options)
    if let note { log.say(note) }
    log.describe(dataset, split: split, threads: executor.workerCount)
    Interrupt.install()
    return (options, executor, dataset, split)
}

func rankBarrier(_ ranks: RankExchange) throws {
    do { try ranks.communicator.barrier() } catch { throw CLIError(error.description) }
}

/// The options as JSON, for the ranks' agreement.
func optionsText(_ options: TrainingOptions) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return (try? encoder.encode(options)).map { String(decoding: $0, as: UTF8.self) } ?? "\(options)"
}

/// The command line without the thread options, which may differ between ranks (the model does not depend on them).
func argumentsWithoutThreads() -> String {
    commandLineArguments(removing: ["--threads", "--rank-timeout"])
        .filter { $0 != "--pin" && $0 != "--no-pin" && $0 != "--quiet" && $0 != "--profile" }
        .joined(separator: "\u{1}")
}

/// A digest of this executable's bytes: ranks must run the same build.
func executableDigest() -> String {
    // Over the bytes in place: iterating `Data` itself went byte by byte through its generic
    // iterator, a tenth of a second for this binary.
    FileManager.default.contents(atPath: "/proc/self/exe").map { $0.withUnsafeBytes { ProcessRanks.digest($0) } } ?? "unknown"
}

func createDirectory(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        throw CLIError("\(path): cannot create directory: \(error.localizedDescription)")
    }
}
