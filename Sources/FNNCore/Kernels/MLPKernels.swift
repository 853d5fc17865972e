/// The FNN's layers as kernels over a slice of a batch (`rows` consecutive examples) writing into
/// caller-owned buffers. Whole-batch quantities (BatchNorm statistics) enter as arguments, so a
/// slice can be processed by any thread once those are known. No kernel allocates.
///
/// Layouts are row-major: an activation is rows x width, a weight is outputs x inputs (torch's).
package enum MLPKernels: FloatLanes {
    package typealias Lanes = SIMD8<Float>

    package static let batchNormEpsilon: Float = 1e-5
    package static let batchNormMomentum: Float = 0.1

    /// y = x * W^T + b.
    @inlinable package static func linearForward(
        x: UnsafePointer<Float>, rows: Int, inputs: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outputs: Int,
        y: UnsafeMutablePointer<Float>
    ) {
        guard rows > 0 else { return }
        BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs,
                  a: x, lda: inputs, b: weight, ldb: inputs, c: y, ldc: outputs)
        addBias(bias, to: y, rows: rows, outputs: outputs)
    }

    /// y[i] += b for each row: every linear layer's bias, whatever did its product.
    @inlinable package static func addBias(_ bias: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, outputs: Int) {
        for i in 0..<rows {
            let row = y + i * outputs
            for j in 0..<outputs { row[j] += bias[j] }
        }
    }

    /// db += column sums of dZ, rows in order: the bias gradient of every linear layer.
    @inlinable package static func addColumnSums(of dZ: UnsafePointer<Float>, rows: Int, outputs: Int,
                                                into dBias: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let d = dZ + i * outputs
            for j in 0..<outputs { dBias[j] += d[j] }
        }
    }

    /// Per-column sum and sum of squares of the slice, in Double, so that the batch statistics
    /// assembled from slices do not lose precision: sums[j] and sums[width + j].
    @inlinable package static func columnMoments(
        _ y: UnsafePointer<Float>, rows: Int, width: Int, sums: UnsafeMutablePointer<Double>
    ) {
        // Eight columns at a time in Double lanes, rows in order: each column's sums take the same
        // additions in the same order as a plain loop, so the bits do not change.
        typealias Lanes = SIMD8<Double>
        var j = 0
        while j + 8 <= width {
            var sum = Lanes(repeating: 0), squares = Lanes(repeating: 0)
            for i in 0..<rows {
                let v = Lanes(UnsafeRawPointer(y + i * width + j).loadUnaligned(as: SIMD8<Float>.self))
                sum += v
                squares += v * v
            }
            UnsafeMutableRawPointer(sums + j).storeBytes(of: sum, as: Lanes.self)
            UnsafeMutableRawPointer(sums + width + j).storeBytes(of: squares, as: Lanes.self)
            j += 8
        }
        while j < width {
            var sum = 0.0, squares = 0.0
            for i in 0..<rows {
                let v = Double(y[i * width + j])
                sum += v
                squares += v * v
            }
            sums[j] = sum
            sums[width + j] = squares
            j += 1
        }
    }

    /// Batch mean and 1/sqrt(biased variance + eps) from per-slice moments, always summed in slice
    /// order so every caller gets the same bits. `unbiasedVariance`, when given, receives the
    /// n/(n-1)-corrected variance that torch feeds into the running statistics.
    @inlinable package static func batchStatistics(
        sliceMoments: UnsafePointer<Double>, sliceCount: Int, stride: Int, width: Int, batchSize: Int,
        mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>,
        unbiasedVariance: UnsafeMutablePointer<Float>?
    ) {
        let n = Double(batchSize)
        for j in 0..<width {
            var s = 0.0, q = 0.0
            for k in 0..<sliceCount {
                s += sliceMoments[k * stride + j]
                q += sliceMoments[k * stride + width + j]
            }
            let mu = s / n
            let variance = max(q / n - mu * mu, 0)
            mean[j] = Float(mu)
            inverseStd[j] = Float(1 / (variance + Double(batchNormEpsilon)).squareRoot())
            if let unbiasedVariance { unbiasedVariance[j] = Float(batchSize > 1 ? variance * n / (n - 1) : variance) }
        }
    }

    /// Training-mode BatchNorm, ReLU and inverted dropout. `z` is replaced by x-hat (needed by the
    /// backward pass); `a` receives the layer output; `gate` receives d a / d (BN output): 0 where
    /// ReLU or dropout cut, 1/(1-p) elsewhere. Dropout draws are keyed by (seed, epoch, example,
    /// layer) so they are the same whichever thread computes them.
    @inlinable package static func batchNormReLUDropoutTrain(
        z: UnsafeMutablePointer<Float>, rows: Int, width: Int,
        mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        dropout: Float, dropoutKeys: UnsafePointer<UInt64>,
        a: UnsafeMutablePointer<Float>, gate: UnsafeMutablePointer<Float>
    ) {
        let keepScale: Float = dropout > 0 ? 1 / (1 - dropout) : 1
        // A unit is dropped when its 16-bit draw u / 65536 < p, i.e. when u < p * 65536 (exact in Float).
        let threshold = dropout * 65536
        // Four units per hash, as CounterRandom.uniform16: unit j's draw is bits (j % 4) * 16 of
        // the hash of (key, j / 4), so a row's hashes laid side by side are its draws as 16-bit
        // integers, unit j's at index j (read little-endian). A chunk of rows is hashed first,
        // eight hashes at a time in 64-bit lanes (one hash at a time in scalar registers took
        // half of this kernel).
        #if _endian(big)
        #error("the dropout draws read the hashes as little-endian 16-bit integers")
        #endif
        guard width > 0, rows > 0 else { return }
        let hashesPerRow = (width + 3) / 4
        let chunkRows = max(1, 256 / hashesPerRow)
        let vectorEnd = width / Lanes.scalarCount * Lanes.scalarCount
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: chunkRows * hashesPerRow + 8) { buffer in
            let hashes = buffer.baseAddress!
            var first = 0
            while first < rows {
                let n = min(chunkRows, rows - first)
                if dropout > 0 { dropoutHashes(keys: dropoutKeys + first, rows: n, hashesPerRow: hashesPerRow, into: hashes) }
                for i in first..<(first + n) {
                    let zr = z + i * width, ar = a + i * width, gr = gate + i * width
                    let rowDraws = UnsafeRawPointer(hashes + (i - first) * hashesPerRow).assumingMemoryBound(to: UInt16.self)
                    // Eight units at a time in one pass, the dropout multipliers kept in registers.
                    // Normalise, affine, ReLU and dropout, branch-free.
                    var j = 0
                    while j < vectorEnd {
                        var kept = Lanes(repeating: 1)
                        if dropout > 0 {
                            let u = Lanes(UnsafeRawPointer(rowDraws + j).loadUnaligned(as: SIMD8<UInt16>.self))
                            kept = Lanes(repeating: 0).replacing(with: keepScale, where: u .>= threshold)
                        }
                        let xhat = (load(zr + j) - load(mean + j)) * load(inverseStd + j)
                        store(xhat, zr + j)
                        let y = load(gamma + j) * xhat + load(beta + j)
                        let g = Lanes(repeating: 0).replacing(with: kept, where: y .> 0)
                        store(g, gr + j)
                        store(y * g, ar + j)
                        j += Lanes.scalarCount
                    }
                    // The tail as the lanes above, one unit at a time.
                    while j < width {
                        var kept: Float = 1
                        if dropout > 0 { kept = Float(rowDraws[j]) >= threshold ? keepScale : 0 }
                        let xhat = (zr[j] - mean[j]) * inverseStd[j]
                        zr[j] = xhat
                        let y = gamma[j] * xhat + beta[j]
                        let g = y > 0 ? kept : 0
                        gr[j] = g
                        ar[j] = y * g
                        j += 1
                    }
                }
                first += n
            }
        }
    }

    /// hashes[i * hashesPerRow + h] = SplitMix64.mix(keys[i] + h * goldenGamma) for `rows` rows:
    /// the counters written first, then mixed eight at a time in place (the same bits as the
    /// scalar mix). `hashes` has room for `rows * hashesPerRow` rounded up to eight.
    @inlinable @inline(__always) package static func dropoutHashes(
        keys: UnsafePointer<UInt64>, rows: Int, hashesPerRow: Int, into hashes: UnsafeMutablePointer<UInt64>
    ) {
        let total = rows * hashesPerRow
        for i in 0..<rows {
            var counter = keys[i]
            for h in 0..<hashesPerRow {
                hashes[i * hashesPerRow + h] = counter
                counter &+= SplitMix64.goldenGamma
            }
        }
        var t = 0
        while t < total {
            let p = UnsafeMutableRawPointer(hashes + t)
            var z = p.loadUnaligned(as: SIMD8<UInt64>.self)
            z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
            p.storeBytes(of: z ^ (z &>> 31), as: SIMD8<UInt64>.self)
            t += 8
        }
    }

    /// Evaluation-mode BatchNorm (running statistics) and ReLU, in place; dropout is the identity.
    @inlinable package static func batchNormReLUEval(
        z: UnsafeMutablePointer<Float>, rows: Int, width: Int,
        runningMean: UnsafePointer<Float>, runningVariance: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        // scratch: 2 * width, the affine map folded: y = z * scale + shift.
        for j in 0..<width {
            let s = gamma[j] / (runningVariance[j] + batchNormEpsilon).squareRoot()
            scratch[j] = s
            scratch[width + j] = beta[j] - runningMean[j] * s
        }
        for i in 0..<rows {
            let zr = z + i * width
            for j in 0..<width { zr[j] = max(zr[j] * scratch[j] + scratch[width + j], 0) }
        }
    }

    /// Output layer forward: one logit per row.
    @inlinable package static func outputForward(
        a: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, bias: Float,
        logits: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<rows {
            let ar = a + i * width
            var s: Float = 0
            for j in 0..<width { s += ar[j] * weight[j] }
            logits[i] = s + bias
        }
    }

    /// Output layer backward given d loss / d logit: accumulates nothing across slices, writes this
    /// slice's weight gradient (width) and bias gradient, and d loss / d a.
    @inlinable package static func outputBackward(
        a: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
        dLogits: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
        dA: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<width { dWeight[j] = 0 }
        var db: Float = 0
        for i in 0..<rows {
            let g = dLogits[i]
            let ar = a + i * width, dr = dA + i * width
            for j in 0..<width {
                dWeight[j] += g * ar[j]
                dr[j] = g * weight[j]
            }
            db += g
        }
        dBias.pointee = db
    }

    /// First half of the BatchNorm backward pass: dA (in place) becomes d loss / d (BN output)
    /// through the ReLU/dropout gate, and the slice's sums of that and of its product with x-hat
    /// are written to sums[j] and sums[width + j].
    @inlinable package static func batchNormBackwardPartials(
        dA: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, xhat: UnsafePointer<Float>,
        rows: Int, width: Int, sums: UnsafeMutablePointer<Double>
    ) {
        // As `columnMoments`: eight columns at a time, rows in order, the same bits as a plain loop.
        typealias Lanes = SIMD8<Double>
        var j = 0
        while j + 8 <= width {
            var sum = Lanes(repeating: 0), products = Lanes(repeating: 0)
            for i in 0..<rows {
                let o = i * width + j
                let v = UnsafeRawPointer(dA + o).loadUnaligned(as: SIMD8<Float>.self)
                    * UnsafeRawPointer(gate + o).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dA + o).storeBytes(of: v, as: SIMD8<Float>.self)
                let vd = Lanes(v)
                sum += vd
                products += vd * Lanes(UnsafeRawPointer(xhat + o).loadUnaligned(as: SIMD8<Float>.self))
            }
            UnsafeMutableRawPointer(sums + j).storeBytes(of: sum, as: Lanes.self)
            UnsafeMutableRawPointer(sums + width + j).storeBytes(of: products, as: Lanes.self)
            j += 8
        }
        while j < width {
            var sum = 0.0, products = 0.0
            for i in 0..<rows {
                let o = i * width + j
                let v = dA[o] * gate[o]
                dA[o] = v
                sum += Double(v)
                products += Double(v) * Double(xhat[o])
            }
            sums[j] = sum
            sums[width + j] = products
            j += 1
        }
    }

    /// Whole-batch sums from slice partials, in slice order: sumDY[j], sumDYXhat[j].
    @inlinable package static func reduceSlicePartials(
        _ partials: UnsafePointer<Double>, sliceCount: Int, stride: Int, width: Int,
        sumDY: UnsafeMutablePointer<Float>, sumDYXhat: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<width {
            var s = 0.0, q = 0.0
            for k in 0..<sliceCount {
                s += partials[k * stride + j]
                q += partials[k * stride + width + j]
            }
            sumDY[j] = Float(s)
            sumDYXhat[j] = Float(q)
        }
    }

    /// Second half: d loss / d z = gamma * invstd * (dY - mean(dY) - xhat * mean(dY * xhat)),
    /// in place over dY.
    @inlinable package static func batchNormBackwardApply(
        dY: UnsafeMutablePointer<Float>, xhat: UnsafePointer<Float>, rows: Int, width: Int,
        gamma: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>, batchSize: Int,
        sumDY: UnsafePointer<Float>, sumDYXhat: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let invN = 1 / Float(batchSize)
        for j in 0..<width {
            scratch[j] = gamma[j] * inverseStd[j]
            scratch[width + j] = sumDY[j] * invN
            scratch[2 * width + j] = sumDYXhat[j] * invN
        }
        // In explicit lanes: the compiler cannot prove dY and scratch apart and kept this loop
        // scalar. The tail takes the same operations, so the bits do not depend on the width.
        let scale = UnsafePointer(scratch), meanDY = scale + width, meanDYXhat = scale + 2 * width
        for i in 0..<rows {
            let d = dY + i * width, x = xhat + i * width
            var j = 0
            while j + Lanes.scalarCount <= width {
                store(load(scale + j) * (load(d + j) - load(meanDY + j) - load(x + j) * load(meanDYXhat + j)), d + j)
                j += Lanes.scalarCount
            }
            while j < width {
                d[j] = scale[j] * (d[j] - meanDY[j] - x[j] * meanDYXhat[j])
                j += 1
            }
        }
    }

    /// Linear backward for a slice: dW = dZ^T x and db = column sums of dZ (this slice's
    /// contribution only), and dX = dZ W when `dX` is given.
    @inlinable package static func linearBackward(
        x: UnsafePointer<Float>, rows: Int, inputs: Int, weight: UnsafePointer<Float>, outputs: Int,
        dZ: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
        dX: UnsafeMutablePointer<Float>?
    ) {
        for j in 0..<outputs { dBias[j] = 0 }
        guard rows > 0 else {
            for j in 0..<(outputs * inputs) { dWeight[j] = 0 }
            return
        }
        BLAS.gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: rows,
                  a: dZ, lda: outputs, b: x, ldb: inputs, c: dWeight, ldc: inputs)
        addColumnSums(of: dZ, rows: rows, outputs: outputs, into: dBias)
        if let dX {
            BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: inputs, k: outputs,
                      a: dZ, lda: outputs, b: weight, ldb: inputs, c: dX, ldc: inputs)
        }
    }
}

