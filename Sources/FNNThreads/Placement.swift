import FNNSystem

/// Where a run's workers go: the policy every command uses (training, eval, predict, bench).
/// Pinned workers fill NUMA nodes one after another (`Topology.placement`), so a run on fewer
/// threads than CPUs keeps its tables and workspace on as few nodes as it can; more threads than
/// CPUs, or no readable topology, run unpinned. Ranks sharing a host (and its affinity mask,
/// as under `mpirun --bind-to none`) take consecutive shares of that placement by their local
/// rank, so no two ranks pin a worker to the same CPU (two busy-polling ranks on one CPU measured
/// 4 ms per exchange: a scheduler tick each).

extension WorkerPool {
    /// A pool of `threads` workers placed by the policy; `note` hears why a request was not
    /// followed exactly (oversubscribed, topology unknown, fewer threads started).
    public static func placed(threads: Int, pin: Bool, note: (String) -> Void) -> WorkerPool {
        let online = onlineCPUs
        if threads > online {
            // Under a launcher, a mask smaller than --threads is its binding, not the machine: say how to undo it.
            let fix = Launcher.current.map { "; " + $0.bindingAdvice(threads: threads) } ?? ""
            note("note: \(threads) threads on \(online) CPU\(online == 1 ? "" : "s") (this process's affinity mask): workers share CPUs and are left unpinned; the surplus sleeps until needed\(fix)")
        }
        let pool: WorkerPool
        let local = Launcher.localRanks
        if pin, local.count > 1, local.count * threads > online, threads <= online {
            note("note: \(local.count) ranks on this host with \(threads) thread\(threads == 1 ? "" : "s") each are more than the \(online) CPUs this rank may use; threads run unpinned (within the launcher's binding, if any)")
            pool = WorkerPool(threads: threads)
        } else if pin, threads <= online {
            let (topology, problem) = Topology.detect()
            if let topology {
                let all = topology.placement(workers: threads * local.count)
                pool = WorkerPool(threads: threads, cpus: Array(all[(local.index * threads)..<((local.index + 1) * threads)]))
            } else {
                note("note: \(problem ?? "NUMA topology unknown"); threads run unpinned")
                pool = WorkerPool(threads: threads)
            }
        } else {
            pool = WorkerPool(threads: threads)
        }
        if let quota = pool.cpuQuota, pool.activeWorkers < pool.workerCount {
            note("note: this process's CPU quota grants \(String(format: "%.3g", quota)) CPU\(quota == 1 ? "" : "s") (cgroup): \(pool.activeWorkers) of \(pool.workerCount) workers take part; more would wait for the quota's next period")
        }
        if pool.workerCount < threads {
            note("note: the system started only \(pool.workerCount) of \(threads) threads (a thread limit); training goes on with \(pool.workerCount)")
        }
        return pool
    }
}
