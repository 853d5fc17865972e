import FNNExecution
import Foundation

/// Ranks as threads of one process, for tests: a real `Communicator` (every call is a meeting
/// of all ranks, bytes only) without a launcher, so R ranks x T threads can be checked against
/// one process in `swift test`. `mpirun` runs of the binary test the MPI transport itself.
public final class InProcessRanks: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var contributions: [[UInt8]]
    private var gathered: [[UInt8]] = []

    public init(size: Int) {
        self.size = size
        contributions = Array(repeating: [], count: size)
    }

    /// One communicator per rank.
    public var communicators: [Communicator] { (0..<size).map { Member(group: self, rank: $0) } }

    /// Runs `body(rank, communicator)` on one thread per rank and returns the results in rank order.
    public func run<T>(_ body: @escaping @Sendable (Int, Communicator) -> T) -> [T] {
        let results = ResultSlots<T>(count: size)
        let members = communicators
        let done = DispatchGroup()
        for r in 0..<size {
            done.enter()
            let thread = Thread {
                results.set(r, body(r, members[r]))
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return results.values
    }

    fileprivate func meet(rank: Int, _ bytes: [UInt8]) -> [[UInt8]] {
        condition.lock()
        defer { condition.unlock() }
        let meeting = generation
        contributions[rank] = bytes
        arrived += 1
        if arrived == size {
            gathered = contributions
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == meeting { condition.wait() }
        }
        return gathered
    }

    private final class Member: Communicator, @unchecked Sendable {
        let group: InProcessRanks
        let rank: Int
        var size: Int { group.size }
        init(group: InProcessRanks, rank: Int) { self.group = group; self.rank = rank }

        func allGather(_ local: [UInt8]) throws(CommunicatorError) -> [[UInt8]] { group.meet(rank: rank, local) }

        func broadcast(_ bytes: inout [UInt8], from root: Int) throws(CommunicatorError) {
            bytes = group.meet(rank: rank, bytes)[root]
        }

        func allGather(inPlace buffer: UnsafeMutableRawBufferPointer, parts: [Range<Int>]) throws(CommunicatorError) {
            guard buffer.count > 0 else { _ = group.meet(rank: rank, []); return }
            let mine = Array(buffer[parts[rank]])
            let all = group.meet(rank: rank, mine)
            for (r, part) in parts.enumerated() where r != rank {
                precondition(all[r].count == part.count, "rank \(r) sent \(all[r].count) bytes for a part of \(part.count)")
                all[r].withUnsafeBytes { buffer.baseAddress!.advanced(by: part.lowerBound).copyMemory(from: $0.baseAddress!, byteCount: part.count) }
            }
        }

        func allToAll(send: UnsafeRawBufferPointer, sendParts: [Range<Int>], receive: UnsafeMutableRawBufferPointer,
                      receiveParts: [Range<Int>]) throws(CommunicatorError) {
            // Every rank contributes its whole send buffer with its parts' bounds in front.
            var message: [UInt8] = []
            for part in sendParts {
                withUnsafeBytes(of: UInt64(part.lowerBound)) { message += $0 }
                withUnsafeBytes(of: UInt64(part.count)) { message += $0 }
            }
            if send.count > 0 { message += Array(send) }
            let all = group.meet(rank: rank, message)
            let header = 16 * size
            for (r, theirs) in all.enumerated() {
                let (offset, count) = theirs.withUnsafeBytes { raw in
                    (Int(raw.loadUnaligned(fromByteOffset: 16 * rank, as: UInt64.self)),
                     Int(raw.loadUnaligned(fromByteOffset: 16 * rank + 8, as: UInt64.self)))
                }
                precondition(count == receiveParts[r].count, "rank \(r) sent \(count) bytes for a part of \(receiveParts[r].count)")
                guard count > 0 else { continue }
                theirs.withUnsafeBytes { raw in
                    receive.baseAddress!.advanced(by: receiveParts[r].lowerBound)
                        .copyMemory(from: raw.baseAddress!.advanced(by: header + offset), byteCount: count)
                }
            }
        }

        func barrier() throws(CommunicatorError) { _ = group.meet(rank: rank, []) }
    }
}

private final class ResultSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    var values: [T] { slots.map { $0! } }
}