/// Binary cross-entropy on logits, computed without forming the probability so that it neither
/// overflows nor takes log(0): loss = softplus(z) - y z, d loss / d z = sigmoid(z) - y.
package enum BinaryCrossEntropy {
    /// The same in Float, with d loss / d z, from one exponential: e = exp(-|z|) gives both
    /// softplus(z) = max(z, 0) + log1p(e) and sigmoid(z) = 1 / (1 + e) (z >= 0) or e / (1 + e).
    /// For the training loop (metrics use the Double loss).
    @inlinable package static func lossAndGradient(logit z: Float, label y: Float) -> (loss: Float, dLogit: Float) {
        let r = lossAndGradient(logits: FastMath.Lanes(repeating: z), labels: FastMath.Lanes(repeating: y))
        return (r.loss[0], r.dLogit[0])
    }

    /// Eight examples at once (`FastMath`'s exp and log); the one-example form gives the same bits.
    @inlinable package static func lossAndGradient(logits z: FastMath.Lanes, labels y: FastMath.Lanes)
        -> (loss: FastMath.Lanes, dLogit: FastMath.Lanes) {
        let magnitude = z.replacing(with: -z, where: z .< 0)
        let e = FastMath.expNonPositive(-magnitude)
        let onePlus = 1 + e
        let sigmoid = (FastMath.Lanes(repeating: 1) / onePlus).replacing(with: e / onePlus, where: z .< 0)
        let positive = z.replacing(with: 0, where: z .< 0)
        return (positive - y * z + FastMath.logOnePlus(e), sigmoid - y)
    }

    @inlinable package static func loss(logit z: Float, label y: Float) -> Double {
        let zd = Double(z)
        let softplus = zd > 0 ? zd + log1pExp(-zd) : log1pExp(zd)
        return softplus - Double(y) * zd
    }

    @inlinable package static func sigmoid(_ z: Float) -> Float {
        z >= 0 ? 1 / (1 + expf(-z)) : expf(z) / (1 + expf(z))
    }

    /// Writes d (mean loss) / d logit for each row and returns the slice's summed loss.
    @inlinable package static func gradients(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, rows: Int, batchSize: Int,
        dLogits: UnsafeMutablePointer<Float>
    ) -> Double {
        let scale = 1 / Float(batchSize)
        var total = 0.0
        var i = 0
        while i + 8 <= rows {
            let (loss, d) = lossAndGradient(logits: UnsafeRawPointer(logits + i).loadUnaligned(as: FastMath.Lanes.self),
                                            labels: UnsafeRawPointer(labels + i).loadUnaligned(as: FastMath.Lanes.self))
            for k in 0..<8 { total += Double(loss[k]) }
            UnsafeMutableRawPointer(dLogits + i).storeBytes(of: d * scale, as: FastMath.Lanes.self)
            i += 8
        }
        while i < rows {
            let (loss, d) = lossAndGradient(logit: logits[i], label: labels[i])
            total += Double(loss)
            dLogits[i] = d * scale
            i += 1
        }
        return total
    }
}

@inlinable func log1pExp(_ x: Double) -> Double { log1p(exp(x)) }

import Foundation
