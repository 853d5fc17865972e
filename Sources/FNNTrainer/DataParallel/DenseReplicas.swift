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
        guard let copies, let held else { return }
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

/// Each worker's copy of the current batch's BatchNorm statistics (mean, 1/std, unbiased
/// variance per layer). Every slice needs them and all copies are bit-identical (the same slice
/// moments summed in the same order), so a worker computes them at its first slice of a phase and
/// reuses them for the rest, instead of every slice recomputing them.
final class WorkerBatchStatistics: @unchecked Sendable {
    let widths: [Int]
    private var workers = 0
    private var buffers: UnsafeMutablePointer<Float>?
    /// Per worker and layer, the step whose statistics the buffer holds; a cache line per worker.
    private var stamps: UnsafeMutablePointer<Int>?
    private var step = 0
    private let layerOffsets: [Int]
    private let perWorker: Int

    init(widths: [Int]) {
        self.widths = widths
        var offsets: [Int] = []
        var total = 0
        // Per layer: forward statistics (3 * w), then the backward pass's sums (2 * w).
        for w in widths { offsets.append(total); total += 5 * w }
        layerOffsets = offsets
        perWorker = (total + 15) / 16 * 16
    }

    /// Layer `l`'s whole-batch BatchNorm-backward sums (sum dY, then sum dY * x-hat), reduced once
    /// per worker from the slices' partials.
    @inline(__always) func backwardSums(layer l: Int, worker: Int, partials: AlignedBuffer<Double>, slices: Int) -> UnsafeMutablePointer<Float> {
        let w = widths[l]
        let sums = buffers! + worker * perWorker + layerOffsets[l] + 3 * w
        let stamp = stamps! + worker * stampStride + widths.count + l
        if stamp.pointee != step {
            MLPKernels.reduceSlicePartials(partials.base, sliceCount: slices, stride: 2 * w, width: w,
                                           sumDY: sums, sumDYXhat: sums + w)
            stamp.pointee = step
        }
        return sums
    }

    private var stampStride: Int { max(8, (2 * widths.count + 7) / 8 * 8) }

    deinit {
        buffers?.deallocate()
        stamps?.deallocate()
    }

    /// On the calling thread, before a step's phases.
    func begin(workers count: Int) {
        step += 1
        guard count != workers else { return }
        buffers?.deallocate()
        stamps?.deallocate()
        workers = count
        buffers = .allocate(capacity: max(1, count * perWorker))
        stamps = .allocate(capacity: count * stampStride)
        stamps!.initialize(repeating: 0, count: count * stampStride)
    }

    /// Layer `l`'s statistics for this batch, as worker `worker` holds them.
    @inline(__always) func statistics(layer l: Int, worker: Int, moments: AlignedBuffer<Double>, slices: Int,
                                      batchSize: Int) -> UnsafeMutablePointer<Float> {
        let w = widths[l]
        let stats = buffers! + worker * perWorker + layerOffsets[l]
        let stamp = stamps! + worker * stampStride + l
        if stamp.pointee != step {
            MLPKernels.batchStatistics(sliceMoments: moments.base, sliceCount: slices, stride: 2 * w, width: w,
                                       batchSize: batchSize, mean: stats, inverseStd: stats + w, unbiasedVariance: stats + 2 * w)
            stamp.pointee = step
        }
        return stats
    }
}
