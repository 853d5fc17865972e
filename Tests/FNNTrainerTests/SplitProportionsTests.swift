import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

@Suite struct SplitProportionsTests {
    /// The standard proportions are exactly the split there always was; others take their shares.
    @Test func proportionsMakeTheirParts() {
        for n in [10, 999, 1000, 100_000, 1_000_209] {
            let standard = DataSplit(rowCount: n, seed: 3, proportions: .standard), old = DataSplit(rowCount: n, seed: 3)
            #expect(standard.trainCount == old.trainCount && standard.validationCount == old.validationCount)
            #expect((0..<min(n, 500)).allSatisfy { standard.part(ofRow: $0) == old.part(ofRow: $0) })
            let other = DataSplit(rowCount: n, seed: 3, proportions: DataSplit.Proportions("60,30,10")!)
            #expect(other.trainCount == Int(Double(n) * 0.6) && other.validationCount == Int(Double(n) * 0.3))
        }
        #expect(DataSplit.Proportions("80/10/10") == .standard && DataSplit.Proportions("0,50,50") == nil)
        #expect(DataSplit.proportions(ofRule: DataSplit.rule(DataSplit.Proportions("70,20,10")!)) == DataSplit.Proportions("70,20,10"))
        #expect(DataSplit.proportions(ofRule: "some other rule 80/10/10") == nil)
    }
}
