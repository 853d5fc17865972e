import FNNSystem

/// Runs the tasks of one training phase and returns when all are done: the barrier between the
/// phases of a step. Core's engines describe a step as phases of independent tasks (one per batch
/// slice, or one per parameter partition); an executor decides which worker runs which task.
/// Results never depend on that choice, only on the task index; the worker index is given so a
/// task can use that worker's own buffers (its replica of the dense parameters).
public protocol PhaseExecutor: AnyObject {
    var workerCount: Int { get }
    /// How many workers can run at once: the worker count, or fewer when they outnumber the
    /// CPUs. Work whose total grows with the number of parts (each part scans the whole batch)
    /// is cut into this many.
    var concurrency: Int { get }
    func run(_ phase: Phase, tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void)
    /// Work done by the calling thread alone while the other workers wait.
    func serial(_ phase: Phase, _ body: () -> Void)
    /// Runs `body(w)` on worker w itself, for every worker (no stealing): for work that must
    /// happen on a particular thread, such as first-touching that worker's own buffers.
    func runOnEachWorker(_ phase: Phase, _ body: (_ worker: Int) -> Void)
    var profile: PhaseProfile { get }
}
