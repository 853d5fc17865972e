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
    @Option(help: ArgumentHelp("Arithmetic of the MLP's matrix products: fp32, or bf16 (weights, activations and gradients rounded to bfloat16 for the products, summed in fp32; master weights, Adam, BatchNorm and the loss stay fp32; needs AVX512-BF16: Intel Cooper Lake or Sapphire Rapids, AMD Zen 4 or later); auto: bf16 where the CPU has it, else fp32 (test AUC within 0.002 of fp32 on the real samples, about 2x faster with wide layers). Same bits for any thread count in both; the choice is recorded and a resumed run must make the same; evaluation and predict always run fp32.", valueName: "auto|fp32|bf16"))
    var precision: PrecisionChoice = .auto

    /// The arithmetic this run trains with: as asked; for auto, the one the first readable
    /// checkpoint of `resuming` records (a run continues in its own arithmetic, whatever this CPU
    /// would pick), else bf16 where this CPU runs it. A recorded bf16 this CPU cannot run is
    /// refused by name.
    func mlpPrecision(resuming checkpoints: [String]) throws -> MLPPrecision {
        guard precision == .auto,
              let (checkpoint, recorded) = checkpoints.lazy.compactMap({ path in
                  Checkpoint.recordedOptions(path: path).map { (path, $0.mlpPrecision) }
              }).first
        else { return precision.resolved }
        guard recorded.isSupported else {
            throw CLIError("\(checkpoint) was trained with --precision \(recorded.rawValue), which needs AVX512-BF16, and this CPU or operating system lacks it; resume it on such a CPU (its arithmetic is part of the model)")
        }
        return recorded
    }

    func validate() throws {
        _ = try mlpDims()
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        if let chosen = precision.chosen { try chosen.checkSupported() }
    }

    func mlpDims() throws -> [Int] {
        do { return try parseList(mlp, name: "--mlp") } catch { throw ValidationError("--mlp must be a comma-separated list of positive widths, e.g. 16,16 (got '\(mlp)')") }
    }
}

extension FNNInput: ExpressibleByArgument {}

/// `--precision`: an arithmetic, or auto (bf16 where this CPU runs it).
enum PrecisionChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, fp32, bf16

    /// The arithmetic named, nil for auto.
    var chosen: MLPPrecision? { MLPPrecision(rawValue: rawValue) }
    var resolved: MLPPrecision { chosen ?? (BFloat16GEMM.isSupported ? .bf16 : .fp32) }
}

/// What a training log says of the MLP's arithmetic, when it is not plain fp32.
func precisionNote(_ precision: MLPPrecision) -> String? {
    precision == .bf16 ? "MLP products in bf16 with fp32 sums (AVX512-BF16; --precision fp32 multiplies in fp32)" : nil
}
/// What ranks agree on for the MLP's arithmetic, named so that a refusal says the fix.
let arithmeticAgreement = "MLP arithmetic (--precision auto resolves per CPU; on hosts with and without AVX512-BF16 give --precision fp32)"

extension MLPPrecision {
    /// Refuses bf16 where the CPU cannot run it, rather than training slowly in emulation or
    /// quietly in fp32 under a bf16 name.
    func checkSupported() throws {
        guard !isSupported else { return }
        throw ValidationError("--precision \(rawValue) needs AVX512-BF16 (Intel Cooper Lake or Sapphire Rapids, AMD Zen 4 or later), and this CPU or operating system lacks it; use --precision fp32")
    }
}
