import FNNCore
import FNNSystem
import Foundation

/// Saves a trained model with what a later reader needs to know where it came from: its training
/// options, the data's name, size and fingerprint, the split (so `eval --split` finds the run's
/// own parts), the format and vocabularies (so `eval` / `predict` read new rows as the training
/// rows were read), and its test figures.
///
/// A model whose tables are sharded across `ranks` is saved by all of them together: rank 0
/// writes the one file, the table rows gathered from their owners a chunk at a time as they are
/// written; the others only send. With whole tables only the caller (rank 0) saves.
public func saveTrainedModel(_ model: Model, to path: String, dataset: Dataset, options: TrainingOptions,
                             report: ModelReport, ranks: RankExchange = RankExchange()) throws(WorkflowError) {
    let shard = model.shard
    let chunkRows = max(1, (16 << 20) / (4 * max(1, model.config.embedDim)))
    if !shard.isWholeTable && !ranks.isRoot {
        do {
            for table in ModelFile.tableTensors(of: model) {
                try ranks.gatherRows(table.buffer, width: table.width, shard: shard, chunkRows: chunkRows) { _ in }
            }
        } catch { throw WorkflowError("cannot save the model: \(error)") }
        return
    }
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
    if let digest = dataset.sideInformationDigest { metadata["side_information"] = digest }
    if let best = report.bestEpoch { metadata["best_epoch"] = String(best) }
    let tableRows = shard.isWholeTable ? nil : { (name: String, width: Int, writer: AtomicFileWriter) throws in
        let table = ModelFile.tableTensors(of: model).first { $0.name == name }!
        try ranks.gatherRows(table.buffer, width: width, shard: shard, chunkRows: chunkRows) { rows in
            try writer.write(UnsafeRawBufferPointer(rows))
        }
    }
    do {
        try ModelFile.save(model, to: path, metadata: metadata, vocabulary: dataset.vocabulary, fieldMap: dataset.fieldMap,
                           tableRows: tableRows)
    } catch {
        throw WorkflowError("cannot save the model: \(error)")
    }
}
