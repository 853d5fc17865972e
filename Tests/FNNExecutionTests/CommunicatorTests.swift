import FNNExecution
import Testing

@Suite struct CommunicatorTests {
    /// One process: gathering gives back exactly this rank's bytes (floats bit for bit, a
    /// negative zero and a NaN payload included), a broadcast from rank 0 changes nothing, and a
    /// broadcast from a rank that does not exist is refused by name.
    @Test func localCommunicatorIsRankZeroOfOne() throws {
        let local = LocalCommunicator()
        #expect(local.rank == 0 && local.size == 1 && local.isRoot)
        let bytes: [UInt8] = [0, 1, 2, 255]
        #expect(try local.allGather(bytes) == [bytes])
        let floats: [Float] = [1.5, -0.0, Float(bitPattern: 0x7FC0_1234), .infinity]
        let gathered = try local.allGather(floats: floats)
        #expect(gathered.count == 1)
        #expect(gathered[0].map(\.bitPattern) == floats.map(\.bitPattern))
        var message: [UInt8] = [9, 8, 7]
        try local.broadcast(&message, from: 0)
        #expect(message == [9, 8, 7])
        #expect(throws: CommunicatorError(rank: 1, "no such rank: a single process has only rank 0")) {
            try local.broadcast(&message, from: 1)
        }
        try local.barrier()
    }

    /// One process's personalised exchange delivers its one part to itself, where it was asked
    /// to land; a part list that does not fit one rank is refused.
    @Test func localAllToAllDeliversToItself() throws {
        let local = LocalCommunicator()
        let send: [UInt8] = [1, 2, 3, 4, 5]
        var receive = [UInt8](repeating: 0, count: 6)
        try send.withUnsafeBytes { s in
            try receive.withUnsafeMutableBytes { r in
                try local.allToAll(send: s, sendParts: [1..<4], receive: r, receiveParts: [3..<6])
            }
        }
        #expect(receive == [0, 0, 0, 2, 3, 4])
        #expect(throws: CommunicatorError.self) {
            try send.withUnsafeBytes { s in
                try receive.withUnsafeMutableBytes { r in try local.allToAll(send: s, sendParts: [0..<2], receive: r, receiveParts: [0..<3]) }
            }
        }
    }
}
