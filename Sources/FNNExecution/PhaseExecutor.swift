import FNNSystem

/// What a phase of a training step does, for the per-phase time breakdown.
public enum Phase: Int, CaseIterable, Sendable, Codable {
    /// Batch preparation on the calling thread alone (table rows, row grouping).
    case prepare
    case forward
    case backward
    /// Dense gradient reduction across slices and the dense Adam step.
    case denseUpdate
    /// Lazy (or dense) table row updates.
    case sparseUpdate
    /// Evaluation-mode forward passes.
    case evaluate

    public var name: String {
        switch self {
        case .prepare: return "prepare"
        case .forward: return "forward"
        case .backward: return "backward"
        case .denseUpdate: return "dense_update"
        case .sparseUpdate: return "sparse_update"
        case .evaluate: return "evaluate"
        }
    }
}

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

/// Time per phase: wall time, and the sum over workers of time spent running tasks. Waiting is the
/// rest: wall * workers - busy, i.e. what the barriers cost.
public final class PhaseProfile: @unchecked Sendable {
    public let workers: Int
    /// Per phase: wall seconds and calls (written by the calling thread), and busy seconds per
    /// worker, each worker writing only its own slots, a cache line each (workers write at once).
    private var wall: [Double]
    private let busySlots: PerWorkerSlots<Double>
    private let busy: PerWorkerSlots<Double>.View
    private var calls: [Int]

    public init(workers: Int) {
        self.workers = workers
        wall = Array(repeating: 0, count: Phase.allCases.count)
        busySlots = PerWorkerSlots(count: Phase.allCases.count * workers)
        busy = busySlots.view
        calls = Array(repeating: 0, count: Phase.allCases.count)
    }

    @inline(__always) public static func now() -> Double { monotonicSeconds() }

    public func addWall(_ phase: Phase, _ seconds: Double) {
        wall[phase.rawValue] += seconds
        calls[phase.rawValue] += 1
    }

    /// Called by worker `worker` only, for its own slot.
    public func addBusy(_ phase: Phase, worker: Int, _ seconds: Double) {
        busy[worker * Phase.allCases.count + phase.rawValue] += seconds
    }

    public func reset() {
        for i in wall.indices { wall[i] = 0; calls[i] = 0 }
        for i in 0..<busy.count { busy[i] = 0 }
    }

    public struct Entry: Sendable, Codable, Equatable {
        public var phase: String
        public var calls: Int
        public var wallSeconds: Double
        /// Summed over workers.
        public var busySeconds: Double
        /// Summed over workers: wall * workers - busy.
        public var waitSeconds: Double
    }

    public var entries: [Entry] {
        Phase.allCases.map { p in
            let b = (0..<workers).reduce(0.0) { $0 + busy[$1 * Phase.allCases.count + p.rawValue] }
            return Entry(phase: p.name, calls: calls[p.rawValue], wallSeconds: wall[p.rawValue], busySeconds: b,
                         waitSeconds: max(0, wall[p.rawValue] * Double(workers) - b))
        }
    }
}

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
