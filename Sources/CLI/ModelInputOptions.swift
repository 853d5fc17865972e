import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// What eval and predict share: the model file, the data, the threads.
extension ModelInputOptions {
    var inputFiles: [(path: String?, option: String)] { [(model, "--model"), (data, "--data")] }
}

struct ModelInputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model file: fnn-par's, or a torchfm FM / FNN state_dict saved with safetensors.", valueName: "path"))
    var model: String
    @Option(help: ArgumentHelp("Data to score (- for standard input): MovieLens ratings, a fields TSV, a binary data file, or raw Criteo / Avazu / libffm / libsvm rows (mapped with the model's vocabularies).", valueName: "path"))
    var data: String
    @Option(help: ArgumentHelp("Input format; auto recognises each by content. Raw Criteo / Avazu / libffm / libsvm rows are mapped with the vocabularies (and libsvm field map) stored in the model.", valueName: "auto|movielens|fields|criteo|avazu|libffm|libsvm|binary"))
    var format: DataFormat = .auto
    @Option(help: ArgumentHelp("Field sizes of a PyTorch model file (which does not record them); default: from the data.", valueName: "n1,n2,..."))
    var fieldDims: String?
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Leave out malformed lines (counted and reported) instead of stopping at the first; predict writes nan in their place, so its output stays aligned with the input's lines.")
    var skipBadLines = false

    /// The model and the data indexed for it, as `ScoringData` reads them. `unlabeled` admits
    /// rows without labels; `identifierColumn` (0-based) keeps that column's text per line;
    /// `fallbackForUnseen`: ids past a field of a model without vocabularies score through a
    /// zero fallback row instead of being refused.
    func load(unlabeled: Bool, identifierColumn: Int? = nil, fallbackForUnseen: Bool = false, log: Log) throws -> ScoringData {
        var request = ScoringRequest(modelPath: model, dataPath: data)
        request.format = format
        request.fieldDims = try fieldDims.map { try parseList($0, name: "--field-dims") }
        request.skipBadLines = skipBadLines
        request.unlabeled = unlabeled
        request.identifierColumn = identifierColumn
        request.fallbackForUnseen = fallbackForUnseen
        do { return try ScoringData.load(request, note: log.say) } catch { throw CLIError(String(describing: error)) }
    }
}
