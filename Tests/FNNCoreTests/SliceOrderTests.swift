import FNNCore
import FNNSystem
import Testing

@Suite struct SliceOrderTests {
    /// The policy is left to right from slice 0, bit for bit: compared with the plain loop, on
    /// values whose float sum depends on the order (large and small magnitudes mixed).
    @Test func sumIsLeftToRightInSliceOrder() {
        let n = 53, slices = 7
        var rng = Xoshiro256(seed: 11)
        let partials = AlignedBuffer<Float>((0..<(n * slices)).map { i in
            Float(rng.nextGaussian()) * (i % 3 == 0 ? 1e7 : 1e-3)
        })
        let sum = AlignedBuffer<Float>(count: n)
        SliceOrder.sum(partials.base, sliceStride: n, sliceCount: slices, count: n, into: sum.base)
        for j in 0..<n {
            var expected = partials[j]
            for s in 1..<slices { expected += partials[s * n + j] }
            #expect(sum[j].bitPattern == expected.bitPattern, "column \(j)")
        }
        // Another order gives other bits somewhere: the test can tell orders apart.
        var reversedDiffers = false
        for j in 0..<n {
            var reversed = partials[(slices - 1) * n + j]
            for s in stride(from: slices - 2, through: 0, by: -1) { reversed += partials[s * n + j] }
            if reversed.bitPattern != sum[j].bitPattern { reversedDiffers = true }
        }
        #expect(reversedDiffers)
    }

    /// Reduce then apply (what the engines do, so another process's partials can join the sum)
    /// gives the same bits as the single-process update.
    @Test func reduceThenApplyEqualsUpdate() {
        let n = 29, slices = 4
        var rng = Xoshiro256(seed: 5)
        let start = (0..<n).map { _ in Float(rng.nextGaussian()) }
        let fused = AlignedBuffer<Float>(start), separate = AlignedBuffer<Float>(start)
        let a = DenseAdam(config: AdamConfig(weightDecay: 1e-3), count: n)
        let b = DenseAdam(config: AdamConfig(weightDecay: 1e-3), count: n)
        let partials = AlignedBuffer<Float>(count: n * slices)
        let scratch = AlignedBuffer<Float>(count: n), gradient = AlignedBuffer<Float>(count: n)
        for step in 1...6 {
            for i in 0..<(n * slices) { partials[i] = Float(rng.nextGaussian()) }
            a.update(parameters: fused, slicePartials: partials, sliceCount: slices, range: 0..<n, step: step, scratch: scratch.base)
            for range in [0..<13, 13..<n] {
                SliceOrder.sum(partials.base + range.lowerBound, sliceStride: n, sliceCount: slices, count: range.count,
                               into: gradient.base + range.lowerBound)
                b.apply(parameters: separate, gradient: gradient.base + range.lowerBound, range: range, step: step)
            }
        }
        #expect(fused.bitwiseEqual(separate))
        #expect(a.m.bitwiseEqual(b.m) && a.v.bitwiseEqual(b.v))
    }
}
