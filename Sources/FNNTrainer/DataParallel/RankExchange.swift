import FNNCore
import FNNExecution
import FNNSystem

/// What the ranks of a multi-process run exchange in a step, over a `Communicator` that moves
/// bytes only. Each rank computes a contiguous share of every batch's slices (`slices(of:)`:
/// balanced, derived from the slice count and the rank count alone, so every rank knows every
/// rank's share), and the exchanges fill in the other ranks' parts of the same buffers a single
/// process fills itself: slice partials (BatchNorm moments and backward sums, losses), per-example
/// gradient entries and positions (for the table update), and the dense gradient's tree nodes
/// (`SliceOrder.cover`, scattered by column so each rank steps its own columns: ZeRO-1). After an
/// exchange every rank holds what one process would have, and adds it in the same order, so the
/// model does not depend on the rank count.
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
    /// The hosts the ranks run on (from the start-up agreement; 1 until then). Some exchanges
    /// are shaped by it: over shared memory, packing bytes by destination can cost more than the
    /// bytes it saves, over a network it does not (`FNNEngine.entriesGoToOwners`). Every rank
    /// holds the same count, so every rank takes the same shape.
    public var hostCount = 1

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

    /// Scoring a list of `count` examples in batches of `capacity`: each rank's contiguous run of
    /// whole batches, as row ranges of the list (all, in rank order, and this rank's). Whole
    /// batches keep the slices, so the logits, those of one process; contiguous runs keep a rank
    /// on its part of the file.
    public func batches(of count: Int, capacity: Int) -> (all: [Range<Int>], mine: Range<Int>) {
        let batches = (count + capacity - 1) / capacity
        let all = shares(of: batches).map { min(count, $0.lowerBound * capacity)..<min(count, $0.upperBound * capacity) }
        return (all, isSingle ? 0..<count : all[rank])
    }

    /// Fills every rank's rows of a per-example list (`parts`: each rank's rows, in rank order).
    func shareRows(_ values: inout [Float], parts: [Range<Int>], what: String) throws(CommunicatorError) {
        guard !isSingle else { return }
        var failure: CommunicatorError?
        values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            do throws(CommunicatorError) { try exchange(base, parts: parts, what: what) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Fills every rank's slices of a per-slice buffer (`stride` elements per slice).
    func shareSlices<T>(_ buffer: AlignedBuffer<T>, stride: Int, slices: Int, what: String) throws(CommunicatorError) {
        guard !isSingle else { return }
        try exchange(buffer.base, parts: shares(of: slices).map { ($0.lowerBound * stride)..<($0.upperBound * stride) }, what: what)
    }

    /// Fills every rank's examples of a per-example buffer (`width` elements per example) for a
    /// batch of `count` examples cut by `layout`.
    func shareExamples<T>(_ base: UnsafeMutablePointer<T>, width: Int, count: Int, layout: SliceLayout, what: String) throws(CommunicatorError) {
        guard !isSingle else { return }
        let parts = shares(of: layout.slices(for: count)).map { share in
            (min(count, share.lowerBound * layout.sliceRows) * width)..<(min(count, share.upperBound * layout.sliceRows) * width)
        }
        try exchange(base, parts: parts, what: what)
    }

    /// The dense gradient's tree nodes each rank sums (`SliceOrder.cover` of its share), in rank
    /// order, and where each rank's nodes start in that list.
    func denseNodes(slices: Int) -> (all: [Range<Int>], firstOfRank: [Int]) {
        var all: [Range<Int>] = [], first: [Int] = []
        for share in shares(of: slices) {
            first.append(all.count)
            all += SliceOrder.cover(of: share, sliceCount: slices)
        }
        first.append(all.count)
        return (all, first)
    }

    /// The dense vector's columns each rank steps (ZeRO-1: its Adam moments are current for these
    /// alone between checkpoints); fixed by the vector's size and the rank count.
    func denseColumns(_ count: Int) -> [Range<Int>] { partition(count, parts: size, alignment: 16) }

    /// The dense gradient's reduce-scatter: this rank's tree nodes go out column block by column
    /// block (`send`: for rank q, every own node's values at q's columns, laid q after q), and
    /// every rank's nodes at this rank's columns come in (`receive`: node k of `denseNodes` at
    /// `k * columns[rank].count`).
    func scatterDenseNodes(send: AlignedBuffer<Float>, receive: AlignedBuffer<Float>,
                           nodes: (all: [Range<Int>], firstOfRank: [Int]), columns: [Range<Int>]) throws(CommunicatorError) {
        let own = nodes.firstOfRank[rank + 1] - nodes.firstOfRank[rank]
        let floatBytes = MemoryLayout<Float>.stride
        let sendParts = columns.map { ($0.lowerBound * own * floatBytes)..<($0.upperBound * own * floatBytes) }
        let mine = columns[rank].count
        let receiveParts = (0..<size).map { r in
            (nodes.firstOfRank[r] * mine * floatBytes)..<(nodes.firstOfRank[r + 1] * mine * floatBytes)
        }
        let bytesIn = receiveParts.last!.upperBound - receiveParts[rank].count
        try measured("dense gradient", bytesIn: bytesIn) { () throws(CommunicatorError) in
            try communicator.allToAll(send: UnsafeRawBufferPointer(start: send.base, count: sendParts.last!.upperBound), sendParts: sendParts,
                                      receive: UnsafeMutableRawBufferPointer(start: receive.base, count: receiveParts.last!.upperBound),
                                      receiveParts: receiveParts)
        }
    }

    /// Fills every rank's columns of a dense-sized vector (the stepped parameters, or the Adam
    /// moments before a checkpoint).
    func shareDenseColumns(_ buffer: AlignedBuffer<Float>, columns: [Range<Int>], what: String) throws(CommunicatorError) {
        guard !isSingle else { return }
        try exchange(buffer.base, parts: columns, what: what)
    }

    /// The personalised exchange of elements: `send[sendParts[q]]` to rank q, rank r's part into
    /// `receive[receiveParts[r]]` (element ranges; this rank's own parts may be empty).
    func allToAll<T>(send: UnsafePointer<T>, sendParts: [Range<Int>], receive: UnsafeMutablePointer<T>,
                     receiveParts: [Range<Int>], what: String) throws(CommunicatorError) {
        let bytes = MemoryLayout<T>.stride
        let sendBytes = sendParts.map { ($0.lowerBound * bytes)..<($0.upperBound * bytes) }
        let receiveBytes = receiveParts.map { ($0.lowerBound * bytes)..<($0.upperBound * bytes) }
        let sendEnd = sendBytes.map(\.upperBound).max() ?? 0, receiveEnd = receiveBytes.map(\.upperBound).max() ?? 0
        let bytesIn = receiveBytes.enumerated().reduce(0) { $0 + ($1.offset == rank ? 0 : $1.element.count) }
        try measured(what, bytesIn: bytesIn) { () throws(CommunicatorError) in
            try communicator.allToAll(send: UnsafeRawBufferPointer(start: send, count: sendEnd), sendParts: sendBytes,
                                      receive: UnsafeMutableRawBufferPointer(start: receive, count: receiveEnd),
                                      receiveParts: receiveBytes)
        }
    }

    /// The in-place gather of every rank's `parts` (element ranges, in rank order) of the
    /// elements at `base`.
    private func exchange<T>(_ base: UnsafeMutablePointer<T>, parts: [Range<Int>], what: String) throws(CommunicatorError) {
        let bytes = MemoryLayout<T>.stride
        let byteParts = parts.map { ($0.lowerBound * bytes)..<($0.upperBound * bytes) }
        let total = byteParts.last?.upperBound ?? 0
        try measured(what, bytesIn: total - byteParts[rank].count) { () throws(CommunicatorError) in
            try communicator.allGather(inPlace: UnsafeMutableRawBufferPointer(start: base, count: total), parts: byteParts)
        }
    }

    /// Runs one exchange: a failure names where the run was and what was exchanged, and the
    /// bytes received and seconds count towards `traffic[what]`.
    private func measured(_ what: String, bytesIn: Int, _ body: () throws(CommunicatorError) -> Void) throws(CommunicatorError) {
        let start = monotonicSeconds()
        do { try body() } catch {
            throw CommunicatorError(rank: error.rank, "\(whereabouts), exchanging \(what): \(error.message)")
        }
        var entry = traffic[what] ?? Traffic()
        entry.calls += 1
        entry.bytes += bytesIn
        entry.seconds += monotonicSeconds() - start
        traffic[what] = entry
    }
}

extension RankExchange {
    /// Fills every rank's examples of a batch's positions: their rows and, for variable
    /// positions, their values, fields and counts (the table update reads all four).
    func sharePositions(_ positions: BatchPositions, count: Int, layout: SliceLayout) throws(CommunicatorError) {
        guard !isSingle else { return }
        let stride = positions.stride
        try shareExamples(positions.rows.base, width: stride, count: count, layout: layout, what: "positions")
        if let values = positions.values, let fields = positions.fields, let counts = positions.counts {
            try shareExamples(values.base, width: stride, count: count, layout: layout, what: "positions")
            try shareExamples(fields.base, width: stride, count: count, layout: layout, what: "positions")
            try shareExamples(counts.base, width: 1, count: count, layout: layout, what: "positions")
        }
    }
}
