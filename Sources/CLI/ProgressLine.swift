import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

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
        live = !log.quiet && standardErrorIsTerminal
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
