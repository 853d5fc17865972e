import CMPI
import Foundation
import Synchronization
import FNNExecution
import FNNSystem

/// The multi-process communicator over MPI (Open MPI from Debian; `mpirun` or Slurm's `srun`
/// launch it). It moves bytes only, as every `Communicator` must: the trainer does every float
/// sum itself, in one order, so the model does not depend on the rank count. MPI is initialised
/// only when a launcher started this process (a plain run never touches it) and finalised at exit.
/// Only the calling thread talks to MPI (MPI_THREAD_FUNNELED): the workers never do.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let world: MPI_Comm

    /// The world communicator of a launched run, MPI initialised on first use.
    public static func world() throws(CommunicatorError) -> MPICommunicator {
        var provided: Int32 = 0
        var argc: Int32 = 0
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            let code = MPI_Init_thread(&argc, &argv, fnnpar_mpi_thread_funneled(), &provided)
            guard code == fnnpar_mpi_success() else { throw CommunicatorError(rank: nil, "cannot initialise MPI (error \(code))") }
            runAtExit { var done: Int32 = 0; MPI_Finalized(&done); if done == 0 { MPI_Finalize() } }
        }
        guard let world = fnnpar_mpi_comm_world() else { throw CommunicatorError(rank: nil, "MPI has no world communicator") }
        // Failures come back as codes (turned into errors naming the rank), not as aborts.
        MPI_Comm_set_errhandler(world, fnnpar_mpi_errors_return())
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(world, &rank)
        MPI_Comm_size(world, &size)
        return MPICommunicator(world: world, rank: Int(rank), size: Int(size))
    }

    /// When the exchange in progress began (monotonic nanoseconds), 0 when none is: read by the
    /// watchdog of `abortAfterWaiting`.
    private let waitingSince = Atomic<Int>(0)

    /// Ends every rank when any one exchange has waited `seconds`: a rank that hangs (stuck I/O,
    /// a stopped process) would otherwise hold all the others in their next collective forever.
    /// A watchdog thread checks once a second; the message names this rank and how long it waited.
    public func abortAfterWaiting(seconds: Double) {
        let limit = Int(seconds * 1e9)
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: min(1, seconds / 4))
                let since = waitingSince.load(ordering: .relaxed)
                guard since != 0, Int(monotonicSeconds() * 1e9) - since > limit else { continue }
                FileHandle.standardError.write(Data("fnn-par: rank \(rank) of \(size) (\(hostName), pid \(processID)): the other ranks have not answered for \(Int(seconds)) s (--rank-timeout); ending every rank\n".utf8))
                abortAll(code: 1)
            }
        }
        thread.name = "fnn-par rank watchdog"
        thread.start()
    }

    /// MPI_Abort: ends every rank of the run with `code` (after this rank said why).
    public func abortAll(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }

    /// Runs one collective under the watchdog's eye.
    private func waiting<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        waitingSince.store(Int(monotonicSeconds() * 1e9), ordering: .relaxed)
        defer { waitingSince.store(0, ordering: .relaxed) }
        return try body()
    }

    private init(world: MPI_Comm, rank: Int, size: Int) {
        self.world = world
        self.rank = rank
        self.size = size
    }

    private func check(_ code: Int32, _ what: String) throws(CommunicatorError) {
        guard code == fnnpar_mpi_success() else {
            var length: Int32 = 0
            var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
            MPI_Error_string(code, &text, &length)
            throw CommunicatorError(rank: rank, "\(what) failed: \(String(cString: text))")
        }
    }

    public func allGather(_ local: [UInt8]) throws(CommunicatorError) -> [[UInt8]] {
        try waiting { () throws(CommunicatorError) in try gather(local) }
    }

    private func gather(_ local: [UInt8]) throws(CommunicatorError) -> [[UInt8]] {
        guard local.count <= Int(Int32.max) else { throw CommunicatorError(rank: rank, "\(local.count) bytes are more than one exchange carries") }
        var lengths = [Int32](repeating: 0, count: size)
        var mine = Int32(local.count)
        try check(MPI_Allgather(&mine, 1, fnnpar_mpi_int(), &lengths, 1, fnnpar_mpi_int(), world), "gathering lengths")
        var offsets = [Int32](repeating: 0, count: size)
        var total = 0
        for r in 0..<size {
            guard total + Int(lengths[r]) <= Int(Int32.max) else { throw CommunicatorError(rank: r, "the gathered bytes exceed one exchange") }
            offsets[r] = Int32(total)
            total += Int(lengths[r])
        }
        var all = [UInt8](repeating: 0, count: max(total, 1))
        let code = local.withUnsafeBytes { s in
            all.withUnsafeMutableBytes { a in
                MPI_Allgatherv(s.baseAddress, mine, fnnpar_mpi_byte(), a.baseAddress, lengths, offsets, fnnpar_mpi_byte(), world)
            }
        }
        try check(code, "gathering bytes")
        return (0..<size).map { r in Array(all[Int(offsets[r])..<(Int(offsets[r]) + Int(lengths[r]))]) }
    }

    public func broadcast(_ bytes: inout [UInt8], from root: Int) throws(CommunicatorError) {
        guard root >= 0, root < size else { throw CommunicatorError(rank: root, "no such rank: the run has \(size)") }
        var length = Int32(clamping: bytes.count)
        try check(waiting { MPI_Bcast(&length, 1, fnnpar_mpi_int(), Int32(root), world) }, "broadcasting a length")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        guard length > 0 else { return }
        let code = bytes.withUnsafeMutableBytes { b in waiting { MPI_Bcast(b.baseAddress, length, fnnpar_mpi_byte(), Int32(root), world) } }
        try check(code, "broadcasting bytes")
    }

    /// MPI's per-rank lengths and offsets of `parts` (one per rank) within a buffer of `total`
    /// bytes, checked: a part outside the buffer, or a buffer larger than MPI's Int32 counts.
    private func counts(of parts: [Range<Int>], within total: Int) throws(CommunicatorError) -> (lengths: [Int32], offsets: [Int32]) {
        guard parts.count == size else { throw CommunicatorError(rank: rank, "an exchange named \(parts.count) parts for \(size) ranks") }
        guard total <= Int(Int32.max) else { throw CommunicatorError(rank: rank, "\(total) bytes are more than one exchange carries") }
        var lengths: [Int32] = [], offsets: [Int32] = []
        for (r, part) in parts.enumerated() {
            guard part.lowerBound >= 0, part.upperBound <= total else {
                throw CommunicatorError(rank: r, "exchange part \(part) lies outside a buffer of \(total) bytes")
            }
            lengths.append(Int32(part.count))
            offsets.append(Int32(part.lowerBound))
        }
        return (lengths, offsets)
    }

    public func allGather(inPlace buffer: UnsafeMutableRawBufferPointer, parts: [Range<Int>]) throws(CommunicatorError) {
        let (lengths, offsets) = try counts(of: parts, within: buffer.count)
        guard buffer.count > 0 else { return }
        // MPI_IN_PLACE: this rank's part is already where the gather puts it.
        let code = waiting { MPI_Allgatherv(fnnpar_mpi_in_place(), 0, fnnpar_mpi_byte(), buffer.baseAddress, lengths, offsets,
                                            fnnpar_mpi_byte(), world) }
        try check(code, "exchanging \(buffer.count) bytes")
    }

    public func allToAll(send: UnsafeRawBufferPointer, sendParts: [Range<Int>], receive: UnsafeMutableRawBufferPointer,
                         receiveParts: [Range<Int>]) throws(CommunicatorError) {
        let (sendLengths, sendOffsets) = try counts(of: sendParts, within: send.count)
        let (receiveLengths, receiveOffsets) = try counts(of: receiveParts, within: receive.count)
        // Zero-length buffers still need an address MPI may ignore.
        var dummy: UInt8 = 0
        let code = withUnsafeMutablePointer(to: &dummy) { spare in
            waiting {
                MPI_Alltoallv(send.baseAddress ?? UnsafeRawPointer(spare), sendLengths, sendOffsets, fnnpar_mpi_byte(),
                              receive.baseAddress ?? UnsafeMutableRawPointer(spare), receiveLengths, receiveOffsets, fnnpar_mpi_byte(), world)
            }
        }
        try check(code, "exchanging \(send.count) bytes each way")
    }

    public func barrier() throws(CommunicatorError) {
        try check(waiting { MPI_Barrier(world) }, "the barrier")
    }
}
