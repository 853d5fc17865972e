import FNNCore
import FNNExecution
import FNNSystem
import FNNTrainer
import Foundation

struct DatasetReport: Encodable {
    var name: String
    var rows: Int
    var fieldDims: [Int]
    var positives: Int?
    var trainRows: Int?
    var validationRows: Int?
    var testRows: Int?
    /// The examples' digest, as model files and checkpoints record it.
    var fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case name, rows, fieldDims = "field_dims", positives, trainRows = "train_rows"
        case validationRows = "validation_rows", testRows = "test_rows", fingerprint
    }
}

struct RunReport: Encodable {
    /// The fnn-par release that wrote the report.
    var version = fnnParVersion
    var dataset: DatasetReport
    var threads: Int
    var options: TrainingOptions?
    var models: [String: ModelReport]
    /// The process's peak resident set so far (VmHWM), for memory planning.
    var peakRSSBytes: Int? = ResidentMemory.peakSinceReset

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let bytes = try encoder.encode(self)
        do {
            try writeFileAtomically(path: path, bytes: Array(bytes) + [0x0A])
        } catch {
            throw CLIError("\(error)")
        }
    }
}

enum ResultsTable {
    static func render(_ rows: [(String, ModelReport)]) -> String {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        let header = [pad("model", 9, left: true), pad("test AUC", 9), pad("test logloss", 13), pad("epochs", 7),
                      pad("best", 5), pad("train s", 9), pad("samples/s", 10)]
        var lines = [header.joined(separator: " ")]
        for (name, r) in rows {
            let cells = [pad(name, 9, left: true), pad(r.testAUC.isNaN ? "-" : String(format: "%.4f", r.testAUC), 9),
                         pad(r.testLogLoss.isNaN ? "-" : String(format: "%.4f", r.testLogLoss), 13), pad(r.epochs.map(String.init) ?? "-", 7),
                         pad(r.bestEpoch.map(String.init) ?? "-", 5),
                         pad(r.trainSeconds.map { String(format: "%.2f", $0) } ?? "-", 9), pad(formatRate(r.samplesPerSecond), 10)]
            lines.append(cells.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

/// --profile under several ranks: what the exchanges moved and how long they waited, per step.
enum TrafficTable {
    static func render(name: String, _ traffic: [String: RankExchange.Traffic], steps: Int) -> String {
        var lines = ["\(name): exchanges between ranks, per training step (\(steps) steps; evaluation included)",
                     "  exchange                  calls/step   KB/step    ms/step"]
        let perStep = Double(max(steps, 1))
        for (what, t) in traffic.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            lines.append(String(format: "  %@ %10.1f %9.1f %10.3f", what.padding(toLength: 24, withPad: " ", startingAt: 0),
                                Double(t.calls) / perStep, Double(t.bytes) / 1024 / perStep, 1000 * t.seconds / perStep))
        }
        return lines.joined(separator: "\n")
    }
}

enum PhaseTable {
    static func render(name: String, _ entries: [PhaseProfile.Entry]) -> String {
        let total = entries.reduce(0.0) { $0 + $1.wallSeconds }
        var lines = ["\(name): time per phase (busy and wait summed over workers)",
                     "  phase          calls    wall s   share    busy s    wait s"]
        for e in entries where e.calls > 0 {
            lines.append(String(format: "  %@ %8d %9.3f %6.1f%% %9.3f %9.3f",
                                e.phase.padding(toLength: 13, withPad: " ", startingAt: 0), e.calls, e.wallSeconds,
                                100 * e.wallSeconds / max(total, 1e-12), e.busySeconds, e.waitSeconds))
        }
        return lines.joined(separator: "\n")
    }
}
