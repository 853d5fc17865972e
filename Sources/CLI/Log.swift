import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// Progress lines on stderr, so stdout carries only results. Under several ranks only rank 0
/// speaks (every rank would say the same).
struct Log {
    let quiet: Bool
    func say(_ line: String) {
        guard !quiet, ProcessRanks.isRoot else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    func describe(_ dataset: Dataset, split: DataSplit, threads: Int) {
        // Sizes alone for one-hot data; with the kinds where a field is multi-hot or numeric.
        let fields = dataset.schema.isOneHot ? dataset.fieldDims.map(String.init)
            : zip(dataset.schema.fields, dataset.fieldDims).map { "\($0.summary) \($1)" }
        say("data: \(dataset.rowCount) rows, fields \(fields.joined(separator: ", ")), "
            + "\(split.trainCount) train / \(split.validationCount) validation / \(split.testCount) test; "
            + "\(threads) thread\(threads == 1 ? "" : "s")")
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func formatRate(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}
