import FNNCore
import FNNSystem
import Testing

/// The rows a sharded table's owner serves (`EmbeddingKernels.copyRows`), against a plain
/// element-by-element copy: the default width's unrolled path and any other width, with and
/// without linear weights, repeats and the table's last row included.
@Suite struct RowCopyTests {
    @Test(arguments: [16, 5, 1, 33])
    func copiedRowsAreTheTablesRows(width: Int) {
        let rows = 97
        let table = AlignedBuffer<Float>(count: rows * width), linear = AlignedBuffer<Float>(count: rows)
        for k in 0..<(rows * width) { table[k] = Float(k) * 0.5 - 3 }
        for r in 0..<rows { linear[r] = -Float(r) - 0.25 }
        let indices: [UInt32] = (0..<300).map { UInt32(($0 * 37 + $0 / 7) % rows) } + [UInt32(rows - 1), 0, UInt32(rows - 1)]
        for withLinear in [true, false] {
            let out = AlignedBuffer<Float>(count: indices.count * width), outLinear = AlignedBuffer<Float>(count: indices.count)
            indices.withUnsafeBufferPointer { ids in
                EmbeddingKernels.copyRows(indices: ids.baseAddress!, count: ids.count, width: width, table: table.base,
                                          linear: withLinear ? UnsafePointer(linear.base) : nil, into: out.base,
                                          linearInto: withLinear ? outLinear.base : nil)
            }
            for (k, r) in indices.enumerated() {
                for j in 0..<width { #expect(out[k * width + j].bitPattern == table[Int(r) * width + j].bitPattern) }
                #expect(outLinear[k] == (withLinear ? linear[Int(r)] : 0))
            }
        }
    }
}
