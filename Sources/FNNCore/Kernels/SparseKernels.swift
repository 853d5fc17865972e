/// The momentum-free table rules' element-wise arithmetic (`RowAdagrad`) in explicit 8-lane SIMD,
/// with the same operations in the scalar tail, so results do not depend on where a row is split.
/// The gradient used is g' = scale * g + decay * p: `scale` turns a batch-mean gradient into the
/// summed one, `decay` is the row's L2 coefficient for this step (per-occurrence L2 times its
/// positions in the batch).
package enum SparseKernels: FloatLanes {
    package typealias Vector = SIMD8<Float>

    /// a += g'^2; p -= lr g' / sqrt(a). A zero accumulator (initial value 0 and zero gradients so
    /// far) gives a zero step, not 0/0.
    @inline(__always) package static func adagrad(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                                 _ a: UnsafeMutablePointer<Float>, count: Int, learningRate lr: Float,
                                                 scale: Float, decay: Float) {
        let floor = Vector(repeating: .leastNormalMagnitude)
        var j = 0
        while j + 8 <= count {
            let pj = load(p + j)
            let grad = scale * load(g + j) + decay * pj
            let aNew = load(a + j) + grad * grad
            store(aNew, a + j)
            store(pj - lr * grad / aNew.replacing(with: floor, where: aNew .< floor).squareRoot(), p + j)
            j += 8
        }
        while j < count {
            adagrad(&p[j], g[j], &a[j], learningRate: lr, scale: scale, decay: decay)
            j += 1
        }
    }

    /// One element of `adagrad`.
    @inline(__always) package static func adagrad(_ p: inout Float, _ g: Float, _ a: inout Float, learningRate lr: Float,
                                                 scale: Float, decay: Float) {
        let grad = scale * g + decay * p
        let aNew = a + grad * grad
        a = aNew
        p -= lr * grad / max(aNew, .leastNormalMagnitude).squareRoot()
    }

    /// a += mean_j g'_j^2 (one accumulator for the row); p -= lr g' / sqrt(a). The mean is summed
    /// in lane order then across lanes, a fixed order for a given width.
    @inline(__always) package static func rowwiseAdagrad(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                                        _ a: UnsafeMutablePointer<Float>, count: Int,
                                                        learningRate lr: Float, scale: Float, decay: Float) {
        var squares = Vector(repeating: 0)
        var tail: Float = 0
        var j = 0
        while j + 8 <= count {
            let grad = scale * load(g + j) + decay * load(p + j)
            squares += grad * grad
            j += 8
        }
        while j < count {
            let grad = scale * g[j] + decay * p[j]
            tail += grad * grad
            j += 1
        }
        let aNew = a[0] + (squares.sum() + tail) / Float(count)
        a[0] = aNew
        let step = lr / max(aNew, .leastNormalMagnitude).squareRoot()
        j = 0
        while j + 8 <= count {
            let pj = load(p + j)
            store(pj - step * (scale * load(g + j) + decay * pj), p + j)
            j += 8
        }
        while j < count {
            p[j] -= step * (scale * g[j] + decay * p[j])
            j += 1
        }
    }

    /// p -= lr g'.
    @inline(__always) package static func sgd(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, count: Int,
                                             learningRate lr: Float, scale: Float, decay: Float) {
        var j = 0
        while j + 8 <= count {
            let pj = load(p + j)
            store(pj - lr * (scale * load(g + j) + decay * pj), p + j)
            j += 8
        }
        while j < count {
            p[j] -= lr * (scale * g[j] + decay * p[j])
            j += 1
        }
    }
}
