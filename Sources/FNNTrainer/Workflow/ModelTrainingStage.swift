import FNNCore
import FNNExecution
import Foundation

/// One model's training as every command runs it: the engine and run, resuming from a
/// checkpoint, a checkpoint after every epoch, interruption at a step boundary (with a checkpoint
/// to continue from), divergence refused with the learning rates to lower, the kept epoch's test
/// figures and the report. What the terminal shows (progress lines, notes) comes through the
/// callbacks; nothing here prints.
public struct ModelTrainingStage {
    public let name: String
    public let dataset: Dataset
    public let split: DataSplit
    public let options: TrainingOptions
    public let executor: PhaseExecutor
    /// Where the tables come from when not from `options.initialization` (an FM's model file).
    public var tablesFrom: String?
    /// Written after every epoch and on interruption.
    public var checkpointPath: String?
    public var resumePath: String?
    /// The processes training this model together (one by default). Every rank runs the stage;
    /// rank 0 alone writes checkpoints, and the stop request is agreed at every step.
    public var ranks = RankExchange()
    /// Where an interrupted run without `checkpointPath` leaves its checkpoint.
    public var interruptedCheckpointPath: String { checkpointPath ?? "fnn-par-\(name).ckpt" }

    public var note: (String) -> Void = { _ in }
    public var onProgress: ((TrainingProgress) -> Void)?
    public var onEpoch: EpochObserver?
    /// Polled between steps: true stops at the step boundary (Ctrl-C).
    public var shouldStop: (() -> Bool)?

    /// How a stage ended.
    public enum Outcome {
        case trained(ModelReport)
        /// Stopped by `shouldStop`: the checkpoint written and where the run stood.
        case interrupted(checkpoint: String, epoch: Int, step: Int)
    }

    public init(name: String, dataset: Dataset, split: DataSplit, options: TrainingOptions, executor: PhaseExecutor) {
        self.name = name
        self.dataset = dataset
        self.split = split
        self.options = options
        self.executor = executor
    }

    /// Rank 0 writes a whole-table run's checkpoint file; a sharded run's ranks write its
    /// directory together (`ShardedCheckpoint`), and so does a whole-table run continuing a
    /// sharded checkpoint in place (one shard, rank 0's).
    static func writeCheckpoint(_ run: TrainingRun, to path: String, ranks: RankExchange) throws {
        if run.engine.model.shard.isWholeTable && !ShardedCheckpoint.isSharded(path) {
            if ranks.communicator.isRoot { try Checkpoint.write(run, to: path) }
        } else {
            try ShardedCheckpoint.write(run, to: path, ranks: ranks)
        }
    }

