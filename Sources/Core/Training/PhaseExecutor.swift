/// Runs the tasks of one training phase and returns when all are done: the barrier between the
/// phases of a step. Core's engines describe a step as phases of independent tasks (one per batch
/// slice, or one per parameter partition); an executor decides which thread runs which task.
/// Results never depend on that choice, only on the task index.
public protocol PhaseExecutor: AnyObject {
    var workerCount: Int { get }
    func run(tasks: Int, _ body: (Int) -> Void)
}

/// Every task on the calling thread, in order.
public final class SerialExecutor: PhaseExecutor {
    public init() {}
    public var workerCount: Int { 1 }
    public func run(tasks: Int, _ body: (Int) -> Void) {
        for t in 0..<tasks { body(t) }
    }
}

/// Splits 0 ..< count into `parts` contiguous ranges whose boundaries are multiples of `alignment`,
/// so a SIMD loop's main body and tail cover the same elements whatever the number of parts.
public func partition(_ count: Int, parts: Int, alignment: Int = 64) -> [Range<Int>] {
    let blocks = (count + alignment - 1) / alignment
    let parts = max(1, parts)
    return (0..<parts).map { p in
        let lo = min(count, blocks * p / parts * alignment)
        let hi = min(count, blocks * (p + 1) / parts * alignment)
        return lo..<hi
    }
}
