import FNNCore
import TestSupport
import Testing

@Suite struct MetricsTests {
    /// Counts every (positive, negative) pair: 1 if ordered right, 1/2 if tied.
    func bruteForceAUC(_ scores: [Float], _ labels: [Float]) -> Double {
        var good = 0.0, pairs = 0.0
        for i in scores.indices where labels[i] == 1 {
            for j in scores.indices where labels[j] == 0 {
                pairs += 1
                if scores[i] > scores[j] { good += 1 } else if scores[i] == scores[j] { good += 0.5 }
            }
        }
        return good / pairs
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func aucMatchesPairCountingWithTies(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        let n = 300 + Int(seed) * 17
        // Few distinct scores, so ties are everywhere.
        let scores = (0..<n).map { _ in Float(rng.nextInt(below: 7)) * 0.25 }
        let labels = (0..<n).map { _ in Float(rng.nextDouble() < 0.3 ? 1 : 0) }
        #expect(abs(Metrics.auc(scores: scores, labels: labels) - bruteForceAUC(scores, labels)) < 1e-12)
    }

    @Test func aucEdgeCases() {
        #expect(Metrics.auc(scores: [0.1, 0.9], labels: [0, 1]) == 1)
        #expect(Metrics.auc(scores: [0.9, 0.1], labels: [0, 1]) == 0)
        #expect(Metrics.auc(scores: [0.5, 0.5, 0.5], labels: [0, 1, 1]) == 0.5)
        #expect(Metrics.auc(scores: [0.2, 0.3], labels: [1, 1]).isNaN)
    }

    @Test func logLossFromLogitsIsStable() {
        let logits: [Float] = [0, 2, -3, 80, -80]
        let labels: [Float] = [1, 0, 0, 1, 0]
        var expected = 0.0
        for (z, y) in zip(logits, labels) {
            let p = 1 / (1 + Foundation_exp(-Double(z)))
            let clipped = min(max(p, 1e-300), 1 - 1e-16)
            expected += y == 1 ? -Foundation_log(clipped) : -Foundation_log(1 - clipped)
        }
        expected /= Double(logits.count)
        let got = Metrics.logLoss(logits: logits, labels: labels)
        #expect(got.isFinite)
        #expect(abs(got - expected) < 1e-6)
        // Far past where sigmoid saturates in Float, the loss is still the exact |z|.
        #expect(abs(Metrics.logLoss(logits: [-200], labels: [1]) - 200) < 1e-9)
    }
}

import Foundation

func Foundation_exp(_ x: Double) -> Double { exp(x) }
func Foundation_log(_ x: Double) -> Double { log(x) }

/// The lane exp and log against Double: within a few ulp where the loss uses them, and the
/// loss and its gradient from them against the exact Double forms.
@Suite struct FastMathTests {
    @Test func expAndLogAreAccurate() {
        var worstExp = 0.0, worstLog = 0.0
        var x: Float = -87
        while x <= 0 {
            let lanes = FastMath.expNonPositive(FastMath.Lanes(repeating: x))
            let exact = Foundation.exp(Double(x))
            worstExp = max(worstExp, abs(Double(lanes[0]) - exact) / exact)
            x += 0.0137
        }
        var e: Float = 0
        while e <= 1 {
            let lanes = FastMath.logOnePlus(FastMath.Lanes(repeating: e))
            let exact = Foundation.log(1 + Double(e))
            worstLog = max(worstLog, abs(Double(lanes[0]) - exact) / max(exact, 1e-30))
            e += 0.000_731
        }
        #expect(worstExp < 3e-7, "exp relative error \(worstExp)")
        #expect(worstLog < 3e-7, "log(1+e) relative error \(worstLog)")
        #expect(FastMath.expNonPositive(FastMath.Lanes(repeating: -200))[0] == 0)
        #expect(FastMath.expNonPositive(FastMath.Lanes(repeating: 0))[0] == 1)
    }

    @Test func lossAndGradientMatchDouble() {
        for z in stride(from: -40.0, through: 40.0, by: 0.37) {
            for y in [0.0, 1.0] {
                let (loss, d) = BinaryCrossEntropy.lossAndGradient(logit: Float(z), label: Float(y))
                let softplus = z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))
                let exactLoss = softplus - y * z, exactD = 1 / (1 + Foundation.exp(-z)) - y
                #expect(abs(Double(loss) - exactLoss) <= 1e-6 * max(1, abs(exactLoss)), "z \(z) y \(y)")
                #expect(abs(Double(d) - exactD) <= 1e-6, "z \(z) y \(y)")
            }
        }
        // Eight at a time equals one at a time, bit for bit.
        let zs = FastMath.Lanes(-9, -1.5, -0.01, 0, 0.2, 3, 17, 60), ys = FastMath.Lanes(0, 1, 1, 0, 1, 0, 1, 0)
        let lanes = BinaryCrossEntropy.lossAndGradient(logits: zs, labels: ys)
        for k in 0..<8 {
            let one = BinaryCrossEntropy.lossAndGradient(logit: zs[k], label: ys[k])
            #expect(one.loss == lanes.loss[k] && one.dLogit == lanes.dLogit[k])
        }
    }
}
