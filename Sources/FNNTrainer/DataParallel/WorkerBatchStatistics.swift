import FNNCore
import FNNSystem

/// Each worker's copy of the current batch's BatchNorm statistics (mean, 1/std, unbiased
/// variance per layer). Every slice needs them and all copies are bit-identical (the same slice
/// moments summed in the same order), so a worker computes them at its first slice of a phase and
/// reuses them for the rest, instead of every slice recomputing them.
final class WorkerBatchStatistics: @unchecked Sendable {
    let widths: [Int]
    private var workers = 0
    /// Every worker's statistics, each worker's part starting on its own cache line; kept alive
    /// here and reached through `buffers` (a view: no reference counting per slice).
    private var bufferStorage: AlignedBuffer<Float>?
    private var buffers: BufferView<Float>?
    /// Per worker and layer, the step whose statistics the buffer holds; a cache line per worker.
    private var stampStorage: AlignedBuffer<Int>?
    private var stamps: BufferView<Int>?
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
        let sums = buffers!.pointer(at: worker * perWorker + layerOffsets[l] + 3 * w, length: 2 * w)
        let stamp = stamps!.pointer(at: worker * stampStride + widths.count + l)
        if stamp.pointee != step {
            MLPKernels.reduceSlicePartials(partials.base, sliceCount: slices, stride: 2 * w, width: w,
                                           sumDY: sums, sumDYXhat: sums + w)
            stamp.pointee = step
        }
        return sums
    }

    private var stampStride: Int { max(8, (2 * widths.count + 7) / 8 * 8) }

    /// On the calling thread, before a step's phases.
    func begin(workers count: Int) {
        step += 1
        guard count != workers else { return }
        workers = count
        // Written before read (each statistic is computed at a worker's first slice), so left
        // uninitialised: its pages land on the NUMA node of the worker that first writes them.
        bufferStorage = AlignedBuffer(uninitializedCount: max(1, count * perWorker))
        buffers = bufferStorage!.view
        stampStorage = AlignedBuffer(count: count * stampStride)
        stamps = stampStorage!.view
    }

    /// Layer `l`'s statistics for this batch, as worker `worker` holds them.
    @inline(__always) func statistics(layer l: Int, worker: Int, moments: AlignedBuffer<Double>, slices: Int,
                                      batchSize: Int) -> UnsafeMutablePointer<Float> {
        let w = widths[l]
        let stats = buffers!.pointer(at: worker * perWorker + layerOffsets[l], length: 3 * w)
        let stamp = stamps!.pointer(at: worker * stampStride + l)
        if stamp.pointee != step {
            MLPKernels.batchStatistics(sliceMoments: moments.base, sliceCount: slices, stride: 2 * w, width: w,
                                       batchSize: batchSize, mean: stats, inverseStd: stats + w, unbiasedVariance: stats + 2 * w)
            stamp.pointee = step
        }
        return stats
    }
}
