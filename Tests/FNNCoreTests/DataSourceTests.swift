import FNNCore
import FNNSystem
import Foundation
import TestSupport
import Testing

@Suite struct DataSourceTests {
    /// A request reads what the format's loader reads; the second read comes from the binary
    /// cache it wrote (said in a note) and is the same data; a request without a path is the
    /// built-in data set.
    @Test func requestReadsParsesThenCaches() throws {
        let directory = temporaryDirectory()
        let path = directory + "/ratings.dat"
        var text = ""
        var rng = Xoshiro256(seed: 3)
        for i in 0..<400 { text += "\(1 + Int(rng.next() % 40))::\(1 + Int(rng.next() % 60))::\(1 + i % 5)::97830\(i)\n" }
        writeText(text, to: path)
        var request = DataRequest(path: path)
        request.seed = 7
        var notes: [String] = []
        let first = try DataSource(request, note: { notes.append($0) }).load()
        let direct = try loadDataset(path: path)
        #expect(first.fingerprint == direct.fingerprint && first.rowCount == 400)
        #expect(FileManager.default.fileExists(atPath: path + ".fnnpar-cache"))
        notes.removeAll()
        let second = try DataSource(request, note: { notes.append($0) }).load()
        #expect(second.fingerprint == first.fingerprint)
        #expect(notes.contains { $0.hasPrefix("read the binary cache") })
        request.useCache = false
        notes.removeAll()
        let uncached = try DataSource(request, note: { notes.append($0) }).load()
        #expect(uncached.fingerprint == first.fingerprint && !notes.contains { $0.contains("binary cache") })
        let builtIn = try DataSource(DataRequest(path: nil), note: { _ in }).load()
        #expect(builtIn.rowCount == 1_000_209)
    }

    /// A held-out file in another format than the training file's is refused by name.
    @Test func heldOutFileInAnotherFormatIsRefused() throws {
        let directory = temporaryDirectory()
        writeText("1::2::5::978300760\n2::3::4::978300761\n3::1::2::978300762\n", to: directory + "/train.dat")
        writeText("1\t2\t3\n0\t3\t1\n", to: directory + "/test.tsv")
        var request = DataRequest(path: directory + "/train.dat")
        request.testPath = directory + "/test.tsv"
        request.useCache = false
        #expect(throws: InputError.self) { try DataSource(request, note: { _ in }).load() }
        do { _ = try DataSource(request, note: { _ in }).load() } catch {
            #expect(error.path == directory + "/test.tsv" && error.message.contains("training data's format"))
        }
    }
}
