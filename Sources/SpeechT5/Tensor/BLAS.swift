#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// The single entry point to matrix multiplication: every dense product in the engine goes through
/// `BLAS.gemm`, so the backend (OpenBLAS on Linux, Accelerate on Apple platforms) is chosen here only.
enum BLAS {
    /// `C[m×n] = alpha · op(A) · op(B) + beta · C`, all row-major.
    /// `op(A)` is `m×k` (A stored `k×m` when `transposeA`), `op(B)` is `k×n` (B stored `n×k` when `transposeB`).
    @inline(__always)
    static func gemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched (times beta) for k = 0; make that explicit and portable.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        #endif
    }
}
