import FNNSystem

/// The fields TSV with multi-hot and numeric columns. A comment line before the first data line
/// declares the columns' names and kinds:
///
///     # fields: user movie genres:multi-hot:mean price:numeric
///
/// (`NAME`, `NAME:categorical`, `NAME:multi-hot` with `:sum` (the default) or `:mean`,
/// `NAME:numeric`). Then a categorical cell is one id, as in a plain fields TSV; a multi-hot cell
/// is ids separated by commas, each `ID` or `ID:VALUE`, and may be empty (no ids); a numeric cell
/// is `ID:VALUE` (a field of size 1, `0:VALUE`, is a per-field scalar) or empty (nothing). The
/// kinds are declared rather than guessed from the cells, so a stray comma or empty cell in a
/// column meant to be categorical is an error on its line, not a silently different model.
enum FieldsDeclaration {
    static let prefix = Array("# fields:".utf8)

    /// The declaration on line `line` of `b`, if that line is one.
    static func parse(_ b: UnsafeBufferPointer<UInt8>, line: Range<Int>, lineNumber: Int, path: String) throws(InputError) -> FieldSchema? {
        guard line.count >= prefix.count, zip(b[line.lowerBound..<(line.lowerBound + prefix.count)], prefix).allSatisfy({ $0 == $1 })
        else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[(line.lowerBound + prefix.count)..<line.upperBound]), as: UTF8.self)
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !words.isEmpty else { throw InputError(path: path, line: lineNumber, "'# fields:' names no fields") }
        var fields: [FieldSpec] = []
        for word in words {
            let parts = word.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let name = parts[0]
            func bad(_ why: String) -> InputError {
                InputError(path: path, line: lineNumber, "field '\(word)': \(why) (kinds: NAME, NAME:categorical, NAME:multi-hot[:sum|:mean], NAME:numeric)")
            }
            guard !name.isEmpty else { throw bad("no name") }
            switch parts.count > 1 ? parts[1] : "categorical" {
            case "categorical" where parts.count <= 2: fields.append(FieldSpec(name: name))
            case "numeric" where parts.count == 2: fields.append(FieldSpec(name: name, kind: .numeric))
            case "multi-hot" where parts.count <= 3:
                guard let pooling = Pooling(rawValue: parts.count == 3 ? parts[2] : "sum") else { throw bad("pooling is sum or mean") }
                fields.append(FieldSpec(name: name, kind: .multiHot, pooling: pooling, maxIds: 1))
            default: throw bad("unknown kind")
            }
        }
        return FieldSchema(fields: fields)
    }
}

