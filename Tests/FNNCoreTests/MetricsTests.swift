import FNNCore
import TestSupport
import Testing
import Foundation

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
