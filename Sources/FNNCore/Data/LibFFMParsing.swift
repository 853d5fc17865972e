import FNNExecution
import FNNSystem
import Foundation

/// libffm text, categorically (see `CategoricalFormat.libffm`); with a field map, libsvm text,
/// each feature's field taken from the map. Parsed in parallel chunks when an executor is given,
/// with the same result as a sequential parse (see `loadRawCategorical`). Rows come fixed-width
/// while every line names each field at most once with value 1 (today's one-hot data, the fast
/// path), else as entries (`RawEntries`); `entries` asks for entries whatever the lines hold (a
/// model with multi-hot or numeric fields scores the file).
func loadLibFFM(path: String, skipBadLines: Bool, fieldMap: FieldMap?, minimumFields: Int = 0,
                executor: PhaseExecutor? = nil, minimumChunkBytes: Int = 4 << 20,
                unlabeledRows: Bool = false, entries: Bool = false,
                maxIds: Int = FieldSpec.maximumIdsPerField, oneHotOnly: String? = nil) throws(InputError) -> RawCategoricalData {
    let bytes = try readFileBytes(path)
    return try bytes.withUnsafeBufferPointer { (b) throws(InputError) -> RawCategoricalData in
        var fieldCount = minimumFields
        if let fieldMap {
            fieldCount = fieldMap.fieldCount
        } else {
            let highest = libFFMHighestField(b, executor: executor, minimumChunkBytes: minimumChunkBytes)
            try refuseTooManyLibFFMFields(highest: highest, b, path: path)
            fieldCount = max(highest + 1, minimumFields)
        }
        guard fieldCount > 0 else { throw LibFFMRows.noFeatures(path) }
        var boxes = parseLibFFMChunks(b, fieldCount: fieldCount, fieldMap: fieldMap, path: path, skipBadLines: skipBadLines,
                                      executor: executor, minimumChunkBytes: minimumChunkBytes, unlabeledRows: unlabeledRows,
                                      variable: entries, maxIds: maxIds, oneHotOnly: oneHotOnly)
        // A line the fixed-width form cannot hold, before any error of an earlier line: the whole
        // file as entries.
        if !entries, let first = boxes.firstIndex(where: { $0.wantsEntries || $0.failure != nil }), boxes[first].wantsEntries {
            boxes = parseLibFFMChunks(b, fieldCount: fieldCount, fieldMap: fieldMap, path: path, skipBadLines: skipBadLines,
                                      executor: executor, minimumChunkBytes: minimumChunkBytes, unlabeledRows: unlabeledRows,
                                      variable: true, maxIds: maxIds)
        }
        var merger = CategoricalMerger(fieldCount: fieldCount)
        return try merger.rawData(merging: boxes, format: fieldMap == nil ? .libffm : .libsvm, path: path)
    }
}

/// The first libffm pass, which the row width needs: the highest field of any chunk (-1 if none).
func libFFMHighestField(_ b: UnsafeBufferPointer<UInt8>, executor: PhaseExecutor?, minimumChunkBytes: Int) -> Int {
    let highest = AlignedBuffer<Int>(count: categoricalChunkCount(bytes: b.count, executor: executor,
                                                                  minimumChunkBytes: minimumChunkBytes))
    let chunks = forEachChunk(of: b, executor: executor, minimumChunkBytes: minimumChunkBytes) { k, chunk in
        highest[k] = libFFMHighestField(chunk)
    }
    return (0..<chunks).map { highest[$0] }.max()!
}

/// libffm / libsvm rows of `b` in chunks with chunk-local token ids (see `CategoricalMerger`).
func parseLibFFMChunks(_ b: UnsafeBufferPointer<UInt8>, fieldCount: Int, fieldMap: FieldMap?, path: String,
                       skipBadLines: Bool, executor: PhaseExecutor?, minimumChunkBytes: Int,
                       unlabeledRows: Bool = false, variable: Bool = false,
                       maxIds: Int = FieldSpec.maximumIdsPerField, oneHotOnly: String? = nil) -> [CategoricalChunk] {
    let boxes = (0..<categoricalChunkCount(bytes: b.count, executor: executor, minimumChunkBytes: minimumChunkBytes))
        .map { _ in CategoricalChunk() }
    forEachChunk(of: b, executor: executor, minimumChunkBytes: minimumChunkBytes) { k, chunk in
        boxes[k].parseLibFFM(chunk, fieldCount: fieldCount, fieldMap: fieldMap, path: path, skipBadLines: skipBadLines,
                             unlabeledRows: unlabeledRows, variable: variable, maxIds: maxIds, oneHotOnly: oneHotOnly)
    }
    return boxes
}

