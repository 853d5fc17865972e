import FNNCore
import FNNExecution
import FNNSystem

/// One model's training state (parameters, optimizer, batch workspace) and its step.
public protocol TrainingEngine: AnyObject {
    var model: Model { get }
    /// The ranks this engine shares its steps and scoring with (one, in a single process).
    var ranks: RankExchange { get }
    /// Trains on one minibatch of `count` example ids; returns the batch's mean loss. Throws
    /// only when another rank fails or disagrees.
    func trainStep(examples: UnsafePointer<Int>, count: Int, epoch: Int, executor: PhaseExecutor) throws(CommunicatorError) -> Double
    /// The optimizer's state (moments, step counts) as named tensors, for checkpoints.
    func optimizerTensors() -> [String: SafeTensors.Tensor]
    /// Under several ranks, makes this rank's optimizer state whole (a rank keeps the dense Adam
    /// moments of its own columns current only): every rank calls it before rank 0 checkpoints.
    func gatherOptimizerState() throws(CommunicatorError)
    /// Restores what `optimizerTensors` saved.
    func restoreOptimizer(from file: SafeTensors, path: String) throws(ModelFileError)
    /// Applies every table row's pending catch-up (see `LazyRowAdam`); called at epoch ends.
    /// `epoch`: the epoch just trained (its learning rates apply to the catch-up).
    func synchronizeTables(epoch: Int, executor: PhaseExecutor)
    /// Makes the model's table tensors current with the rows training keeps in its own records
    /// (`RowRecords`), without settling catch-ups: before anything reads `model` mid-epoch
    /// (an interruption's checkpoint). `synchronizeTables` does it too.
    func publishTables(executor: PhaseExecutor)
    /// Where training keeps the table rows (`RowRecords`).
    var rowLayout: RowRecords.Layout { get }
    /// Bytes of the batch workspace (activations, gradient entries, per-slice gradients, row
    /// grouping, per-worker copies): what training needs beyond the model and optimizer state.
    var workspaceBytes: Int { get }
    /// Bytes of the optimizer's state (moments, per-row step records).
    var optimizerBytes: Int { get }
    /// Whether the optimizer's state has been allocated: an engine that only scores never
    /// allocates it (it is made at the first step or restore).
    var holdsOptimizerState: Bool { get }
    /// Evaluation-mode logits, in the order of `examples`.
    func logits(examples: [Int], executor: PhaseExecutor) throws(CommunicatorError) -> [Float]
}

