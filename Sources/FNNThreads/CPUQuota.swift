import FNNSystem

/// The CPU time a container's quota grants, in CPUs: a quota of 2 CPUs on a 16-CPU affinity mask
/// lets 16 threads run only 2/16 of each period, then throttles every one of them until the next,
/// so a step's barrier waits a whole period for the last worker. The pool starts with no more
/// active workers than the quota grants (rounded up). Read from cgroup v2's `cpu.max` or v1's
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us`, along the process's cgroup path up to the root
/// (the tightest quota wins, as the kernel enforces every level).
public enum CPUQuota {
    /// CPUs granted (quota / period), or nil where no quota is set or none can be read.
    public static func granted(root: String = "/sys/fs/cgroup", cgroupFile: String = "/proc/self/cgroup") -> Double? {
        guard let membership = try? readFileBytes(cgroupFile, limit: 1 << 16) else { return nil }
        var tightest: Double?
        for (directory, kind) in controllerDirectories(cgroupLines: String(decoding: membership, as: UTF8.self), root: root) {
            for level in ancestors(of: directory, below: kind.mount) {
                let quota: Double?
                switch kind.version {
                case .v2: quota = (try? readFileBytes(level + "/cpu.max", limit: 256)).flatMap { parseCPUMax(String(decoding: $0, as: UTF8.self)) }
                case .v1:
                    let q = try? readFileBytes(level + "/cpu.cfs_quota_us", limit: 64)
                    let p = try? readFileBytes(level + "/cpu.cfs_period_us", limit: 64)
                    quota = q.flatMap { q in p.flatMap { p in parseCFS(quota: String(decoding: q, as: UTF8.self), period: String(decoding: p, as: UTF8.self)) } }
                }
                if let quota { tightest = min(tightest ?? quota, quota) }
            }
        }
        return tightest
    }

    public enum Version: Sendable { case v1, v2 }

    /// The cgroup directories whose CPU quota applies, from /proc/self/cgroup's lines
    /// (`0::/path` for v2, `N:cpu,cpuacct:/path` for v1's cpu controller).
    public static func controllerDirectories(cgroupLines: String, root: String) -> [(String, (version: Version, mount: String))] {
        var found: [(String, (version: Version, mount: String))] = []
        for line in cgroupLines.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = parts[2] == "/" ? "" : String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                found.append((root + path, (.v2, root)))
            } else if parts[1].split(separator: ",").contains("cpu") {
                // v1 mounts the controller at cpu (often a link to cpu,cpuacct).
                found.append((root + "/cpu" + path, (.v1, root + "/cpu")))
            }
        }
        return found
    }

    /// `directory` and each parent up to and including `mount`.
    public static func ancestors(of directory: String, below mount: String) -> [String] {
        var levels = [directory]
        var current = directory
        while current.count > mount.count, let slash = current.lastIndex(of: "/") {
            current = String(current[..<slash])
            if current.count < mount.count { break }
            levels.append(current)
        }
        return levels
    }

    /// cgroup v2 `cpu.max`: "QUOTA PERIOD" in microseconds, or "max PERIOD" for none.
    public static func parseCPUMax(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, fields[0] != "max", let quota = Double(fields[0]), let period = Double(fields[1]),
              quota > 0, period > 0 else { return nil }
        return quota / period
    }

    /// cgroup v1: a quota of -1 means none.
    public static func parseCFS(quota: String, period: String) -> Double? {
        func number(_ text: String) -> Double? { text.split(whereSeparator: \.isWhitespace).first.flatMap { Double($0) } }
        guard let q = number(quota), let p = number(period), q > 0, p > 0 else { return nil }
        return q / p
    }
}
