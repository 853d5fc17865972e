import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

/// Each layer kernel on its own: loss = sum(upstream * output) with a random upstream gradient.
@Suite struct LayerGradientTests {
    var rng = Xoshiro256(seed: 8)
    mutating func randoms(_ n: Int, scale: Double = 1) -> [Float] { (0..<n).map { _ in Float(rng.nextGaussian() * scale) } }

    @Test mutating func linearLayer() {
        let rows = 9, inputs = 5, outputs = 4
        let x = randoms(rows * inputs), w = randoms(outputs * inputs), b = randoms(outputs), up = randoms(rows * outputs)
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            for i in 0..<rows { for o in 0..<outputs {
                var z = b[o]
                for k in 0..<inputs { z += w[o * inputs + k] * x[i * inputs + k] }
                s += Double(up[i * outputs + o]) * z
            } }
            return s
        }
        var dW = [Float](repeating: 0, count: outputs * inputs), dB = [Float](repeating: 0, count: outputs)
        var dX = [Float](repeating: 0, count: rows * inputs)
        MLPKernels.linearBackward(x: x, rows: rows, inputs: inputs, weight: w, outputs: outputs, dZ: up,
                                  dWeight: &dW, dBias: &dB, dX: &dX)
        var y = [Float](repeating: 0, count: rows * outputs)
        MLPKernels.linearForward(x: x, rows: rows, inputs: inputs, weight: w, bias: b, outputs: outputs, y: &y)
        let xd = x.map(Double.init), wd = w.map(Double.init), bd = b.map(Double.init)
        // Forward against the definition.
        #expect(abs(zip(y, up).reduce(0.0) { $0 + Double($1.0 * $1.1) } - loss(xd, wd, bd)) < 1e-4)
        let h = 1e-6
        for j in 0..<wd.count {
            var p = wd, m = wd; p[j] += h; m[j] -= h
            #expect(abs(Double(dW[j]) - (loss(xd, p, bd) - loss(xd, m, bd)) / (2 * h)) < 1e-4)
        }
        for j in 0..<bd.count {
            var p = bd, m = bd; p[j] += h; m[j] -= h
            #expect(abs(Double(dB[j]) - (loss(xd, wd, p) - loss(xd, wd, m)) / (2 * h)) < 1e-4)
        }
        for j in 0..<xd.count {
            var p = xd, m = xd; p[j] += h; m[j] -= h
            #expect(abs(Double(dX[j]) - (loss(p, wd, bd) - loss(m, wd, bd)) / (2 * h)) < 1e-4)
        }
    }

    /// BatchNorm (batch statistics) + ReLU, no dropout, split into two slices as the engine does.
    @Test mutating func batchNormReLU() {
        let rows = 12, width = 3, split = 5
        let z0 = randoms(rows * width, scale: 2), gamma = randoms(width), beta = randoms(width, scale: 0.3)
        let up = randoms(rows * width)
        func loss(_ z: [Double], _ g: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            for j in 0..<width {
                let mean = (0..<rows).reduce(0.0) { $0 + z[$1 * width + j] } / Double(rows)
                let v = (0..<rows).reduce(0.0) { $0 + (z[$1 * width + j] - mean) * (z[$1 * width + j] - mean) } / Double(rows)
                for i in 0..<rows {
                    let y = g[j] * (z[i * width + j] - mean) / (v + 1e-5).squareRoot() + b[j]
                    s += Double(up[i * width + j]) * max(y, 0)
                }
            }
            return s
        }
        var z = z0
        var moments = [Double](repeating: 0, count: 2 * 2 * width)
        let slices = [0..<split, split..<rows]
        for (k, r) in slices.enumerated() {
            z.withUnsafeBufferPointer { zb in moments.withUnsafeMutableBufferPointer { mb in
                MLPKernels.columnMoments(zb.baseAddress! + r.lowerBound * width, rows: r.count, width: width,
                                         sums: mb.baseAddress! + k * 2 * width)
            } }
        }
        var stats = [Float](repeating: 0, count: 3 * width)
        stats.withUnsafeMutableBufferPointer { s in
            MLPKernels.batchStatistics(sliceMoments: moments, sliceCount: 2, stride: 2 * width, width: width,
                                       batchSize: rows, mean: s.baseAddress!, inverseStd: s.baseAddress! + width,
                                       unbiasedVariance: s.baseAddress! + 2 * width)
        }
        var a = [Float](repeating: 0, count: rows * width), gate = a
        let keys = [UInt64](repeating: 0, count: rows)
        MLPKernels.batchNormReLUDropoutTrain(z: &z, rows: rows, width: width, mean: stats,
                                             inverseStd: Array(stats[width...]), gamma: gamma, beta: beta, dropout: 0,
                                             dropoutKeys: keys, a: &a, gate: &gate)
        let zd = z0.map(Double.init), gd = gamma.map(Double.init), bd = beta.map(Double.init)
        #expect(abs(zip(a, up).reduce(0.0) { $0 + Double($1.0 * $1.1) } - loss(zd, gd, bd)) < 1e-4)
        var dA = up
        var partials = [Double](repeating: 0, count: 2 * 2 * width)
        for (k, r) in slices.enumerated() {
            dA.withUnsafeMutableBufferPointer { d in partials.withUnsafeMutableBufferPointer { p in
                MLPKernels.batchNormBackwardPartials(dA: d.baseAddress! + r.lowerBound * width,
                                                     gate: Array(gate[(r.lowerBound * width)...]),
                                                     xhat: Array(z[(r.lowerBound * width)...]), rows: r.count,
                                                     width: width, sums: p.baseAddress! + k * 2 * width)
            } }
        }
        var sums = [Float](repeating: 0, count: 2 * width)
        sums.withUnsafeMutableBufferPointer { s in
            MLPKernels.reduceSlicePartials(partials, sliceCount: 2, stride: 2 * width, width: width,
                                           sumDY: s.baseAddress!, sumDYXhat: s.baseAddress! + width)
        }
        var scratch = [Float](repeating: 0, count: 3 * width)
        MLPKernels.batchNormBackwardApply(dY: &dA, xhat: z, rows: rows, width: width, gamma: gamma,
                                          inverseStd: Array(stats[width...]), batchSize: rows,
                                          sumDY: Array(sums[0..<width]), sumDYXhat: Array(sums[width...]),
                                          scratch: &scratch)
        let h = 1e-6
        for j in 0..<zd.count {
            var p = zd, m = zd; p[j] += h; m[j] -= h
            #expect(abs(Double(dA[j]) - (loss(p, gd, bd) - loss(m, gd, bd)) / (2 * h)) < 1e-3)
        }
        for j in 0..<width {
            var p = gd, m = gd; p[j] += h; m[j] -= h
            #expect(abs(Double(sums[width + j]) - (loss(zd, p, bd) - loss(zd, m, bd)) / (2 * h)) < 1e-3)
            var pb = bd, mb = bd; pb[j] += h; mb[j] -= h
            #expect(abs(Double(sums[j]) - (loss(zd, gd, pb) - loss(zd, gd, mb)) / (2 * h)) < 1e-3)
        }
    }

    @Test func binaryCrossEntropyGradient() {
        for z: Float in [-30, -2, -0.1, 0, 0.5, 3, 40] {
            for y: Float in [0, 1] {
                var dz: Float = 0
                _ = [z].withUnsafeBufferPointer { zb in [y].withUnsafeBufferPointer { yb in
                    BinaryCrossEntropy.gradients(logits: zb.baseAddress!, labels: yb.baseAddress!, rows: 1, batchSize: 1,
                                                 dLogits: &dz)
                } }
                let h: Float = 1e-2
                let numeric = (BinaryCrossEntropy.loss(logit: z + h, label: y) - BinaryCrossEntropy.loss(logit: z - h, label: y)) / Double(2 * h)
                #expect(abs(Double(dz) - numeric) < 1e-3)
            }
        }
    }
}
