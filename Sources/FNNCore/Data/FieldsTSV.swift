import FNNSystem

/// The fields TSV: field size = largest id + 1 per column. A `# fields:` line before the first
/// data line that declares a multi-hot or numeric column makes the file variable rows
/// (`parseFieldsTSVWithKinds`); one declaring only categorical columns changes nothing.
func parseFieldsTSV(_ bytes: UnsafeBufferPointer<UInt8>, path: String, unlabeledFields: Int? = nil,
                    skipBadLines: Bool = false, maxIdsPerField: Int = FieldSpec.maximumIdsPerField) throws(InputError) -> Dataset {
    var header = LineScanner(bytes)
    while let line = header.nextLine() {
        if bytes.isBlank(line) { continue }
        guard bytes[line.lowerBound] == 0x23 else { break }
        guard let declared = try FieldsDeclaration.parse(bytes, line: line, lineNumber: header.lineNumber, path: path) else { continue }
        if let unlabeledFields, unlabeledFields != declared.count {
            throw InputError(path: path, line: header.lineNumber, "declares \(declared.count) fields but the model has \(unlabeledFields)")
        }
        if !declared.isOneHot {
            return try parseFieldsTSVWithKinds(bytes, path: path, declared: declared, unlabeled: unlabeledFields != nil,
                                               skipBadLines: skipBadLines, maxIds: maxIdsPerField)
        }
        break
    }
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
        if variable != nil { return try writeFieldsTSVWithKinds(to: path, comment: comment) }
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
