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
            2.6M embedding rows). Labels are Bernoulli(sigmoid(planted FM score)).

            Examples:
              fnn-par generate --shape ml1m --rows 1000209 --seed 1 --out ml1m.tsv
              fnn-par generate --shape criteo --rows 200000 --out criteo.tsv
              fnn-par generate --shape criteo --rows 50000000 --out criteo.fnnpar
            """)

    @Option(help: ArgumentHelp("Shape of the data.", valueName: "ml1m|criteo"))
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
        try checkWritable(out, option: "--out")
        let start = Date()
        let generator = shape == .ml1m ? PlantedFMGenerator.movieLens1MShape(seed: seed) : PlantedFMGenerator.criteoShape(seed: seed)
        let description = "fnn-par generate --shape \(shape.rawValue) --rows \(rows) --seed \(seed); field sizes \(generator.fields.map(\.size))"
        var positives = 0
        do {
            if out.hasSuffix(".fnnpar") {
                positives = try writeBinary(generator, description: description)
            } else {
                let data = generator.generate(rows: rows, name: out)
                positives = data.positiveCount
                try data.writeFieldsTSV(to: out, comment: description)
            }
        } catch { throw CLIError("\(error)") }
        FileHandle.standardError.write(Data(String(format: "wrote %d rows (%d positive) to %@ in %.2f s\n", rows, positives, out,
                                                   Date().timeIntervalSince(start)).utf8))
    }

    /// Rows drawn and written a chunk at a time; only the labels (4 bytes a row) are held whole,
    /// since the file stores them after all the ids.
    func writeBinary(_ generator: PlantedFMGenerator, description: String) throws -> Int {
        var sampler = generator.makeSampler()
        let fieldCount = generator.fields.count
        let labels = AlignedBuffer<Float>(count: rows)
        let chunkRows = max(1, (16 << 20) / (fieldCount * 4))
        let chunk = AlignedBuffer<UInt32>(count: chunkRows * fieldCount)
        let total = rows
        // The labels are drawn with the ids, and written after them.
        try DatasetCache.write(cache: out, key: nil, rowCount: rows, fieldDims: generator.fields.map(\.size), hasLabels: true,
                               vocabulary: nil, labels: UnsafeBufferPointer(start: labels.base, count: rows),
                               metadata: ["generated_by": description]) { writer in
            var done = 0
            while done < total {
                let n = min(chunkRows, total - done)
                sampler.draw(rows: n, ids: chunk.base, labels: labels.base + done)
                try writer.write(UnsafeRawBufferPointer(start: chunk.base, count: n * fieldCount * 4))
                done += n
            }
        }
        var positives = 0
        for r in 0..<rows where labels[r] > 0 { positives += 1 }
        return positives
    }
}
