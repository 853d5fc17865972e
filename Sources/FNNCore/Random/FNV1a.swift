/// FNV-1a, 64-bit: the one non-cryptographic hash behind data fingerprints, cache names, field-map
/// digests and the token interner. Its two constants are the published ones; changing either
/// changes every stored fingerprint (caches and checkpoints would read as stale).
public struct FNV1a: Sendable {
    public static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    public static let prime: UInt64 = 0x100_0000_01B3

    /// The running hash; callers that fold in other mixing (SplitMix64) set it directly.
    public var value: UInt64

    /// `salt` is XORed into the offset basis (a length, so that prefixes of different files differ).
    @inline(__always)
    public init(_ salt: UInt64 = 0) { value = Self.offsetBasis ^ salt }

    @inline(__always)
    public mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* Self.prime }

    /// One whole word at a time (the fingerprints of ids and labels).
    @inline(__always)
    public mutating func add(word: UInt64) { value = (value ^ word) &* Self.prime }
}
