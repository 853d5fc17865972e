import FNNSystem

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
