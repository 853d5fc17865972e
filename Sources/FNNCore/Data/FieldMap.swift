import FNNSystem

/// Which field each libsvm feature index belongs to. libsvm rows (`label index:value ...`) name
/// features but not fields, and an FM or FNN needs fields; the user says which, in a small text
/// file of lines `INDEX FIELD` or `FIRST-LAST FIELD` (fields numbered from 0, `#` comments).
/// Stored with the model, so `predict` reads raw libsvm rows with the same grouping.
public struct FieldMap: Sendable, Equatable {
    /// Disjoint index ranges, sorted, each with its field.
    public private(set) var firsts: [Int] = []
    public private(set) var lasts: [Int] = []
    public private(set) var fields: [Int] = []
    public var fieldCount: Int { (fields.max() ?? -1) + 1 }

    public init(ranges: [(first: Int, last: Int, field: Int)]) throws(InputError) {
        try self.init(ranges: ranges.map { ($0.first, $0.last, $0.field, 0) }, path: "field map")
    }

    private init(ranges: [(first: Int, last: Int, field: Int, line: Int)], path: String) throws(InputError) {
        let sorted = ranges.sorted { $0.first < $1.first }
        for (k, r) in sorted.enumerated() {
            if k > 0 && r.first <= sorted[k - 1].last {
                throw InputError(path: path, line: r.line > 0 ? r.line : nil, "feature indices \(r.first)-\(r.last) overlap \(sorted[k - 1].first)-\(sorted[k - 1].last)")
            }
            firsts.append(r.first); lasts.append(r.last); fields.append(r.field)
        }
        guard !fields.isEmpty else { throw InputError(path: path, "the field map lists no features") }
        let used = Set(fields)
        if let missing = (0..<fieldCount).first(where: { !used.contains($0) }) {
            throw InputError(path: path, "field \(missing) has no features (fields must be numbered 0, 1, 2, ... without gaps)")
        }
    }

    public static func read(path: String) throws(InputError) -> FieldMap {
        let bytes = try readFileBytes(path)
        var ranges: [(first: Int, last: Int, field: Int, line: Int)] = []
        let text = String(decoding: bytes, as: UTF8.self)
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            let bounds = words[0].split(separator: "-", omittingEmptySubsequences: false)
            guard words.count == 2, bounds.count <= 2, let first = Int(bounds[0]), let last = Int(bounds.last!),
                  let field = Int(words[1]), first >= 0, last >= first, field >= 0, field < 100_000
            else {
                throw InputError(path: path, line: n + 1, "expected 'INDEX FIELD' or 'FIRST-LAST FIELD' (non-negative integers), got '\(line)'")
            }
            ranges.append((first, last, field, n + 1))
        }
        return try FieldMap(ranges: ranges, path: path)
    }

    /// The field of feature `index`, or nil when no range holds it.
    public func field(of index: Int) -> Int? {
        var lo = 0, hi = firsts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if firsts[mid] <= index { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, index <= lasts[lo - 1] else { return nil }
        return fields[lo - 1]
    }

    /// Text that identifies the map, for cache keys.
    public var digest: String {
        var hash = FNV1a()
        for v in firsts + lasts + fields { hash.add(word: UInt64(truncatingIfNeeded: v)) }
        return String(hash.value, radix: 16)
    }

    public static let tensorName = "field_map.ranges"

    /// One I64 tensor of (first, last, field) rows.
    public func tensors() -> [String: SafeTensors.Tensor] {
        var values: [Int64] = []
        for k in firsts.indices { values += [Int64(firsts[k]), Int64(lasts[k]), Int64(fields[k])] }
        var t = SafeTensors.Tensor(int64s: values)
        t.shape = [firsts.count, 3]
        return [Self.tensorName: t]
    }

    /// The map stored in `file`, nil when there is none; a malformed one is an error.
    public init?(file: SafeTensors, path: String) throws(ModelFileError) {
        guard let t = file.tensors[Self.tensorName] else { return nil }
        var flat = t
        flat.shape = [t.elementCount]
        guard t.shape.count == 2, t.shape[1] == 3, let values = flat.int64s else {
            throw ModelFileError(path: path, "corrupt '\(Self.tensorName)' tensor")
        }
        let ranges = stride(from: 0, to: values.count, by: 3).map { (first: Int(values[$0]), last: Int(values[$0 + 1]), field: Int(values[$0 + 2]), line: 0) }
        do { self = try FieldMap(ranges: ranges, path: path) } catch {
            throw ModelFileError(path: path, "corrupt '\(Self.tensorName)' tensor: \(error.message)")
        }
    }
}
