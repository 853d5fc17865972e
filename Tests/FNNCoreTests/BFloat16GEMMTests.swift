import FNNCore
import FNNSystem
import Testing

/// The bf16 kernels against plain references: rounding bit for bit, products against exact
/// sums, the two weight packers against each other, and the layer kernels against the fp32 ones
/// on values whose products and sums are exact in both (so they must agree bit for bit).
@Suite(.enabled(if: BFloat16GEMM.isSupported, "this CPU has no AVX512-BF16"))
struct BFloat16GEMMTests {
    /// A deterministic stream of floats in [-1, 1), or of small integers when `integers`.
    static func values(_ count: Int, seed: UInt64, integers: Bool = false) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let unit = Float(state >> 40) / Float(1 << 24)
            return integers ? Float(Int(unit * 7) - 3) : 2 * unit - 1
        }
    }

    static func bf16Value(_ x: Float) -> Float { Float(bitPattern: UInt32(BFloat16GEMM.reference(x)) << 16) }

    @Test func roundingMatchesTheInstructionBitForBit() {
        var specials: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.leastNormalMagnitude / 2,
                                 .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude, 3.0e38,
                                 Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFF80_FFFF)]  // NaNs with low payloads only
        // Ties and near-ties at the 16th bit: round to even both ways, and just above / below.
        for high: UInt32 in [0x3F80, 0x3F81, 0x4049, 0xC2F7] {
            for low: UInt32 in [0x7FFF, 0x8000, 0x8001, 0x0000, 0xFFFF] { specials.append(Float(bitPattern: high << 16 | low)) }
        }
        let k = 37, rows = 3, ldx = 41
        var x = Self.values(rows * ldx, seed: 3)
        for (i, v) in specials.enumerated() { x[(i % rows) * ldx + i / rows] = v }
        let rowLength = BFloat16GEMM.rowLength(k)
        var out = [UInt16](repeating: 0xAAAA, count: rows * rowLength)
        BFloat16GEMM.convertRows(x, ldx: ldx, rows: rows, k: k, into: &out)
        for i in 0..<rows {
            for j in 0..<rowLength {
                let expected: UInt16 = j < k ? BFloat16GEMM.reference(x[i * ldx + j]) : 0
                let got = out[i * rowLength + j]
                // Any quiet NaN is a NaN; everything else must match exactly.
                let bothNaN = expected & 0x7F80 == 0x7F80 && expected & 0x7F != 0 && got & 0x7F80 == 0x7F80 && got & 0x7F != 0
                #expect(got == expected || bothNaN, "row \(i) column \(j): \(x[i * ldx + min(j, k - 1)]) gave \(got), expected \(expected)")
            }
        }
    }

    /// Every row count 1...9 (whole and partial eight-row blocks), column tails, odd k; nothing
    /// written past the product or the packed panels (guard values after each).
    @Test(arguments: [(1, 1, 1), (2, 5, 3), (3, 17, 2), (4, 31, 7), (5, 33, 4), (6, 16, 9), (7, 40, 11), (8, 32, 5), (9, 33, 63),
                      (17, 70, 40), (64, 45, 131), (16, 16, 34), (33, 16, 17), (40, 9, 5)])
    func productMatchesExactSumsOfRoundedOperands(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = Self.values(m * k, seed: 11), b = Self.values(k * n, seed: 12)
        var aRows = [UInt16](repeating: 0, count: m * BFloat16GEMM.rowLength(k))
        BFloat16GEMM.convertRows(a, ldx: k, rows: m, k: k, into: &aRows)
        let guardCount = 64
        var panels = [UInt32](repeating: 0xDEAD_BEEF, count: BFloat16GEMM.panelCount(k: k, n: n) + guardCount)
        BFloat16GEMM.packRowPairs(b, ldb: n, k: k, n: n, width: BFloat16GEMM.panelColumns, into: &panels)
        #expect(panels.suffix(guardCount).allSatisfy { $0 == 0xDEAD_BEEF }, "packing wrote past its panels")
        var c = [Float](repeating: .nan, count: m * n + guardCount)
        aRows.withUnsafeBytes { raw in
            BFloat16GEMM.multiply(m: m, n: n, pairs: BFloat16GEMM.pairs(k), a: raw.bindMemory(to: UInt32.self).baseAddress!,
                                  aRow: BFloat16GEMM.pairs(k), aPair: 1, b: panels, c: &c, ldc: n)
        }
        #expect(c.suffix(guardCount).allSatisfy { $0.isNaN }, "the product wrote past its rows")
        for i in 0..<m {
            for j in 0..<n {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let product = Double(Self.bf16Value(a[i * k + p])) * Double(Self.bf16Value(b[p * n + j]))
                    exact += product
                    magnitude += abs(product)
                }
                // fp32 sums of k exact products: at most k roundings of 2^-24 each.
                #expect(abs(Double(c[i * n + j]) - exact) <= Double(k) * 0x1p-24 * magnitude + 1e-30,
                        "(\(i), \(j)) of \(m)x\(n)x\(k): \(c[i * n + j]) vs \(exact)")
            }
        }
    }

    /// Outputs of at most sixteen columns take the narrow blocks (sixteen rows, one vector of
    /// columns); their bits are those of the full blocks, which a seventeenth column selects.
    @Test(arguments: [(16, 16, 34), (37, 16, 17), (3, 16, 64)])
    func narrowBlocksMatchTheFullBlocksBitForBit(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = Self.values(m * k, seed: 21), b = Self.values(k * n, seed: 22), extra = Self.values(k, seed: 23)
        var wide = [Float](repeating: 0, count: k * (n + 1))
        for p in 0..<k {
            for j in 0..<n { wide[p * (n + 1) + j] = b[p * n + j] }
            wide[p * (n + 1) + n] = extra[p]
        }
        var aRows = [UInt16](repeating: 0, count: m * BFloat16GEMM.rowLength(k))
        BFloat16GEMM.convertRows(a, ldx: k, rows: m, k: k, into: &aRows)
        func product(_ matrix: [Float], columns: Int) -> [Float] {
            var panels = [UInt32](repeating: 0, count: BFloat16GEMM.panelCount(k: k, n: columns))
            BFloat16GEMM.packRowPairs(matrix, ldb: columns, k: k, n: columns, width: BFloat16GEMM.panelColumns, into: &panels)
            var c = [Float](repeating: .nan, count: m * columns)
            aRows.withUnsafeBytes { raw in
                BFloat16GEMM.multiply(m: m, n: columns, pairs: BFloat16GEMM.pairs(k), a: raw.bindMemory(to: UInt32.self).baseAddress!,
                                      aRow: BFloat16GEMM.pairs(k), aPair: 1, b: panels, c: &c, ldc: columns)
            }
            return c
        }
        let narrow = product(b, columns: n), full = product(wide, columns: n + 1)
        for i in 0..<m {
            for j in 0..<n { #expect(narrow[i * n + j].bitPattern == full[i * (n + 1) + j].bitPattern, "(\(i), \(j))") }
        }
    }

    /// The forward pack of W (read as x W^T) is the row-pair pack of W^T written out.
    @Test func transposedPackEqualsRowPairsOfTheTranspose() {
        let n = 45, k = 67
        let w = Self.values(n * k, seed: 5)
        var transpose = [Float](repeating: 0, count: k * n)
        for j in 0..<n { for p in 0..<k { transpose[p * n + j] = w[j * k + p] } }
        var direct = [UInt32](repeating: 1, count: BFloat16GEMM.panelCount(k: k, n: n))
        var viaTranspose = [UInt32](repeating: 2, count: direct.count)
        BFloat16GEMM.packTransposed(w, n: n, k: k, into: &direct)
        BFloat16GEMM.packRowPairs(transpose, ldb: n, k: k, n: n, width: BFloat16GEMM.panelColumns, into: &viaTranspose)
        #expect(direct == viaTranspose)
    }

    /// Small integers are exact in bf16 and their products and sums exact in fp32, so the bf16
    /// layer kernels must give exactly the fp32 kernels' results, whatever the order of sums.
    @Test(arguments: [(1, 1, 1), (7, 13, 9), (64, 33, 40), (33, 16, 31)])
    func layerKernelsEqualFP32OnExactValues(shape: (Int, Int, Int)) {
        let (rows, inputs, outputs) = shape
        let x = Self.values(rows * inputs, seed: 21, integers: true)
        let weight = Self.values(outputs * inputs, seed: 22, integers: true)
        let bias = Self.values(outputs, seed: 23, integers: true)
        let dZ = Self.values(rows * outputs, seed: 24, integers: true)
        let forward = AlignedBuffer<UInt32>(count: BFloat16PackedWeight.forwardCount(inputs: inputs, outputs: outputs))
        let backward = AlignedBuffer<UInt32>(count: BFloat16PackedWeight.backwardCount(inputs: inputs, outputs: outputs))
        let packed = BFloat16PackedWeight(forward: forward.base, backward: backward.base)
        packed.pack(weight, inputs: inputs, outputs: outputs)
        let widest = max(inputs, outputs)
        let rowsBuffer = AlignedBuffer<UInt16>(count: BFloat16SliceScratch.rowsCount(sliceRows: rows, maxWidth: widest))
        let block = AlignedBuffer<UInt32>(count: BFloat16SliceScratch.blockCount(sliceRows: rows, maxWidth: widest))
        let panels = AlignedBuffer<UInt32>(count: BFloat16SliceScratch.panelsCount(sliceRows: rows, maxWidth: widest))
        let scratch = BFloat16SliceScratch(rows: rowsBuffer.base, block: block.base, panels: panels.base)

        var y32 = [Float](repeating: 0, count: rows * outputs), y16 = y32
        MLPKernels.linearForward(x: x, rows: rows, inputs: inputs, weight: weight, bias: bias, outputs: outputs, y: &y32)
        MLPKernels.linearForward(x: x, rows: rows, inputs: inputs, packed: packed, bias: bias, outputs: outputs, y: &y16,
                                 scratch: scratch)
        #expect(y16 == y32)

        var dW32 = [Float](repeating: 0, count: outputs * inputs), dW16 = dW32
        var db32 = [Float](repeating: 0, count: outputs), db16 = db32
        var dX32 = [Float](repeating: 0, count: rows * inputs), dX16 = dX32
        MLPKernels.linearBackward(x: x, rows: rows, inputs: inputs, weight: weight, outputs: outputs, dZ: dZ, dWeight: &dW32,
                                  dBias: &db32, dX: &dX32)
        MLPKernels.linearBackward(x: x, rows: rows, inputs: inputs, packed: packed, outputs: outputs, dZ: dZ, dWeight: &dW16,
                                  dBias: &db16, dX: &dX16, scratch: scratch)
        #expect(dW16 == dW32)
        #expect(db16 == db32)
        #expect(dX16 == dX32)
    }

    /// On general values the bf16 layer stays within bf16's rounding of the fp32 one.
    @Test func layerForwardNearFP32OnGeneralValues() {
        let rows = 64, inputs = 100, outputs = 40
        let x = Self.values(rows * inputs, seed: 31), weight = Self.values(outputs * inputs, seed: 32)
        let bias = [Float](repeating: 0, count: outputs)
        let forward = AlignedBuffer<UInt32>(count: BFloat16PackedWeight.forwardCount(inputs: inputs, outputs: outputs))
        let backward = AlignedBuffer<UInt32>(count: BFloat16PackedWeight.backwardCount(inputs: inputs, outputs: outputs))
        let packed = BFloat16PackedWeight(forward: forward.base, backward: backward.base)
        packed.pack(weight, inputs: inputs, outputs: outputs)
        let rowsBuffer = AlignedBuffer<UInt16>(count: BFloat16SliceScratch.rowsCount(sliceRows: rows, maxWidth: inputs))
        let block = AlignedBuffer<UInt32>(count: BFloat16SliceScratch.blockCount(sliceRows: rows, maxWidth: inputs))
        let panels = AlignedBuffer<UInt32>(count: BFloat16SliceScratch.panelsCount(sliceRows: rows, maxWidth: inputs))
        var y32 = [Float](repeating: 0, count: rows * outputs), y16 = y32
        MLPKernels.linearForward(x: x, rows: rows, inputs: inputs, weight: weight, bias: bias, outputs: outputs, y: &y32)
        MLPKernels.linearForward(x: x, rows: rows, inputs: inputs, packed: packed, bias: bias, outputs: outputs, y: &y16,
                                 scratch: BFloat16SliceScratch(rows: rowsBuffer.base, block: block.base, panels: panels.base))
        for i in 0..<(rows * outputs) {
            // Each operand within 2^-9 relative: a sum of 100 products of magnitude <= 1 within ~0.4.
            #expect(abs(y16[i] - y32[i]) < 0.4, "\(i): \(y16[i]) vs \(y32[i])")
        }
        #expect(y16 != y32, "bf16 rounding should show on general values")
    }
}
