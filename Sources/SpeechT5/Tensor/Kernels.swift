import Foundation

/// Element-wise and row-wise kernels on raw float buffers. Model code calls these through the layer
/// types in `Model/Layers.swift`; nothing here knows about SpeechT5.
enum Kernels {
    // MARK: Activations

    /// Exact GELU, `x · Φ(x)` with the error function (PyTorch's default, not the tanh approximation).
    @inline(__always)
    static func geluErf(_ x: Float) -> Float {
        0.5 * x * (1 + erff(x * 0.70710678118654752440))
    }

    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    @inline(__always)
    static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.79788456080286535588 * (x + 0.044715 * x * x * x)))
    }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    @inline(__always)
    static func leakyReLU(_ x: Float, slope: Float) -> Float { x >= 0 ? x : x * slope }

    /// Applies `f` to every element in place.
    @inline(__always)
    static func apply(_ values: inout [Float], _ f: (Float) -> Float) {
        values.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = f(p[i]) }
        }
    }

    // MARK: Row-wise

    /// LayerNorm over the last dimension of a `[rows, dim]` buffer, in place (biased variance, as torch).
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
        for r in 0..<rows {
            let row = x + r * dim
            var mean: Float = 0
            for i in 0..<dim { mean += row[i] }
            mean /= Float(dim)
            var variance: Float = 0
            for i in 0..<dim { let d = row[i] - mean; variance += d * d }
            variance /= Float(dim)
            let inv = 1 / (variance + eps).squareRoot()
            for i in 0..<dim { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i] }
        }
    }

    /// Numerically stable softmax of one row, in place.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximum = x[0]
        for i in 1..<count where x[i] > maximum { maximum = x[i] }
        var sum: Float = 0
        for i in 0..<count { let e = expf(x[i] - maximum); x[i] = e; sum += e }
        let inv = 1 / sum
        for i in 0..<count { x[i] *= inv }
    }

    /// Adds `bias[j]` to every row of a `[rows, columns]` buffer.
    static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * columns
            for j in 0..<columns { row[j] += bias[j] }
        }
    }

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

    /// Transposed 1-D convolution of `input [cIn, length]` with `weight [cIn, cOut, k]` (torch's layout),
    /// stride `stride`, padding `padding`, no output padding. Returns `[cOut, outLength]` with
    /// `outLength = (length − 1)·stride − 2·padding + k`: the general formula, not `length · stride`.
    static func convTranspose1d(input: UnsafePointer<Float>, cIn: Int, length: Int,
                                weight: UnsafePointer<Float>, cOut: Int, kernel k: Int,
                                bias: UnsafePointer<Float>?, stride: Int, padding: Int) -> (values: [Float], length: Int) {
        let outLength = (length - 1) * stride - 2 * padding + k
        guard outLength > 0, length > 0 else { return ([], 0) }
        // columns[(o·k + t), l] = Σ_c weight[c, o, t] · input[c, l]; then scatter-add to position l·stride + t − padding.
        var columns = [Float](repeating: 0, count: cOut * k * length)
        columns.withUnsafeMutableBufferPointer { col in
            BLAS.gemm(transposeA: true, m: cOut * k, n: length, k: cIn,
                      a: weight, lda: cOut * k, b: input, ldb: length,
                      c: col.baseAddress!, ldc: length)
        }
        var out = [Float](repeating: 0, count: cOut * outLength)
        out.withUnsafeMutableBufferPointer { o in
            columns.withUnsafeBufferPointer { col in
                for c in 0..<cOut {
                    let dst = o.baseAddress! + c * outLength
                    for t in 0..<k {
                        let src = col.baseAddress! + (c * k + t) * length
                        for l in 0..<length {
                            let position = l * stride + t - padding
                            if position >= 0 && position < outLength { dst[position] += src[l] }
                        }
                    }
                    if let bias {
                        let b = bias[c]
                        for i in 0..<outLength { dst[i] += b }
                    }
                }
            }
        }
        return (out, outLength)
    }
}
