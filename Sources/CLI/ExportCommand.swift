import ArgumentParser
import FNNCore
import FNNSystem
import Foundation

/// `fnn-par export`: a model's embeddings as text, for analysis and nearest-neighbour tools.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model's embedding table (and linear weights) as a TSV: field, token, linear weight, vector.",
        discussion: """
            One line per table row: the field (1-based), the row's token, its FM linear weight (empty when the \
            model has none) and its embedding vector, tab-separated, after a header line. The token is the raw \
            value the row stands for: the vocabulary token for Criteo, Avazu, libffm and libsvm models (\
            <rare/unseen> for each field's last row), the original id for MovieLens models (index + 1), the \
            id itself for fields-TSV models.

            Examples:
              fnn-par export --model fm.safetensors --embeddings fm.tsv
              fnn-par export --model fm.safetensors --embeddings - | head
            """)

    @Option(help: ArgumentHelp("Model file (fnn-par's, or a torchfm state_dict with --field-dims).", valueName: "path"))
    var model: String
    @Option(help: ArgumentHelp("Output TSV; - for standard output.", valueName: "path"))
    var embeddings: String
    @Option(help: ArgumentHelp("Field sizes of a PyTorch model file (which does not record them).", valueName: "n1,n2,..."))
    var fieldDims: String?

    func run() throws {
        try ProcessRanks.refuseSeveralRanks(command: "export")
        try checkWritable(embeddings, option: "--embeddings", allowStandardOutput: true)
        try refuseOverwritingInputs(outputs: [(embeddings, "--embeddings")], inputs: [(model, "--model")])
        let file: SafeTensors
        do { file = try SafeTensors.read(path: model) } catch { throw CLIError(error.description) }
        let dims = try fieldDims.map { try parseList($0, name: "--field-dims") }
        let loaded: Model
        do { loaded = try ModelFile.model(from: file, path: model, fieldDims: file.metadata["format"] == ModelFile.formatName ? nil : dims, dropout: 0).0 } catch { throw CLIError(error.description) }
        let vocabulary: Vocabulary?
        do { vocabulary = try Vocabulary(file: file, path: model) } catch { throw CLIError(error.description) }
        let movieLens = file.metadata["data_format"] == DataFormat.movielens.rawValue
        let config = loaded.config
        let tokens: [[String]]? = vocabulary?.orderedTokens
        var text = "field\ttoken\tlinear\t" + (0..<config.embedDim).map { "v\($0)" }.joined(separator: "\t") + "\n"
        for f in 0..<config.fieldCount {
            for id in 0..<config.fieldDims[f] {
                let row = loaded.offsets[f] + id
                let token: String
                if let tokens {
                    token = id < tokens[f].count ? tokens[f][id] : "<rare/unseen>"
                } else {
                    // MovieLens user and movie ids count from 1; side fields' ids are their own.
                    token = String(movieLens && f < 2 ? id + 1 : id)
                }
                text += "\(f + 1)\t\(token.replacingOccurrences(of: "\t", with: " "))\t"
                if let linear = loaded.linear { text += String(format: "%.9g", Double(linear[row])) }
                for j in 0..<config.embedDim {
                    text += String(format: "\t%.9g", Double(loaded.embedding[row * config.embedDim + j]))
                }
                text += "\n"
            }
        }
        if embeddings == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            do { try writeFileAtomically(path: embeddings, bytes: Array(text.utf8)) } catch { throw CLIError("\(error)") }
            FileHandle.standardError.write(Data("wrote \(config.tableRows) rows of \(config.fieldCount) fields to \(embeddings)\n".utf8))
        }
    }
}
