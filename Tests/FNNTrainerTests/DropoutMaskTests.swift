import FNNCore
import Testing

/// The dropout masks of the training kernel against `CounterRandom.uniform16` unit by unit: the
/// kernel hashes a chunk of rows in lanes, and any slip in its counters, its chunking or its
/// reading of the hashes as 16-bit draws would move units between kept and dropped.
@Suite struct DropoutMaskTests {
    /// The key as first written (four chained mixes), for checking the staged form.
    static func chainedKey(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) -> UInt64 {
        var h = SplitMix64.mix(a &+ SplitMix64.goldenGamma)
        h = SplitMix64.mix(h ^ (b &* 0xC2B2_AE3D_27D4_EB4F))
        h = SplitMix64.mix(h ^ (c &* 0x1656_67B1_9E37_79F9))
        return SplitMix64.mix(h ^ (d &* 0x27D4_EB2F_1656_67C5))
    }

    @Test func stagedKeysEqualTheChainedKey() {
        var rng = Xoshiro256(seed: 3)
        for _ in 0..<200 {
            let a = rng.next(), b = rng.next() % 100, c = rng.next() % 1_000_000, d = rng.next() % 4
            let staged = CounterRandom.key(extending: CounterRandom.key(extending: CounterRandom.key(a, b), third: c), fourth: d)
            #expect(staged == Self.chainedKey(a, b, c, d))
            #expect(CounterRandom.key(a, b, c, d) == Self.chainedKey(a, b, c, d))
        }
    }

    @Test(arguments: [1, 3, 4, 5, 8, 16, 20, 33, 400])
    func masksMatchTheScalarDraws(width: Int) {
        let dropout: Float = 0.3, keepScale = 1 / (1 - dropout)
        var rng = Xoshiro256(seed: UInt64(width))
        // Row counts on both sides of the kernel's chunk of 256 / ceil(width / 4) rows.
        for rows in [1, 7, 64, 65, 130, 300] {
            let keys = (0..<rows).map { _ in rng.next() }
            // gamma 0, beta 1: every unit passes ReLU, so the gate is the dropout multiplier.
            var z = (0..<rows * width).map { _ in Float(rng.nextGaussian()) }
            let mean = [Float](repeating: 0, count: width), inverseStd = [Float](repeating: 1, count: width)
            let gamma = [Float](repeating: 0, count: width), beta = [Float](repeating: 1, count: width)
            var a = [Float](repeating: -1, count: rows * width), gate = a
            MLPKernels.batchNormReLUDropoutTrain(z: &z, rows: rows, width: width, mean: mean, inverseStd: inverseStd,
                                                 gamma: gamma, beta: beta, dropout: dropout, dropoutKeys: keys,
                                                 a: &a, gate: &gate)
            var mismatches = 0, dropped = 0
            for i in 0..<rows {
                for j in 0..<width {
                    let expected: Float = CounterRandom.uniform16(keys[i], j) < dropout ? 0 : keepScale
                    if gate[i * width + j] != expected || a[i * width + j] != expected { mismatches += 1 }
                    if expected == 0 { dropped += 1 }
                }
            }
            #expect(mismatches == 0, "width \(width), rows \(rows)")
            // The masks are not trivially all kept or all dropped.
            if rows * width >= 100 { #expect(dropped > 0 && dropped < rows * width) }
        }
    }

    @Test func hashesInLanesEqualTheScalarMix() {
        var rng = Xoshiro256(seed: 11)
        for hashesPerRow in 1...6 {
            for rows in [1, 3, 9, 40] {
                let keys = (0..<rows).map { _ in rng.next() }
                var hashes = [UInt64](repeating: 0, count: rows * hashesPerRow + 8)
                MLPKernels.dropoutHashes(keys: keys, rows: rows, hashesPerRow: hashesPerRow, into: &hashes)
                for i in 0..<rows {
                    for h in 0..<hashesPerRow {
                        #expect(hashes[i * hashesPerRow + h]
                            == SplitMix64.mix(keys[i] &+ UInt64(h) &* SplitMix64.goldenGamma))
                    }
                }
            }
        }
    }
}
