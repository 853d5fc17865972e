import Foundation

/// Seeded, platform-independent random numbers. Swift's SystemRandomNumberGenerator cannot be
/// seeded, and results must be reproducible from `--seed` on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    /// 2^64 / phi, odd: SplitMix64's Weyl increment, also the multiplier of the keyed draws below.
    public static let goldenGamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inlinable public mutating func next() -> UInt64 {
        state &+= SplitMix64.goldenGamma
        return SplitMix64.mix(state)
    }

    @inlinable public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** for bulk draws (initialisation, shuffles, synthetic data).
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    @inlinable public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [0, n) without modulo bias worth caring about at our sizes (Lemire's method).
    @inlinable public mutating func nextInt(below n: Int) -> Int {
        Int(UInt64(n).multipliedFullWidth(by: next()).high)
    }

    /// Standard normal via Box-Muller.
    public mutating func nextGaussian() -> Double {
        var u1 = nextDouble()
        while u1 <= Double.leastNormalMagnitude { u1 = nextDouble() }
        let u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// Stateless random numbers addressed by a key, so that a dropout mask depends on
/// (seed, epoch, sample, layer, unit) and never on which thread draws it or in what order.
public enum CounterRandom {
    @inlinable public static func key(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) -> UInt64 {
        key(extending: key(extending: key(a, b), third: c), fourth: d)
    }

    /// The same key in stages, for loops that vary only its last parts (a batch's examples share
    /// seed and epoch; an example's layers share all but the last): key(a, b, c, d) ==
    /// key(extending: key(extending: key(a, b), third: c), fourth: d), two mixes per key
    /// saved where the prefix is reused.
    @inlinable public static func key(_ a: UInt64, _ b: UInt64) -> UInt64 {
        SplitMix64.mix(SplitMix64.mix(a &+ SplitMix64.goldenGamma) ^ (b &* 0xC2B2_AE3D_27D4_EB4F))
    }

    @inlinable public static func key(extending prefix: UInt64, third c: UInt64) -> UInt64 {
        SplitMix64.mix(prefix ^ (c &* 0x1656_67B1_9E37_79F9))
    }

    @inlinable public static func key(extending prefix: UInt64, fourth d: UInt64) -> UInt64 {
        SplitMix64.mix(prefix ^ (d &* 0x27D4_EB2F_1656_67C5))
    }

    /// Uniform in [0, 1) with 16 bits, for unit `index` under `key`: one 64-bit hash serves four
    /// consecutive units, which makes dropout masks four times cheaper. Dropout needs no more
    /// resolution (p is matched to 1/65536).
    @inlinable public static func uniform16(_ key: UInt64, _ index: Int) -> Float {
        let bits = SplitMix64.mix(key &+ UInt64(truncatingIfNeeded: index >> 2) &* SplitMix64.goldenGamma)
        return Float((bits >> (UInt64(index & 3) << 4)) & 0xFFFF) * 0x1.0p-16
    }
}
