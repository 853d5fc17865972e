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
        var h: UInt64 = 0x6A09_E667_F3BC_C908
        @inline(__always) func mix(_ word: UInt64) {
            h = (h ^ word) &* Self.digestMultiplier
            h ^= h >> 29
        }
        func absorb(_ bytes: UnsafeRawBufferPointer) {
            let words = bytes.count / 8
            for i in 0..<words { mix(bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
            var tail: UInt64 = 0
            for i in (words * 8)..<bytes.count { tail |= UInt64(bytes[i]) << (8 * UInt64(i - words * 8)) }
            mix(tail ^ UInt64(bytes.count) << 56)
        }
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            Array((name + " " + t.dtype.rawValue + " " + t.shape.map(String.init).joined(separator: ",")).utf8).withUnsafeBytes(absorb)
            t.withUnsafeBytes(absorb)
            // A mapped tensor is read again when copied out; meanwhile it need not stay resident.
            t.releasePages()
        }
        return String(h, radix: 16)
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
