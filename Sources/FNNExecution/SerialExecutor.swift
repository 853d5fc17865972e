import FNNSystem

/// Every task on the calling thread, in order.
extension PhaseExecutor {
    public var concurrency: Int { workerCount }
}

public final class SerialExecutor: PhaseExecutor {
    public let profile = PhaseProfile(workers: 1)
    public init() {}
    public var workerCount: Int { 1 }
    public func run(_ phase: Phase, tasks: Int, _ body: (Int, Int) -> Void) {
        let start = PhaseProfile.now()
        for t in 0..<tasks { body(t, 0) }
        let seconds = PhaseProfile.now() - start
        profile.addWall(phase, seconds)
        profile.addBusy(phase, worker: 0, seconds)
    }

    public func serial(_ phase: Phase, _ body: () -> Void) {
        run(phase, tasks: 1) { _, _ in body() }
    }

    public func runOnEachWorker(_ phase: Phase, _ body: (Int) -> Void) {
        run(phase, tasks: 1) { _, w in body(w) }
    }
}
