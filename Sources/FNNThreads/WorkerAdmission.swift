/// How many of a pool's workers take part in phases, decided from what the phases show. Results
/// never depend on it (a task's result depends on its index only), so the pool may change it
/// between any two phases.
///
/// Why: on a busy machine (another process on one of our CPUs, or a CPU quota) a worker is
/// descheduled for a scheduler slice (milliseconds) while it holds a claimed task, and every
/// phase barrier waits for it; stealing cannot help with the task it holds. Measured before this
/// existed, beside one busy-loop process on 2 CPUs: `--threads 2` ran at 0.66-0.77x of
/// `--threads 1`. Parking a worker gives its CPU to the intruder, which the scheduler then moves
/// there.
///
/// Stalls only raise the question; time answers it. A stall is a phase whose finish spread (the
/// time between the first and the last worker to run out of tasks) is far past a task's time:
/// with stealing the spread stays about one task on a quiet machine, and a descheduled worker
/// stretches it to a scheduler slice. A window (at least `windowSeconds` and `windowPhases`)
/// whose stalls pass `stallShare` of its wall time starts a trial with one worker fewer; the trial
/// keeps it only if its window runs faster per phase (by `fewerMargin`) than the stalled one (per
/// phase, as a step has the same phases whatever the count). A host
/// whose vCPUs stall now and then without a neighbour (hypervisor steal) fails such trials and
/// keeps its workers. Fewer workers than the ceiling are tried again one more at a time, kept
/// only when faster. Each failed trial or try doubles the wait before the next of its kind, so
/// on a steady machine they soon cost nothing measurable.
public struct WorkerAdmission: Sendable {
    public let workers: Int
    /// The most workers worth running: the workers, the CPUs and the quota's CPUs.
    public let ceiling: Int
    public private(set) var active: Int

    public static let windowSeconds = 0.02
    public static let windowPhases = 64
    public static let stallShare = 0.1
    /// A trial of fewer workers must run its phases this much faster to be kept; a try of more
    /// need only be faster at all. On a noisy host a stalled window can be slow for reasons of
    /// its own, and keeping too few workers costs more than keeping one too many.
    public static let fewerMargin = 0.1
    /// A spread counts as a stall past this many mean task times (and `minimumStall` seconds).
    public static let stallTasks = 4.0
    public static let minimumStall = 100e-6
    public static let firstBackoff = 16
    /// Trials of fewer workers start again sooner: they happen only while phases stall.
    public static let firstFewerBackoff = 4
    public static let longestBackoff = 1024

    private enum Mode: Sendable {
        case steady
        /// Fewer workers than `from`, against the seconds per phase of the stalled window before.
        case fewer(than: Double, from: Int)
        /// One worker more, against the seconds per phase with one fewer.
        case more(than: Double)
    }
    private var mode = Mode.steady
    private var windowWall = 0.0
    private var windowStall = 0.0
    private var windowPhaseCount = 0
    /// Windows to wait before the next trial of fewer workers, and before the next try of more.
    private var fewerBackoff = firstFewerBackoff
    private var fewerCountdown = 0
    private var moreBackoff = firstBackoff
    private var moreCountdown = firstBackoff

    /// - Parameters:
    ///   - cpus: CPUs the process may use (its affinity mask).
    ///   - grantedCPUs: the CPU quota in CPUs, if any.
    public init(workers: Int, cpus: Int, grantedCPUs: Double?) {
        precondition(workers >= 1 && cpus >= 1)
        self.workers = workers
        var ceiling = min(workers, cpus)
        if let grantedCPUs, grantedCPUs > 0 {
            ceiling = min(ceiling, max(1, Int((grantedCPUs - 1e-9).rounded(.up))))
        }
        self.ceiling = ceiling
        // More workers than CPUs start all active (as before: the pool wakes only enough to fill
        // the CPUs); a quota starts at what it grants.
        active = grantedCPUs == nil ? workers : ceiling
    }

    /// The stall a phase's finish spread counts as, given its tasks' mean time: the spread where
    /// it is far past a task's time, else 0.
    public static func stall(spread: Double, meanTask: Double) -> Double {
        spread > max(stallTasks * meanTask, minimumStall) ? spread : 0
    }

    /// Records one phase (stall 0 where one worker ran it); returns the new
    /// active count when it changes.
    public mutating func record(wall: Double, stall: Double) -> Int? {
        windowWall += wall
        windowStall += stall
        windowPhaseCount += 1
        guard windowWall >= Self.windowSeconds, windowPhaseCount >= Self.windowPhases else { return nil }
        return endWindow()
    }

    /// Takes `count` as the active count and starts a new window.
    public mutating func override(active count: Int) {
        precondition(count >= 1 && count <= workers)
        active = count
        mode = .steady
        clearWindow()
        moreCountdown = moreBackoff
    }

    private mutating func clearWindow() {
        windowWall = 0
        windowStall = 0
        windowPhaseCount = 0
    }

    private mutating func endWindow() -> Int? {
        // Per phase, not per task: the per-part phases have as many tasks as active workers,
        // while a step has the same phases whatever the count.
        let perPhase = windowWall / Double(windowPhaseCount)
        let stalled = windowStall > Self.stallShare * windowWall
        clearWindow()
        let before = active
        switch mode {
        case .fewer(let stalledPerPhase, let from):
            mode = .steady
            if perPhase < stalledPerPhase * (1 - Self.fewerMargin) {
                fewerBackoff = Self.firstFewerBackoff
                moreCountdown = moreBackoff
            } else {
                active = from
                fewerBackoff = min(fewerBackoff * 2, Self.longestBackoff)
                fewerCountdown = fewerBackoff
            }
        case .more(let fewerPerPhase):
            mode = .steady
            if perPhase < fewerPerPhase {
                moreBackoff = Self.firstBackoff
            } else {
                active -= 1
                moreBackoff = min(moreBackoff * 2, Self.longestBackoff)
            }
            moreCountdown = moreBackoff
        case .steady:
            fewerCountdown = max(fewerCountdown - 1, 0)
            if stalled && active > 1 && fewerCountdown <= 0 {
                // Past the CPUs extra workers only wait their turn: go straight below them.
                mode = .fewer(than: perPhase, from: active)
                active = active > ceiling ? max(1, ceiling - 1) : active - 1
            } else if active < ceiling {
                moreCountdown -= 1
                if moreCountdown <= 0 {
                    active += 1
                    mode = .more(than: perPhase)
                }
            }
        }
        return active == before ? nil : active
    }
}
