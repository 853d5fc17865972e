import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// Where results go.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the results (and per-epoch metrics) as JSON to this file.", valueName: "path"))
    var json: String?
    @Option(help: ArgumentHelp("Write per-epoch metrics of every model as CSV to this file.", valueName: "path"))
    var metricsCsv: String?
    @Option(help: ArgumentHelp("Draw validation AUC and training loss per epoch as an SVG plot.", valueName: "path.svg"))
    var plot: String?
    @Flag(help: "Print only the results table: no progress, no notes.")
    var quiet = false
    @Flag(help: "Print each model's time per phase (prepare, forward, backward, dense and sparse update, evaluation), with time spent waiting at barriers.")
    var profile = false
}
