/// Byte-level line and column scanning for the text loaders. Columns are index ranges into the
/// file's bytes, so parsing a million lines allocates nothing per line.
struct LineScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    /// 1-based number of the line most recently returned.
    var lineNumber = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The next line without its terminator ("\n" or "\r\n").
    mutating func nextLine() -> Range<Int>? {
        guard position < bytes.count else { return nil }
        let start = position
        var end = start
        while end < bytes.count && bytes[end] != 0x0A { end += 1 }
        position = end + 1
        lineNumber += 1
        var contentEnd = end
        if contentEnd > start && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
        return start..<contentEnd
    }
}

enum Separator: Equatable {
    case tab, comma, doubleColon

    var display: String {
        switch self {
        case .tab: return "tab"
        case .comma: return "','"
        case .doubleColon: return "'::'"
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Splits `line` at `separator` into `columns` (cleared first, capacity kept).
    func splitColumns(_ line: Range<Int>, by separator: Separator, into columns: inout [Range<Int>]) {
        columns.removeAll(keepingCapacity: true)
        var start = line.lowerBound
        var i = start
        switch separator {
        case .tab, .comma:
            let sep: UInt8 = separator == .tab ? 0x09 : 0x2C
            while i < line.upperBound {
                if self[i] == sep { columns.append(start..<i); start = i + 1 }
                i += 1
            }
        case .doubleColon:
            while i < line.upperBound {
                if self[i] == 0x3A && i + 1 < line.upperBound && self[i + 1] == 0x3A {
                    columns.append(start..<i)
                    i += 2
                    start = i
                } else {
                    i += 1
                }
            }
        }
        columns.append(start..<line.upperBound)
    }

    func text(_ range: Range<Int>) -> String {
        let limited = range.count > 60 ? range.lowerBound..<(range.lowerBound + 60) : range
        return String(decoding: UnsafeBufferPointer(rebasing: self[limited]), as: UTF8.self)
            + (range.count > 60 ? "..." : "")
    }

    /// A non-negative decimal integer that fits in 64 bits; nil for anything else, including "".
    func parseUnsigned(_ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 19 else { return nil }
        var value: UInt64 = 0
        for i in range {
            let d = self[i] &- 0x30
            if d > 9 { return nil }
            value = value * 10 + UInt64(d)
        }
        return value
    }

    /// A plain decimal number such as "4", "3.5" or "-1.25" (no exponent); nil otherwise.
    func parseDecimal(_ range: Range<Int>) -> Double? {
        guard !range.isEmpty else { return nil }
        var i = range.lowerBound
        var negative = false
        if self[i] == 0x2D || self[i] == 0x2B { negative = self[i] == 0x2D; i += 1 }
        var value = 0.0
        var digits = 0
        while i < range.upperBound, self[i] &- 0x30 <= 9 {
            value = value * 10 + Double(self[i] - 0x30); i += 1; digits += 1
        }
        if i < range.upperBound && self[i] == 0x2E {
            i += 1
            var scale = 0.1
            while i < range.upperBound, self[i] &- 0x30 <= 9 {
                value += Double(self[i] - 0x30) * scale; scale *= 0.1; i += 1; digits += 1
            }
        }
        guard digits > 0, i == range.upperBound else { return nil }
        return negative ? -value : value
    }

    /// A feature's value: any decimal or exponent form ("0.25", "1.5e-05"), correctly rounded,
    /// which `parseDecimal` (labels, ratings) neither reads nor guarantees. "nan" and "inf" read
    /// as such, for the caller to refuse. The common "1" is read without making a String.
    func parseValue(_ range: Range<Int>) -> Double? {
        if range.count == 1 && self[range.lowerBound] == 0x31 { return 1 }
        guard !range.isEmpty, range.count <= 64 else { return nil }
        return Double(String(decoding: UnsafeBufferPointer(rebasing: self[range]), as: UTF8.self))
    }

    func isBlank(_ range: Range<Int>) -> Bool {
        for i in range where self[i] != 0x20 && self[i] != 0x09 { return false }
        return true
    }
}
