/// exp and log in SIMD lanes, for the loss of every example of a slice at once: glibc's scalar
/// expf and logf were about a tenth of the FM's training time. Cephes' single-precision
/// polynomials (range reduction by powers of two), within 2 ulp of the exact values over the
/// ranges the loss needs. A one-value call goes through the same lanes, so every example gets the
/// same bits whether or not it shares a vector.
package enum FastMath {
    package typealias Lanes = SIMD8<Float>

    /// e^x for x <= 0 (larger x are taken as 0); below -87.3 the result is 0.
    @inlinable package static func expNonPositive(_ x: Lanes) -> Lanes {
        let clamped = x.clamped(lowerBound: Lanes(repeating: -87.3), upperBound: Lanes(repeating: 0))
        // x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in two so n ln2 is exact.
        // Rounded to the nearest integer by the 1.5 * 2^23 trick: generic SIMD rounding and
        // float-to-integer conversions go lane by lane.
        let n = (clamped * 1.442_695_04 + 12_582_912) - 12_582_912
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_40e-4
        var p = Lanes(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        // 2^n from the exponent bits; n >= -126 after the clamp. n + 127 is read as an integer
        // from the mantissa of n + 127 + 2^23.
        let biased = unsafeBitCast(n + (127 + 8_388_608), to: SIMD8<UInt32>.self) &- 0x4B00_0000
        let scale = unsafeBitCast(biased &<< 23, to: Lanes.self)
        let result = p * scale
        return result.replacing(with: 0, where: x .< -87.3)
    }

    /// ln(1 + e) for 0 <= e <= 1 (the softplus of the loss), accurate relative to the result even
    /// for tiny e.
    @inlinable package static func logOnePlus(_ e: Lanes) -> Lanes {
        // m = 1 + e in [1, 2]; above sqrt(2) halve it, so x = m' - 1 lies in [-0.293, 0.414].
        let m = 1 + e
        let high = m .> 1.414_213_56
        let x = m.replacing(with: m * 0.5, where: high) - 1
        let k = Lanes(repeating: 0).replacing(with: 1, where: high)
        var p = Lanes(repeating: 7.037_683_629_2e-2)
        p = p * x + -1.151_461_031_0e-1
        p = p * x + 1.167_699_874_0e-1
        p = p * x + -1.242_014_084_6e-1
        p = p * x + 1.424_932_278_7e-1
        p = p * x + -1.666_805_766_5e-1
        p = p * x + 2.000_071_476_5e-1
        p = p * x + -2.499_999_399_3e-1
        p = p * x + 3.333_333_117_4e-1
        let x2 = x * x
        var y = p * x * x2
        y = y + k * -2.121_944_40e-4
        y = y - 0.5 * x2
        let logM = x + y + k * 0.693_359_375
        // 1 + e rounds away e's low bits when e is small; log(m) * e / (m - 1) puts them back
        // (the classic log1p correction), and m == 1 means the answer is e itself.
        let rounded = m - 1
        return (logM * (e / rounded)).replacing(with: e, where: rounded .== 0)
    }
}
