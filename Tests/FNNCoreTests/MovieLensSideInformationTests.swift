import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

/// Side files joined to ratings, checked against facts counted from the files themselves
/// (awk over ../shared/data) and against one example decoded by hand.
@Suite struct MovieLensSideInformationTests {
    func entries(_ data: Dataset, row: Int) -> [(field: Int, id: UInt32, value: Float)] {
        let rows = data.variable!
        return rows.entries(ofRow: row).map { (Int(rows.fields[$0]), rows.ids[$0], rows.values[$0]) }
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLens1MSample() throws {
        let path = TestData.path("ml-1m-sample/ratings_sample100k.dat")
        let ratings = try loadDataset(path: path)
        let side = try #require(try MovieLensSideInformation.find(besideRatings: path))
        #expect(side.files.map { $0.split(separator: "/").last! } == ["users.dat", "movies.dat"])
        let data = side.joined(ratings)
        #expect(data.rowCount == 100_000 && data.labels.array == ratings.labels.array)
        #expect(data.schema.fields.map(\.name) == ["user", "movie", "gender", "age", "occupation", "zip3", "genres"])
        // 2 genders, 7 age groups, 21 occupations, 678 zip prefixes (+ unknown each); 18 genres,
        // at most 6 per movie.
        #expect(data.fieldDims == [6040, 3952, 3, 8, 22, 679, 18])
        #expect(data.schema.fields[6].kind == .multiHot && data.schema.fields[6].pooling == .mean)
        #expect(data.schema.fields[6].maxIds == 6)
        #expect(side.genreNames.count == 18)
        #expect(data.variable!.firstProblem(schema: data.schema, fieldDims: data.fieldDims) == nil)
        // Every rating's user and movie are kept as pytorch-fm indexes them.
        for r in stride(from: 0, to: data.rowCount, by: 997) {
            let e = entries(data, row: r)
            #expect(e[0].field == 0 && e[0].id == ratings.ids[2 * r] && e[1].field == 1 && e[1].id == ratings.ids[2 * r + 1])
        }
        // First rating: user 5488, movie 488; decode its genres against movies.dat's line.
        let movies = try String(contentsOfFile: TestData.path("ml-1m-sample/movies.dat"), encoding: .isoLatin1)
        let line = movies.split(separator: "\n").first { $0.hasPrefix("488::") }!
        let expected = Set(line.components(separatedBy: "::")[2].split(separator: "|").map(String.init))
        let genres = entries(data, row: 0).filter { $0.field == 6 }.map { side.genreNames[Int($0.id)] }
        #expect(Set(genres) == expected && genres.count == expected.count)
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLens100K() throws {
        let path = TestData.path("ml-100k/u.data")
        let side = try #require(try MovieLensSideInformation.find(besideRatings: path))
        let data = side.joined(try loadDataset(path: path))
        // 2 genders, 7 age groups (ML-1M's buckets), 21 occupations, 382 zip prefixes; 19 genre
        // flags named by u.genre, at most 6 per movie.
        #expect(data.fieldDims == [943, 1682, 3, 8, 22, 383, 19])
        #expect(data.schema.fields[6].maxIds == 6)
        #expect(side.genreNames.contains("Film-Noir") && side.genreNames.contains("unknown"))
        // First rating: user 196 (49, M, writer, 55105), movie 242 (Comedy only).
        let e = entries(data, row: 0)
        #expect(e.map(\.field) == [0, 1, 2, 3, 4, 5, 6])
        #expect(e[0].id == 195 && e[1].id == 241)
        #expect(e[2].id == 2)   // F, M
        #expect(e[3].id == 5)   // "1", "18", "25", "35", "45": 49 falls in 45-49
        #expect(e[4].id == 21)  // "writer" sorts last of 21 occupations
        #expect(side.genreNames[Int(e[6].id)] == "Comedy" && e[6].value == 1)
        let zips = try String(contentsOfFile: TestData.path("ml-100k/u.user"), encoding: .utf8)
            .split(separator: "\n").map { String($0.split(separator: "|")[4].prefix(3)) }
        #expect(e[5].id == UInt32(Set(zips).sorted().firstIndex(of: "551")! + 1))
    }

    @Test(.enabled(if: TestData.isAvailable, TestData.unavailableReason)) func movieLensLatestGenresOnly() throws {
        let path = TestData.path("ml-latest-small/ratings.csv")
        let side = try #require(try MovieLensSideInformation.find(besideRatings: path))
        let data = side.joined(try loadDataset(path: path))
        // 19 genres (not counting "(no genres listed)", 34 movies), at most 10 per movie; titles
        // with commas do not shift the genres column.
        #expect(data.schema.fields.map(\.name) == ["user", "movie", "genres"])
        #expect(data.fieldDims == [610, 193_609, 19])
        #expect(data.schema.fields[2].maxIds == 10)
        #expect(!side.genreNames.contains { $0.contains("(") || $0.contains("\"") })
    }

    @Test func damagedSideFilesAreNamedByLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("side-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "1::1::5::1\n".write(toFile: dir + "/ratings.dat", atomically: true, encoding: .utf8)
        try "1::Toy Story (1995)::Comedy\n".write(toFile: dir + "/movies.dat", atomically: true, encoding: .utf8)
        func failure(users: String) -> String {
            try! users.write(toFile: dir + "/users.dat", atomically: true, encoding: .utf8)
            do { _ = try MovieLensSideInformation.find(besideRatings: dir + "/ratings.dat"); return "" } catch { return "\(error)" }
        }
        #expect(failure(users: "1::F::1::10::48067\n2::M::56\n").contains("users.dat:2"))
        #expect(failure(users: "1::F::1::10::48067\n1::M::56::16::70072\n").contains("appears twice"))
        #expect(failure(users: "x::F::1::10::48067\n").contains("not a positive integer"))
        #expect(failure(users: "1::F::1::10::48067\n").isEmpty)
        // A rated user missing from users.dat reads as unknown (0) in every user field.
        try "1::F::1::10::48067\n".write(toFile: dir + "/users.dat", atomically: true, encoding: .utf8)
        try "1::1::5::1\n7::1::2::1\n".write(toFile: dir + "/ratings.dat", atomically: true, encoding: .utf8)
        let side = try #require(try MovieLensSideInformation.find(besideRatings: dir + "/ratings.dat"))
        let joined = side.joined(try loadDataset(path: dir + "/ratings.dat"))
        #expect(entries(joined, row: 1).filter { (2...5).contains($0.field) }.allSatisfy { $0.id == 0 })
        #expect(entries(joined, row: 0).filter { (2...5).contains($0.field) }.allSatisfy { $0.id == 1 })
    }
}
