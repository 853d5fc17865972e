import FNNSystem

/// The user and movie attributes MovieLens ships beside its ratings, as extra fields: gender,
/// age group, occupation and the first three zip digits per user (categorical), and the movie's
/// genres (multi-hot, mean-pooled: a movie's genres share one field's weight, so a movie with
/// five genres does not speak five times as loud as one with one). Three layouts are known:
/// ML-1M (`users.dat`, `movies.dat`, '::'), ML-100K (`u.user`, `u.item`, '|', genres as 19
/// flags named by `u.genre`; ages bucketed into ML-1M's groups so the two read alike), and
/// ML-latest (`movies.csv` only: genres after the title's last comma).
///
/// Categorical side ids: 0 is "unknown" (a rated user or movie missing from the side file, or
/// an empty cell); the others are the distinct values in sorted order, so ids depend on the
/// side file's content only, never on the ratings or their order.
public struct MovieLensSideInformation: Sendable {
    /// The side files read, for notes and cache keys.
    public let files: [String]
    /// Per user index (id - 1): its categorical side ids, `userFieldNames` order; absent users
    /// read as all zero.
    let userValues: [[UInt32]]
    public let userFieldNames: [String]
    let userFieldSizes: [Int]
    /// Per movie index (id - 1): its genre ids, ascending.
    let movieGenres: [[UInt32]]
    public let genreNames: [String]
    public let hasUsers: Bool
    public let hasMovies: Bool
    /// A digest of what the ids mean: every field's sorted values and every user's and movie's
    /// ids. A model records it, so scoring beside side files whose values differ (even with the
    /// same counts) is refused rather than read under ids that now mean other values.
    public let digest: String

    /// The most genres one movie has: the genres field's `maxIds`.
    var mostGenres: Int { max(1, movieGenres.map(\.count).max() ?? 1) }

    /// Side files in the ratings file's folder, by the ratings file's MovieLens layout; nil when
    /// there are none. A side file that exists but cannot be read is an error, not a silent skip.
    public static func find(besideRatings path: String) throws(InputError) -> MovieLensSideInformation? {
        try find(inFolder: path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "")
    }

    /// Side files in `folder` ("" the current directory), by the MovieLens layouts known.
    public static func find(inFolder directory: String) throws(InputError) -> MovieLensSideInformation? {
        let folder = directory.isEmpty || directory.hasSuffix("/") ? directory : directory + "/"
        func exists(_ name: String) -> String? { isRegularFile(folder + name) ? folder + name : nil }
        if let users = exists("users.dat"), let movies = exists("movies.dat") {
            return try oneMillion(users: users, movies: movies)
        }
        if let users = exists("u.user"), let items = exists("u.item") {
            return try hundredThousand(users: users, items: items, genres: exists("u.genre"))
        }
        if let movies = exists("movies.csv") {
            return try latest(movies: movies)
        }
        return nil
    }

    /// The fields the join adds, after user and movie.
    public var schemaFields: [FieldSpec] {
        var fields = userFieldNames.map { FieldSpec(name: $0) }
        if hasMovies { fields.append(FieldSpec(name: "genres", kind: .multiHot, pooling: .mean, maxIds: mostGenres)) }
        return fields
    }

    /// `ratings` (two fields: user, movie) with the side fields appended, as variable rows.
    public func joined(_ ratings: Dataset) -> Dataset {
        precondition(ratings.fieldCount == 2 && ratings.variable == nil, "side information joins two-field MovieLens ratings")
        let schema = FieldSchema(fields: [FieldSpec(name: "user"), FieldSpec(name: "movie")] + schemaFields)
        var dims = ratings.fieldDims + userFieldSizes
        if hasMovies { dims.append(max(1, genreNames.count)) }
        let unknownUser = [UInt32](repeating: 0, count: userFieldNames.count)
        var builder = VariableRows.Builder(reservingEntries: ratings.rowCount * (2 + userFieldNames.count + 2))
        for r in 0..<ratings.rowCount {
            let user = ratings.ids[r * 2], movie = ratings.ids[r * 2 + 1]
            builder.append(field: 0, id: user, value: 1)
            builder.append(field: 1, id: movie, value: 1)
            let side = Int(user) < userValues.count ? userValues[Int(user)] : unknownUser
            for (f, id) in side.enumerated() { builder.append(field: 2 + f, id: id, value: 1) }
            if hasMovies, Int(movie) < movieGenres.count {
                for g in movieGenres[Int(movie)] { builder.append(field: 2 + userFieldNames.count, id: g, value: 1) }
            }
            builder.endRow()
        }
        var joined = Dataset(name: ratings.name, fieldDims: dims, schema: schema, rows: builder.finish(), labels: ratings.labels)
        joined.hasLabels = ratings.hasLabels
        joined.skippedLines = ratings.skippedLines
        joined.firstSkipped = ratings.firstSkipped
        joined.skippedRowPositions = ratings.skippedRowPositions
        joined.sideInformationDigest = digest
        joined.sourceFormat = ratings.sourceFormat
        joined.heldOut = ratings.heldOut
        joined.rowIdentifiers = ratings.rowIdentifiers
        return joined
    }

