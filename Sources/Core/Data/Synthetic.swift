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
        var cumulative: [[Double]] = []
        var permutations: [[UInt32]] = []
        var weights: [[Double]] = []
        var latents: [[Double]] = []
        for field in fields {
            var perm = (0..<field.size).map { UInt32($0) }
            perm.shuffleDeterministically(using: &rng)
            permutations.append(perm)
            var acc = 0.0
            var cdf = [Double](repeating: 0, count: field.size)
            for rank in 0..<field.size {
                acc += 1.0 / Double.pow(Double(rank + 1), field.zipfExponent)
                cdf[rank] = acc
            }
            for i in 0..<field.size { cdf[i] /= acc }
            cumulative.append(cdf)
            weights.append((0..<field.size).map { _ in rng.nextGaussian() * weightScale })
            latents.append((0..<(field.size * latentDim)).map { _ in rng.nextGaussian() * latentScale })
        }
        return Sampler(rng: rng, cumulative: cumulative, permutations: permutations, weights: weights, latents: latents,
                       latentDim: latentDim, globalBias: globalBias)
    }

    public struct Sampler {
        var rng: Xoshiro256
        let cumulative: [[Double]]
        let permutations: [[UInt32]]
        let weights: [[Double]]
        let latents: [[Double]]
        let latentDim: Int
        let globalBias: Double

        /// The next `rows` rows: ids row-major, one label each.
        public mutating func draw(rows: Int, ids: UnsafeMutablePointer<UInt32>, labels: UnsafeMutablePointer<Float>) {
            let fieldCount = cumulative.count
            var sum = [Double](repeating: 0, count: latentDim)
            for r in 0..<rows {
                var score = globalBias
                for k in 0..<latentDim { sum[k] = 0 }
                var squares = 0.0
                for f in 0..<fieldCount {
                    let u = rng.nextDouble()
                    let cdf = cumulative[f]
                    var lo = 0, hi = cdf.count - 1
                    while lo < hi {
                        let mid = (lo + hi) >> 1
                        if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
                    }
                    let id = Int(permutations[f][lo])
                    ids[r * fieldCount + f] = UInt32(id)
                    score += weights[f][id]
                    let base = id * latentDim
                    for k in 0..<latentDim {
                        let v = latents[f][base + k]
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
