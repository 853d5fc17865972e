import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C (SIGINT) and SIGTERM (what `kill`, schedulers and container runtimes send): the first
/// one asks the run to stop at the next step boundary (it then writes a checkpoint, says how to
/// resume and exits with 128 + the signal: 130, 143); a second one ends the process at once.
enum Interrupt {
    /// The signal received, or 0.
    nonisolated(unsafe) private static var received: sig_atomic_t = 0

    static func install() {
        // A parent (a test runner, a job system) may have left the signals blocked; we want them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for s in [SIGINT, SIGTERM] {
            signal(s) { number in
                Interrupt.received = number
                // A second signal of either kind ends the process at once.
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
        }
    }

    static var requested: Bool { received != 0 }
    /// The exit status of a run stopped by the signal: 128 + its number.
    static var exitStatus: Int32 { 128 + Int32(received == 0 ? SIGINT : received) }
}

/// One model's training on the terminal: `ModelTrainingStage` with a progress line, Ctrl-C as
/// its stop request, --profile's phase table, and the resume command printed when interrupted.
struct ModelTraining {
    let name: String
    let dataset: Dataset
    let split: DataSplit
    let options: TrainingOptions
    let executor: PhaseExecutor
    let output: OutputOptions
    let log: Log
    /// Where the tables come from when not from `options.initialization` (an FM's model file).
    var tablesFrom: String?
    /// Written after every epoch and on interruption.
    var checkpointPath: String?
    var resumePath: String?
    /// How to continue after Ctrl-C, given the checkpoint path; default: this command line with
    /// `--resume PATH`.
    var resumeHint: ((String) -> String)?

    func run(model: Model) throws -> ModelReport {
        var stage = ModelTrainingStage(name: name, dataset: dataset, split: split, options: options, executor: executor)
        stage.tablesFrom = tablesFrom
        stage.checkpointPath = checkpointPath
        stage.resumePath = resumePath
        stage.note = log.say
        let progress = ProgressLine(name: name, log: log)
        defer { progress.finish() }
        stage.onProgress = { progress.update($0) }
        stage.onEpoch = { progress.epochDone($0) }
        stage.shouldStop = { Interrupt.requested }
        switch try stage.run(model: model) {
        case .interrupted(let path, let epoch, let step):
            progress.finish()
            FileHandle.standardError.write(Data((
                "\ninterrupted: \(name) stopped in epoch \(epoch) after step \(step); checkpoint written to \(path)\n"
                + (resumeHint?(path) ?? "resume with: \(resumeCommand(checkpoint: path))") + "\n").utf8))
            throw ExitCode(Interrupt.exitStatus)
        case .trained(let report):
            if output.profile { FileHandle.standardError.write(Data((PhaseTable.render(name: name, report.phases) + "\n").utf8)) }
            return report
        }
    }

    /// This process's command line with `--resume PATH` in place of any earlier one.
    func resumeCommand(checkpoint: String) -> String {
        var args = Array(CommandLine.arguments.dropFirst())
        if let i = args.firstIndex(of: "--resume"), i + 1 < args.count { args.removeSubrange(i...(i + 1)) }
        args.removeAll { $0.hasPrefix("--resume=") }
        args += ["--resume", checkpoint]
        return (["fnn-par"] + args).map(shellQuoted).joined(separator: " ")
    }
}

func shellQuoted(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=,:+".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Training progress on stderr: a live line on a terminal, per-epoch lines otherwise.
final class ProgressLine {
    let name: String
    let log: Log
    let live: Bool
    private var lastDraw = 0.0
    private var drawn = false

    init(name: String, log: Log) {
        self.name = name
        self.log = log
        live = !log.quiet && isatty(STDERR_FILENO) != 0
    }

    func update(_ p: TrainingProgress) {
        guard live else { return }
        let now = PhaseProfile.now()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        let line = String(format: "%@ epoch %d/%d %3.0f%%  %@ samples/s  loss %.4f  ETA %@",
                          name, p.epoch, p.maxEpochs, 100 * p.fraction, formatRate(p.samplesPerSecond), p.runningLoss,
                          formatDuration(p.epochETA))
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        drawn = true
    }

    func epochDone(_ r: EpochRecord) {
        clear()
        log.say(String(format: "%@ epoch %d: train loss %.4f, validation AUC %.4f, logloss %.4f, %.2f s, %@ samples/s",
                       name, r.epoch, r.trainLoss, r.validationAUC, r.validationLogLoss, r.seconds, formatRate(r.samplesPerSecond)))
    }

    func finish() { clear() }

    private func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)); drawn = false }
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
}

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