    // MARK: - Layouts

    static func oneMillion(users: String, movies: String) throws(InputError) -> MovieLensSideInformation {
        // UserID::Gender::Age::Occupation::Zip-code
        let userRows = try table(users, separator: Array("::".utf8), columns: 5)
        let (values, sizes, userVocabularies) = try categoricalColumns(userRows, path: users, pick: { [$0[1], $0[2], $0[3], zip3($0[4])] })
        // MovieID::Title::Genres ("Animation|Children's|Comedy")
        let movieRows = try table(movies, separator: Array("::".utf8), columns: 3)
        let (genres, names) = try genreLists(movieRows, path: movies) { $0[2].isEmpty ? [] : $0[2].split(separator: "|").map(String.init) }
        return MovieLensSideInformation(files: [users, movies], userValues: values,
                                        userFieldNames: ["gender", "age", "occupation", "zip3"], userFieldSizes: sizes,
                                        movieGenres: genres, genreNames: names, hasUsers: true, hasMovies: true,
                                        digest: digest(userVocabularies, values, names, genres))
    }

    static func hundredThousand(users: String, items: String, genres genreFile: String?) throws(InputError) -> MovieLensSideInformation {
        // user id | age | gender | occupation | zip code
        let userRows = try table(users, separator: Array("|".utf8), columns: 5)
        for (line, row) in userRows where Int(row[1]).map({ $0 < 0 || $0 > 200 }) ?? true {
            throw InputError(path: users, line: line, "age '\(row[1])' is not a whole number of years")
        }
        let (values, sizes, userVocabularies) = try categoricalColumns(userRows, path: users, pick: { row in
            [row[2], String(ageGroup(Int(row[1])!)), row[3], zip3(row[4])] })
        // movie id | title | release date | video release date | IMDb URL | 19 genre flags
        let itemRows = try table(items, separator: Array("|".utf8), columns: 24)
        var flagNames = (0..<19).map { "genre \($0)" }
        if let genreFile {
            for (line, row) in try table(genreFile, separator: Array("|".utf8), columns: 2) {
                guard let index = Int(row[1]), (0..<19).contains(index) else {
                    throw InputError(path: genreFile, line: line, "genre index '\(row[1])' is not 0 to 18")
                }
                flagNames[index] = row[0]
            }
        }
        for (line, row) in itemRows {
            for flag in row[5...] where flag != "0" && flag != "1" {
                throw InputError(path: items, line: line, "genre flag '\(flag)' is not 0 or 1")
            }
        }
        let (genres, names) = try genreLists(itemRows, path: items) { row in
            (0..<19).filter { row[5 + $0] == "1" }.map { flagNames[$0] }
        }
        return MovieLensSideInformation(files: [users, items] + (genreFile.map { [$0] } ?? []), userValues: values,
                                        userFieldNames: ["gender", "age", "occupation", "zip3"], userFieldSizes: sizes,
                                        movieGenres: genres, genreNames: names, hasUsers: true, hasMovies: true,
                                        digest: digest(userVocabularies, values, names, genres))
    }

    static func latest(movies: String) throws(InputError) -> MovieLensSideInformation {
        // movieId,title,genres: the title may be quoted and hold commas, so genres are what
        // follows the last comma; "(no genres listed)" is no genres.
        let bytes = try readFileBytes(movies)
        var rows: [(Int, [String])] = []
        for (index, line) in lines(bytes).enumerated() where index > 0 && !line.isEmpty {
            guard let firstComma = line.firstIndex(of: ","), let lastComma = line.lastIndex(of: ","), firstComma < lastComma else {
                throw InputError(path: movies, line: index + 1, "expected movieId,title,genres")
            }
            let genres = String(line[line.index(after: lastComma)...])
            rows.append((index + 1, [String(line[..<firstComma]), genres]))
        }
        let (genres, names) = try genreLists(rows, path: movies) { row in
            row[1] == "(no genres listed)" || row[1].isEmpty ? [] : row[1].split(separator: "|").map(String.init)
        }
        return MovieLensSideInformation(files: [movies], userValues: [], userFieldNames: [], userFieldSizes: [],
                                        movieGenres: genres, genreNames: names, hasUsers: false, hasMovies: true,
                                        digest: digest([], [], names, genres))
    }

    // MARK: - Parsing

    static func digest(_ vocabularies: [[String]], _ users: [[UInt32]], _ genreNames: [String], _ genres: [[UInt32]]) -> String {
        var hash = FNV1a()
        func add(_ text: String) { for byte in text.utf8 { hash.add(byte) }; hash.add(word: UInt64(text.utf8.count)) }
        func add(_ lists: [[UInt32]]) {
            hash.add(word: UInt64(lists.count))
            for list in lists { hash.add(word: UInt64(list.count)); for id in list { hash.add(word: UInt64(id)) } }
        }
        for vocabulary in vocabularies { hash.add(word: UInt64(vocabulary.count)); vocabulary.forEach(add) }
        add(users)
        hash.add(word: UInt64(genreNames.count)); genreNames.forEach(add)
        add(genres)
        return String(hash.value, radix: 16)
    }

