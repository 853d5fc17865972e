import FNNSystem

/// The input formats this issue's loaders understand.
public enum DataFormat: String, CaseIterable, Sendable {
    /// Decide from the file's content.
    case auto
    /// MovieLens ratings: ML-1M `::`, ML-100K tab-separated, ML-latest CSV with header.
    case movielens
    /// Our interchange TSV: `label<TAB>id_1<TAB>...<TAB>id_F`, 0-based ids, `#` comments.
    case fields
    /// Criteo Display Advertising TSV (label, 13 integers, 26 hex categories).
    case criteo
    /// Avazu CSV (id, click, 22 categorical columns).
    case avazu
    /// libffm text (`label field:index:value ...`), categorical features only.
    case libffm
    /// libsvm text (`label index:value ...`) with a field map, categorical features only.
    case libsvm
    /// fnn-par's binary data file (the cache format, as `generate --out DATA.fnnpar` writes it),
    /// memory-mapped.
    case binary

    /// Formats whose raw tokens need vocabularies.
    public var categorical: CategoricalFormat? {
        switch self {
        case .criteo: return .criteo
        case .avazu: return .avazu
        case .libffm: return .libffm
        case .libsvm: return .libsvm
        default: return nil
        }
    }
}

/// Loads a data set from a text file in the given (or detected) format.
///
/// With `unlabeledFields` (prediction input for a model of that many fields), lines may also come
/// without a label: `user::movie` (or tab / comma separated) for MovieLens, just the ids for the
/// fields format. Such rows get label 0 and the data set reports `hasLabels == false`.
public func loadDataset(path: String, format: DataFormat = .auto, unlabeledFields: Int? = nil,
                        skipBadLines: Bool = false) throws(InputError) -> Dataset {
    if format == .binary || (format == .auto && (try? detectFormat(path: path)) == .binary) {
        return try DatasetCache.open(path: path)
    }
    let bytes = try readFileBytes(path)
    return try bytes.withUnsafeBufferPointer { (buffer) throws(InputError) -> Dataset in
        let resolved = format == .auto ? try detectFormat(buffer, path: path) : format
        switch resolved {
        case .movielens:
            return try parseMovieLens(buffer, path: path, allowUnlabeled: unlabeledFields != nil, skipBadLines: skipBadLines)
        case .fields:
            return try parseFieldsTSV(buffer, path: path, unlabeledFields: unlabeledFields, skipBadLines: skipBadLines)
        case .binary:
            return try DatasetCache.open(path: path)
        case .criteo, .avazu, .libffm, .libsvm:
            throw InputError(path: path, "\(resolved.rawValue) data needs a vocabulary: load it with loadCategorical")
        case .auto: fatalError("unreachable: detection returns a concrete format")
        }
    }
}

/// Detection by content, not by file name: users rename files.
///
/// `#` comments or a first column that is 0/1 on every sampled line mean the fields format;
/// `::`, a comma, or four tab-separated columns with a rating in the third mean MovieLens.
/// Criteo rows have empty values or hex categories (letters) among their 26 categorical columns;
/// a 39-field fields TSV, all decimal ids, has 40 columns too and must not be taken for Criteo.
func looksLikeCriteo(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    var scanner = LineScanner(bytes)
    var columns: [Range<Int>] = []
    var sampled = 0
    while let line = scanner.nextLine(), sampled < 200 {
        if bytes.isBlank(line) { continue }
        if bytes[line.lowerBound] == 0x23 { return false }
        bytes.splitColumns(line, by: .tab, into: &columns)
        guard columns.count == 40 else { return false }
        for c in columns[14...] where c.isEmpty || bytes.parseUnsigned(c) == nil { return true }
        sampled += 1
    }
    return false
}

public func detectFormat(path: String) throws(InputError) -> DataFormat {
    // The first megabyte: detection samples at most 1000 lines, and the file may not fit in memory.
    try detectFormat(prefix: try readFileBytes(path, limit: 1 << 20), path: path)
}

/// Text has no control bytes but tab, CR and LF: a share of them means binary content (an unknown
/// binary format, random or zero bytes), which no text reader should take on, nor print as a
/// "line". A few are tolerated (a stray byte in a large sample).
public func refuseBinaryContent(prefix bytes: [UInt8], path: String) throws(InputError) {
    let control = bytes.reduce(0) { $0 + (($1 < 0x20 && $1 != 0x09 && $1 != 0x0A && $1 != 0x0D) || $1 == 0x7F ? 1 : 0) }
    if !bytes.isEmpty && control * 100 > bytes.count {
        throw InputError(path: path, "is not text: \(control * 100 / bytes.count)% of its first \(bytes.count) bytes are control characters (binary data in a format fnn-par does not read)")
    }
}