/// The highest field number of libffm lines in `b` (-1 if none): the first pass, which the row
/// width needs. Items that are not field:index:value are left to the row pass to report.
/// Rows hold one value per field (a field a libffm line does not name holds "missing"), so the
/// data's size is rows x fields whatever the file's: one line naming field 99999 would make every
/// row 100,000 values wide (a 240 KB file asked for 3.3 GB). Field indices are meant to run from
/// 0 to the field count; this many is far beyond any real data.
public let maximumLibFFMFields = 4096

/// Refuses a highest field index past `maximumLibFFMFields`, naming the first line that shows
/// one when the text is at hand.
func refuseTooManyLibFFMFields(highest: Int, _ b: UnsafeBufferPointer<UInt8>?, path: String) throws(InputError) {
    guard highest >= maximumLibFFMFields else { return }
    var line: Int?
    if let b {
        var items = LibFFMItems()
        var scanner = LineScanner(b)
        search: while let range = scanner.nextLine() {
            if b.isBlank(range) || b[range.lowerBound] == 0x23 { continue }
            items.split(b, range)
            for item in items.list.dropFirst() {
                let p = LibFFMItems.parts(b, item)
                if p.count == 3, let f = b.parseUnsigned(p.first), f >= maximumLibFFMFields { line = scanner.lineNumber; break search }
            }
        }
    }
    throw InputError(path: path, line: line, "field index \(highest) or more: fnn-par keeps one value per field per row, so every row would be \(highest + 1) values wide; at most \(maximumLibFFMFields) fields (number them from 0)")
}

func libFFMHighestField(_ b: UnsafeBufferPointer<UInt8>) -> Int {
    var items = LibFFMItems()
    var scanner = LineScanner(b)
    var highest = -1
    while let line = scanner.nextLine() {
        if b.isBlank(line) || b[line.lowerBound] == 0x23 { continue }
        items.split(b, line)
        for item in items.list.dropFirst() {
            let p = LibFFMItems.parts(b, item)
            if p.count == 3, let f = b.parseUnsigned(p.first) { highest = max(highest, Int(min(f, 1 << 40))) }
        }
    }
    return highest
}

/// A line's space- or tab-separated items, in a reused array (no allocation per line).
struct LibFFMItems {
    var list: [Range<Int>] = []

    mutating func split(_ b: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) {
        list.removeAll(keepingCapacity: true)
        var i = line.lowerBound
        while i < line.upperBound {
            while i < line.upperBound && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
            let start = i
            while i < line.upperBound && b[i] != 0x20 && b[i] != 0x09 { i += 1 }
            if i > start { list.append(start..<i) }
        }
    }

    /// field:index:value split at the colons: the parts (at most three kept) and how many there are.
    static func parts(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>)
        -> (count: Int, first: Range<Int>, second: Range<Int>, third: Range<Int>) {
        var found: (Range<Int>, Range<Int>, Range<Int>) = (r, r.upperBound..<r.upperBound, r.upperBound..<r.upperBound)
        var count = 1
        var start = r.lowerBound
        for i in r where b[i] == 0x3A {
            if count == 1 { found.0 = start..<i } else if count == 2 { found.1 = start..<i }
            count += 1
            start = i + 1
        }
        switch count {
        case 1: found.0 = start..<r.upperBound
        case 2: found.1 = start..<r.upperBound
        case 3: found.2 = start..<r.upperBound
        default: break
        }
        return (count, found.0, found.1, found.2)
    }
}

