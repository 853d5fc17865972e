import FNNCore
import Foundation

/// Saves a trained model with what a later reader needs to know where it came from: its training
/// options, the data's name, size and fingerprint, the split (so `eval --split` finds the run's
/// own parts), the format and vocabularies (so `eval` / `predict` read new rows as the training
/// rows were read), and its test figures.
public func saveTrainedModel(_ model: Model, to path: String, dataset: Dataset, options: TrainingOptions,
                             report: ModelReport) throws(WorkflowError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let optionsText: String
    do { optionsText = String(decoding: try encoder.encode(options), as: UTF8.self) } catch {
        throw WorkflowError("cannot record the training options: \(error)")
    }
    var metadata = [
        "training_options": optionsText,
        "data_name": dataset.name, "data_rows": String(dataset.rowCount),
        "data_fingerprint": String(dataset.fingerprint, radix: 16),
        "test_auc": String(report.testAUC), "test_logloss": String(report.testLogLoss),
        "created_by": "fnn-par",
        "split_seed": String(options.seed),
        "split_rule": options.trainOnAll ? DataSplit.allRowsRule
            : options.heldOut.map { DataSplit.rule(options.split, heldOut: $0) } ?? DataSplit.rule(options.split),
    ]
    if let format = dataset.sourceFormat { metadata["data_format"] = format.rawValue }
    if let best = report.bestEpoch { metadata["best_epoch"] = String(best) }
    do { try ModelFile.save(model, to: path, metadata: metadata, vocabulary: dataset.vocabulary, fieldMap: dataset.fieldMap) } catch {
        throw WorkflowError("cannot save the model: \(error)")
    }
}
