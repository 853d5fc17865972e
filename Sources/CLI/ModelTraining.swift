import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

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
        stage.ranks = try ProcessRanks.shared()
        stage.note = log.say
        let progress = ProgressLine(name: name, log: log)
        defer { progress.finish() }
        stage.onProgress = { progress.update($0) }
        stage.onEpoch = { progress.epochDone($0) }
        stage.shouldStop = { Interrupt.requested }
        switch try stage.run(model: model) {
        case .interrupted(let path, let epoch, let step):
            progress.finish()
            if ProcessRanks.isRoot { FileHandle.standardError.write(Data((
                "\ninterrupted: \(name) stopped in epoch \(epoch) after step \(step); checkpoint written to \(path)\n"
                + (resumeHint?(path) ?? "resume with: \(resumeCommand(checkpoint: path))") + "\n").utf8)) }
            throw ExitCode(Interrupt.exitStatus)
        case .trained(let report):
            if output.profile && ProcessRanks.isRoot {
                FileHandle.standardError.write(Data((PhaseTable.render(name: name, report.phases) + "\n").utf8))
                if let traffic = report.traffic, !traffic.isEmpty {
                    FileHandle.standardError.write(Data((TrafficTable.render(name: name, traffic, steps: report.steps ?? 0) + "\n").utf8))
                }
            }
            return report
        }
    }

    /// This process's command line with `--resume PATH` in place of any earlier one.
    func resumeCommand(checkpoint: String) -> String {
        let args = commandLineArguments(removing: ["--resume"]) + ["--resume", checkpoint]
        return (["fnn-par"] + args).map(shellQuoted).joined(separator: " ")
    }
}

/// This process's arguments (without the program) less the given options, each with its
/// value, as `--name value` or `--name=value`.
func commandLineArguments(removing options: [String]) -> [String] {
    var args = Array(CommandLine.arguments.dropFirst())
    for name in options {
        if let i = args.firstIndex(of: name), i + 1 < args.count { args.removeSubrange(i...(i + 1)) }
        args.removeAll { $0.hasPrefix(name + "=") }
    }
    return args
}

func shellQuoted(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=,:+".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
