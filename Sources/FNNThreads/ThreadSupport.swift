import CThreadSupport
import FNNSystem

/// A 32-bit word shared between threads: C11 sequentially consistent atomics plus futex wait and
/// wake on the same address. Each lives on its own cache line so that waiting on one does not
/// slow writes to another.
struct FutexWord: @unchecked Sendable {
    let address: UnsafeMutablePointer<UInt32>

    /// The words of `slots` (one cache line each), valid while `slots` lives.
    static func words(in slots: PerWorkerSlots<UInt32>) -> [FutexWord] {
        (0..<slots.count).map { FutexWord(address: slots.slot($0)) }
    }

    var value: UInt32 { fnnpar_atomic_load(address) }
    func store(_ v: UInt32) { fnnpar_atomic_store(address, v) }
    @discardableResult func add(_ v: UInt32) -> UInt32 { fnnpar_atomic_fetch_add(address, v) &+ v }
    @discardableResult func subtract(_ v: UInt32) -> UInt32 { fnnpar_atomic_fetch_sub(address, v) &- v }
    func wait(whileEqualTo expected: UInt32) { fnnpar_futex_wait(address, expected) }
    func wakeAll() { fnnpar_futex_wake_all(address) }
    func wake(_ count: Int) { fnnpar_futex_wake(address, Int32(clamping: count)) }
}

/// A worker's claimable block of a phase's tasks in one 64-bit word, so a claim is one
/// compare-and-swap that also checks the phase: generation (24 bits) | end (20) | next (20).
/// A thread that wakes up late, holding an old generation, can never claim a newer phase's task.
struct TaskBlock: @unchecked Sendable {
    let address: UnsafeMutablePointer<UInt64>

    static let maxTasks = 1 << 20

    static func pack(generation: UInt32, end: Int, next: Int) -> UInt64 {
        UInt64(generation & 0xFF_FFFF) << 40 | UInt64(end) << 20 | UInt64(next)
    }

    func publish(generation: UInt32, range: Range<Int>) {
        fnnpar_atomic_store64(address, Self.pack(generation: generation, end: range.upperBound, next: range.lowerBound))
    }

    /// The next unclaimed task of this block in phase `generation`, or nil when there is none.
    func claim(generation: UInt32) -> Int? {
        while true {
            let word = fnnpar_atomic_load64(address)
            guard UInt32(word >> 40) == generation & 0xFF_FFFF else { return nil }
            let end = Int((word >> 20) & 0xF_FFFF), next = Int(word & 0xF_FFFF)
            guard next < end else { return nil }
            if fnnpar_atomic_compare_exchange64(address, word, word + 1) != 0 { return next }
        }
    }
}

enum CPU {
    static func relax() { fnnpar_cpu_relax() }

    /// Pins the calling thread; returns false (and leaves it unpinned) where the system refuses.
    @discardableResult static func pinCurrentThread(to cpu: Int) -> Bool {
        fnnpar_pin_current_thread_to_cpu(Int32(cpu)) == 0
    }

    /// Undoes a pin: the calling thread (and threads it starts later) may run on any of `cpus`.
    @discardableResult static func allowCurrentThread(on cpus: [Int]) -> Bool {
        let values = cpus.map(Int32.init)
        return values.withUnsafeBufferPointer { fnnpar_allow_current_thread_on_cpus($0.baseAddress, Int32($0.count)) } == 0
    }
}
