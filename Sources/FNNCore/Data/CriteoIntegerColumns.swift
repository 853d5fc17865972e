import FNNExecution
import FNNSystem
import Foundation

/// pytorch-fm's treatment of Criteo's integer columns: empty is its own token ("NULL"; nil
/// inside), v > 2 becomes int(ln(v)^2), anything else v - 2. Nil when the column is not an integer.
func criteoIntegerCode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int?? {
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
    if negative { v = -v }
    if v > 2 {
        let l = Foundation.log(Double(v))
        return .some(Int(l * l))
    }
    return .some(v - 2)
}

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
