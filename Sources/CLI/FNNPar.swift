import ArgumentParser
import CBuildInfo
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// The release's version; `--version` adds what the binary was built for.
let fnnParVersion = "0.4.0"

@main
struct FNNPar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fnn-par",
        abstract: "Train FM and FNN click-through / rating models on multi-field categorical data, fast, on every core.",
        discussion: """
            With no subcommand, runs `experiment`: the reference experiment of Zhang et al. (2016). \
            `fnn-par experiment --help` lists its options.

            Examples:
              fnn-par                          # built-in synthetic data
              fnn-par --data ml-1m/ratings.dat --threads 8 --save-dir models
              fnn-par fm --data u.data --save fm.safetensors
              fnn-par fnn --data u.data --init-from fm.safetensors --save fnn.safetensors
              fnn-par eval --model fnn.safetensors --data test.tsv
              fnn-par predict --model fnn.safetensors --data new.tsv --out scores.txt
              fnn-par bench --threads 1,2,4
              mpirun -np 2 --bind-to none fnn-par ranks --threads 4
            """,
        version: "fnn-par \(fnnParVersion) (built for CPU \(String(cString: fnnpar_build_target_cpu())); model format \(ModelFile.formatVersion), checkpoint version \(Checkpoint.version))",
        subcommands: [Experiment.self, TrainFM.self, TrainFNN.self, Evaluate.self, Predict.self, Generate.self, SplitCommand.self, ExportCommand.self, Bench.self, RanksCommand.self],
        defaultSubcommand: Experiment.self)
}
