import FNNSystem

/// Text forms of a data set's rows that other trainers read, so that xLearn, libFM or libffm can be
/// trained, validated and tested on exactly the rows of fnn-par's seeded split (the only fair way
/// to compare their AUC with ours). Feature indices are global table rows (field offset + id),
/// every value is 1: the one-hot encoding an FM sees.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// `label index:1 ...` (libFM, xLearn, libsvm).
    case libsvm
    /// `label field:index:1 ...` (libffm, xLearn).
    case libffm
    /// fnn-par's fields TSV, `label<TAB>id_1<TAB>...`, field-local ids.
    case fields
}

extension Dataset {
    /// Writes `rows` (in the order given) in `format` to `path`, atomically, streaming a block of
    /// rows at a time so that large parts need no text image in memory.
    public func exportRows(_ rows: [Int], format: ExportFormat, to path: String) throws {
        let fieldCount = self.fieldCount
        var offsets = [UInt64](repeating: 0, count: fieldCount)
        for f in 1..<max(fieldCount, 1) { offsets[f] = offsets[f - 1] + UInt64(fieldDims[f - 1]) }
        try writeFileAtomically(path: path) { file in
            var out = [UInt8]()
            out.reserveCapacity(1 << 20)
            var digits = [UInt8](repeating: 0, count: 20)
            func number(_ value: UInt64) {
                var v = value, n = 0
                repeat { digits[n] = UInt8(v % 10) + 0x30; v /= 10; n += 1 } while v > 0
                while n > 0 { n -= 1; out.append(digits[n]) }
            }
            for r in rows {
                out.append(labels[r] > 0.5 ? 0x31 : 0x30)
                for f in 0..<fieldCount {
                    let id = UInt64(ids[r * fieldCount + f])
                    switch format {
                    case .libsvm:
                        out.append(0x20); number(offsets[f] + id); out.append(contentsOf: [0x3A, 0x31])
                    case .libffm:
                        out.append(0x20); number(UInt64(f)); out.append(0x3A); number(offsets[f] + id)
                        out.append(contentsOf: [0x3A, 0x31])
                    case .fields:
                        out.append(0x09); number(id)
                    }
                }
                out.append(0x0A)
                if out.count >= 1 << 20 {
                    try out.withUnsafeBytes { try file.write($0) }
                    out.removeAll(keepingCapacity: true)
                }
            }
            try out.withUnsafeBytes { try file.write($0) }
        }
    }
}
