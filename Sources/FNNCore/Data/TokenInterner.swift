import FNNExecution
import FNNSystem
import Foundation

/// One field's distinct tokens, numbered in order of first appearance.
struct TokenInterner {
    /// Token bytes back to back; token k is arena[starts[k] ..< starts[k + 1]].
    private var arena: [UInt8] = []
    private var starts: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Open addressing: slot -> token id, or -1.
    private var table = [Int32](repeating: -1, count: 64)

    var count: Int { hashes.count }

    /// Tokens are looked up by their bytes, without building a String per token (which cost
    /// more than the rest of the parse); Strings are made once per distinct token, at the end.
    var tokens: [String] {
        (0..<count).map { k in String(decoding: arena[starts[k]..<starts[k + 1]], as: UTF8.self) }
    }

    mutating func intern(_ token: String) -> UInt32 {
        var token = token
        return token.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hash = FNV1a()
        for b in bytes { hash.add(b) }
        let h = SplitMix64.mix(hash.value)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = Int(table[slot])
            if id < 0 { break }
            if hashes[id] == h && equal(id, bytes) { return UInt32(id) }
            slot = (slot + 1) & mask
        }
        let id = hashes.count
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        hashes.append(h)
        table[slot] = Int32(id)
        if 2 * hashes.count > table.count { grow() }
        return UInt32(id)
    }

    private func equal(_ id: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = starts[id], length = starts[id + 1] - start
        guard length == bytes.count else { return false }
        return arena.withUnsafeBytes { memcmp($0.baseAddress! + start, bytes.baseAddress ?? UnsafeRawPointer($0.baseAddress!), length) == 0 }
    }

    private mutating func grow() {
        table = [Int32](repeating: -1, count: table.count * 2)
        let mask = table.count - 1
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(id)
        }
    }
}
