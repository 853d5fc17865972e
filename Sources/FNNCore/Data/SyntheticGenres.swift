import FNNSystem

/// ML-1M-shaped data with a genres-like third field, for measuring multi-hot training against
/// its one-hot counterpart on otherwise equal data: users and movies drawn as in
/// `PlantedFMGenerator.movieLens1MShape`, each movie given a fixed set of 1 to `mostGenres` of
/// 18 genres (drawn once per movie, as real genres belong to the movie), and the label drawn
/// from a planted FM over user, movie and the mean-pooled genres. With `mostGenres` 1 every
/// movie has one genre and the rows are fixed-width one-hot (the fast path); otherwise they
/// are variable rows with a mean-pooled multi-hot genres field.
public struct PlantedGenresGenerator: Sendable {
    public let mostGenres: Int
    public let seed: UInt64
    public static let genreCount = 18

    public init(mostGenres: Int, seed: UInt64 = 2016) {
        precondition((1...Self.genreCount).contains(mostGenres))
        self.mostGenres = mostGenres
        self.seed = seed
    }

    public func generate(rows: Int, name: String) -> Dataset {
        let base = PlantedFMGenerator.movieLens1MShape(seed: seed)
        let pairs = base.generate(rows: rows)
        let sizes = base.fields.map(\.size) + [Self.genreCount]
        var rng = Xoshiro256(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        // Each movie's genres, distinct and ascending.
        let genresOfMovie: [[UInt32]] = (0..<sizes[1]).map { _ in
            var pool = (0..<Self.genreCount).map(UInt32.init)
            pool.shuffleDeterministically(using: &rng)
            return pool.prefix(1 + rng.nextInt(below: mostGenres)).sorted()
        }
        // The planted FM: a weight and an 8-wide latent vector per table row of each field.
        let latentDim = 8
        let weights = sizes.map { n in (0..<n).map { _ in rng.nextGaussian() * 0.35 } }
        let latents = sizes.map { n in (0..<(n * latentDim)).map { _ in rng.nextGaussian() * 0.4 } }
        var builder = VariableRows.Builder(reservingEntries: mostGenres == 1 ? 0 : rows * (2 + (mostGenres + 1) / 2))
        var fixed = [UInt32]()
        if mostGenres == 1 { fixed.reserveCapacity(rows * 3) }
        let labels = AlignedBuffer<Float>(count: rows)
        var sum = [Double](repeating: 0, count: latentDim)
        for r in 0..<rows {
            let user = pairs.ids[r * 2], movie = pairs.ids[r * 2 + 1]
            let genres = genresOfMovie[Int(movie)]
            let share = 1 / Double(genres.count)
            var entries: [(field: Int, id: Int, x: Double)] = [(0, Int(user), 1), (1, Int(movie), 1)]
            for g in genres { entries.append((2, Int(g), share)) }
            var score = 0.2, squares = 0.0
            for k in 0..<latentDim { sum[k] = 0 }
            for e in entries {
                score += weights[e.field][e.id] * e.x
                for k in 0..<latentDim {
                    let v = latents[e.field][e.id * latentDim + k] * e.x
                    sum[k] += v
                    squares += v * v
                }
            }
            for k in 0..<latentDim { score += 0.5 * sum[k] * sum[k] }
            score -= 0.5 * squares
            labels[r] = rng.nextDouble() < 1 / (1 + Double.exp(-score)) ? 1 : 0
            if mostGenres == 1 {
                fixed += [user, movie, genres[0]]
            } else {
                builder.append(field: 0, id: user, value: 1)
                builder.append(field: 1, id: movie, value: 1)
                for g in genres { builder.append(field: 2, id: g, value: 1) }
                builder.endRow()
            }
        }
        if mostGenres == 1 {
            return Dataset(name: name, fieldDims: sizes, rowCount: rows, ids: AlignedBuffer(fixed), labels: labels)
        }
        let schema = FieldSchema(fields: [FieldSpec(name: "user"), FieldSpec(name: "movie"),
                                          FieldSpec(name: "genres", kind: .multiHot, pooling: .mean, maxIds: mostGenres)])
        return Dataset(name: name, fieldDims: sizes, schema: schema, rows: builder.finish(), labels: labels)
    }
}
