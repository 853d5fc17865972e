import CGEMM

/// The MLP's matrix products in bf16 with fp32 accumulation (`--precision bf16`), over the C
/// kernel in CGEMM: AVX512-BF16's `vdpbf16ps` does twice the multiply-adds of an fp32
/// FMA per instruction, and the OpenBLAS we link runs its AVX2 kernels on AVX-512 CPUs, so a
/// product here measured about 4x `cblas_sgemm` at the FNN's shapes (perf/RESULTS.md).
///
/// Operands are bf16 pairs along the summed dimension k: A as rows (or one pair-major block), B
/// as panels of `panelColumns` columns. What the trainer keeps in fp32 is unchanged: master
/// weights, optimizer state, BatchNorm, the loss. Each product is a fixed sequence of
/// instructions on its inputs, so a slice's result depends on the slice alone, as the
/// determinism contract needs.
package enum BFloat16GEMM {
    /// Whether this CPU and operating system run the kernel (AVX512-F/BW/VL/DQ and AVX512-BF16).
    package static let isSupported = fnn_bf16_supported() != 0

    package static let panelColumns = Int(FNN_BF16_PANEL)

    /// k-element pairs of a k-long dimension (an odd k ends with a zero).
    @inlinable package static func pairs(_ k: Int) -> Int { (k + 1) / 2 }

    @inlinable static func roundUp(_ n: Int, to multiple: Int) -> Int { (n + multiple - 1) / multiple * multiple }

    /// UInt32s of B panels of a k x n matrix.
    @inlinable package static func panelCount(k: Int, n: Int) -> Int { pairs(k) * roundUp(n, to: panelColumns) }

    /// Width of a pair-major block of n columns (a multiple of the kernel's 16 lanes).
    @inlinable package static func blockWidth(_ n: Int) -> Int { roundUp(n, to: 16) }

    /// bf16 values per row of a k-long row (even, so a row is whole pairs).
    @inlinable package static func rowLength(_ k: Int) -> Int { 2 * pairs(k) }

    /// Rows of x (row stride `ldx`) rounded to bf16 (nearest even) as rows of `rowLength(k)`.
    @inlinable package static func convertRows(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int,
                                               into out: UnsafeMutablePointer<UInt16>) {
        fnn_bf16_convert_rows(x, ldx, Int32(rows), Int32(k), out, rowLength(k))
    }

    /// B panels (`width` = panelColumns) or one pair-major block (`width` = blockWidth(n)) of
    /// the k x n matrix b.
    @inlinable package static func packRowPairs(_ b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int, width: Int,
                                                into out: UnsafeMutablePointer<UInt32>) {
        fnn_bf16_pack_row_pairs(b, ldb, Int32(k), Int32(n), out, width)
    }

    /// B panels of w^T, for w an n x k matrix (a torch-layout weight read as x w^T).
    @inlinable package static func packTransposed(_ w: UnsafePointer<Float>, n: Int, k: Int,
                                                  into out: UnsafeMutablePointer<UInt32>) {
        fnn_bf16_pack_transposed(w, k, Int32(n), Int32(k), out)
    }

    /// c (m x n, row stride `ldc`) = A B for k = 2 * `pairs`, A's pair p of row i at
    /// a[i * aRow + p * aPair], B as panels.
    @inlinable package static func multiply(m: Int, n: Int, pairs: Int, a: UnsafePointer<UInt32>, aRow: Int, aPair: Int,
                                            b: UnsafePointer<UInt32>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        fnn_bf16_gemm(Int32(m), Int32(n), Int32(pairs), a, aRow, aPair, b, c, ldc)
    }

    /// Float to bf16 as the instruction rounds it (nearest even; NaN stays a quiet NaN;
    /// denormals become signed zero): the plain reference the tests hold the kernels to.
    package static func reference(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x40 }
        if x.isSubnormal { return UInt16((bits >> 16) & 0x8000) }
        return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }
}
