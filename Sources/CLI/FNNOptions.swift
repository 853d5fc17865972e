import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// The FNN's shape.
struct FNNOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Hidden layer widths of the FNN's MLP.", valueName: "w1,w2,..."))
    var mlp = "16,16"
    @Option(help: "Dropout probability after each hidden layer.")
    var dropout: Float = 0.2
    @Option(help: ArgumentHelp("What the MLP sees per field: the embedding, or the FM linear weight and the embedding (the paper's variant).",
                               valueName: "embedding|embedding+linear"))
    var fnnInput: FNNInput = .embedding

    func validate() throws {
        _ = try mlpDims()
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
    }

    func mlpDims() throws -> [Int] {
        do { return try parseList(mlp, name: "--mlp") } catch { throw ValidationError("--mlp must be a comma-separated list of positive widths, e.g. 16,16 (got '\(mlp)')") }
    }
}

extension FNNInput: ExpressibleByArgument {}
