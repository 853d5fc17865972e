import CNuma

/// libnuma's topology calls, each wrapped once.
enum LibNUMA {
    /// libnuma's own check; every other call is undefined when this is false.
    static var isAvailable: Bool { numa_available() >= 0 }

    static var highestNode: Int { Int(numa_max_node()) }

    static var possibleCPUs: Int { Int(numa_num_possible_cpus()) }

    /// CPUs of `node`, in increasing order.
    static func cpus(ofNode node: Int) -> [Int] {
        guard let mask = numa_allocate_cpumask() else { return [] }
        defer { numa_bitmask_free(mask) }
        guard numa_node_to_cpus(Int32(node), mask) == 0 else { return [] }
        return (0..<possibleCPUs).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
    }

    /// The CPUs this process may run on (its affinity mask, e.g. from taskset or a cpuset).
    static func allowedCPUs() -> Set<Int> {
        guard let mask = numa_allocate_cpumask() else { return [] }
        defer { numa_bitmask_free(mask) }
        guard numa_sched_getaffinity(0, mask) >= 0 else { return Set(0..<possibleCPUs) }
        return Set((0..<possibleCPUs).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 })
    }
}

/// Which CPUs the workers may use, grouped by NUMA node.
public struct Topology: Sendable, Equatable, CustomStringConvertible {
    /// Usable CPUs of each node that has any, nodes in increasing order.
    public let nodes: [[Int]]

    public init(nodes: [[Int]]) { self.nodes = nodes.filter { !$0.isEmpty } }

    /// A made-up machine: `nodes` nodes of `cpusPerNode` consecutive CPUs each, for planning and
    /// tests of multi-node placement on a one-node machine.
    public static func uniform(nodes: Int, cpusPerNode: Int) -> Topology {
        Topology(nodes: (0..<nodes).map { n in Array((n * cpusPerNode)..<((n + 1) * cpusPerNode)) })
    }

    /// The machine's topology from libnuma, or nil with the reason where libnuma says NUMA is
    /// unavailable (no kernel support, a container without the syscalls). Read once per process,
    /// on first use, before any pool pins the calling thread (whose affinity mask it reflects).
    public static func detect() -> (topology: Topology?, problem: String?) { detected }

    private static let detected: (topology: Topology?, problem: String?) = readFromLibNUMA()

    private static func readFromLibNUMA() -> (topology: Topology?, problem: String?) {
        guard LibNUMA.isAvailable else {
            return (nil, "NUMA is not available here (libnuma: numa_available() < 0)")
        }
        let allowed = LibNUMA.allowedCPUs()
        var nodes: [[Int]] = []
        for node in 0...max(0, LibNUMA.highestNode) {
            nodes.append(LibNUMA.cpus(ofNode: node).filter { allowed.contains($0) })
        }
        let topology = Topology(nodes: nodes)
        guard topology.cpuCount > 0 else { return (nil, "libnuma reports no usable CPUs") }
        return (topology, nil)
    }

    public var cpuCount: Int { nodes.reduce(0) { $0 + $1.count } }

    public func node(ofCPU cpu: Int) -> Int? { nodes.firstIndex { $0.contains(cpu) } }

    /// One CPU per worker, filling node 0's CPUs first, then node 1's, and so on, so a run that fits
    /// in one node stays in it and slices stay near their worker's memory. With more workers than
    /// CPUs the assignment wraps around.
    public func placement(workers: Int) -> [Int] {
        let order = nodes.flatMap { $0 }
        guard !order.isEmpty else { return [] }
        return (0..<workers).map { order[$0 % order.count] }
    }

    public var description: String {
        nodes.enumerated().map { "node \($0.offset): \($0.element.count) CPUs" }.joined(separator: ", ")
    }
}
