import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// What every training command does first: options, workers, data (streamed when over the
/// memory budget), the split, a summary line, and the Ctrl-C handler.
func prepareTraining(dataOptions: DataOptions, training: TrainingCommandOptions, kind: ModelKind, log: Log) throws
    -> (TrainingOptions, PhaseExecutor, Dataset, DataSplit)
{
    var options = training.trainingOptions(for: kind)
    options.split = try dataOptions.splitProportions()
    options.trainOnAll = dataOptions.trainOnAll
    if options.trainOnAll {
        log.say("--train-on-all: every row trains for exactly \(options.epochs) epoch\(options.epochs == 1 ? "" : "s"); nothing is held out, so there are no validation or test figures")
    }
    let executor = training.threading.makeExecutor(log: log)
    let slices = (options.batchSize + options.sliceRows - 1) / options.sliceRows
    if executor.workerCount > slices {
        log.say("note: a batch of \(options.batchSize) has \(slices) slice\(slices == 1 ? "" : "s") of \(options.sliceRows) examples, so at most \(slices) of the \(executor.workerCount) threads share a step's forward and backward work; --slice-rows \(max(1, options.batchSize / executor.workerCount)) (or a larger --batch-size) gives every thread a slice")
    }
    let dataset = try dataOptions.load(log: log, seed: options.seed, executor: executor)
    let streaming = streamChunkRows(for: dataset, budget: try dataOptions.memoryBudgetBytes(), batchSize: options.batchSize,
                                    window: options.streamWindow)
    options.streamChunkRows = streaming.rows
    if let note = streaming.note { log.say(note) }
    options.heldOut = dataset.heldOut
    let (split, note) = try trainingSplit(of: dataset, options: options)
    if let note { log.say(note) }
    log.describe(dataset, split: split, threads: executor.workerCount)
    Interrupt.install()
    return (options, executor, dataset, split)
}

func createDirectory(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        throw CLIError("\(path): cannot create directory: \(error.localizedDescription)")
    }
}
