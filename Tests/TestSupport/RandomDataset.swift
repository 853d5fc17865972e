import FNNCore
import Foundation

/// A small random data set for numeric tests.
public func randomDataset(rows: Int, fieldDims: [Int], seed: UInt64) -> Dataset {
    var rng = Xoshiro256(seed: seed)
    var ids: [UInt32] = []
    var labels: [Float] = []
    for _ in 0..<rows {
        for d in fieldDims { ids.append(UInt32(rng.nextInt(below: d))) }
        labels.append(rng.nextDouble() < 0.4 ? 1 : 0)
    }
    return Dataset(name: "random", fieldDims: fieldDims, ids: ids, labels: labels)
}
