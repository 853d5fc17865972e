import FNNCore
import Foundation
import TestSupport
import Testing

/// A generator of malformed text for every input format: valid rows with one line (or the whole
/// file) broken in each of the ways a hostile or careless user manages. Every reader must either
/// read the file or refuse it with an `InputError` naming the file (and the line, where one line
/// is to blame); a crash here takes the test process down.
@Suite struct HostileTextTests {
    struct Format: Sendable {
        let name: String
        let format: DataFormat
        let header: String?
        let row: @Sendable (Int) -> String
    }

    static let formats: [Format] = [
        Format(name: "ml-1m", format: .movielens, header: nil) { "\($0 % 40 + 1)::\($0 % 30 + 1)::\($0 % 5 + 1)::97830\($0)" },
        Format(name: "ml-100k", format: .movielens, header: nil) { "\($0 % 40 + 1)\t\($0 % 30 + 1)\t\($0 % 5 + 1)\t87\($0)" },
        Format(name: "ml-latest", format: .movielens, header: "userId,movieId,rating,timestamp") { "\($0 % 40 + 1),\($0 % 30 + 1),\(Double($0 % 10) / 2 + 0.5),9\($0)" },
        Format(name: "fields", format: .fields, header: "# label field1 field2 field3") { "\($0 % 2)\t\($0 % 17)\t\($0 % 5)\t\($0 % 3)" },
        Format(name: "criteo", format: .criteo, header: nil) { i in criteoRow(i) },
        Format(name: "avazu", format: .avazu, header: "id,click,hour," + (1...21).map { "c\($0)" }.joined(separator: ",")) { i in
            (["1000\(i)", "\(i % 2)", "14102100"] + (0..<21).map { "v\((i + $0) % 9)" }).joined(separator: ",")
        },
        Format(name: "libffm", format: .libffm, header: nil) { "\($0 % 2) 0:\($0 % 13):1 1:\($0 % 7):1 2:\($0 % 3):1" },
        Format(name: "libsvm", format: .libsvm, header: nil) { "\($0 % 2) \($0 % 13):1 \(13 + $0 % 7):1" },
    ]

    static func criteoRow(_ i: Int) -> String {
        let integers: [String] = (0..<13).map { (c: Int) -> String in i % (c + 3) == 0 ? "" : String(i * (c + 1) % 97) }
        let categories: [String] = (0..<26).map { (c: Int) -> String in
            let value: Int = ((i % 50) * 7919 + c * 104_729) % 0xFFFF_FFF
            return String(value, radix: 16)
        }
        return ([String(i % 2)] + integers + categories).joined(separator: "\t")
    }

    /// What happens to line 20 (or to the whole text).
    static let breakages: [(String, @Sendable (String) -> String)] = [
        ("garbage", { _ in "#%&garbage;;\u{7}not a row" }),
        ("cut in half", { String($0.prefix($0.count / 2)) }),
        ("separators doubled", { $0.replacingOccurrences(of: "\t", with: "\t\t").replacingOccurrences(of: ",", with: ",,").replacingOccurrences(of: " ", with: "  ").replacingOccurrences(of: "::", with: "::::") }),
        ("a huge number", { "99999999999999999999999" + $0 }),
        ("a negative id", { "-5" + $0.drop { $0 != "\t" && $0 != "," && $0 != " " && $0 != ":" } }),
        ("a NUL byte", { $0 + "\u{0}" }),
        ("invalid UTF-8", { $0 + "\u{FFFD}\u{FFFE}" }),
        ("a 2 MB line", { $0 + String(repeating: "a", count: 2 << 20) }),
        ("nan label", { "nan" + $0.drop { $0 != "\t" && $0 != "," && $0 != " " && $0 != ":" } }),
        ("label 0.5", { "0.5" + $0.drop { $0 != "\t" && $0 != "," && $0 != " " && $0 != ":" } }),
        ("an empty line", { _ in "" }),
        ("only separators", { _ in "\t\t\t,,,   ::" }),
        ("huge libffm field", { $0 + " 100000000000:1:1" }),
    ]

    @Test(arguments: formats.map(\.name))
    func everyBreakageIsReadOrNamed(format name: String) throws {
        let format = Self.formats.first { $0.name == name }!
        let dir = temporaryDirectory()
        let mapPath = dir + "/map.txt"
        try "0-12 0\n13-19 1\n".write(toFile: mapPath, atomically: true, encoding: .utf8)
        let map = try FieldMap.read(path: mapPath)
        let rows = (0..<60).map(format.row)
        var cases = Self.breakages.map { (what, breakLine) -> (String, String) in
            var lines = rows
            lines[19] = breakLine(lines[19])
            return (what, ((format.header.map { [$0] } ?? []) + lines).joined(separator: "\n") + "\n")
        }
        cases.append(("CRLF line ends", ((format.header.map { [$0] } ?? []) + rows).joined(separator: "\r\n") + "\r\n"))
        cases.append(("no final newline", ((format.header.map { [$0] } ?? []) + rows).joined(separator: "\n")))
        cases.append(("header only", (format.header ?? "#") + "\n"))
        cases.append(("empty", ""))
        for (index, (what, text)) in cases.enumerated() {
            let path = dir + "/case\(index).txt"
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            for explicit in [true, false] {
                do {
                    if let kind = (explicit ? format.format : try detectFormat(path: path)).categorical {
                        let raw = try loadRawCategorical(path: path, format: kind, fieldMap: kind == .libsvm ? map : nil)
                        _ = raw.dataset(vocabulary: raw.vocabulary(minCount: 1))
                    } else {
                        _ = try loadDataset(path: path, format: explicit ? format.format : .auto)
                    }
                } catch {
                    if ProcessInfo.processInfo.environment["FNN_PAR_SHOW_REFUSALS"] != nil { print("\(name) \(what) explicit=\(explicit): \(error.description.prefix(150))") }
                    #expect(error.path == path, "\(name), \(what): the error names \(error.path)")
                    #expect(!error.message.isEmpty)
                    if let line = error.line { #expect(line >= 1 && line <= 62, "\(name), \(what): line \(line)") }
                    // An error that quotes the line must not quote megabytes of it.
                    #expect(error.description.utf8.count < 2000, "\(name), \(what): a \(error.description.utf8.count)-byte message")
                }
            }
        }
    }
}
