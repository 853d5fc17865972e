import FNNCore
import FNNExecution
import Foundation

/// The training rows of one epoch, handed out batch by batch: in memory, slices of the shuffled
/// order; streaming, window after window (only the current windows' rows are held), each
/// window's pages handed back once training has passed its rows.
struct EpochFeed {
    let run: TrainingRun
    let epoch: Int
    let streaming: Bool
    var rows: [Int] = []
    /// Streaming: the loaded windows' rows, and the batch's ids widened for the engine.
    var windowRows: [UInt32] = []
    var batch: [Int] = []
    var position = 0
    /// Streaming: the epoch's windows, the next to load, and the loaded ones not yet released.
    var windows: [(index: Int, chunks: [Int], end: Int)] = []
    var nextWindow = 0
    var loaded: [(chunks: [Int], end: Int)] = []
    var consumed = 0

    /// Starts `skipping` rows into the epoch (a resumed run).
    init(run: TrainingRun, epoch: Int, skipping: Int) {
        self.run = run
        self.epoch = epoch
        streaming = run.options.streamChunkRows != nil
        consumed = skipping
        guard streaming else {
            rows = run.inMemoryOrder(epoch: epoch)
            position = skipping
            return
        }
        windows = run.streamWindows(epoch: epoch)
        while nextWindow < windows.count && windows[nextWindow].end <= skipping { nextWindow += 1 }
        if nextWindow < windows.count {
            let start = nextWindow == 0 ? 0 : windows[nextWindow - 1].end
            load()
            position = skipping - start
        }
    }

    private mutating func load() {
        let w = windows[nextWindow]
        if position > 0 { windowRows.removeFirst(position); position = 0 }
        windowRows += run.windowRows(w.chunks, epoch: epoch, window: w.index)
        loaded.append((w.chunks, w.end))
        nextWindow += 1
    }

    /// Calls `body` with the next `n` example ids.
    mutating func withNext(_ n: Int, _ body: (UnsafePointer<Int>) -> Void) {
        guard streaming, let chunkRows = run.options.streamChunkRows else {
            precondition(rows.count - position >= n, "the epoch has fewer training rows than its batches")
            rows.withUnsafeBufferPointer { body($0.baseAddress! + position) }
            position += n
            consumed += n
            return
        }
        while windowRows.count - position < n && nextWindow < windows.count { load() }
        precondition(windowRows.count - position >= n, "the epoch has fewer training rows than its batches")
        batch.removeAll(keepingCapacity: true)
        for k in position..<(position + n) { batch.append(Int(windowRows[k])) }
        batch.withUnsafeBufferPointer { body($0.baseAddress!) }
        position += n
        consumed += n
        while let first = loaded.first, first.end <= consumed {
            if run.data.isMapped {
                for c in first.chunks {
                    run.data.releasePages(rows: (c * chunkRows)..<min((c + 1) * chunkRows, run.data.rowCount))
                }
            }
            loaded.removeFirst()
        }
    }
}
