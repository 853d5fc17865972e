import FNNCore
import FNNExecution
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

@Suite struct WorkerAdmissionTests {
    /// Feeds `phases` phases of `wall` seconds each with `stall` seconds of stall; returns the
    /// active counts the admission announced.
    func feed(_ admission: inout WorkerAdmission, phases: Int, wall: Double, stall: Double) -> [Int] {
        var changes: [Int] = []
        for _ in 0..<phases {
            if let changed = admission.record(wall: wall, stall: stall) { changes.append(changed) }
        }
        return changes
    }

    /// One window of phases of `wall` seconds (exact in binary, so sums are too), with a stall in
    /// each of `stallShare` of its time.
    func window(_ admission: inout WorkerAdmission, wall: Double = 1.0 / 1024, stallShare: Double = 0) -> [Int] {
        feed(&admission, phases: WorkerAdmission.windowPhases, wall: wall, stall: wall * stallShare)
    }

    @Test func aQuietMachineKeepsEveryWorker() {
        var admission = WorkerAdmission(workers: 4, cpus: 4, grantedCPUs: nil)
        #expect(admission.active == 4)
        // 100 s of phases whose spreads stay under the stall share.
        #expect(feed(&admission, phases: 1_000_000, wall: 100e-6, stall: 0).isEmpty)
        #expect(feed(&admission, phases: 100_000, wall: 100e-6, stall: 5e-6).isEmpty)
        #expect(admission.active == 4)
    }

    @Test func stallsTryFewerWorkersAndKeepThemOnlyWhenFaster() {
        var admission = WorkerAdmission(workers: 3, cpus: 4, grantedCPUs: nil)
        // A stalled window starts a trial with one worker fewer...
        #expect(window(&admission, stallShare: 0.5) == [2])
        // ... that runs its phases 25% faster: kept.
        #expect(window(&admission, wall: 0.75 / 1024).isEmpty)
        #expect(admission.active == 2)
        // Stalled again: one fewer, but no faster this time (a stalling host, not a neighbour):
        // the worker comes back, and the next trial waits twice as long.
        #expect(window(&admission, wall: 0.75 / 1024, stallShare: 0.5) == [1])
        #expect(window(&admission, wall: 0.75 / 1024) == [2])
        var windows = 0
        while admission.active == 2 {
            _ = window(&admission, wall: 0.75 / 1024, stallShare: 0.5)
            windows += 1
        }
        #expect(windows == 2 * WorkerAdmission.firstFewerBackoff)
    }

    @Test func fewerWorkersAreTriedAgainOneMoreAtATime() {
        var admission = WorkerAdmission(workers: 2, cpus: 2, grantedCPUs: nil)
        #expect(window(&admission, stallShare: 0.5) == [1])
        #expect(window(&admission, wall: 0.5 / 1024).isEmpty)  // parked, and twice as fast
        func windowsUntilTry() -> Int {
            var windows = 0
            while admission.active == 1 {
                _ = window(&admission, wall: 0.5 / 1024)
                windows += 1
            }
            return windows
        }
        // A try under the same load stalls and runs slower: back to one.
        let first = windowsUntilTry()
        #expect(first == WorkerAdmission.firstBackoff)
        #expect(window(&admission, wall: 1.0 / 1024, stallShare: 0.5) == [1])
        // A try that runs no faster fails too.
        let second = windowsUntilTry()
        #expect(second == 2 * first)
        #expect(window(&admission, wall: 0.5 / 1024) == [1])
        // The load has gone: the try runs faster and is kept.
        let third = windowsUntilTry()
        #expect(third == 2 * second)
        #expect(feed(&admission, phases: 2 * WorkerAdmission.windowPhases, wall: 0.25 / 1024, stall: 0).isEmpty)
        #expect(admission.active == 2)
    }

    @Test func oversubscribedWorkersDropBelowTheCPUsAtOnceAndComeBackTogether() {
        var admission = WorkerAdmission(workers: 32, cpus: 4, grantedCPUs: nil)
        #expect(admission.active == 32 && admission.ceiling == 4)
        #expect(window(&admission, stallShare: 0.5) == [3])
        #expect(window(&admission) == [32])  // no faster: all back
        #expect(admission.active == 32)
    }

    @Test func aQuotaCapsTheWorkersFromTheStart() {
        #expect(WorkerAdmission(workers: 16, cpus: 16, grantedCPUs: 2).active == 2)
        #expect(WorkerAdmission(workers: 16, cpus: 16, grantedCPUs: 2.5).active == 3)
        #expect(WorkerAdmission(workers: 16, cpus: 16, grantedCPUs: 0.5).active == 1)
        #expect(WorkerAdmission(workers: 4, cpus: 16, grantedCPUs: 8).active == 4)
        #expect(WorkerAdmission(workers: 8, cpus: 4, grantedCPUs: 8).ceiling == 4)
    }

    @Test func aSpreadIsAStallOnlyFarPastATasksTime() {
        #expect(WorkerAdmission.stall(spread: 3e-3, meanTask: 2e-6) == 3e-3)
        #expect(WorkerAdmission.stall(spread: 50e-6, meanTask: 2e-6) == 0)  // under the floor
        #expect(WorkerAdmission.stall(spread: 3e-3, meanTask: 1e-3) == 0)  // a few long tasks
        #expect(WorkerAdmission.stall(spread: 5e-3, meanTask: 1e-3) == 5e-3)
    }

    // MARK: CPU quota

