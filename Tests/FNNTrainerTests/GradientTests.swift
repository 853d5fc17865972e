import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

/// Analytic gradients (Float kernels, several slices) against central differences of the Double
/// reference models.
@Suite struct EndToEndGradientTests {
    func close(_ analytic: Float, _ numeric: Double) -> Bool {
        abs(Double(analytic) - numeric) <= 2e-5 + 2e-3 * abs(numeric)
    }

    func check(config: ModelConfig, rows: Int, sliceRows: Int) {
        let data = randomDataset(rows: rows, fieldDims: config.fieldDims, seed: 11)
        let model = Model.initialized(config: config, seed: 3)
        // Nudge BatchNorm off its identity initialisation so gamma and beta matter non-trivially.
        for h in model.layout.hidden {
            for j in 0..<h.outputs { model.dense[h.gamma + j] = 0.7 + 0.1 * Float(j % 5); model.dense[h.beta + j] = 0.05 * Float(j % 3) }
        }
        let seed: UInt64 = 77, epoch = 3
        let engine: TrainingEngine
        var options = TrainingOptions()
        options.seed = seed
        options.batchSize = rows
        options.sliceRows = sliceRows
        engine = makeEngine(model: model, data: data, options: options)
        var examples = Array(0..<rows)
        var rng = Xoshiro256(seed: 5)
        examples.shuffleDeterministically(using: &rng)
        let serial = SerialExecutor()
        let loss: Double
        let grads: BatchGradients
        if let fnn = engine as? FNNEngine {
            loss = examples.withUnsafeBufferPointer { fnn.forwardBackward(examples: $0.baseAddress!, count: rows, epoch: epoch, executor: serial) }
            grads = fnn.lastGradients()
        } else {
            let fm = engine as! FMEngine
            loss = examples.withUnsafeBufferPointer { fm.forwardBackward(examples: $0.baseAddress!, count: rows, epoch: epoch, executor: serial) }
            grads = fm.lastGradients()
        }
        let reference = ReferenceModel(model, seed: seed, epoch: epoch)
        #expect(abs(loss - reference.meanLoss(data, examples)) < 1e-5)
        var checked = 0
        for j in 0..<model.dense.count {
            let numeric = reference.numericGradient(data, examples, \.dense, j)
            #expect(close(grads.dense[j], numeric), "dense parameter \(j): analytic \(grads.dense[j]) numeric \(numeric)")
            checked += 1
        }
        for j in 0..<model.embedding.count {
            let numeric = reference.numericGradient(data, examples, \.embedding, j)
            #expect(close(grads.embedding[j], numeric), "embedding \(j): analytic \(grads.embedding[j]) numeric \(numeric)")
            checked += 1
        }
        if let linear = grads.linear {
            for j in 0..<linear.count {
                let numeric = reference.numericGradient(data, examples, \.linear, j)
                #expect(close(linear[j], numeric), "linear \(j): analytic \(linear[j]) numeric \(numeric)")
            }
        }
        #expect(checked > 50)
    }

    @Test func factorizationMachine() {
        check(config: ModelConfig(kind: .fm, fieldDims: [5, 7, 3], embedDim: 4), rows: 150, sliceRows: 64)
    }

    @Test func fnnWithDropoutAcrossUnevenSlices() {
        check(config: ModelConfig(kind: .fnn, fieldDims: [5, 7, 3], embedDim: 4, mlpDims: [6, 5], dropout: 0.3),
              rows: 150, sliceRows: 64)
    }

    /// Layers of 12 and 9 units: the BatchNorm, ReLU and dropout kernel's eight-unit lanes and
    /// its tail (the others here are narrower than a lane); embeddings of the default width 16,
    /// which the FM kernel and the row grouping take as a constant.
    @Test func fnnWideLayersWithDropout() {
        check(config: ModelConfig(kind: .fnn, fieldDims: [5, 7, 3], embedDim: 16, mlpDims: [12, 9], dropout: 0.3),
              rows: 100, sliceRows: 32)
    }

    @Test func factorizationMachineDefaultWidth() {
        check(config: ModelConfig(kind: .fm, fieldDims: [5, 7, 3], embedDim: 16), rows: 100, sliceRows: 32)
    }

    @Test func fnnOneSliceNoDropoutThreeLayers() {
        check(config: ModelConfig(kind: .fnn, fieldDims: [4, 6], embedDim: 3, mlpDims: [7, 4, 3], dropout: 0),
              rows: 40, sliceRows: 64)
    }

    @Test func fnnWithLinearWeightsAsInput() {
        check(config: ModelConfig(kind: .fnn, fieldDims: [5, 7, 3], embedDim: 4, mlpDims: [6], dropout: 0.2,
                                  fnnInput: .embeddingPlusLinear), rows: 100, sliceRows: 16)
    }
}

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
