import Foundation

/// Swift-side kernels on raw float buffers that are not on the synthesis hot path (the model's kernels are
/// in `Sources/CKernels`): the im2col convolution used by the speaker encoder.
enum Kernels {
    // MARK: Convolutions (channels-first, one sequence)

    /// 1-D convolution of `input [cIn, length]` with `weight [cOut, cIn, k]`, zero padding on both sides,
    /// stride 1. Returns `[cOut, outLength]` with `outLength = length + 2·padding − dilation·(k−1)`.
    /// Done as im2col + one GEMM so that BLAS carries the work.
    static func conv1d(input: UnsafePointer<Float>, cIn: Int, length: Int,
                       weight: UnsafePointer<Float>, cOut: Int, kernel k: Int,
                       bias: UnsafePointer<Float>?, dilation: Int, padding: Int) -> (values: [Float], length: Int) {
        let outLength = length + 2 * padding - dilation * (k - 1)
        guard outLength > 0 else { return ([], 0) }
        // columns[(c·k + t), o] = input[c, o + t·dilation − padding]
        var columns = [Float](repeating: 0, count: cIn * k * outLength)
        columns.withUnsafeMutableBufferPointer { col in
            for c in 0..<cIn {
                let src = input + c * length
                for t in 0..<k {
                    let dst = col.baseAddress! + (c * k + t) * outLength
                    let shift = t * dilation - padding
                    let lo = max(0, -shift), hi = min(outLength, length - shift)
                    if lo < hi {
                        (dst + lo).update(from: src + lo + shift, count: hi - lo)
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: cOut * outLength)
        out.withUnsafeMutableBufferPointer { o in
            columns.withUnsafeBufferPointer { col in
                BLAS.gemm(m: cOut, n: outLength, k: cIn * k,
                          a: weight, lda: cIn * k, b: col.baseAddress!, ldb: outLength,
                          c: o.baseAddress!, ldc: outLength)
            }
            if let bias {
                for c in 0..<cOut {
                    let row = o.baseAddress! + c * outLength
                    let b = bias[c]
                    for i in 0..<outLength { row[i] += b }
                }
            }
        }
        return (out, outLength)
    }
}
