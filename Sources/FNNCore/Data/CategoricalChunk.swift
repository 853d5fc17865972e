import FNNExecution
import FNNSystem
import Foundation

/// One chunk's parse: its rows with chunk-local token ids, or where it failed.
final class CategoricalChunk: @unchecked Sendable {
    var labels: [Float] = []
    var tokenIds: [UInt32] = []
    var tokens: [[String]] = []
    /// Lines scanned (all of the chunk unless it failed).
    var lines = 0
    var skipped = 0
    var firstSkipped: InputError?
    /// Per left-out line, the chunk's rows kept before it.
    var skippedAt: [Int] = []
    /// Per data line (kept or left out), the identifier column's text, when one was asked for.
    var identifiers: [String]?
    var failure: InputError?
    /// libffm / libsvm: the chunk's rows as entries (a variable parse), and what they showed of
    /// each field.
    var entries: RawEntries?
    var observations: [FieldObservation] = []
    /// A fixed-width libffm / libsvm parse met a line only entries can hold (and stopped there).
    var wantsEntries = false

    /// `numericValues`: Criteo rows as entries, the integer columns as numeric values
    /// (`CriteoNumeric.value`) rather than bucket tokens.
    func parse(_ b: UnsafeBufferPointer<UInt8>, format: CategoricalFormat, headerAllowed: Bool, path: String, skipBadLines: Bool,
               scoring: ScoringInput = ScoringInput(), layout: CategoricalLayout = .criteoTSV, numericValues: Bool = false) {
        var scanner = LineScanner(b)
        var columns: [Range<Int>] = []
        let fieldCount = format == .criteo ? 39 : 22
        // Criteo: [leading (Kaggle CSV's Id)] label, 13 integers, 26 categories; Avazu: id, click, 22.
        let lead = format == .criteo ? layout.leadingColumns : 0
        let expectedColumns = (format == .criteo ? 40 : 24) + lead
        // Rows to score may lack the label column: Criteo's test.txt (39 columns), Avazu's test.csv
        // (id and 22 categories).
        let unlabeledColumns = scoring.unlabeledRows ? expectedColumns - 1 : -1
        let separator: Separator = format == .criteo ? layout.separator : .comma
        if scoring.identifierColumn != nil { identifiers = [] }
        var interners = [TokenInterner](repeating: TokenInterner(), count: fieldCount)
        var integers = [Int?](repeating: nil, count: 13)
        var rows = numericValues ? RawEntries() : nil
        if !numericValues { tokenIds.reserveCapacity(b.count / 6) }
        let valueToken = Array("value".utf8)
        defer {
            tokens = interners.map(\.tokens)
            if let rows {
                entries = rows
                observations = [FieldObservation](repeating: FieldObservation(), count: fieldCount)
            }
        }
        var first = headerAllowed
        defer { lines = scanner.lineNumber }
        func reject(_ message: String) -> Bool {
            let e = InputError(path: path, line: scanner.lineNumber, message)
            guard skipBadLines else { failure = e; return false }
            skipped += 1
            skippedAt.append(labels.count)
            if firstSkipped == nil { firstSkipped = e }
            return true
        }
        while let line = scanner.nextLine() {
            if b.isBlank(line) { continue }
            b.splitColumns(line, by: separator, into: &columns)
            if first {
                first = false
                if format == .criteo && layout.header { continue }
                // Avazu's header: "id,click,hour,..." (train.csv) or "id,hour,..." (test.csv).
                if format == .avazu, columns.count == expectedColumns || columns.count == unlabeledColumns,
                   b.text(columns[0]) == "id", ["click", "hour"].contains(b.text(columns[1])) { continue }
            }
            if let k = scoring.identifierColumn { identifiers!.append(k < columns.count ? b.text(columns[k]) : "") }
            guard columns.count == expectedColumns || columns.count == unlabeledColumns else {
                let expected = scoring.unlabeledRows ? "\(expectedColumns) (or \(unlabeledColumns), without the label)" : "\(expectedColumns)"
                if reject("expected \(expected) \(separator == .tab ? "tab" : "comma")-separated columns (\(format.rawValue)), found \(columns.count)") { continue }
                return
            }
            // Where the columns after the label start: without a label, one column sooner.
            let shift = (columns.count == expectedColumns ? 0 : -1) + lead
            var label = Float.nan
            if columns.count == expectedColumns {
                let labelColumn = format == .criteo ? columns[lead] : columns[1]
                guard labelColumn.count == 1, b[labelColumn.lowerBound] == 0x30 || b[labelColumn.lowerBound] == 0x31 else {
                    if reject("label '\(b.text(labelColumn))' is not 0 or 1") { continue }
                    return
                }
                label = b[labelColumn.lowerBound] == 0x31 ? 1 : 0
            }
            if format == .criteo {
                var bad: Int?
                for k in 0..<13 {
                    guard let integer = criteoInteger(b, columns[k + 1 + shift]) else { bad = k; break }
                    integers[k] = integer
                }
                if let k = bad {
                    if reject("integer column I\(k + 1) holds '\(b.text(columns[k + 1 + shift]))', not an integer") { continue }
                    return
                }
            }
            labels.append(label)
            if rows != nil {
                for k in 0..<13 {
                    guard let v = integers[k] else { continue }
                    rows!.append(field: k, token: valueToken.withUnsafeBytes { interners[k].intern($0) }, value: criteoScaledValue(v))
                }
                for k in 13..<fieldCount {
                    let range = columns[k + 1 + shift]
                    rows!.append(field: k, token: interners[k].intern(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[range]))),
                                 value: 1)
                }
                rows!.endRow()
                continue
            }
            for k in 0..<fieldCount {
                if format == .criteo && k < 13 {
                    tokenIds.append(internIntegerToken(integers[k].map(criteoBucket), into: &interners[k]))
                } else {
                    let range = columns[(format == .criteo ? k + 1 : k + 2) + shift]
                    tokenIds.append(interners[k].intern(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[range]))))
                }
            }
        }
    }
}