    @Test func cgroupQuotaTextsParse() {
        #expect(CPUQuota.parseCPUMax("max 100000\n") == nil)
        #expect(CPUQuota.parseCPUMax("250000 100000\n") == 2.5)
        #expect(CPUQuota.parseCPUMax("garbage") == nil)
        #expect(CPUQuota.parseCPUMax("0 100000") == nil)
        #expect(CPUQuota.parseCFS(quota: "-1\n", period: "100000\n") == nil)
        #expect(CPUQuota.parseCFS(quota: "50000\n", period: "100000\n") == 0.5)
    }

    @Test func theTightestQuotaOnTheCgroupPathWins() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        // v2: /a has 4 CPUs, /a/b 1.5 CPUs, the process sits in /a/b/c with none of its own.
        try fm.createDirectory(atPath: root + "/a/b/c", withIntermediateDirectories: true)
        try "400000 100000\n".write(toFile: root + "/a/cpu.max", atomically: true, encoding: .utf8)
        try "150000 100000\n".write(toFile: root + "/a/b/cpu.max", atomically: true, encoding: .utf8)
        try "max 100000\n".write(toFile: root + "/a/b/c/cpu.max", atomically: true, encoding: .utf8)
        try "0::/a/b/c\n".write(toFile: root + "/cgroup", atomically: true, encoding: .utf8)
        #expect(CPUQuota.granted(root: root, cgroupFile: root + "/cgroup") == 1.5)
        // v1: the cpu controller's own hierarchy.
        try fm.createDirectory(atPath: root + "/cpu/job", withIntermediateDirectories: true)
        try "300000\n".write(toFile: root + "/cpu/job/cpu.cfs_quota_us", atomically: true, encoding: .utf8)
        try "100000\n".write(toFile: root + "/cpu/job/cpu.cfs_period_us", atomically: true, encoding: .utf8)
        try "-1\n".write(toFile: root + "/cpu/cpu.cfs_quota_us", atomically: true, encoding: .utf8)
        try "100000\n".write(toFile: root + "/cpu/cpu.cfs_period_us", atomically: true, encoding: .utf8)
        try "4:memory:/x\n2:cpu,cpuacct:/job\n".write(toFile: root + "/cgroup1", atomically: true, encoding: .utf8)
        #expect(CPUQuota.granted(root: root, cgroupFile: root + "/cgroup1") == 3)
        // No quota anywhere, and no readable membership.
        try "0::/\n".write(toFile: root + "/cgroup0", atomically: true, encoding: .utf8)
        #expect(CPUQuota.granted(root: root, cgroupFile: root + "/cgroup0") == nil)
        #expect(CPUQuota.granted(root: root, cgroupFile: root + "/missing") == nil)
        // This machine's answer, whatever it is, is a positive number or none.
        if let here = CPUQuota.granted() { #expect(here > 0) }
    }

    // MARK: The pool

    @Test func parkedWorkersStillRunTheirOwnWorkAndEveryTaskRunsOnce() {
        let pool = WorkerPool(threads: 4, cpuQuota: 1)
        #expect(pool.activeWorkers == 1)
        // Each worker's own work (first touch) must run on it even while it is parked.
        var ranOn = [Int](repeating: 0, count: 4)
        ranOn.withUnsafeMutableBufferPointer { ran in
            let ran = ran
            pool.runOnEachWorker(.forward) { w in ran[w] += 1 }
        }
        #expect(ranOn == [1, 1, 1, 1])
        #expect(pool.activeWorkers == 1)
        for active in [4, 2, 3, 1] {
            pool.setActiveWorkers(active)
            var counts = [Int](repeating: 0, count: 1000)
            counts.withUnsafeMutableBufferPointer { c in
                let c = c
                pool.run(.forward, tasks: 1000) { t, _ in c[t] += 1 }
            }
            #expect(counts.allSatisfy { $0 == 1 }, "active \(active)")
        }
    }

    /// Forwards to a pool and changes its active workers every few phases.
    final class Reshuffling: PhaseExecutor {
        let pool: WorkerPool
        var calls = 0
        init(_ pool: WorkerPool) { self.pool = pool }
        var workerCount: Int { pool.workerCount }
        var concurrency: Int { pool.concurrency }
        var profile: PhaseProfile { pool.profile }
        func run(_ phase: Phase, tasks: Int, _ body: (Int, Int) -> Void) {
            calls += 1
            if calls % 3 == 0 { pool.setActiveWorkers(1 + (calls / 3) % pool.workerCount) }
            pool.run(phase, tasks: tasks, body)
        }
        func serial(_ phase: Phase, _ body: () -> Void) { pool.serial(phase, body) }
        func runOnEachWorker(_ phase: Phase, _ body: (Int) -> Void) { pool.runOnEachWorker(phase, body) }
    }

    @Test(arguments: [ModelKind.fm, .fnn])
    func parkingAndWakingWorkersWhileTrainingLeavesTheModelUnchanged(kind: ModelKind) {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 11).generate(rows: 4000)
        let config = ModelConfig(kind: kind, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [8, 8], dropout: 0.2)
        func trained(_ executor: PhaseExecutor) -> Model {
            trainedTwoEpochs(config, data: data, seed: 4, batchSize: 500, executor: executor)
        }
        let reference = trained(SerialExecutor())
        let reshuffling = Reshuffling(WorkerPool(threads: 4))
        #expect(trained(reshuffling).bitwiseEqual(reference))
        #expect(reshuffling.pool.activeChanges >= 5)
    }
}
