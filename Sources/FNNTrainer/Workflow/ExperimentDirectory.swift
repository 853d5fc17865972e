import FNNCore
import FNNSystem
import Foundation

/// The experiment's --save-dir: per stage (fm, fnn, fnn_init) its model, its report (.json) and
/// its checkpoint while it trains. A resumed experiment reads back each finished stage, but only
/// when this run would make the same model (same data, model shape and options, epoch limit and
/// patience included: they shaped it); anything else is refused, never silently reused.
public struct ExperimentDirectory {
    public let path: String
    public let resume: Bool

    public init(path: String, resume: Bool) {
        self.path = path
        self.resume = resume
    }

    public func modelPath(_ stage: String) -> String { "\(path)/\(stage).safetensors" }
    public func reportPath(_ stage: String) -> String { "\(path)/\(stage).json" }
    public func checkpointPath(_ stage: String) -> String { "\(path)/\(stage).ckpt" }

    /// The checkpoint an interrupted stage continues from, when resuming and one exists.
    public func checkpointToResume(_ stage: String) -> String? {
        resume && FileManager.default.fileExists(atPath: checkpointPath(stage)) ? checkpointPath(stage) : nil
    }

    /// The stage's report with its trained model, when a resumed experiment already finished it;
    /// nil when it must be trained.
    /// `shardOf`: the rows this rank holds when the tables are sharded.
    public func finishedStage(_ stage: String, dataset: Dataset, config: ModelConfig, options: TrainingOptions,
                              shardOf: (rank: Int, ranks: Int) = (0, 1)) throws(WorkflowError) -> ModelReport? {
        let modelPath = modelPath(stage)
        guard resume, FileManager.default.fileExists(atPath: modelPath),
              let data = FileManager.default.contents(atPath: reportPath(stage)),
              var report = try? Self.reportDecoder.decode(ModelReport.self, from: data) else { return nil }
        let recorded: [String: String]
        do {
            let (model, info) = try ModelFile.load(path: modelPath, fieldDims: dataset.fieldDims, shardOf: shardOf)
            report.trained = model
            recorded = info.metadata
        } catch {
            throw WorkflowError(error.description)
        }
        var differences: [String] = []
        if recorded["data_fingerprint"] != String(dataset.fingerprint, radix: 16) {
            differences.append("the data (fingerprint \(recorded["data_fingerprint"] ?? "none") -> \(String(dataset.fingerprint, radix: 16)))")
        }
        if report.trained!.config != config { differences.append("the model (\(report.trained!.config) -> \(config))") }
        if let text = recorded["training_options"], let saved = try? JSONDecoder().decode(TrainingOptions.self, from: Data(text.utf8)) {
            differences += saved.differences(from: options, includingLength: true)
        } else {
            differences.append("its training options (not recorded)")
        }
        guard differences.isEmpty else {
            throw WorkflowError("\(modelPath): that \(stage) was made differently from what this run asks for: \(differences.joined(separator: "; ")). Resume with the interrupted run's data and options, or use a fresh --save-dir")
        }
        return report
    }

    /// Keeps a finished stage: its model and report, written atomically; its checkpoint, which
    /// has nothing left to resume, removed. Whole tables: rank 0 alone calls it. Sharded: every
    /// rank does (the model is written from all the shards), rank 0 writes.
    public func keep(_ report: ModelReport, stage: String, dataset: Dataset, options: TrainingOptions,
                     ranks: RankExchange = RankExchange()) throws(WorkflowError) {
        try saveTrainedModel(report.trained!, to: modelPath(stage), dataset: dataset, options: options, report: report, ranks: ranks)
        guard ranks.isRoot else { return }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { try writeFileAtomically(path: reportPath(stage), bytes: Array(try encoder.encode(report))) } catch {
            throw WorkflowError("cannot write \(reportPath(stage)): \(error)")
        }
        if !removeFile(checkpointPath(stage)) { ShardedCheckpoint.remove(checkpointPath(stage)) }
    }

    /// Reads reports written with non-finite figures spelled out ("nan", "inf").
    public static var reportDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}
