/// Adam's element-wise arithmetic in explicit 8-lane SIMD. Written out because the compiler cannot
/// prove the parameter, gradient and moment pointers distinct and so leaves the plain loops
/// scalar. Every element goes through the same operations in the same order whether it lands in
/// a vector or in the scalar tail, so results do not depend on where a range is split.
package enum AdamKernels: FloatLanes {
    package typealias Vector = SIMD8<Float>

    /// p -= stepSize * m' / (sqrt(v') / bc2Sqrt + eps) with m' = m + (1-b1)(g' - m),
    /// v' = v b2 + (1-b2) g'^2 and g' = g + wd p (g nil: zero gradient).
    @inline(__always) package static func step(
        _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>,
        _ v: UnsafeMutablePointer<Float>, count: Int, config: AdamConfig, stepSize: Float, biasCorrection2Sqrt: Float
    ) {
        let oneMinusBeta1 = 1 - config.beta1, oneMinusBeta2 = 1 - config.beta2
        let wd = config.weightDecay, b2 = config.beta2, eps = config.epsilon
        var j = 0
        while j + 8 <= count {
            let pj = load(p + j), mj = load(m + j), vj = load(v + j)
            let gj = g.map { load($0 + j) } ?? Vector(repeating: 0)
            let grad = gj + wd * pj
            let mNew = mj + oneMinusBeta1 * (grad - mj)
            let vNew = vj * b2 + oneMinusBeta2 * grad * grad
            store(mNew, m + j)
            store(vNew, v + j)
            store(pj - stepSize * (mNew / (vNew.squareRoot() / biasCorrection2Sqrt + eps)), p + j)
            j += 8
        }
        while j < count {
            step(&p[j], g?[j] ?? 0, &m[j], &v[j], config: config, stepSize: stepSize,
                 biasCorrection2Sqrt: biasCorrection2Sqrt)
            j += 1
        }
    }

    /// One element of `step`, in the same operations as its vector lanes.
    @inline(__always) package static func step(
        _ p: inout Float, _ g: Float, _ m: inout Float, _ v: inout Float, config: AdamConfig, stepSize: Float,
        biasCorrection2Sqrt: Float
    ) {
        let grad = g + config.weightDecay * p
        let mNew = m + (1 - config.beta1) * (grad - m)
        let vNew = v * config.beta2 + (1 - config.beta2) * grad * grad
        m = mNew
        v = vNew
        p -= stepSize * (mNew / (vNew.squareRoot() / biasCorrection2Sqrt + config.epsilon))
    }

    /// The closed-form catch-up of missed zero-gradient steps (see `LazyRowAdam`):
    /// p -= movement * m / sqrt(v); m *= decay1; v *= decay2.
    @inline(__always) package static func catchUp(
        _ p: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
        count: Int, movement: Float, decay1: Float, decay2: Float
    ) {
        // v == 0 means every gradient so far was 0, so m == 0 too and the clamped root only
        // avoids 0/0; as moments decay, m (b1 < b2) underflows before v does.
        let floor = Vector(repeating: .leastNormalMagnitude)
        var j = 0
        while j + 8 <= count {
            let mj = load(m + j), vj = load(v + j)
            let delta = movement * mj / vj.replacing(with: floor, where: vj .< floor).squareRoot()
            store(load(p + j) - delta, p + j)
            store(mj * decay1, m + j)
            store(vj * decay2, v + j)
            j += 8
        }
        while j < count {
            catchUp(&p[j], &m[j], &v[j], movement: movement, decay1: decay1, decay2: decay2)
            j += 1
        }
    }

    /// One element of `catchUp`.
    @inline(__always) package static func catchUp(
        _ p: inout Float, _ m: inout Float, _ v: inout Float, movement: Float, decay1: Float, decay2: Float
    ) {
        p -= movement * m / max(v, .leastNormalMagnitude).squareRoot()
        m *= decay1
        v *= decay2
    }

    /// accumulator += source, element-wise.
    @inline(__always) package static func add(_ source: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + 8 <= count {
            store(load(accumulator + j) + load(source + j), accumulator + j)
            j += 8
        }
        while j < count { accumulator[j] += source[j]; j += 1 }
    }

    /// accumulator = source, element-wise: in lanes, where a call to memmove for a 16-float row
    /// cost more than the copy (2.6% of an ML-1M FM step in the row grouping).
    @inline(__always) package static func copy(_ source: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Float>,
                                              count: Int) {
        var j = 0
        while j + 8 <= count {
            store(load(source + j), accumulator + j)
            j += 8
        }
        while j < count { accumulator[j] = source[j]; j += 1 }
    }

    /// sum = left + right, element-wise (a node of `SliceOrder`'s tree).
    @inline(__always) package static func add(_ left: UnsafePointer<Float>, _ right: UnsafePointer<Float>,
                                             into sum: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + 8 <= count {
            store(load(left + j) + load(right + j), sum + j)
            j += 8
        }
        while j < count { sum[j] = left[j] + right[j]; j += 1 }
    }

    /// accumulator += scale * source, element-wise.
    @inline(__always) package static func add(_ source: UnsafePointer<Float>, scaledBy scale: Float,
                                             into accumulator: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + 8 <= count {
            store(load(accumulator + j) + scale * load(source + j), accumulator + j)
            j += 8
        }
        while j < count { accumulator[j] += scale * source[j]; j += 1 }
    }
}
