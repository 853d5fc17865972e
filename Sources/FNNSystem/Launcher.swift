/// Which process launcher started this run, read from the environment each sets for its ranks:
/// an affinity mask too small for the requested threads is then most likely the launcher's
/// binding, and the advice names its fix.
public enum Launcher: Sendable, Equatable {
    case openMPI, slurm, otherMPI

    /// The launcher of this process, or nil when run directly.
    public static var current: Launcher? {
        if environment("OMPI_COMM_WORLD_SIZE") != nil { return .openMPI }
        if environment("SLURM_STEP_ID") != nil || environment("SLURM_PROCID") != nil { return .slurm }
        if environment("PMI_RANK") != nil || environment("PMI_SIZE") != nil { return .otherMPI }
        return nil
    }

    /// This process's index among the ranks on its host, and their number (1 and 0 run directly):
    /// ranks that share a host must pin their workers to different CPUs.
    public static var localRanks: (index: Int, count: Int) {
        let pairs = [("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"), ("SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"),
                     ("MPI_LOCALRANKID", "MPI_LOCALNRANKS")]
        for (index, count) in pairs {
            if let i = environment(index).flatMap({ Int($0) }), let n = environment(count).flatMap({ Int($0) }), n >= 1, i >= 0, i < n {
                return (i, n)
            }
        }
        return (0, 1)
    }

    /// The number of processes the launcher started (1 run directly), read without initialising MPI.
    public static var worldSize: Int {
        for name in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"] {
            if let n = environment(name).flatMap({ Int($0) }), n >= 1 { return n }
        }
        return 1
    }

    /// This process's rank among all the launcher started (0 run directly), read without
    /// initialising MPI.
    public static var worldRank: Int {
        for name in ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let r = environment(name).flatMap({ Int($0) }), r >= 0 { return r }
        }
        return 0
    }

    /// How to give each rank `threads` CPUs.
    public func bindingAdvice(threads: Int) -> String {
        switch self {
        case .openMPI:
            return "mpirun binds each rank to one core when np <= 2 (to a socket above): run with `mpirun --bind-to none ...`, or `mpirun --map-by ppr:1:node:PE=\(threads) ...` to give each rank \(threads) cores"
        case .slurm:
            return "give each task \(threads) CPUs: `srun --cpus-per-task=\(threads) ...` (or `#SBATCH --cpus-per-task=\(threads)`)"
        case .otherMPI:
            return "the MPI launcher bound this rank to fewer CPUs than --threads; ask it to bind each rank to \(threads) cores, or not to bind"
        }
    }
}
