import FNNExecution
import FNNSystem
import Foundation

/// Runs `body` on each chunk of `b` (see `categoricalChunkCount`), in parallel when an executor is
/// given; returns the number of chunks.
@discardableResult
func forEachChunk(of b: UnsafeBufferPointer<UInt8>, executor: PhaseExecutor?, minimumChunkBytes: Int,
                  _ body: (Int, UnsafeBufferPointer<UInt8>) -> Void) -> Int {
    let bounds = chunkBounds(b, chunks: categoricalChunkCount(bytes: b.count, executor: executor,
                                                               minimumChunkBytes: minimumChunkBytes))
    let chunkCount = bounds.count - 1
    func chunk(_ k: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[bounds[k]..<bounds[k + 1]]) }
    if let executor, chunkCount > 1 {
        executor.run(.prepare, tasks: chunkCount) { k, _ in body(k, chunk(k)) }
    } else {
        for k in 0..<chunkCount { body(k, chunk(k)) }
    }
    return chunkCount
}

/// How many chunks to parse `bytes` of text in: at least `minimumChunkBytes` each, and a few per
/// worker so uneven chunks even out; one without parallel workers, where merging would only add work.
func categoricalChunkCount(bytes: Int, executor: PhaseExecutor?, minimumChunkBytes: Int) -> Int {
    guard let executor, executor.workerCount > 1 else { return 1 }
    return max(1, min(executor.workerCount * 4, bytes / max(minimumChunkBytes, 1)))
}

/// `chunks` pieces of `b` cut at line ends: chunks + 1 offsets (some chunks may be empty).
func chunkBounds(_ b: UnsafeBufferPointer<UInt8>, chunks: Int) -> [Int] {
    var bounds = [0]
    for k in 1..<max(chunks, 1) {
        var i = max(bounds.last!, b.count * k / chunks)
        while i < b.count && i > 0 && b[i - 1] != 0x0A { i += 1 }
        bounds.append(i)
    }
    bounds.append(b.count)
    return bounds
}