    public func run(model: Model) throws(WorkflowError) -> Outcome {
        let tables = options.tables
        let rate = tables.learningRate(fieldCount: dataset.fieldCount, denseLearningRate: options.adam.learningRate)
        note("\(name): tables by \(tables.kind.rawValue), lr \(rate)"
            + (tables.kind == .adagrad || tables.kind == .rowwiseAdagrad ? ", initial accumulator \(tables.initialAccumulator)" : "")
            + (tables.l2 > 0 ? ", l2 \(tables.l2) per occurrence" : "")
            + (options.rates.isConstant ? "" : "; learning rates: \(options.rates.summary)")
            + (resumePath != nil ? "; resumed" : "; tables start " + (tablesFrom ?? options.initialization.summary)))
        let engine = makeEngine(model: model, data: dataset, options: options, ranks: ranks)
        let ranks = self.ranks
        let run = TrainingRun(engine: engine, data: dataset, split: split, options: options, executor: executor)
        if let resumePath {
            do {
                let loaded = try Checkpoint.read(path: resumePath, shardOf: (model.shard.rank, model.shard.ranks))
                try Checkpoint.resume(run, from: loaded, path: resumePath)
            } catch {
                throw WorkflowError(error.description)
            }
            note("\(name): resuming from \(resumePath) at epoch \(run.state.epoch), step \(run.state.stepInEpoch)")
            if run.state.finished { note("\(name): that run had already finished; evaluating its best model") }
        }
        run.onProgress = onProgress
        run.onEpoch = onEpoch
        if ranks.isSingle {
            run.shouldStop = shouldStop
        } else if let shouldStop {
            // Every rank must stop at the same step boundary: a stop asked of any rank stops all.
            run.shouldStop = {
                var vote: [UInt8] = [shouldStop() ? 1 : 0]
                guard let votes = try? ranks.communicator.allGather(vote) else { return true }
                vote = votes.map { $0.first ?? 1 }
                return vote.contains(1)
            }
        }
        if let checkpointPath {
            run.onEpochEnd = { run in
                try run.engine.gatherOptimizerState()
                do { try Self.writeCheckpoint(run, to: checkpointPath, ranks: ranks) } catch {
                    throw WorkflowError("cannot write checkpoint: \(error)")
                }
            }
        }
        executor.profile.reset()
        ranks.resetTraffic()
        let result: TrainingResult
        do {
            result = try run.run()
        } catch let diverged as TrainingDiverged {
            let kept = checkpointPath.map { path in
                FileManager.default.fileExists(atPath: path)
                    ? "; nothing was written: the checkpoint \(path) and any saved model are left as they were"
                    : "; nothing was saved"
            } ?? "; nothing was saved"
            throw WorkflowError("\(name): \(diverged)\(kept). Lower the learning rate (--lr \(options.adam.learningRate)"
                + (tables.kind == .adam && tables.learningRate == nil ? "" : ", --table-lr \(rate)") + "), e.g. by 10x")
        } catch let error as WorkflowError {
            throw error
        } catch let error as CommunicatorError {
            throw WorkflowError("\(name): \(error); the last checkpoint" + (checkpointPath.map { " (\($0))" } ?? "") + " is left as it was")
        } catch {
            throw WorkflowError("\(name): \(error)")
        }
        if result.interrupted {
            let path = interruptedCheckpointPath
            do { try engine.gatherOptimizerState() } catch { throw WorkflowError("interrupted, and cannot gather the optimizer state: \(error)") }
            do { try Self.writeCheckpoint(run, to: path, ranks: ranks) } catch {
                throw WorkflowError("interrupted, and cannot write a checkpoint: \(error)")
            }
            return .interrupted(checkpoint: path, epoch: run.state.epoch, step: run.state.stepInEpoch)
        }
        let phases = executor.profile.entries
        // Every training step exchanges its losses once (scoring never does): the step count.
        let traffic = ranks.traffic, steps = ranks.traffic["losses"]?.calls ?? 0
        engine.model.copyParameters(from: result.model)
        ranks.whereabouts = "test evaluation"
        let test: EvaluationResult
        do { test = try evaluate(engine: engine, data: dataset, split: split, part: .test, executor: executor) } catch {
            throw WorkflowError("\(name): \(error)")
        }
        if split.testCount == 0 && options.heldOut != nil {
            note(String(format: "%@: best epoch %d of %d, validation AUC %.4f (no --test file, so no test figures)", name,
                        result.bestEpoch, result.epochsRun, result.history.first { $0.epoch == result.bestEpoch }?.validationAUC ?? .nan))
        } else if split.testCount == 0 {
            note("\(name): trained on every row for \(result.epochsRun) epochs (no test rows, so no test figures)")
        } else {
            note(String(format: "%@: best epoch %d of %d, test AUC %.4f", name, result.bestEpoch, result.epochsRun, test.auc))
        }
        var report = ModelReport(testAUC: test.auc, testLogLoss: test.logLoss, epochs: result.epochsRun,
                                 bestEpoch: result.bestEpoch, trainSeconds: result.trainSeconds,
                                 samplesPerSecond: result.samplesPerSecond, history: result.history, phases: phases)
        if !ranks.isSingle {
            report.traffic = traffic
            report.steps = steps
        }
        report.trained = result.model
        report.options = options
        report.config = model.config
        report.tablesStart = resumePath.map { "resumed from \($0)" } ?? tablesFrom ?? options.initialization.summary
        return .trained(report)
    }
}
