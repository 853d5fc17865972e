import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model's click / like probability for every input row.",
        discussion: """
            One probability per line, in input order. Rows may come without labels: `user::movie` (or tab or \
            comma separated) for MovieLens input, the ids alone for the fields format.

            Examples:
              fnn-par predict --model fnn.safetensors --data new.tsv --out p.txt
              fnn-par predict --model fm.safetensors --data pairs.dat --out - | head
            """)

    @OptionGroup var input: ModelInputOptions
    @Option(help: ArgumentHelp("Output file, one probability per line; - for standard output.", valueName: "path"))
    var out: String
    @Option(help: ArgumentHelp("Criteo / Avazu rows: write this column (1-based; Avazu's id is 1) before each probability, tab-separated.", valueName: "n"))
    var idColumn: Int?
    @Flag(help: "Print, per field, how many rows hold an id or token the model has no row of its own for (scored through the field's rare/unseen or fallback row).")
    var report = false

    func validate() throws {
        if let idColumn { guard idColumn >= 1, idColumn <= 1000 else { throw ValidationError("--id-column must be between 1 and 1000") } }
    }

    func run() throws {
        let log = Log(quiet: out == "-")
        try checkWritable(out, option: "--out", allowStandardOutput: true)
        try refuseOverwritingInputs(outputs: [(out, "--out")], inputs: input.inputFiles)
        let (ranks, shardOf) = try input.scoringRanks(log: log)
        let loaded = try input.load(unlabeled: true, identifierColumn: idColumn.map { $0 - 1 }, fallbackForUnseen: true, shardOf: shardOf,
                                    log: log)
        let (model, dataset) = (loaded.model, loaded.dataset)
        try input.agreeAcrossRanks(ranks, dataset: dataset, log: log)
        let unseenRows = loaded.unseenPerField.reduce(0, +)
        if loaded.usesFallbackRows && unseenRows > 0 {
            log.say("note: \(unseenRows) ids are past the model's fields (new users, items or ids); each scores through a zero fallback row of its field (--report: per field)")
        }
        if report && ProcessRanks.isRoot {
            let rows = max(dataset.rowCount, 1)
            var lines = ["field  rows without a row of their own  share"]
            for (f, n) in loaded.unseenPerField.enumerated() {
                lines.append(String(format: "%5d  %30d  %5.1f%%", f + 1, n, 100 * Double(n) / Double(rows)))
            }
            lines.append(loaded.usesFallbackRows || loaded.unseenPerField.allSatisfy({ $0 == 0 }) && dataset.vocabulary == nil
                ? "(ids past the model's field sizes; scored through a zero fallback row)"
                : "(tokens rare or unseen in training; scored through each field's rare/unseen row)")
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        if dataset.skippedLines > 0, let first = dataset.firstSkipped {
            log.say("left out \(dataset.skippedLines) malformed line\(dataset.skippedLines == 1 ? "" : "s") (nan in their place); the first: \(first)")
        }
        let executor = input.threading.makeExecutor(log: log)
        let engine = makeEngine(model: model, data: dataset, options: TrainingOptions(), ranks: ranks)
        let logits = try engine.logits(examples: Array(0..<dataset.rowCount), executor: executor)
        guard ProcessRanks.isRoot else { return }
        var text = ""
        text.reserveCapacity((logits.count + dataset.skippedLines) * 12)
        // Every data line in input order: a kept row's probability, or nan where a line was left out.
        var row = 0, skipped = 0
        for line in 0..<(logits.count + dataset.skippedRowPositions.count) {
            if let ids = dataset.rowIdentifiers, line < ids.count { text += ids[line] + "\t" }
            if skipped < dataset.skippedRowPositions.count && dataset.skippedRowPositions[skipped] == row {
                text += "nan"
                skipped += 1
            } else {
                text += String(format: "%.8g", Double(BinaryCrossEntropy.sigmoid(logits[row])))
                row += 1
            }
            text += "\n"
        }
        if out == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            do { try writeFileAtomically(path: out, bytes: Array(text.utf8)) } catch { throw CLIError("\(error)") }
            log.say("wrote \(logits.count) probabilities to \(out)")
        }
    }
}
