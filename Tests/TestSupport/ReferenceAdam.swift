import Foundation

/// torch's Adam in Double, written from its documented update rule, as the reference the
/// optimizer tests of both test targets compare against.
public struct ReferenceAdam {
    public var m: [Double], v: [Double]
    public let b1 = 0.9, b2 = 0.999, eps = 1e-8, lr: Double, wd: Double

    public init(count: Int, weightDecay: Double, learningRate: Double = 1e-3) {
        m = Array(repeating: 0, count: count); v = m; wd = weightDecay; lr = learningRate
    }

    public mutating func step(_ p: inout [Double], _ g: [Double], t: Int) {
        for j in p.indices {
            let grad = g[j] + wd * p[j]
            m[j] = b1 * m[j] + (1 - b1) * grad
            v[j] = b2 * v[j] + (1 - b2) * grad * grad
            let mhat = m[j] / (1 - Foundation.pow(b1, Double(t)))
            let vhat = v[j] / (1 - Foundation.pow(b2, Double(t)))
            p[j] -= lr * mhat / (vhat.squareRoot() + eps)
        }
    }
}