/// Detection from a file's first megabyte (or all of it, if shorter): a compressed file's
/// decompressed start, say.
public func detectFormat(prefix: [UInt8], path: String) throws(InputError) -> DataFormat {
    var bytes = prefix
    if DatasetCache.isDataFile(prefix: bytes) { return .binary }
    try refuseBinaryContent(prefix: bytes, path: path)
    if bytes.count == 1 << 20, let end = bytes.lastIndex(of: 0x0A) { bytes.removeSubrange((end + 1)...) }
    return try bytes.withUnsafeBufferPointer { (b) throws(InputError) -> DataFormat in try detectFormat(b, path: path) }
}

func detectFormat(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws(InputError) -> DataFormat {
    var scanner = LineScanner(bytes)
    var columns: [Range<Int>] = []
    var sampled = 0
    var allBinaryFirstColumn = true
    var allMovieLensShaped = true
    // The first line that broke each candidate, and how: one bad line must be named, not hidden
    // behind "cannot detect".
    var fieldsBroken: (line: Int, why: String)?
    var movieLensBroken: (line: Int, why: String)?
    while let line = scanner.nextLine(), sampled < 1000 {
        if bytes.isBlank(line) { continue }
        if bytes[line.lowerBound] == 0x23 { return .fields }
        if sampled == 0 {
            // libffm: "label field:index:value ..." (two colons in the second item).
            if let space = (line.lowerBound..<line.upperBound).first(where: { bytes[$0] == 0x20 }) {
                let rest = (space + 1)..<line.upperBound
                let colons = rest.prefix { bytes[$0] != 0x20 }.filter { bytes[$0] == 0x3A }.count
                if colons == 2 { return .libffm }
                if colons == 1 { return .libsvm }
            }
            bytes.splitColumns(line, by: .doubleColon, into: &columns)
            if columns.count > 1 { return .movielens }
            bytes.splitColumns(line, by: .comma, into: &columns)
            if columns.count == 24 { return .avazu }
            // Criteo's CSV exports, by their header: DeepCTR's "label,I1,...", Kaggle's "Id,Label,I1,...".
            let names = columns.prefix(3).map { bytes.text($0).lowercased() }
            if (columns.count == 40 && names.starts(with: ["label", "i1"])) || (columns.count == 41 && names == ["id", "label", "i1"]) {
                return .criteo
            }
            if columns.count > 1 { return .movielens }
            bytes.splitColumns(line, by: .tab, into: &columns)
            if columns.count == 40 && looksLikeCriteo(bytes) { return .criteo }
        }
        bytes.splitColumns(line, by: .tab, into: &columns)
        if columns.count < 2 {
            throw InputError(path: path, line: scanner.lineNumber,
                             "cannot detect the format: no tab, ',' or '::' separated columns (use --format)")
        }
        if !(columns[0].count == 1 && (bytes[columns[0].lowerBound] == 0x30 || bytes[columns[0].lowerBound] == 0x31)) {
            allBinaryFirstColumn = false
            if fieldsBroken == nil {
                fieldsBroken = (scanner.lineNumber, "label '\(bytes.text(columns[0]).prefix(20))' is not 0 or 1")
            }
        }
        if columns.count != 4 || bytes.parseDecimal(columns[2]) == nil {
            allMovieLensShaped = false
            if movieLensBroken == nil {
                movieLensBroken = (scanner.lineNumber, columns.count != 4
                    ? "\(columns.count) tab-separated columns, not 4" : "rating '\(bytes.text(columns[2]).prefix(20))' is not a number")
            }
        }
        sampled += 1
    }
    if sampled == 0 { throw InputError(path: path, "empty file: no data rows") }
    if allBinaryFirstColumn { return .fields }
    if allMovieLensShaped { return .movielens }
    // The candidate that held longest is most likely what was meant: its first bad line is named.
    let (nearest, broken) = (fieldsBroken?.line ?? 0) >= (movieLensBroken?.line ?? 0)
        ? ("the fields format", fieldsBroken!) : ("MovieLens", movieLensBroken!)
    throw InputError(path: path, line: broken.line,
                     "cannot detect the format: this line breaks \(nearest), which every line before it fits (\(broken.why)); "
                         + "the other candidate, \(nearest == "MovieLens" ? "the fields format" : "MovieLens"), broke at line \((nearest == "MovieLens" ? fieldsBroken : movieLensBroken)?.line ?? 0). Fix the line, or give --format")
}

/// MovieLens ratings as pytorch-fm reads them: two fields (user, movie), index = id - 1, field
/// size = largest id, label = rating > 3.
func parseMovieLens(_ bytes: UnsafeBufferPointer<UInt8>, path: String, allowUnlabeled: Bool = false,
                    skipBadLines: Bool = false) throws(InputError) -> Dataset {
    var policy = BadLinePolicy(skip: skipBadLines)
    var scanner = LineScanner(bytes)
    var columns: [Range<Int>] = []
    columns.reserveCapacity(8)
    var separator: Separator?
    var ids: [UInt32] = []
    var labels: [Float] = []
    let estimatedRows = bytes.count / 20
    ids.reserveCapacity(estimatedRows * 2)
    labels.reserveCapacity(estimatedRows)
    var maxUser: UInt64 = 0, maxMovie: UInt64 = 0
    var maxUserLine = 0, maxMovieLine = 0
    var unlabeledRows = 0
    while let line = scanner.nextLine() {
        if bytes.isBlank(line) { continue }
        if separator == nil {
            for candidate in [Separator.doubleColon, .tab, .comma] {
                bytes.splitColumns(line, by: candidate, into: &columns)
                if columns.count > 1 { separator = candidate; break }
            }
            guard separator != nil else {
                throw InputError(path: path, line: scanner.lineNumber,
                                 "expected MovieLens columns separated by '::', tab or ','")
            }
            // ML-latest's CSV starts with "userId,movieId,rating,timestamp".
            if separator == .comma, bytes.parseUnsigned(columns[0]) == nil, labels.isEmpty { continue }
        }
        bytes.splitColumns(line, by: separator!, into: &columns)
        let unlabeled = allowUnlabeled && columns.count == 2
        guard columns.count == 4 || unlabeled else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                         "expected 4 columns (user, movie, rating, timestamp) separated by \(separator!.display), found \(columns.count)"))
            continue
        }
        guard let user = bytes.parseUnsigned(columns[0]), user > 0, user <= UInt64(UInt32.max) else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                         "user id '\(bytes.text(columns[0]))' is not a positive integer"))
            continue
        }
        guard let movie = bytes.parseUnsigned(columns[1]), movie > 0, movie <= UInt64(UInt32.max) else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                         "movie id '\(bytes.text(columns[1]))' is not a positive integer"))
            continue
        }
        var label: Float = 0
        if unlabeled {
            unlabeledRows += 1
        } else {
            guard let rating = bytes.parseDecimal(columns[2]) else {
                try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                             "rating '\(bytes.text(columns[2]))' is not a number"))
                continue
            }
            label = rating > 3 ? 1 : 0
        }
        ids.append(UInt32(user - 1))
        ids.append(UInt32(movie - 1))
        labels.append(label)
        if user > maxUser { maxUser = user; maxUserLine = scanner.lineNumber }
        if movie > maxMovie { maxMovie = movie; maxMovieLine = scanner.lineNumber }
    }
    if labels.isEmpty { throw InputError(path: path, "empty file: no data rows") }
    try checkTableSize([Int(maxUser), Int(maxMovie)], largest: [maxUser, maxMovie], lines: [maxUserLine, maxMovieLine],
                       names: ["user id", "movie id"], path: path)
    var data = Dataset(name: path, fieldDims: [Int(maxUser), Int(maxMovie)], ids: ids, labels: labels)
    data.hasLabels = unlabeledRows == 0
    data.skippedLines = policy.skipped
    data.firstSkipped = policy.first
    data.skippedRowPositions = policy.positions
    return data
}

