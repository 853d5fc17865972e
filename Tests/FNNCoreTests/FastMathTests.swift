import FNNCore
import TestSupport
import Testing
import Foundation

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
