import CThreadSupport

/// A 32-bit word shared between threads: C11 sequentially consistent atomics plus futex wait and
/// wake on the same address. Each lives on its own cache line so that waiting on one does not
/// slow writes to another.
struct FutexWord: @unchecked Sendable {
    let address: UnsafeMutablePointer<UInt32>

    /// Words for `count` independent counters, one cache line each.
    static func allocate(count: Int) -> [FutexWord] {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64 * count, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 64 * count)
        return (0..<count).map { FutexWord(address: (raw + 64 * $0).assumingMemoryBound(to: UInt32.self)) }
    }

    static func deallocate(_ words: [FutexWord]) {
        if let first = words.first { UnsafeMutableRawPointer(first.address).deallocate() }
    }

    var value: UInt32 { fnnpar_atomic_load(address) }
    func store(_ v: UInt32) { fnnpar_atomic_store(address, v) }
    @discardableResult func add(_ v: UInt32) -> UInt32 { fnnpar_atomic_fetch_add(address, v) &+ v }
    @discardableResult func subtract(_ v: UInt32) -> UInt32 { fnnpar_atomic_fetch_sub(address, v) &- v }
    func wait(whileEqualTo expected: UInt32) { fnnpar_futex_wait(address, expected) }
    func wakeAll() { fnnpar_futex_wake_all(address) }
}

enum CPU {
    static func relax() { fnnpar_cpu_relax() }

    /// Pins the calling thread; returns false (and leaves it unpinned) where the system refuses.
    @discardableResult static func pinCurrentThread(to cpu: Int) -> Bool {
        fnnpar_pin_current_thread_to_cpu(Int32(cpu)) == 0
    }

    static var current: Int { Int(fnnpar_current_cpu()) }
}
