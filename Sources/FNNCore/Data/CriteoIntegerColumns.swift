import FNNExecution
import FNNSystem
import Foundation

/// How Criteo's 13 integer columns enter the model.
public enum CriteoNumeric: String, Sendable, CaseIterable, Codable {
    /// pytorch-fm's transform: each column a categorical field of bucketed values (`criteoBucket`).
    case bucket
    /// Each column a numeric field of one embedding scaled by the log-scaled value
    /// (`criteoScaledValue`), as xLearn and DeepCTR users feed them; an empty column adds nothing.
    case value
}

/// A Criteo integer column: nil inside when empty, nil when it is not an integer.
func criteoInteger(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int?? {
    if range.isEmpty { return .some(nil) }
    var i = range.lowerBound
    var negative = false
    if bytes[i] == 0x2D { negative = true; i += 1 }
    guard i < range.upperBound, range.upperBound - i <= 18 else { return nil }
    var v = 0
    var end = range.upperBound
    // CSV exports (DeepCTR's criteo_sample) write the integers as floats: "260.0".
    if let dot = (i..<range.upperBound).first(where: { bytes[$0] == 0x2E }) {
        guard dot > i, (dot + 1..<range.upperBound).allSatisfy({ bytes[$0] == 0x30 }) else { return nil }
        end = dot
    }
    while i < end {
        let d = bytes[i] &- 0x30
        if d > 9 { return nil }
        v = v * 10 + Int(d)
        i += 1
    }
    return .some(negative ? -v : v)
}

/// pytorch-fm's bucket of a Criteo integer: v > 2 becomes int(ln(v)^2), anything else v - 2
/// (an empty column is its own token, "NULL").
func criteoBucket(_ v: Int) -> Int {
    if v > 2 {
        let l = Foundation.log(Double(v))
        return Int(l * l)
    }
    return v - 2
}

/// The numeric form's value: sign(v) ln(1 + |v|), so counts that run to millions land within
/// about 15 and the few negative ones (I2's -1 to -3) keep their sign.
func criteoScaledValue(_ v: Int) -> Float {
    let scaled = Foundation.log1p(Double(v.magnitude))
    return Float(v < 0 ? -scaled : scaled)
}

/// The schema of Criteo rows read with integer columns as values: I1-I13 numeric, C1-C26 one-hot.
public let criteoValueSchema = FieldSchema(fields: (1...13).map { FieldSpec(name: "I\($0)", kind: .numeric) }
                                                    + (1...26).map { FieldSpec(name: "C\($0)") })

/// Interns the token of a Criteo integer code: its decimal digits, or "NULL".
func internIntegerToken(_ code: Int?, into interner: inout TokenInterner) -> UInt32 {
    guard let code else { return "NULL".utf8.withContiguousStorageIfAvailable { interner.intern(UnsafeRawBufferPointer($0)) }! }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
        var i = 24
        var v = code.magnitude
        repeat {
            i -= 1
            buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        } while v > 0
        if code < 0 { i -= 1; buffer[i] = UInt8(ascii: "-") }
        return interner.intern(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[i..<24])))
    }
}