/// libffm / libsvm rows, one line at a time, into interned tokens (a chunk's parser). Rows go
/// to the fixed-width form (one token per field, "missing" for a field the line does not name)
/// unless `variable`: then to `entries`, every item kept with its value. A fixed-width parse that
/// meets a line the form cannot hold (a field named twice, a value other than 1) stops there with
/// `wantsVariable` set, and the caller parses again with `variable`.
struct LibFFMRows {
    let fieldCount: Int
    let fieldMap: FieldMap?
    let path: String
    let variable: Bool
    /// The most ids one row may give a field (`--max-ids`); more is a bad line.
    let maxIds: Int
    /// Set (to what takes the rows, for messages) when rows must stay one-hot: a line that would
    /// need entries is then a bad line instead (a one-hot model scoring a file).
    var oneHotOnly: String?
    var interners: [TokenInterner]
    var labels: [Float] = []
    /// Rows to score may come without the label: a line whose first item is a feature has none.
    var unlabeledRows = false
    /// The rows, when `variable`.
    var entries = RawEntries()
    var observations: [FieldObservation]
    private(set) var wantsVariable = false
    private var items = LibFFMItems()
    private var row: [Range<Int>?]
    private var ids: [UInt32]
    /// A line's items, (field, token, value), before they are put in field order.
    private var lineItems: [(field: Int, token: Range<Int>, value: Float)] = []
    private var runs: [Int]
    private let missing: [UInt8] = Array("missing".utf8)

    static func noFeatures(_ path: String) -> InputError {
        InputError(path: path, "no field:index:value features found (libffm); for libsvm's index:value give --format libsvm and --field-map")
    }

    init(fieldCount: Int, fieldMap: FieldMap?, path: String, variable: Bool = false, maxIds: Int = FieldSpec.maximumIdsPerField) {
        self.maxIds = maxIds
        self.fieldCount = fieldCount
        self.fieldMap = fieldMap
        self.path = path
        self.variable = variable
        interners = [TokenInterner](repeating: TokenInterner(), count: fieldCount)
        row = [Range<Int>?](repeating: nil, count: fieldCount)
        ids = [UInt32](repeating: 0, count: fieldCount)
        runs = [Int](repeating: 0, count: fieldCount)
        observations = [FieldObservation](repeating: FieldObservation(), count: fieldCount)
    }

    /// Parses line `line` (number `lineNumber` for errors) of `b`: a data row's label is appended
    /// and its token ids go to `emit` (fixed width) or to `entries`; a blank or comment line is
    /// passed over; a bad line is returned as its error, with nothing kept.
    mutating func parse(_ b: UnsafeBufferPointer<UInt8>, line: Range<Int>, lineNumber: Int,
                        emit: (UnsafeBufferPointer<UInt32>) -> Void) -> InputError? {
        if b.isBlank(line) || b[line.lowerBound] == 0x23 { return nil }
        items.split(b, line)
        let list = items.list
        let hasLabel = !(unlabeledRows && list[0].contains { b[$0] == 0x3A })
        var label = Double.nan
        if hasLabel {
            guard let parsed = b.parseDecimal(list[0]) else {
                return InputError(path: path, line: lineNumber, "label '\(b.text(list[0]))' is not a number")
            }
            label = parsed
        }
        lineItems.removeAll(keepingCapacity: true)
        for item in list.dropFirst(hasLabel ? 1 : 0) {
            let split = LibFFMItems.parts(b, item)
            // (field, token, value) as libffm spells them; libsvm's index is both field key and token.
            var p = (split.first, split.second, split.third)
            let f: UInt64
            if let fieldMap {
                guard split.count == 2, let index = b.parseUnsigned(split.first), index < 1 << 62 else {
                    return InputError(path: path, line: lineNumber, "'\(b.text(item))' is not index:value (libsvm)")
                }
                guard let mapped = fieldMap.field(of: Int(index)) else {
                    return InputError(path: path, line: lineNumber, "feature index \(index) is in no field of the field map")
                }
                f = UInt64(mapped)
                p = (split.first, split.first, split.second)
            } else {
                guard split.count == 3, let field = b.parseUnsigned(split.first), field < UInt64(fieldCount), !split.second.isEmpty else {
                    return InputError(path: path, line: lineNumber,
                                      "'\(b.text(item))' is not field:index:value (libsvm's index:value needs --field-map)")
                }
                f = field
            }
            guard let parsed = b.parseValue(p.2) else {
                return InputError(path: path, line: lineNumber, "feature '\(b.text(item))': its value '\(b.text(p.2))' is not a number")
            }
            let value = Float(parsed)
            guard value.isFinite else {
                return InputError(path: path, line: lineNumber, "feature '\(b.text(item))': its value is not finite (as a 32-bit float)")
            }
            lineItems.append((Int(f), p.1, value))
        }
        return variable ? keepItems(b, label: label, lineNumber: lineNumber) : keepFixed(b, label: label, lineNumber: lineNumber, emit: emit)
    }

