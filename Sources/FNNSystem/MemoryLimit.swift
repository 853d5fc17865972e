#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How much memory this process may really use: the least of the machine's physical memory, its
/// cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`: containers, systemd, Slurm) and
/// its address-space and data rlimits (`ulimit -v`, `ulimit -d`). Comparing a plan with the
/// physical memory alone promises what a container's OOM killer then takes away. Ranks on one
/// host get an equal share of the machine's and the cgroup's memory.
public struct MemoryLimit: Sendable {
    public let bytes: Int
    /// What sets it, for messages.
    public let source: String

    public static func current() -> MemoryLimit {
        var candidates: [(Int, String)] = []
        let physical = Double(physicalMemoryBytes)
        if physical > 0 { candidates.append((Int(min(physical, 9e18)), "the machine's memory")) }
        for (file, name) in [("/sys/fs/cgroup/memory.max", "the cgroup's memory.max"),
                             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "the cgroup's memory limit")] {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               value > 0, value < 1 << 60 {
                candidates.append((value, name))
            }
        }
        // Ranks started on one host (mpirun, srun) share its memory and its cgroup: each may
        // plan for its share only (rlimits, below, are per process already).
        let ranksHere = Launcher.localRanks.count
        if ranksHere > 1 {
            candidates = candidates.map { ($0.0 / ranksHere, "\($0.1) shared by \(ranksHere) ranks on this host") }
        }
        for (resource, name) in [(RLIMIT_AS, "ulimit -v"), (RLIMIT_DATA, "ulimit -d")] {
            var limit = rlimit()
            if getrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0, limit.rlim_cur < 1 << 60 {  // RLIM_INFINITY is all ones
                candidates.append((Int(limit.rlim_cur), name))
            }
        }
        let least = candidates.min { $0.0 < $1.0 } ?? (Int.max, "nothing")
        return MemoryLimit(bytes: least.0, source: least.1)
    }
}
