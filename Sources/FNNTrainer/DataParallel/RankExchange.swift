import FNNCore
import FNNExecution
import FNNSystem

/// What the ranks of a multi-process run exchange in a step, over a `Communicator` that moves
/// bytes only. Each rank computes a contiguous share of every batch's slices (`slices(of:)`:
/// balanced, derived from the slice count and the rank count alone, so every rank knows every
/// rank's share), and the exchanges fill in the other ranks' parts of the same buffers a single
/// process fills itself: slice partials (BatchNorm moments and backward sums, losses), per-example
/// gradient entries and positions (for the table update), and the dense gradient's tree nodes
/// (`SliceOrder.cover`). After an exchange every rank holds what one process would have, and adds
/// it in the same order, so the model does not depend on the rank count.
///
/// With one rank every exchange returns at once: a single-process run pays nothing.
public final class RankExchange: @unchecked Sendable {
    public let communicator: Communicator
    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }
    public var isSingle: Bool { communicator.size == 1 }
    /// Bytes and seconds per kind of exchange since the last `resetTraffic`, for `--profile`.
    public private(set) var traffic: [String: Traffic] = [:]
    /// Where the run is (set by `TrainingRun`: epoch and step, or evaluation), for failure
    /// messages.
    public var whereabouts = "start-up"

    public struct Traffic: Sendable, Codable {
        public var calls = 0
        public var bytes = 0
        public var seconds = 0.0
    }

    public init(_ communicator: Communicator = LocalCommunicator()) { self.communicator = communicator }

    public func resetTraffic() { traffic = [:] }

    /// Each rank's share of a batch's `slices` slices, in rank order.
    public func shares(of slices: Int) -> [Range<Int>] { partition(slices, parts: size, alignment: 1) }

    /// This rank's share of a batch's `slices` slices.
    public func slices(of slices: Int) -> Range<Int> {
        isSingle ? 0..<slices : shares(of: slices)[rank]
    }

    /// Fills every rank's slices of a per-slice buffer (`stride` elements per slice).
    func shareSlices<T>(_ buffer: AlignedBuffer<T>, stride: Int, slices: Int, what: String) throws(CommunicatorError) {
        guard !isSingle else { return }
        let bytes = stride * MemoryLayout<T>.stride
        try exchange(UnsafeMutableRawPointer(buffer.base), parts: shares(of: slices).map { ($0.lowerBound * bytes)..<($0.upperBound * bytes) },
                     what: what)
    }

    /// Fills every rank's examples of a per-example buffer (`width` elements per example) for a
    /// batch of `count` examples cut by `layout`.
    func shareExamples<T>(_ base: UnsafeMutablePointer<T>, width: Int, count: Int, layout: SliceLayout, what: String) throws(CommunicatorError) {
        guard !isSingle else { return }
        let bytes = width * MemoryLayout<T>.stride
        let parts = shares(of: layout.slices(for: count)).map { share in
            let rows = min(count, share.lowerBound * layout.sliceRows)..<min(count, share.upperBound * layout.sliceRows)
            return (rows.lowerBound * bytes)..<(rows.upperBound * bytes)
        }
        try exchange(UnsafeMutableRawPointer(base), parts: parts, what: what)
    }

    /// The dense gradient's tree nodes each rank sums (`SliceOrder.cover` of its share), in rank
    /// order: node k of the list is laid at `k * denseCount` in the node buffer.
    func denseNodes(slices: Int) -> (all: [Range<Int>], firstOfRank: [Int]) {
        var all: [Range<Int>] = [], first: [Int] = []
        for share in shares(of: slices) {
            first.append(all.count)
            all += SliceOrder.cover(of: share, sliceCount: slices)
        }
        first.append(all.count)
        return (all, first)
    }

    /// Fills every rank's nodes of the node buffer (`denseNodes`).
    func shareDenseNodes(_ buffer: AlignedBuffer<Float>, nodes: (all: [Range<Int>], firstOfRank: [Int]), denseCount: Int) throws(CommunicatorError) {
        guard !isSingle else { return }
        let bytes = denseCount * MemoryLayout<Float>.stride
        let parts = (0..<size).map { r in (nodes.firstOfRank[r] * bytes)..<(nodes.firstOfRank[r + 1] * bytes) }
        try exchange(UnsafeMutableRawPointer(buffer.base), parts: parts, what: "dense gradient")
    }

    private func exchange(_ base: UnsafeMutableRawPointer, parts: [Range<Int>], what: String) throws(CommunicatorError) {
        let start = monotonicSeconds()
        let total = parts.last?.upperBound ?? 0
        do {
            try communicator.allGather(inPlace: UnsafeMutableRawBufferPointer(start: base, count: total), parts: parts)
        } catch {
            throw CommunicatorError(rank: error.rank, "\(whereabouts), exchanging \(what): \(error.message)")
        }
        var entry = traffic[what] ?? Traffic()
        entry.calls += 1
        entry.bytes += total - parts[rank].count
        entry.seconds += monotonicSeconds() - start
        traffic[what] = entry
    }
}
