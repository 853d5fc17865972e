import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

@Suite struct SplitTests {
    @Test func eightyTenTenDisjointAndSeeded() {
        let a = DataSplit(rowCount: 1001, seed: 5)
        #expect(a.train.count == 800 && a.validation.count == 100 && a.test.count == 101)
        #expect(Set(a.train + a.validation + a.test).count == 1001)
        let b = DataSplit(rowCount: 1001, seed: 5)
        #expect(a.train == b.train && a.test == b.test)
        let c = DataSplit(rowCount: 1001, seed: 6)
        #expect(a.train != c.train)
    }

    @Test func syntheticDataIsDeterministicAndPlanted() {
        let g = PlantedFMGenerator.movieLens1MShape(seed: 3)
        let a = g.generate(rows: 20_000)
        let b = g.generate(rows: 20_000)
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fieldDims == [6040, 3706])
        let rate = Double(a.positiveCount) / 20_000
        #expect(rate > 0.35 && rate < 0.75)
    }
}
