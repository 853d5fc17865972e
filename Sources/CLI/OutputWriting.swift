import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// Where a command's results go (the plain values of `OutputOptions`).
struct OutputPaths {
    var json: String?
    var metricsCsv: String?
    var plot: String?
}

extension OutputOptions {
    var paths: OutputPaths { OutputPaths(json: json, metricsCsv: metricsCsv, plot: plot) }
}

/// Writes the JSON, metrics CSV and plot that `output` asks for.
func writeOutputs(_ output: OutputPaths, dataset: Dataset, split: DataSplit?, threads: Int, options: TrainingOptions?,
                  reports: [(String, ModelReport)]) throws {
    if let path = output.json {
        let document = RunReport(
            dataset: DatasetReport(name: dataset.name, rows: dataset.rowCount, fieldDims: dataset.fieldDims,
                                   positives: dataset.hasLabels ? dataset.positiveCount : nil,
                                   trainRows: split?.trainCount, validationRows: split?.validationCount,
                                   testRows: split?.testCount, fingerprint: String(dataset.fingerprint, radix: 16)),
            threads: threads, options: options, models: Dictionary(uniqueKeysWithValues: reports))
        try document.write(to: path)
    }
    if let path = output.metricsCsv {
        var lines = ["model,epoch,train_loss,validation_auc,validation_logloss,seconds,samples_per_second"]
        for (name, report) in reports {
            for r in report.history {
                lines.append("\(name),\(r.epoch),\(r.trainLoss),\(r.validationAUC),\(r.validationLogLoss),\(r.seconds),\(r.samplesPerSecond)")
            }
        }
        do { try writeFileAtomically(path: path, bytes: Array((lines.joined(separator: "\n") + "\n").utf8)) } catch { throw CLIError("\(error)") }
    }
    if let path = output.plot {
        let auc = LineChart(title: "Validation AUC", xLabel: "epoch", yLabel: "AUC",
                            series: reports.map { LineChart.Series(name: $0.0, points: $0.1.history.map { (Double($0.epoch), $0.validationAUC) }) },
                            fitY: true)
        let loss = LineChart(title: "Training loss", xLabel: "epoch", yLabel: "binary cross-entropy",
                             series: reports.map { LineChart.Series(name: $0.0, points: $0.1.history.map { (Double($0.epoch), $0.trainLoss) }) },
                             fitY: true)
        let svg = LineChart.sideBySide([auc, loss], title: "fnn-par training: \(URL(fileURLWithPath: dataset.name).lastPathComponent)")
        do { try writeFileAtomically(path: path, bytes: Array(svg.utf8)) } catch { throw CLIError("\(error)") }
    }
}
