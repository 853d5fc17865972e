import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// Threads and their placement: every command that trains or evaluates.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (the calling thread included); more than the CPU count is allowed. Default: every CPU this process may run on (its affinity mask: taskset, cpusets). The model is the same for any count.")
    var threads: Int?
    @Flag(inversion: .prefixedNo, help: "Pin each worker thread to a CPU, filling NUMA nodes one after another.")
    var pin = true
    @Option(help: ArgumentHelp("Under mpirun or srun: end every rank when one exchange between ranks has waited this long (a hung rank would otherwise hold the others forever); 0 waits forever.", valueName: "seconds"))
    var rankTimeout: Double = 900

    func validate() throws {
        if let threads { guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be between 1 and 1024") } }
        guard rankTimeout >= 0, rankTimeout.isFinite else { throw ValidationError("--rank-timeout must be 0 (wait forever) or a number of seconds") }
    }

    /// The worker count: as given, or one per CPU the process may use.
    var workerThreads: Int { threads ?? min(WorkerPool.onlineCPUs, 1024) }

    func makeExecutor(log: Log) -> PhaseExecutor {
        BLAS.useSingleThread()
        return WorkerPool.placed(threads: workerThreads, pin: pin, note: log.say)
    }
}