/// The fields TSV: field size = largest id + 1 per column.
func parseFieldsTSV(_ bytes: UnsafeBufferPointer<UInt8>, path: String, unlabeledFields: Int? = nil,
                    skipBadLines: Bool = false) throws(InputError) -> Dataset {
    var policy = BadLinePolicy(skip: skipBadLines)
    var lineIds: [UInt32] = []
    var scanner = LineScanner(bytes)
    var columns: [Range<Int>] = []
    var fieldCount = unlabeledFields ?? -1
    var unlabeledRows = 0

    var ids: [UInt32] = []
    var labels: [Float] = []
    var maxIds: [UInt32] = []
    var maxLines: [Int] = []
    while let line = scanner.nextLine() {
        if bytes.isBlank(line) || bytes[line.lowerBound] == 0x23 { continue }
        bytes.splitColumns(line, by: .tab, into: &columns)
        if maxIds.isEmpty && fieldCount > 0 {
            maxIds = [UInt32](repeating: 0, count: fieldCount)
            maxLines = [Int](repeating: 0, count: fieldCount)
        }
        if fieldCount < 0 {
            fieldCount = columns.count - 1
            guard fieldCount >= 1 else {
                throw InputError(path: path, line: scanner.lineNumber,
                                 "expected a label and at least one id separated by tabs, found 1 column")
            }
            maxIds = [UInt32](repeating: 0, count: fieldCount)
            maxLines = [Int](repeating: 0, count: fieldCount)
            ids.reserveCapacity(bytes.count / (2 * fieldCount + 2) * fieldCount)
        }
        let unlabeled = unlabeledFields != nil && columns.count == fieldCount
        guard columns.count == fieldCount + 1 || unlabeled else {
            let expected = unlabeledFields != nil ? "\(fieldCount + 1) columns (label and \(fieldCount) ids) or \(fieldCount) (ids only)"
                : "\(fieldCount + 1) columns (label and \(fieldCount) ids) like the first data line"
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber, "expected \(expected), found \(columns.count)"))
            continue
        }
        let firstId = unlabeled ? 0 : 1
        var label: Float = 0
        if !unlabeled {
            let labelRange = columns[0]
            guard labelRange.count == 1, bytes[labelRange.lowerBound] == 0x30 || bytes[labelRange.lowerBound] == 0x31 else {
                try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber, "label '\(bytes.text(labelRange))' is not 0 or 1"))
                continue
            }
            label = bytes[labelRange.lowerBound] == 0x31 ? 1 : 0
        }
        // The whole line is checked before any of it is kept, so a skipped line leaves no trace.
        lineIds.removeAll(keepingCapacity: true)
        var bad: InputError?
        for f in 0..<fieldCount {
            guard let id = bytes.parseUnsigned(columns[f + firstId]), id < UInt64(UInt32.max) else {
                bad = InputError(path: path, line: scanner.lineNumber,
                                 "id '\(bytes.text(columns[f + firstId]))' in field \(f + 1) is not a non-negative integer below 2^32-1")
                break
            }
            lineIds.append(UInt32(id))
        }
        if let bad {
            try policy.reject(keptRows: labels.count, bad)
            continue
        }
        if unlabeled { unlabeledRows += 1 }
        labels.append(label)
        for f in 0..<fieldCount {
            let v = lineIds[f]
            ids.append(v)
            if v > maxIds[f] { maxIds[f] = v; maxLines[f] = scanner.lineNumber }
        }
    }
    if labels.isEmpty { throw InputError(path: path, "empty file: no data rows") }
    try checkTableSize(maxIds.map { Int($0) + 1 }, largest: maxIds.map(UInt64.init), lines: maxLines,
                       names: (1...fieldCount).map { "id in field \($0)" }, path: path)
    var data = Dataset(name: path, fieldDims: maxIds.map { Int($0) + 1 }, ids: ids, labels: labels)
    data.hasLabels = unlabeledRows == 0
    data.skippedLines = policy.skipped
    data.firstSkipped = policy.first
    data.skippedRowPositions = policy.positions
    return data
}

