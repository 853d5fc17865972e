/// How the processes of one training run exchange bytes. The determinism contract makes this
/// small: a communicator only moves bytes, never adds floats (every sum is `SliceOrder`'s, done by
/// the trainer in one canonical order), so any transport that delivers the bytes intact gives the
/// same model. Ranks are numbered 0 ..< size; rank 0 prints, writes the model and checkpoints.
///
/// Today's implementation is `LocalCommunicator` (one process, nothing to exchange); a
/// multi-process one (MPI) implements the same calls over the network.
public protocol Communicator: AnyObject, Sendable {
    /// This process's rank, 0 ..< size.
    var rank: Int { get }
    /// The number of processes in the run.
    var size: Int { get }
    /// Every rank's `local` bytes, in rank order, on every rank. Ranks may give different lengths.
    func allGather(_ local: [UInt8]) throws(CommunicatorError) -> [[UInt8]]
    /// Rank `root`'s bytes on every rank (the others' `bytes` are replaced).
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws(CommunicatorError)
    /// Every rank's part of one buffer, in place: rank r's bytes are `buffer[parts[r]]` on rank r
    /// before the call and on every rank after it. The parts are disjoint, in rank order, and the
    /// same list on every rank (each rank derives it from what all ranks know, e.g. the slice
    /// ranges of a batch), so nothing but the payload travels and nothing is copied twice: the
    /// step's exchanges of slice partials and gradient entries go through this call.
    func allGather(inPlace buffer: UnsafeMutableRawBufferPointer, parts: [Range<Int>]) throws(CommunicatorError)
    /// Personalised exchange: `send[sendParts[q]]` goes to rank q, and what rank r sends this rank
    /// lands in `receive[receiveParts[r]]` (the lengths must match what r sends). The dense
    /// gradient's reduce-scatter: each rank receives only the columns it steps.
    func allToAll(send: UnsafeRawBufferPointer, sendParts: [Range<Int>], receive: UnsafeMutableRawBufferPointer,
                  receiveParts: [Range<Int>]) throws(CommunicatorError)
    /// Returns once every rank has called it.
    func barrier() throws(CommunicatorError)
}

extension Communicator {
    /// Whether this rank does what only one rank may: printing, writing files.
    public var isRoot: Bool { rank == 0 }

    /// Every rank's floats, in rank order, bit for bit (floats travel as their bytes).
    public func allGather(floats local: [Float]) throws(CommunicatorError) -> [[Float]] {
        let bytes = local.withUnsafeBytes { Array($0) }
        return try allGather(bytes).map { part in
            part.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }
}

/// A rank that failed, disagreed or did not answer in time: which, at what, and why.
public struct CommunicatorError: Error, CustomStringConvertible, Sendable, Equatable {
    public let rank: Int?
    public let message: String

    public init(rank: Int?, _ message: String) {
        self.rank = rank
        self.message = message
    }

    public var description: String { rank.map { "rank \($0): \(message)" } ?? message }
}

/// The single-process communicator: rank 0 of 1. Gathering returns this rank's bytes, a
/// broadcast from rank 0 leaves them as they are, and the barrier is passed at once.
public final class LocalCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allGather(_ local: [UInt8]) throws(CommunicatorError) -> [[UInt8]] { [local] }

    public func broadcast(_ bytes: inout [UInt8], from root: Int) throws(CommunicatorError) {
        guard root == 0 else { throw CommunicatorError(rank: root, "no such rank: a single process has only rank 0") }
    }

    public func allGather(inPlace buffer: UnsafeMutableRawBufferPointer, parts: [Range<Int>]) throws(CommunicatorError) {}

    public func allToAll(send: UnsafeRawBufferPointer, sendParts: [Range<Int>], receive: UnsafeMutableRawBufferPointer,
                         receiveParts: [Range<Int>]) throws(CommunicatorError) {
        guard let part = sendParts.first, let into = receiveParts.first, part.count == into.count else {
            throw CommunicatorError(rank: 0, "an exchange to oneself needs one send and one receive part of one length")
        }
        guard part.count > 0 else { return }
        receive.baseAddress!.advanced(by: into.lowerBound).copyMemory(from: send.baseAddress!.advanced(by: part.lowerBound), byteCount: part.count)
    }

    public func barrier() throws(CommunicatorError) {}
}
