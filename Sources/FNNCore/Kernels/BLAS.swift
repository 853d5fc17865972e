import COpenBLAS

/// The typed face of OpenBLAS. Our workers are the parallelism: OpenBLAS must not start threads of
/// its own inside them, and one thread also makes its results independent of the machine's core
/// count, which the determinism contract needs.
public enum BLAS {
    /// Call once before training; cheap to repeat.
    public static func useSingleThread() { openblas_set_num_threads(1) }

    public static var configuration: String {
        guard let c = openblas_get_config() else { return "OpenBLAS" }
        return String(cString: c)
    }

    /// C[m x n] = alpha * A * B + beta * C, row-major; `transposeA` / `transposeB` read A as
    /// k x m or B as n x k.
    @inlinable public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}