extension Dataset {
    /// Writes the fields TSV (for synthetic data and tests), atomically.
    public func writeFieldsTSV(to path: String, comment: String? = nil) throws {
        var out = [UInt8]()
        out.reserveCapacity(rowCount * (fieldCount * 6 + 2))
        if let comment { out.append(contentsOf: Array("# \(comment)\n".utf8)) }
        var digits = [UInt8](repeating: 0, count: 12)
        for r in 0..<rowCount {
            out.append(labels[r] > 0.5 ? 0x31 : 0x30)
            for f in 0..<fieldCount {
                out.append(0x09)
                var v = ids[r * fieldCount + f]
                var n = 0
                repeat { digits[n] = UInt8(v % 10) + 0x30; v /= 10; n += 1 } while v > 0
                while n > 0 { n -= 1; out.append(digits[n]) }
            }
            out.append(0x0A)
        }
        try writeFileAtomically(path: path, bytes: out)
    }
}

/// The most table rows a model may have: row ids are 32-bit and batch positions are grouped with
/// 32-bit indices.
public let maximumTableRows = Int(Int32.max)

/// Field sizes come from the largest id, so one stray huge id (a hash, a timestamp) makes a
/// table no machine can hold; name the line it came from instead of failing to allocate.
func checkTableSize(_ fieldDims: [Int], largest: [UInt64], lines: [Int], names: [String], path: String) throws(InputError) {
    guard fieldDims.reduce(0, +) > maximumTableRows else { return }
    let f = fieldDims.indices.max { fieldDims[$0] < fieldDims[$1] }!
    throw InputError(path: path, line: lines[f],
                     "\(names[f]) \(largest[f]) would make a table of \(fieldDims.reduce(0, +)) rows (at most \(maximumTableRows)): ids must be small consecutive integers; hashed ids need a vocabulary")
}

/// `--skip-bad-lines`: without it the first malformed line stops the load with its error; with it,
/// malformed lines are counted and left out whole, and the first one is kept for the report.
/// Where each left-out line sat (the rows kept before it) is recorded too, so `predict` can
/// write a `nan` in its place and keep its output aligned with the input's lines.
struct BadLinePolicy {
    let skip: Bool
    var skipped = 0
    var first: InputError?
    var positions: [Int] = []

    mutating func reject(keptRows: Int, _ error: InputError) throws(InputError) {
        guard skip else { throw error }
        skipped += 1
        positions.append(keptRows)
        if first == nil { first = error }
    }
}
