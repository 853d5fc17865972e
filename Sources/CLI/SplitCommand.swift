import ArgumentParser
import FNNCore
import FNNTrainer
import Foundation

/// `fnn-par split`: the seeded split's three parts as files, for training other tools on the same rows.
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Write the train, validation and test parts of the seeded split as libsvm, libffm or fields text.",
        discussion: """
            The parts are exactly those a training run with the same --seed (and data options) uses, rows in file \
            order, so xLearn, libFM or libffm train, stop early and are scored on the same rows as fnn-par. Feature \
            indices are global table rows (field offset + id), values 1. Writes DIR/train.EXT, DIR/validation.EXT \
            and DIR/test.EXT (EXT: svm, ffm or tsv).

            Examples:
              fnn-par split --data ratings.dat --seed 1 --out-dir parts --as libsvm
              xlearn_train parts/train.svm -s 0 -v parts/validation.svm
            """)

    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Seed of the split (as given to training).")
    var seed: UInt64 = 42
    @Option(help: ArgumentHelp("Directory to write the three parts to (created if missing).", valueName: "dir"))
    var outDir: String
    @Option(name: .customLong("as"), help: ArgumentHelp("Text form of the parts.", valueName: "libsvm|libffm|fields"))
    var exportFormat: ExportFormat = .libsvm
    @Flag(help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        try ProcessRanks.refuseSeveralRanks(command: "split")
        let log = Log(quiet: quiet)
        guard dataOptions.heldOutPaths.isEmpty else {
            throw CLIError("split writes the parts of one file's seeded split; --validation and --test files are already parts")
        }
        let ext = ["libsvm": "svm", "libffm": "ffm", "fields": "tsv"][exportFormat.rawValue]!
        try refuseOverwritingInputs(outputs: ["train", "validation", "test"].map { (path: "\(outDir)/\($0).\(ext)", option: "--out-dir") },
                                    inputs: dataOptions.inputFiles)
        let dataset = try dataOptions.load(log: log, seed: seed)
        let split = try seededSplit(of: dataset, seed: seed, proportions: try dataOptions.splitProportions())
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        } catch { throw CLIError("\(outDir): cannot create the directory (\(error.localizedDescription))") }
        for (name, part) in [("train", DataSplit.Part.train), ("validation", .validation), ("test", .test)] {
            let path = "\(outDir)/\(name).\(ext)"
            let rows = split.rows(of: part).sorted()
            do { try dataset.exportRows(rows, format: exportFormat, to: path) } catch { throw CLIError("\(error)") }
            log.say("wrote \(rows.count) \(name) rows to \(path)")
        }
    }
}

extension ExportFormat: ExpressibleByArgument {}
