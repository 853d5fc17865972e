import ArgumentParser
import FNNCore
import FNNSystem
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write synthetic data drawn from a planted factorization machine, as a fields TSV or a binary data file.",
        discussion: """
            Deterministic for a seed. ml1m: fields of 6040 and 3706 values with Zipf-like popularity; criteo: \
            39 fields, 13 of 64 values and 26 with Zipf-skewed vocabularies from 10 to 200,000 values (about \
            2.6M embedding rows); ml1m-genres: ml1m and a genres field, 1 to 6 of 18 fixed per movie, \
            mean-pooled (a fields TSV with a '# fields:' line declaring it multi-hot); ml1m-onegenre: the \
            same with one genre per movie, one-hot. Labels are Bernoulli(sigmoid(planted FM score)).

            Examples:
              fnn-par generate --shape ml1m --rows 1000209 --seed 1 --out ml1m.tsv
              fnn-par generate --shape criteo --rows 200000 --out criteo.tsv
              fnn-par generate --shape criteo --rows 50000000 --out criteo.fnnpar
              fnn-par generate --shape ml1m-genres --rows 1000209 --out genres.tsv
            """)

    @Option(help: ArgumentHelp("Shape of the data.", valueName: SyntheticShape.valueNames))
    var shape: SyntheticShape = .ml1m
    @Option(help: "Rows to write.")
    var rows: Int
    @Option(help: "Seed of the planted model and the draws.")
    var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Output file: a fields TSV, or, for a name ending in .fnnpar, fnn-par's binary data file (memory-mapped by the training commands; written in chunks, so it may be larger than memory).", valueName: "path"))
    var out: String

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard rows < Int(UInt32.max) else { throw ValidationError("--rows must be below 2^32") }
    }

    func run() throws {
        try ProcessRanks.refuseSeveralRanks(command: "generate")
        try checkWritable(out, option: "--out")
        let start = Date()
        var positives = 0
        if shape == .ml1mGenres || shape == .ml1mOneGenre {
            // Drawn in memory (the genres of every movie are fixed up front); one-hot or variable rows.
            let data = shape.generate(rows: rows, seed: seed, name: out)
            let description = "fnn-par generate --shape \(shape.rawValue) --rows \(rows) --seed \(seed); field sizes \(data.fieldDims); fields \(data.schema.summary)"
            do {
                if out.hasSuffix(".fnnpar") {
                    try DatasetCache.store(data, cache: out, key: nil)
                } else {
                    try data.writeFieldsTSV(to: out, comment: description)
                }
            } catch { throw CLIError("\(error)") }
            FileHandle.standardError.write(Data(String(format: "wrote %d rows (%d positive) to %@ in %.2f s\n", rows, data.positiveCount, out,
                                                       Date().timeIntervalSince(start)).utf8))
            return
        }
        let generator = shape == .ml1m ? PlantedFMGenerator.movieLens1MShape(seed: seed) : PlantedFMGenerator.criteoShape(seed: seed)
        let description = "fnn-par generate --shape \(shape.rawValue) --rows \(rows) --seed \(seed); field sizes \(generator.fields.map(\.size))"
        do {
            if out.hasSuffix(".fnnpar") {
                positives = try generator.writeBinaryFile(rows: rows, to: out, description: description)
            } else {
                let data = generator.generate(rows: rows, name: out)
                positives = data.positiveCount
                try data.writeFieldsTSV(to: out, comment: description)
            }
        } catch { throw CLIError("\(error)") }
        FileHandle.standardError.write(Data(String(format: "wrote %d rows (%d positive) to %@ in %.2f s\n", rows, positives, out,
                                                   Date().timeIntervalSince(start)).utf8))
    }
}