/// A fields TSV under a declaration with a multi-hot or numeric column, into variable rows.
/// Field sizes are the largest id + 1 per column; a multi-hot field's `maxIds` the most ids of
/// one cell.
func parseFieldsTSVWithKinds(_ bytes: UnsafeBufferPointer<UInt8>, path: String, declared: FieldSchema, unlabeled allowUnlabeled: Bool,
                             skipBadLines: Bool, maxIds: Int = FieldSpec.maximumIdsPerField) throws(InputError) -> Dataset {
    var policy = BadLinePolicy(skip: skipBadLines)
    var scanner = LineScanner(bytes)
    var columns: [Range<Int>] = []
    let fieldCount = declared.count
    var builder = VariableRows.Builder(reservingEntries: bytes.count / 4)
    var labels: [Float] = []
    var unlabeledRows = 0
    var largest = [UInt64](repeating: 0, count: fieldCount)
    var largestLine = [Int](repeating: 0, count: fieldCount)
    var mostIds = [Int](repeating: 1, count: fieldCount)
    var rowLargest = [UInt64](repeating: 0, count: fieldCount), rowIds = [Int](repeating: 0, count: fieldCount)
    /// One cell's (id, value) items, checked before any is kept.
    var items: [(id: UInt32, value: Float)] = []
    func cellItems(_ cell: Range<Int>, field f: Int) -> String? {
        items.removeAll(keepingCapacity: true)
        let kind = declared.fields[f].kind
        if cell.isEmpty { return kind == .categorical ? "field \(f + 1) (\(declared.fields[f].name)) is empty; a categorical field needs an id" : nil }
        var start = cell.lowerBound
        while start <= cell.upperBound {
            var end = start
            while end < cell.upperBound && bytes[end] != 0x2C { end += 1 }
            let item = start..<end
            var colon = item.upperBound
            for i in item where bytes[i] == 0x3A { colon = i; break }
            if kind == .numeric && colon == item.upperBound { return "field \(f + 1) is numeric: '\(bytes.text(item))' needs ID:VALUE" }
            let idText = item.lowerBound..<colon
            guard let id = bytes.parseUnsigned(idText), id < UInt64(UInt32.max) else {
                return "id '\(bytes.text(idText))' in field \(f + 1) is not a non-negative integer below 2^32-1"
            }
            var value: Float = 1
            if colon < item.upperBound {
                guard kind != .categorical else { return "field \(f + 1) is categorical: '\(bytes.text(item))' gives a value" }
                guard let parsed = bytes.parseValue((colon + 1)..<item.upperBound), Float(parsed).isFinite else {
                    return "value '\(bytes.text((colon + 1)..<item.upperBound))' in field \(f + 1) is not a finite number"
                }
                value = Float(parsed)
            }
            items.append((UInt32(id), value))
            guard items.count <= (kind == .multiHot ? maxIds : 1) else {
                return kind == .multiHot ? "field \(f + 1) has more than \(maxIds) ids" + (maxIds < FieldSpec.maximumIdsPerField ? " (--max-ids)" : "")
                    : "field \(f + 1) is \(kind.rawValue): one id, found a comma"
            }
            start = end + 1
        }
        return nil
    }
    var declarationSeen = false
    while let line = scanner.nextLine() {
        if bytes.isBlank(line) { continue }
        if bytes[line.lowerBound] == 0x23 {
            if !declarationSeen, (try FieldsDeclaration.parse(bytes, line: line, lineNumber: scanner.lineNumber, path: path)) != nil {
                declarationSeen = true
            }
            continue
        }
        bytes.splitColumns(line, by: .tab, into: &columns)
        let unlabeled = allowUnlabeled && columns.count == fieldCount
        guard columns.count == fieldCount + 1 || unlabeled else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                                                 "expected \(fieldCount + 1) columns (label and the \(fieldCount) declared fields), found \(columns.count)"))
            continue
        }
        let first = unlabeled ? 0 : 1
        var label: Float = 0
        if !unlabeled {
            let range = columns[0]
            guard range.count == 1, bytes[range.lowerBound] == 0x30 || bytes[range.lowerBound] == 0x31 else {
                try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber, "label '\(bytes.text(range))' is not 0 or 1"))
                continue
            }
            label = bytes[range.lowerBound] == 0x31 ? 1 : 0
        }
        // The row's largest id and id count per field count only once the whole row is sound: a
        // line left out must widen no field.
        var problem: String?
        for f in 0..<fieldCount {
            if let why = cellItems(columns[first + f], field: f) { problem = why; break }
            rowLargest[f] = 0
            for item in items {
                builder.append(field: f, id: item.id, value: item.value)
                rowLargest[f] = max(rowLargest[f], UInt64(item.id))
            }
            rowIds[f] = items.count
        }
        if let problem {
            builder.discardRow()
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber, problem))
            continue
        }
        for f in 0..<fieldCount {
            if rowLargest[f] > largest[f] { largest[f] = rowLargest[f]; largestLine[f] = scanner.lineNumber }
            mostIds[f] = max(mostIds[f], rowIds[f])
        }
        builder.endRow()
        labels.append(label)
        if unlabeled { unlabeledRows += 1 }
    }
    if labels.isEmpty { throw InputError(path: path, "empty file: no data rows") }
    let dims = largest.map { Int($0) + 1 }
    try checkTableSize(dims, largest: largest, lines: largestLine, names: (1...fieldCount).map { "id in field \($0)" }, path: path)
    var schema = declared
    for f in 0..<fieldCount where schema.fields[f].kind == .multiHot { schema.fields[f].maxIds = mostIds[f] }
    var data = Dataset(name: path, fieldDims: dims, schema: schema, rows: builder.finish(), labels: AlignedBuffer(labels))
    data.hasLabels = unlabeledRows == 0
    data.skippedLines = policy.skipped
    data.firstSkipped = policy.first
    data.skippedRowPositions = policy.positions
    return data
}

extension Dataset {
    /// Variable rows as a fields TSV with its declaration line (values of 1 left out).
    func writeFieldsTSVWithKinds(to path: String, comment: String?) throws {
        guard let variable else { preconditionFailure("one-hot rows are written by writeFieldsTSV") }
        var text = ""
        if let comment { text += "# \(comment)\n" }
        text += "# fields: " + schema.fields.map { spec -> String in
            switch spec.kind {
            case .categorical: return "\(spec.name):categorical"
            case .numeric: return "\(spec.name):numeric"
            case .multiHot: return "\(spec.name):multi-hot:\(spec.pooling.rawValue)"
            }
        }.joined(separator: " ") + "\n"
        var out = Array(text.utf8)
        out.reserveCapacity(out.count + variable.entryCount * 6 + rowCount * (fieldCount + 2))
        for r in 0..<rowCount {
            out.append(labels[r] > 0.5 ? 0x31 : 0x30)
            var e = variable.starts[r]
            let end = variable.starts[r + 1]
            for f in 0..<fieldCount {
                out.append(0x09)
                var firstInCell = true
                while e < end && Int(variable.fields[e]) == f {
                    if !firstInCell { out.append(0x2C) }
                    firstInCell = false
                    out.append(contentsOf: String(variable.ids[e]).utf8)
                    if variable.values[e] != 1 || schema.fields[f].kind == .numeric {
                        out.append(0x3A)
                        out.append(contentsOf: "\(variable.values[e])".utf8)
                    }
                    e += 1
                }
            }
            out.append(0x0A)
        }
        try writeFileAtomically(path: path, bytes: out)
    }
}
