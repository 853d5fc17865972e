import CThreadSupport
import FNNExecution
import FNNSystem
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads that run the phases of training steps.
///
/// The calling thread is worker 0, so `--threads N` starts N - 1 threads, each for the whole run.
/// A phase's tasks are cut into one contiguous block per worker (the same slices every step, so
/// their buffers stay in that worker's cache and on its NUMA node). A worker claims tasks from its
/// own block first, then from the others' (one compare-and-swap per task), so a worker the OS has
/// not scheduled yet never holds up the phase: with more threads than CPUs the running threads do
/// the work and the rest can keep sleeping. The phase ends when all its tasks are done.
///
/// Waiting spins briefly, then sleeps on a futex; no mutex anywhere. With more threads than CPUs
/// only as many workers spin between phases as there are other CPUs; the rest sleep, and a phase
/// wakes just enough of them to fill the CPUs, so the threads never crowd out the ones doing the
/// work.
///
/// On a busy machine a worker descheduled while it holds a task makes every phase wait for it;
/// `WorkerAdmission` watches each phase's finish spread and parks workers (they sleep on their
/// own futex word and take no blocks) until a later try shows the load has gone. A CPU quota
/// (cgroup `cpu.max`) caps the active workers from the start. Which workers run never changes a
/// result.
public final class WorkerPool: PhaseExecutor, @unchecked Sendable {
    /// Workers actually running (fewer than requested only if the system refused to start threads).
    public private(set) var workerCount: Int
    /// The workers that can run at once: the active ones, at most one per CPU. It follows the
    /// admission, so a step on a busy machine cuts its per-part scans into fewer parts.
    public var concurrency: Int { min(admission.active, cpuCount) }
    /// Worker w's CPU, where it is pinned; nil where it runs unpinned.
    public let placement: [Int?]
    public let profile: PhaseProfile
    /// The CPUs the process's CPU quota grants, if it has one.
    public let cpuQuota: Double?
    /// Bumped to publish a phase; workers sleep on it.
    private let generation: FutexWord
    /// Tasks of the current phase finished; the caller sleeps on it.
    private let completed: FutexWord
    private let sleepers: FutexWord
    private let spinners: FutexWord
    private let ownerSleeping: FutexWord
    /// Bumped whenever the active count changes; parked workers sleep on it.
    private let activation: FutexWord
    /// Workers 0 ..< activeLimit take blocks; the others are parked (read by the workers).
    private let activeLimit: FutexWord
    private var admission: WorkerAdmission
    /// Per worker: when it last ran out of tasks, in which phase, and its tasks' time.
    private let stampSlots: PerWorkerSlots<FinishStamp>
    /// The memory of the futex words and of the per-worker claim blocks, a cache line each.
    private let wordSlots: PerWorkerSlots<UInt32>
    private let blockSlots: PerWorkerSlots<UInt64>
    private let blocks: [TaskBlock]
    private var job: ((Int, Int) -> Void)?
    private var phase = Phase.forward
    /// When set, each worker runs only its own block (one task per worker).
    private var exclusive = false
    private var currentGeneration: UInt32 = 0
    private var stopping = false
    private let oversubscribed: Bool
    private let cpuCount: Int
    private let spinLimit: Int
    private var threads: [pthread_t] = []

