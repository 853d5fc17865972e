import FNNCore
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation
import TestSupport
import Testing

@Suite struct WorkerPoolTests {
    /// Many phases with more threads than CPUs: every task of every phase runs exactly once.
    @Test(arguments: [1, 2, 5, 33])
    func everyTaskOfEveryPhaseRunsOnce(threads: Int) {
        let pool = WorkerPool(threads: threads)
        let counts = AlignedBuffer<Int>(count: 64)
        for round in 0..<3000 {
            let tasks = 1 + round % 64
            pool.run(.forward, tasks: tasks) { t, _ in counts[t] += 1 }
        }
        var expected = [Int](repeating: 0, count: 64)
        for round in 0..<3000 { for t in 0..<(1 + round % 64) { expected[t] += 1 } }
        #expect(counts.array == expected)
    }

    /// Every worker runs its own task in every round, even with 33 threads on this machine.
    @Test func everyRoundIsSeenByEveryWorker() {
        let workers = 33, rounds = 500
        let pool = WorkerPool(threads: workers)
        let seen = AlignedBuffer<Int>(count: workers * rounds)
        for round in 0..<rounds {
            pool.runOnEachWorker(.forward) { w in seen[w * rounds + round] += 1 }
        }
        #expect(seen.array.allSatisfy { $0 == 1 })
    }

    @Test func poolsComeAndGo() {
        for threads in 1...6 {
            let pool = WorkerPool(threads: threads)
            let hits = AlignedBuffer<Int>(count: threads)
            pool.run(.forward, tasks: threads) { t, _ in hits[t] = 1 }
            #expect(hits.array.allSatisfy { $0 == 1 })
        }
    }
}
