import FNNSystem

/// Data drawn from a planted factorization machine, so that a trained model has real structure to
/// recover and AUC is meaningful.
///
/// Each field's values are drawn with Zipf-like popularity (`exponent`, over a seeded random
/// permutation of ids), each feature has a planted weight and latent vector, and the label is
/// Bernoulli(sigmoid(FM score)).
public struct PlantedFMGenerator: Sendable {
    public struct Field: Sendable {
        public let size: Int
        public let zipfExponent: Double
        public init(size: Int, zipfExponent: Double) { self.size = size; self.zipfExponent = zipfExponent }
    }

    public let fields: [Field]
    public let latentDim: Int
    public let seed: UInt64
    public var globalBias = 0.3
    public var weightScale: Double
    /// Standard deviation of each planted latent component; chosen so the interaction term has
    /// a standard deviation of about 1.
    public var latentScale: Double

    public init(fields: [Field], latentDim: Int = 8, seed: UInt64) {
        self.fields = fields
        self.latentDim = latentDim
        self.seed = seed
        weightScale = 0.6 * (2.0 / Double(max(fields.count, 1))).squareRoot()
        let pairs = Double(fields.count * (fields.count - 1) / 2)
        latentScale = (1.0 / (max(pairs, 1) * Double(latentDim)).squareRoot()).squareRoot()
    }

    /// Fields of 6040 users and 3706 movies, as MovieLens-1M.
    public static func movieLens1MShape(seed: UInt64 = 2016) -> PlantedFMGenerator {
        PlantedFMGenerator(fields: [Field(size: 6040, zipfExponent: 0.6), Field(size: 3706, zipfExponent: 0.9)],
                           latentDim: 8, seed: seed)
    }

    /// Criteo-shaped: 13 integer-like fields of 64 values, then 26 categorical fields with
    /// Zipf-skewed vocabularies from 10 to 200,000 values (12 of 200,000 and 14 log-spaced from 10
    /// to 100,000): about 2.6M embedding rows, like Criteo after pytorch-fm's preprocessing.
    public static func criteoShape(seed: UInt64 = 2014) -> PlantedFMGenerator {
        var fields = (0..<13).map { _ in Field(size: 64, zipfExponent: 0.7) }
        for i in 0..<14 {
            let size = Int((10 * Foundation.pow(10_000.0, Double(i) / 13)).rounded())
            fields.append(Field(size: size, zipfExponent: 1.05))
        }
        for _ in 0..<12 { fields.append(Field(size: 200_000, zipfExponent: 1.1)) }
        return PlantedFMGenerator(fields: fields, latentDim: 4, seed: seed)
    }

    /// The built-in data set of the main job: 1,000,209 rows like ML-1M.
    public static func builtInMovieLens1M() -> Dataset {
        movieLens1MShape().generate(rows: 1_000_209, name: "built-in synthetic MovieLens-1M-shaped data")
    }

    public func generate(rows: Int, name: String = "synthetic") -> Dataset {
        var sampler = makeSampler()
        let ids = AlignedBuffer<UInt32>(count: rows * fields.count)
        let labels = AlignedBuffer<Float>(count: rows)
        sampler.draw(rows: rows, ids: ids.base, labels: labels.base)
        return Dataset(name: name, fieldDims: fields.map(\.size), rowCount: rows, ids: ids, labels: labels)
    }