    /// - Parameters:
    ///   - threads: total workers, the caller included.
    ///   - cpus: the CPU of each worker (see `Topology.placement`), or nil to leave threads
    ///     unpinned. The calling thread is pinned to cpus[0].
    ///   - cpuQuota: the CPUs a quota grants (nil: none); read from the process's cgroup.
    public init(threads: Int, cpus: [Int]? = nil, cpuQuota: Double? = CPUQuota.granted()) {
        precondition(threads >= 1)
        workerCount = threads
        profile = PhaseProfile(workers: threads)
        wordSlots = PerWorkerSlots(count: 7)
        let words = FutexWord.words(in: wordSlots)
        generation = words[0]; completed = words[1]; sleepers = words[2]; ownerSleeping = words[3]
        spinners = words[4]; activation = words[5]; activeLimit = words[6]
        stampSlots = PerWorkerSlots(count: threads)
        blockSlots = PerWorkerSlots(count: threads)
        blocks = (0..<threads).map { [blockSlots] in TaskBlock(address: blockSlots.slot($0)) }
        // Oversubscribed, a spinning waiter steals the CPU of the thread it waits for.
        cpuCount = Self.onlineCPUs
        oversubscribed = threads > cpuCount
        spinLimit = 20_000
        self.cpuQuota = cpuQuota
        admission = WorkerAdmission(workers: threads, cpus: cpuCount, grantedCPUs: cpuQuota)
        var pinned: [Int?] = Array(repeating: nil, count: threads)
        if let cpus, !cpus.isEmpty {
            for w in 0..<threads { pinned[w] = cpus[w % cpus.count] }
        }
        placement = pinned
        applyCallerAffinity()
        // Before any thread starts: a worker that read 0 here would park until the next change.
        activeLimit.store(UInt32(admission.active))
        for w in 1..<threads {
            let context = Unmanaged.passRetained(WorkerStart(pool: self, index: w))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(start.index)
                return nil
            }, context.toOpaque())
            if rc != 0 {
                // The system refused (a thread or process limit): run with the workers we have.
                context.release()
                workerCount = w
                break
            }
            self.threads.append(thread)
        }
        if workerCount < threads {
            admission = WorkerAdmission(workers: workerCount, cpus: cpuCount, grantedCPUs: cpuQuota)
            setActive(admission.active)
        }
    }

    /// Workers taking part in phases now (the rest parked by `WorkerAdmission`).
    public var activeWorkers: Int { Int(activeLimit.value) }
    /// How often the active count changed, and its lowest value, since the pool started.
    public private(set) var activeChanges = 0
    public private(set) var fewestActive = Int.max

    /// What the run reports of the parking, nil where the pool never changed its active workers.
    public var parkingSummary: String? {
        guard activeChanges > 0 else { return nil }
        return "workers held up phases (a busy machine or a CPU quota): as few as \(fewestActive) of \(workerCount) "
            + "ran at times, \(activeWorkers) at the end, after \(activeChanges) changes; the model is the same for any number"
    }

    /// Sets the active workers to `count` (1 ... workerCount) from the next phase on; the pool's
    /// own admission goes on deciding from there. Results do not change (tests prove it by
    /// changing the count while training).
    public func setActiveWorkers(_ count: Int) {
        precondition(count >= 1 && count <= workerCount)
        admission.override(active: count)
        setActive(count)
    }

    /// The pool whose placement the calling thread has now; several pools in one process (the
    /// benchmark's) each re-apply theirs when they start running phases.
    nonisolated(unsafe) private static var callerAffinityOwner: ObjectIdentifier?

    /// Pins the calling thread as worker 0, or, for an unpinned pool, undoes any pin an earlier
    /// pool left on it (threads started later inherit the caller's mask).
    private func applyCallerAffinity() {
        if let cpu = placement[0] {
            CPU.pinCurrentThread(to: cpu)
        } else if let topology = Topology.detect().topology {
            CPU.allowCurrentThread(on: topology.nodes.flatMap { $0 })
        }
        Self.callerAffinityOwner = ObjectIdentifier(self)
    }

    /// The CPUs this process may use: its affinity mask (taskset, container cpusets), read once
    /// before any pool pins the calling thread; the online count where the mask is unavailable.
    public static let onlineCPUs: Int = {
        let allowed = Int(fnnpar_allowed_cpu_count())
        return allowed > 0 ? allowed : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    deinit {
        stopping = true
        activation.add(1)
        activation.wakeAll()
        generation.add(1)
        generation.wakeAll()
        for t in threads { pthread_join(t, nil) }
    }

    public func run(_ phase: Phase, tasks: Int, _ body: (Int, Int) -> Void) {
        dispatch(phase, tasks: tasks, exclusive: false, body)
    }

    public func runOnEachWorker(_ phase: Phase, _ body: (Int) -> Void) {
        dispatch(phase, tasks: workerCount, exclusive: true) { _, w in body(w) }
    }

    private func dispatch(_ phase: Phase, tasks: Int, exclusive: Bool, _ body: (Int, Int) -> Void) {
        guard tasks > 0 else { return }
        precondition(tasks < TaskBlock.maxTasks)
        if Self.callerAffinityOwner != ObjectIdentifier(self) { applyCallerAffinity() }
        let start = PhaseProfile.now()
        let active = exclusive ? workerCount : admission.active
        if active == 1 && (!exclusive || workerCount == 1) {
            for t in 0..<tasks { body(t, 0) }
            let wall = PhaseProfile.now() - start
            profile.addBusy(phase, worker: 0, wall)
            profile.addWall(phase, wall)
            if workerCount > 1, let changed = admission.record(wall: wall, stall: 0) { setActive(changed) }
            return
        }
        if exclusive && admission.active < workerCount {
            // Every worker must run its own block: wake the parked ones for this phase.
            activeLimit.store(UInt32(workerCount))
            activation.add(1)
            activation.wakeAll()
        }
        var stall = 0.0
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            self.phase = phase
            self.exclusive = exclusive
            completed.store(0)
            currentGeneration &+= 1
            let g = currentGeneration
            for w in 0..<workerCount {
                blocks[w].publish(generation: g, range: w < active ? (tasks * w / active)..<(tasks * (w + 1) / active) : 0..<0)
            }
            generation.store(g)
            let asleep = Int(sleepers.value)
            if asleep > 0 {
                if oversubscribed && !exclusive {
                    // Enough workers to fill the other CPUs; more only add context switches.
                    let wanted = cpuCount - 1 - Int(spinners.value)
                    if wanted > 0 { generation.wake(min(asleep, wanted)) }
                } else {
                    generation.wakeAll()
                }
            }
            work(worker: 0, generation: g)
            waitForCompletion(of: UInt32(tasks))
            job = nil
            if !exclusive { stall = finishStall(generation: g, tasks: tasks) }
        }
        let wall = PhaseProfile.now() - start
        profile.addWall(phase, wall)
        if exclusive {
            if admission.active < workerCount { activeLimit.store(UInt32(admission.active)) }
        } else if let changed = admission.record(wall: wall, stall: stall) {
            setActive(changed)
        }
    }

    /// The phase's finish spread, when it is long enough to be a stall (see `WorkerAdmission`).
    private func finishStall(generation g: UInt32, tasks: Int) -> Double {
        var first = Double.infinity, last = -Double.infinity, busy = 0.0
        var finishers = 0
        for w in 0..<workerCount {
            let stamp = stampSlots[w]
            guard stamp.generation == g else { continue }
            first = min(first, stamp.finished)
            last = max(last, stamp.finished)
            busy += stamp.busy
            finishers += 1
        }
        guard finishers > 1 else { return 0 }
        return WorkerAdmission.stall(spread: last - first, meanTask: busy / Double(tasks))
    }

    /// Parks or wakes workers so that `count` take part from the next phase on.
    private func setActive(_ count: Int) {
        activeChanges += 1
        fewestActive = min(fewestActive, count)
        activeLimit.store(UInt32(count))
        activation.add(1)
        activation.wakeAll()
    }

    public func serial(_ phase: Phase, _ body: () -> Void) {
        let start = PhaseProfile.now()
        body()
        let seconds = PhaseProfile.now() - start
        profile.addWall(phase, seconds)
        profile.addBusy(phase, worker: 0, seconds)
    }

    private func waitForCompletion(of tasks: UInt32) {
        var spins = 0
        while true {
            let done = completed.value
            if done == tasks { return }
            if spins < spinLimit { spins += 1; CPU.relax(); continue }
            ownerSleeping.store(1)
            let again = completed.value
            if again != tasks { completed.wait(whileEqualTo: again) }
            ownerSleeping.store(0)
        }
    }

    /// Claims and runs tasks of phase `generation`: own block first, then the others' in turn.
    private func work(worker: Int, generation g: UInt32) {
        let start = PhaseProfile.now()
        var ran: UInt32 = 0
        for k in 0..<(exclusive ? 1 : workerCount) {
            let block = blocks[(worker + k) % workerCount]
            while let task = block.claim(generation: g) {
                runTask(task, worker: worker)
                ran += 1
            }
        }
        guard ran > 0 else { return }
        // The phase (and so `phase` and `job`) cannot end before this worker's tasks are counted.
        let finished = PhaseProfile.now()
        profile.addBusy(phase, worker: worker, finished - start)
        // Written before the count that ends the phase, so the caller reads this phase's stamp.
        stampSlots.slot(worker).pointee = FinishStamp(generation: g, finished: finished, busy: finished - start)
        completed.add(ran)
        if ownerSleeping.value != 0 { completed.wakeAll() }
    }

    /// Kept out of line so the reference to `job` is released before the task is counted done.
    @inline(never)
    private func runTask(_ task: Int, worker: Int) {
        guard let job else { return }
        job(task, worker)
    }

    fileprivate func workerLoop(_ index: Int) {
        if let cpu = placement[index] { CPU.pinCurrentThread(to: cpu) }
        var seen: UInt32 = 0
        while true {
            // Parked: sleep on the activation word (read before the check, so a change between
            // the check and the wait ends the wait at once).
            while true {
                let epoch = activation.value
                if stopping { return }
                if index < Int(activeLimit.value) { break }
                activation.wait(whileEqualTo: epoch)
            }
            var spins = 0
            var spinning = false
            if oversubscribed {
                spinning = Int(spinners.add(1)) <= cpuCount - 1
                if !spinning { spinners.subtract(1) }
            }
            while generation.value == seen {
                if spins < spinLimit && (spinning || !oversubscribed) { spins += 1; CPU.relax(); continue }
                if spinning { spinners.subtract(1); spinning = false }
                sleepers.add(1)
                if generation.value == seen { generation.wait(whileEqualTo: seen) }
                sleepers.subtract(1)
            }
            if spinning { spinners.subtract(1) }
            seen = generation.value
            if stopping { return }
            work(worker: index, generation: seen)
        }
    }
}

/// When a worker ran out of tasks in phase `generation`, and how long its tasks took.
private struct FinishStamp: BitwiseCopyable {
    var generation: UInt32 = 0
    var finished: Double = 0
    var busy: Double = 0
}

/// What a new thread needs; `unowned(unsafe)` because the pool outlives its threads (deinit joins
/// them) and a strong reference would keep the pool alive forever.
private final class WorkerStart {
    unowned(unsafe) let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}
