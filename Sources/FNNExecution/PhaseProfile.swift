import FNNSystem

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