    /// ML-1M's groups: 1 (under 18), 18, 25, 35, 45, 50, 56 (56 and over).
    static func ageGroup(_ age: Int) -> Int {
        switch age {
        case ..<18: 1
        case 18..<25: 18
        case 25..<35: 25
        case 35..<45: 35
        case 45..<50: 45
        case 50..<56: 50
        default: 56
        }
    }

    static func zip3(_ zip: String) -> String { String(zip.prefix(3)) }

    /// Lines as strings, the bytes read as Latin-1 when they are not UTF-8 (ML-1M's titles are
    /// Latin-1; only ids and genre names are used, which are ASCII).
    static func lines(_ bytes: [UInt8]) -> [String] {
        bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...]
            return String(validating: trimmed, as: UTF8.self) ?? String(trimmed.map { Character(Unicode.Scalar($0)) })
        }
    }

    /// Non-blank lines split by `separator`, each with its line number; a line with another
    /// column count is an error naming it.
    static func table(_ path: String, separator: [UInt8], columns: Int) throws(InputError) -> [(Int, [String])] {
        let bytes = try readFileBytes(path, limit: 1 << 30)
        let separatorText = String(decoding: separator, as: UTF8.self)
        var rows: [(Int, [String])] = []
        for (index, line) in lines(bytes).enumerated() where !line.allSatisfy(\.isWhitespace) {
            let cells = line.components(separatedBy: separatorText)
            guard cells.count == columns else {
                throw InputError(path: path, line: index + 1,
                                 "expected \(columns) columns separated by '\(separatorText)', found \(cells.count)")
            }
            rows.append((index + 1, cells))
        }
        guard !rows.isEmpty else { throw InputError(path: path, "empty file: no rows") }
        return rows
    }

    /// The entity index (id - 1) of column 0, checked.
    static func index(_ cell: String, path: String, line: Int, rowLimit: Int = 1 << 22) throws(InputError) -> Int {
        guard let id = Int(cell), id > 0, id <= rowLimit else {
            throw InputError(path: path, line: line, "id '\(cell)' is not a positive integer up to \(rowLimit)")
        }
        return id - 1
    }

    /// Sorted-distinct ids (from 1) for the picked columns, per entity index; sizes include the
    /// unknown id 0. A repeated entity is an error: which row would be meant is unknowable.
    static func categoricalColumns(_ rows: [(Int, [String])], path: String, pick: ([String]) -> [String])
        throws(InputError) -> ([[UInt32]], [Int], [[String]]) {
        let picked = rows.map { pick($0.1) }
        let width = picked.first?.count ?? 0
        let sortedValues: [[String]] = (0..<width).map { c in Set(picked.map { $0[c] }.filter { !$0.isEmpty }).sorted() }
        let vocabularies: [[String: UInt32]] = sortedValues.map { distinct in
            Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, UInt32($0 + 1)) })
        }
        var values: [[UInt32]] = []
        var seen = Set<Int>()
        for ((line, row), cells) in zip(rows, picked) {
            let i = try index(row[0], path: path, line: line)
            guard seen.insert(i).inserted else { throw InputError(path: path, line: line, "id \(row[0]) appears twice") }
            if values.count <= i { values.append(contentsOf: repeatElement([UInt32](repeating: 0, count: width), count: i + 1 - values.count)) }
            values[i] = (0..<width).map { c in cells[c].isEmpty ? 0 : vocabularies[c][cells[c]]! }
        }
        return (values, vocabularies.map { $0.count + 1 }, sortedValues)
    }

    /// Genre ids (sorted distinct names, from 0) per movie index.
    static func genreLists(_ rows: [(Int, [String])], path: String, genres: ([String]) -> [String])
        throws(InputError) -> ([[UInt32]], [String]) {
        let named = rows.map { genres($0.1) }
        let names = Set(named.joined()).sorted()
        let ids = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, UInt32($0)) })
        var lists: [[UInt32]] = []
        var seen = Set<Int>()
        for ((line, row), movieGenres) in zip(rows, named) {
            let i = try index(row[0], path: path, line: line)
            guard seen.insert(i).inserted else { throw InputError(path: path, line: line, "movie id \(row[0]) appears twice") }
            guard movieGenres.count <= FieldSpec.maximumIdsPerField else {
                throw InputError(path: path, line: line, "more than \(FieldSpec.maximumIdsPerField) genres")
            }
            if lists.count <= i { lists.append(contentsOf: repeatElement([], count: i + 1 - lists.count)) }
            lists[i] = Set(movieGenres.map { ids[$0]! }).sorted()
        }
        return (lists, names)
    }
}
