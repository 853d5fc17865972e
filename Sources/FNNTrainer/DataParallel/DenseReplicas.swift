import FNNCore
import FNNSystem

/// Each worker's private copy of the dense parameters, which the forward and backward kernels
/// read. Workers read their own copy (on their own NUMA node: it is allocated and first written by
/// the worker itself, after pinning) instead of all reading one shared vector across the
/// interconnect. Each copy remembers the model revision it holds; after any change of the dense
/// parameters (an update, a restore) every worker refreshes its own at its next use, so no extra
/// barrier is needed.
///
/// With one worker the master vector is used directly.
public final class DenseReplicas: @unchecked Sendable {
    let model: Model
    var master: AlignedBuffer<Float> { model.dense }
    private var workers = 0
    /// Per worker: its copy (nil until first use), and the version it holds, a cache line apart.
    private var copies: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?
    private var heldSlots: PerWorkerSlots<Int>?
    private var held: PerWorkerSlots<Int>.View?

    init(model: Model) { self.model = model }

    var byteCount: Int { workers > 1 ? workers * model.dense.count * MemoryLayout<Float>.stride : 0 }

    deinit { release() }

    private func release() {
        guard let copies else { return }
        for w in 0..<workers { copies[w].map { UnsafeMutableRawPointer($0).deallocate() } }
        copies.deallocate()
        self.copies = nil
        heldSlots = nil
        self.held = nil
    }

    /// Called on the calling thread before a step's phases; true when the worker count changed
    /// (and each worker should now create its copy).
    @discardableResult func prepare(workers count: Int) -> Bool {
        guard count != workers else { return false }
        release()
        workers = count
        guard count > 1 else { return false }
        copies = .allocate(capacity: count)
        copies!.initialize(repeating: nil, count: count)
        heldSlots = PerWorkerSlots(count: count)
        held = heldSlots!.view
        return true
    }

    /// The dense parameters as worker `worker` should read them. Only worker `worker` calls this
    /// with its index, so its slot is never shared.
    @inline(__always) func parameters(worker: Int) -> UnsafePointer<Float> {
        guard let copies, let held else { return UnsafePointer(master.base) }
        let version = model.revision
        if held[worker] != version {
            if copies[worker] == nil {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, master.count) * 4, alignment: cacheLineBytes)
                copies[worker] = raw.bindMemory(to: Float.self, capacity: max(1, master.count))
            }
            copies[worker]!.update(from: master.base, count: master.count)
            held[worker] = version
        }
        return UnsafePointer(copies[worker]!)
    }
}
