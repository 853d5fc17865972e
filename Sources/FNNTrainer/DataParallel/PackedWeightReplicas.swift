import FNNCore
import FNNSystem

/// Under `--precision bf16`, each worker's bf16 packs of the hidden layers' weights and its slice
/// staging space, in one allocation the worker makes and first writes itself (so, like
/// `DenseReplicas`, on its own NUMA node). A worker repacks from its dense copy when the model's
/// revision moves on (after each step): a few hundred microseconds per 400 x 624 layer, against
/// a step of tens of milliseconds, and no extra barrier or shared write.
final class PackedWeightReplicas: @unchecked Sendable {
    struct Slot: BitwiseCopyable {
        var memory: UnsafeMutableRawPointer?
        var version: Int
    }

    /// A worker's packs and scratch, by value so that the kernels' loops hold no reference.
    struct View {
        let memory: UnsafeMutableRawPointer
        let offsets: UnsafePointer<Int>

        /// Hidden layer `layer`'s weight in both layouts.
        func weight(_ layer: Int) -> BFloat16PackedWeight {
            BFloat16PackedWeight(forward: (memory + offsets[2 * layer]).assumingMemoryBound(to: UInt32.self),
                                 backward: (memory + offsets[2 * layer + 1]).assumingMemoryBound(to: UInt32.self))
        }

        func scratch(layers: Int) -> BFloat16SliceScratch {
            BFloat16SliceScratch(rows: (memory + offsets[2 * layers]).assumingMemoryBound(to: UInt16.self),
                                 block: (memory + offsets[2 * layers + 1]).assumingMemoryBound(to: UInt32.self),
                                 panels: (memory + offsets[2 * layers + 2]).assumingMemoryBound(to: UInt32.self))
        }
    }

    let model: Model
    let layers: Int
    /// Byte offsets: each layer's forward and backward pack, then the scratch's three parts;
    /// the last entry is the allocation's size. Every part starts on a cache line.
    private let offsets: AlignedBuffer<Int>
    private var slots: PerWorkerSlots<Slot>?
    private var workers = 0

    init(model: Model, sliceRows: Int) {
        self.model = model
        let hidden = model.layout.hidden
        layers = hidden.count
        var sizes: [Int] = []
        for h in hidden {
            sizes.append(4 * BFloat16PackedWeight.forwardCount(inputs: h.inputs, outputs: h.outputs))
            sizes.append(4 * BFloat16PackedWeight.backwardCount(inputs: h.inputs, outputs: h.outputs))
        }
        let widest = max(hidden.map { max($0.inputs, $0.outputs) }.max() ?? 1, 1)
        sizes.append(2 * BFloat16SliceScratch.rowsCount(sliceRows: sliceRows, maxWidth: widest))
        sizes.append(4 * BFloat16SliceScratch.blockCount(sliceRows: sliceRows, maxWidth: widest))
        sizes.append(4 * BFloat16SliceScratch.panelsCount(sliceRows: sliceRows, maxWidth: widest))
        offsets = AlignedBuffer(count: sizes.count + 1)
        var at = 0
        for (i, size) in sizes.enumerated() {
            offsets[i] = at
            at += (size + cacheLineBytes - 1) / cacheLineBytes * cacheLineBytes
        }
        offsets[sizes.count] = at
    }

    deinit { release() }

    /// Bytes of one worker's allocation.
    var bytesPerWorker: Int { offsets[2 * layers + 3] }
    var byteCount: Int { workers * bytesPerWorker }

    private func release() {
        guard let slots else { return }
        for w in 0..<workers { slots[w].memory?.deallocate() }
        self.slots = nil
    }

    /// On the calling thread before a step's phases: sizes the slots for `count` workers.
    func prepare(workers count: Int) {
        guard count != workers || slots == nil else { return }
        release()
        workers = count
        slots = PerWorkerSlots(count: count)
    }

    /// Worker `worker`'s packs, current for the model's revision, packed from `parameters` (that
    /// worker's dense copy). Only worker `worker` calls this with its index.
    @inline(__always) func view(worker: Int, parameters: UnsafePointer<Float>) -> View {
        let slot = slots!.slot(worker)
        let version = model.revision
        if slot.pointee.memory == nil {
            slot.pointee.memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytesPerWorker, 1), alignment: cacheLineBytes)
        }
        let view = View(memory: slot.pointee.memory!, offsets: UnsafePointer(offsets.base))
        if slot.pointee.version != version {
            for (l, h) in model.layout.hidden.enumerated() {
                view.weight(l).pack(parameters + h.weight, inputs: h.inputs, outputs: h.outputs)
            }
            slot.pointee.version = version
        }
        return view
    }
}
