import Core
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads that run the phases of training steps.
///
/// The calling thread is worker 0, so `--threads N` starts N - 1 threads, each for the whole run.
/// A phase is published by bumping a generation counter; each worker runs a fixed, contiguous
/// block of the phase's tasks (the same slices every step, so their buffers stay in its cache and
/// on its NUMA node) and counts itself done. Waiting spins briefly, then sleeps on a futex, so
/// more threads than CPUs degrade gracefully instead of burning the CPUs the others need.
public final class WorkerPool: PhaseExecutor, @unchecked Sendable {
    public let workerCount: Int
    /// Worker w's CPU, where placement pinned it; nil where it runs unpinned.
    public let placement: [Int?]
    private let generation: FutexWord
    private let finished: FutexWord
    private let sleepers: FutexWord
    private let ownerSleeping: FutexWord
    private let words: [FutexWord]
    private var job: ((Int) -> Void)?
    private var taskCount = 0
    private var stopping = false
    private let spinLimit: Int
    private var threads: [pthread_t] = []

    /// - Parameters:
    ///   - threads: total workers, the caller included.
    ///   - cpus: the CPU of each worker (from `Placement`), or nil to leave threads unpinned.
    public init(threads: Int, cpus: [Int]? = nil) {
        precondition(threads >= 1)
        workerCount = threads
        words = FutexWord.allocate(count: 4)
        generation = words[0]; finished = words[1]; sleepers = words[2]; ownerSleeping = words[3]
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        // Oversubscribed, a spinning waiter steals the CPU of the thread it waits for.
        spinLimit = threads > online ? 64 : 20_000
        var pinned: [Int?] = Array(repeating: nil, count: threads)
        if let cpus, !cpus.isEmpty {
            for w in 0..<threads { pinned[w] = cpus[w % cpus.count] }
        }
        placement = pinned
        if let cpu = pinned[0] { CPU.pinCurrentThread(to: cpu) }
        for w in 1..<threads {
            let context = Unmanaged.passRetained(WorkerStart(pool: self, index: w))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(start.index)
                return nil
            }, context.toOpaque())
            precondition(rc == 0, "cannot start worker thread: error \(rc)")
            self.threads.append(thread)
        }
    }

    deinit {
        stopping = true
        generation.add(1)
        generation.wakeAll()
        for t in threads { pthread_join(t, nil) }
        FutexWord.deallocate(words)
    }

    public func run(tasks: Int, _ body: (Int) -> Void) {
        guard tasks > 0 else { return }
        if workerCount == 1 {
            for t in 0..<tasks { body(t) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            taskCount = tasks
            finished.store(0)
            generation.add(1)
            if sleepers.value > 0 { generation.wakeAll() }
            runShare(of: 0)
            waitForWorkers()
            job = nil
        }
    }

    private func waitForWorkers() {
        let target = UInt32(workerCount - 1)
        var spins = 0
        while true {
            let done = finished.value
            if done == target { return }
            if spins < spinLimit { spins += 1; CPU.relax(); continue }
            ownerSleeping.store(1)
            let again = finished.value
            if again != target { finished.wait(whileEqualTo: again) }
            ownerSleeping.store(0)
        }
    }

    @inline(never)
    private func runShare(of worker: Int) {
        guard let job else { return }
        let n = taskCount
        let lo = n * worker / workerCount, hi = n * (worker + 1) / workerCount
        for t in lo..<hi { job(t) }
    }

    fileprivate func workerLoop(_ index: Int) {
        if let cpu = placement[index] { CPU.pinCurrentThread(to: cpu) }
        // Generation 0 is the pool's initial state; a thread that starts late must still run the
        // first phase, which may already have been published.
        var seen: UInt32 = 0
        while true {
            var spins = 0
            while generation.value == seen {
                if spins < spinLimit { spins += 1; CPU.relax(); continue }
                sleepers.add(1)
                if generation.value == seen { generation.wait(whileEqualTo: seen) }
                sleepers.subtract(1)
            }
            seen = generation.value
            if stopping { return }
            runShare(of: index)
            let done = finished.add(1)
            if done == UInt32(workerCount - 1) && ownerSleeping.value != 0 { finished.wakeAll() }
        }
    }
}

/// What a new thread needs; `unowned(unsafe)` because the pool outlives its threads (deinit joins
/// them) and a strong reference would keep the pool alive forever.
private final class WorkerStart {
    unowned(unsafe) let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}
