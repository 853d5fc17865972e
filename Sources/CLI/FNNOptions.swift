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
    @Option(help: ArgumentHelp("Arithmetic of the MLP's matrix products: fp32, or bf16 (weights, activations and gradients rounded to bfloat16 for the products, summed in fp32; master weights, Adam, BatchNorm and the loss stay fp32; needs AVX512-BF16: Intel Cooper Lake or Sapphire Rapids, AMD Zen 4 or later). Same bits for any thread count in both; evaluation and predict always run fp32.", valueName: "fp32|bf16"))
    var precision: MLPPrecision = .fp32

    func validate() throws {
        _ = try mlpDims()
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        try precision.checkSupported()
    }

    func mlpDims() throws -> [Int] {
        do { return try parseList(mlp, name: "--mlp") } catch { throw ValidationError("--mlp must be a comma-separated list of positive widths, e.g. 16,16 (got '\(mlp)')") }
    }
}

extension FNNInput: ExpressibleByArgument {}
extension MLPPrecision: ExpressibleByArgument {
    /// Refuses bf16 where the CPU cannot run it, rather than training slowly in emulation or
    /// quietly in fp32 under a bf16 name.
    func checkSupported() throws {
        guard !isSupported else { return }
        throw ValidationError("--precision \(rawValue) needs AVX512-BF16 (Intel Cooper Lake or Sapphire Rapids, AMD Zen 4 or later), and this CPU or operating system lacks it; use --precision fp32")
    }
}
