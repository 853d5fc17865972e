import Core
import Foundation

/// The shared real data sets live beside the repository (never inside it: their terms forbid
/// redistribution). FNN_PAR_DATA overrides the location.
enum TestData {
    static let root: String = {
        if let override = ProcessInfo.processInfo.environment["FNN_PAR_DATA"] { return override }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }
}

/// A fresh temporary directory per call.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "fnn-par-tests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func writeText(_ text: String, to path: String) {
    precondition(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), "could not write \(path)")
}

/// A small random data set for numeric tests.
func randomDataset(rows: Int, fieldDims: [Int], seed: UInt64) -> Dataset {
    var rng = Xoshiro256(seed: seed)
    var ids: [UInt32] = []
    var labels: [Float] = []
    for _ in 0..<rows {
        for d in fieldDims { ids.append(UInt32(rng.nextInt(below: d))) }
        labels.append(rng.nextDouble() < 0.4 ? 1 : 0)
    }
    return Dataset(name: "random", fieldDims: fieldDims, ids: ids, labels: labels)
}

/// Builds `grouping` from a batch of table rows and its gradient entries: one entry per position
/// (`linear` gradients only `withLinear`), or FM's factored form with `positionsPerEntry`
/// positions per example (`factored`), as the table rules' reference tests feed them.
func buildGrouping(_ grouping: RowGrouping, batch: [UInt32], entries: [Float], linearEntries: [Float], width: Int,
                   withLinear: Bool, factored: Bool, positionsPerEntry: Int) {
    entries.withUnsafeBufferPointer { g in
        linearEntries.withUnsafeBufferPointer { lg in
            var gradients = RowGradients(embedding: g.baseAddress!, embeddingStride: width,
                                         linear: withLinear ? lg.baseAddress! : nil, linearStride: 1)
            if factored {
                gradients = .fm(scaledSums: g.baseAddress!, logitGradients: lg.baseAddress!, embedDim: width,
                                fieldCount: positionsPerEntry)
            }
            batch.withUnsafeBufferPointer { grouping.build(rowIds: $0.baseAddress!, count: batch.count, gradients: gradients) }
        }
    }
}