    /// A sampler at the first row: the planted model drawn, rows to come. Drawing in pieces gives
    /// the same rows as drawing all at once, so data larger than memory is written chunk by chunk.
    public func makeSampler() -> Sampler {
        var rng = Xoshiro256(seed: seed)
        var records: [AlignedBuffer<Double>] = []
        var guides: [AlignedBuffer<Int32>] = []
        let stride = Sampler.recordStride(latentDim: latentDim)
        for field in fields {
            var perm = (0..<field.size).map { UInt32($0) }
            perm.shuffleDeterministically(using: &rng)
            var acc = 0.0
            var cdf = [Double](repeating: 0, count: field.size)
            for rank in 0..<field.size {
                acc += 1.0 / Double.pow(Double(rank + 1), field.zipfExponent)
                cdf[rank] = acc
            }
            for i in 0..<field.size { cdf[i] /= acc }
            let weights = (0..<field.size).map { _ in rng.nextGaussian() * weightScale }
            let latents = (0..<(field.size * latentDim)).map { _ in rng.nextGaussian() * latentScale }
            // By rank: everything a draw of that rank reads, side by side.
            var record = [Double](repeating: 0, count: field.size * stride)
            for rank in 0..<field.size {
                let id = Int(perm[rank]), o = rank * stride
                record[o] = cdf[rank]
                record[o + 1] = Double(id)
                record[o + 2] = weights[id]
                for k in 0..<latentDim { record[o + 3 + k] = latents[id * latentDim + k] }
            }
            records.append(AlignedBuffer(record))
            guides.append(AlignedBuffer(Sampler.guide(cdf)))
        }
        return Sampler(rng: rng, records: records, guides: guides, latentDim: latentDim, globalBias: globalBias)
    }

    public struct Sampler {
        var rng: Xoshiro256
        /// Per field, one record per rank of popularity: cumulative probability, the value's id,
        /// its planted weight and latent vector. A draw reads one record (and one guide entry)
        /// instead of five tables at random: generation is bound by those cache misses.
        let records: [AlignedBuffer<Double>]
        /// Per field, guide[b]: the first rank whose cumulative probability reaches b / size, so
        /// a draw's search starts next to its answer instead of bisecting the table.
        let guides: [AlignedBuffer<Int32>]
        let latentDim: Int
        let globalBias: Double

        static func recordStride(latentDim: Int) -> Int { 3 + latentDim }

        /// The guide table of `cdf` (see `guides`).
        static func guide(_ cdf: [Double]) -> [Int32] {
            let n = cdf.count
            var guide = [Int32](repeating: 0, count: n)
            var i = 0
            for b in 0..<n {
                let threshold = Double(b) / Double(n)
                while i < n - 1 && cdf[i] < threshold { i += 1 }
                guide[b] = Int32(i)
            }
            return guide
        }

        /// The next `rows` rows: ids row-major, one label each. A value's rank is the first whose
        /// cumulative probability reaches the draw u (the last if none does), as bisecting the
        /// table finds it; the search starts one guide bucket early, since u * size may round up
        /// across a bucket boundary.
        public mutating func draw(rows: Int, ids: UnsafeMutablePointer<UInt32>, labels: UnsafeMutablePointer<Float>) {
            let fieldCount = records.count
            let stride = Self.recordStride(latentDim: latentDim)
            // Views, taken once: reaching a field's table through the array of buffers
            // inside the loop retains and releases it, and those atomic operations kept the
            // draws' cache misses from overlapping.
            let recordBases = records.map(\.view), guideBases = guides.map(\.view)
            let sizes = records.map { $0.count / stride }
            var sum = [Double](repeating: 0, count: latentDim)
            for r in 0..<rows {
                var score = globalBias
                for k in 0..<latentDim { sum[k] = 0 }
                var squares = 0.0
                for f in 0..<fieldCount {
                    let u = rng.nextDouble()
                    let record = recordBases[f], n = sizes[f]
                    var i = Int(guideBases[f][min(n - 1, max(0, Int(u * Double(n)) - 1))])
                    while i < n - 1 && record[i * stride] < u { i += 1 }
                    let o = i * stride
                    ids[r * fieldCount + f] = UInt32(record[o + 1])
                    score += record[o + 2]
                    for k in 0..<latentDim {
                        let v = record[o + 3 + k]
                        sum[k] += v
                        squares += v * v
                    }
                }
                var interaction = -squares
                for k in 0..<latentDim { interaction += sum[k] * sum[k] }
                score += 0.5 * interaction
                let p = 1 / (1 + Double.exp(-score))
                labels[r] = rng.nextDouble() < p ? 1 : 0
            }
        }
    }
}

import Foundation

extension Double {
    @inlinable static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    @inlinable static func exp(_ x: Double) -> Double { Foundation.exp(x) }
}
