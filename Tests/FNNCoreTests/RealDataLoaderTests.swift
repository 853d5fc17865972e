import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

@Suite struct RealDataLoaderTests {
    // Counts from ../shared/data/README.md.
    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLens100K() throws {
        let data = try loadDataset(path: TestData.path("ml-100k/u.data"))
        #expect(data.rowCount == 100_000)
        #expect(data.positiveCount == 55_375)
        #expect(data.fieldDims == [943, 1682])
        // First line: 196 242 3 -> ids 195, 241, label 0.
        #expect(data.ids[0] == 195 && data.ids[1] == 241 && data.labels[0] == 0)
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLens1MSample() throws {
        let data = try loadDataset(path: TestData.path("ml-1m-sample/ratings_sample100k.dat"))
        #expect(data.rowCount == 100_000)
        #expect(data.positiveCount == 57_483)
        #expect(data.fieldDims[0] <= 6040 && data.fieldDims[1] <= 3952)
        #expect(data.fieldDims == [6040, 3952])
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLensLatestCSVWithHalfStars() throws {
        let data = try loadDataset(path: TestData.path("ml-latest-small/ratings.csv"))
        #expect(data.rowCount == 100_836)
        // Rating strictly above 3.0: 3.5 counts, 3.0 does not.
        #expect(data.positiveCount == 61_716)
        #expect(data.fieldDims == [610, 193_609])
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func forcedFormatAgreesWithDetection() throws {
        let auto = try loadDataset(path: TestData.path("ml-100k/u.data"))
        let forced = try loadDataset(path: TestData.path("ml-100k/u.data"), format: .movielens)
        #expect(auto.fingerprint == forced.fingerprint)
    }
}