    /// The line's items as one token per field, unless the line needs entries.
    private mutating func keepFixed(_ b: UnsafeBufferPointer<UInt8>, label: Double, lineNumber: Int,
                                    emit: (UnsafeBufferPointer<UInt32>) -> Void) -> InputError? {
        for k in 0..<fieldCount { row[k] = nil }
        for item in lineItems {
            guard item.value == 1, row[item.field] == nil else {
                guard oneHotOnly == nil else {
                    return InputError(path: path, line: lineNumber, item.value != 1
                        ? "field \(item.field) has value \(item.value), but \(oneHotOnly!) takes one-hot fields only (value 1)"
                        : "field \(item.field) appears twice, but \(oneHotOnly!) takes one-hot fields only (one id each)")
                }
                wantsVariable = true
                return nil
            }
            row[item.field] = item.token
        }
        labels.append(label.isNaN ? .nan : label > 0 ? 1 : 0)
        for k in 0..<fieldCount {
            if let range = row[k] {
                ids[k] = interners[k].intern(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[range])))
            } else {
                ids[k] = missing.withUnsafeBytes { interners[k].intern($0) }
            }
        }
        ids.withUnsafeBufferPointer { emit($0) }
        return nil
    }

    /// The line's items as entries in field order (a field's items in the line's order).
    private mutating func keepItems(_ b: UnsafeBufferPointer<UInt8>, label: Double, lineNumber: Int) -> InputError? {
        for item in lineItems { runs[item.field] += 1 }
        var problem: InputError?
        for item in lineItems where runs[item.field] > maxIds && problem == nil {
            problem = InputError(path: path, line: lineNumber,
                                 "field \(item.field) is named \(runs[item.field]) times; at most \(maxIds) ids per field in a row" + (maxIds < FieldSpec.maximumIdsPerField ? " (--max-ids)" : ""))
        }
        guard problem == nil else {
            for item in lineItems { runs[item.field] = 0 }
            return problem
        }
        for item in lineItems where runs[item.field] > 0 {
            observations[item.field].mostItems = max(observations[item.field].mostItems, runs[item.field])
            runs[item.field] = 0
        }
        // Stable: a field's items keep the line's order.
        if !lineItems.isEmpty && zip(lineItems, lineItems.dropFirst()).contains(where: { $0.field > $1.field }) {
            lineItems = lineItems.enumerated().sorted { ($0.element.field, $0.offset) < ($1.element.field, $1.offset) }.map(\.element)
        }
        labels.append(label.isNaN ? .nan : label > 0 ? 1 : 0)
        for item in lineItems {
            if item.value != 1 { observations[item.field].valued = true }
            let token = interners[item.field].intern(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[item.token])))
            entries.append(field: item.field, token: token, value: item.value)
        }
        entries.endRow()
        return nil
    }
}

extension CategoricalChunk {
    /// One chunk of libffm / libsvm text (see `LibFFMRows`), recording bad lines as `parse` does.
    /// A fixed-width parse stops at the first line that needs entries, with `wantsEntries` set.
    func parseLibFFM(_ b: UnsafeBufferPointer<UInt8>, fieldCount: Int, fieldMap: FieldMap?, path: String,
                     skipBadLines: Bool, unlabeledRows: Bool = false, variable: Bool = false,
                     maxIds: Int = FieldSpec.maximumIdsPerField, oneHotOnly: String? = nil) {
        var rows = LibFFMRows(fieldCount: fieldCount, fieldMap: fieldMap, path: path, variable: variable, maxIds: maxIds)
        rows.oneHotOnly = oneHotOnly
        rows.unlabeledRows = unlabeledRows
        var scanner = LineScanner(b)
        var ids: [UInt32] = []
        defer {
            tokens = rows.interners.map(\.tokens)
            labels = rows.labels
            tokenIds = ids
            lines = scanner.lineNumber
            if variable {
                entries = rows.entries
                observations = rows.observations
            }
        }
        while let line = scanner.nextLine() {
            let error = rows.parse(b, line: line, lineNumber: scanner.lineNumber, emit: { ids.append(contentsOf: $0) })
            if rows.wantsVariable { wantsEntries = true; return }
            guard let error else { continue }
            guard skipBadLines else { failure = error; return }
            skipped += 1
            skippedAt.append(rows.labels.count)
            if firstSkipped == nil { firstSkipped = error }
        }
    }
}
