/// A digest of a file's tensors, recorded in model files and checkpoints (`content_digest`) and
/// checked when they are read: a bit flipped anywhere in the parameters or optimizer state would
/// otherwise load as a slightly different model with no error. Model files stay plain
/// safetensors (torchfm ignores the key); files without one (PyTorch's) are read unchecked.
///
/// 64-bit multiply-xorshift over 8-byte words (with names, dtypes and shapes, in name order):
/// several GB/s, so a checkpoint per epoch costs little. It finds damage, it does not authenticate.
extension SafeTensors {
    public static let digestKey = "content_digest"
    static let digestMultiplier: UInt64 = SplitMix64.goldenGamma

    public var contentDigest: String {
        var hasher = ContentHasher()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            hasher.beginTensor(name: name, dtype: t.dtype, shape: t.shape)
            // A piece at a time: a mapped tensor's pages go back as it is hashed (it is read again
            // when copied out), a generated one is never whole.
            t.forEachPiece { hasher.absorb($0) }
            hasher.endTensor()
        }
        return hasher.digest
    }

    /// Records the digest of the tensors as they are now.
    public mutating func recordDigest() { metadata[Self.digestKey] = contentDigest }

    /// Refuses a file whose recorded digest its tensors do not match.
    public func verifyDigest(path: String) throws(ModelFileError) {
        guard let recorded = metadata[Self.digestKey] else { return }
        guard recorded == contentDigest else {
            throw ModelFileError(path: path, "damaged: its tensors do not match the digest recorded when it was written (a changed byte, e.g. a disk or copy error)")
        }
    }
}

/// The content digest computed as the tensors go by, a piece at a time (a streamed tensor is
/// never whole in memory): the same words and tails as hashing each tensor's bytes at once.
public struct ContentHasher {
    private var h: UInt64 = 0x6A09_E667_F3BC_C908
    /// Bytes of the current tensor not yet making a whole word, and their count.
    private var pending: UInt64 = 0
    private var pendingCount = 0
    private var tensorBytes = 0

    public init() {}

    @inline(__always) private mutating func mix(_ word: UInt64) {
        h = (h ^ word) &* SafeTensors.digestMultiplier
        h ^= h >> 29
    }

    /// A tensor's name, dtype and shape, hashed as one piece before its bytes.
    public mutating func beginTensor(name: String, dtype: SafeTensors.DType, shape: [Int]) {
        Array((name + " " + dtype.rawValue + " " + shape.map(String.init).joined(separator: ",")).utf8).withUnsafeBytes { absorb($0) }
        endTensor()
    }

    /// The next bytes of the current piece.
    public mutating func absorb(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while pendingCount > 0 && pendingCount < 8 && i < bytes.count {
            pending |= UInt64(bytes[i]) << (8 * UInt64(pendingCount))
            pendingCount += 1
            i += 1
        }
        if pendingCount == 8 { mix(pending); pending = 0; pendingCount = 0 }
        while i + 8 <= bytes.count {
            mix(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        while i < bytes.count {
            pending |= UInt64(bytes[i]) << (8 * UInt64(pendingCount))
            pendingCount += 1
            i += 1
        }
        tensorBytes += bytes.count
    }

    /// Ends the current piece: its tail word carries its length.
    public mutating func endTensor() {
        mix(pending ^ UInt64(truncatingIfNeeded: tensorBytes) << 56)
        pending = 0
        pendingCount = 0
        tensorBytes = 0
    }

    public var digest: String { String(h, radix: 16) }
}
