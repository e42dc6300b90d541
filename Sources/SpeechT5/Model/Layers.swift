import Foundation

/// `y = x·Wᵀ + b` over the rows of `x [rows, inFeatures]`. The weight keeps torch's `[out, in]` layout.
struct Linear: Sendable {
    let weight: Tensor   // [outFeatures, inFeatures]
    let bias: Tensor?    // [outFeatures]
    var inFeatures: Int { weight.shape[1] }
    var outFeatures: Int { weight.shape[0] }

    init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }

    init(_ store: WeightStore, _ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try store.tensor("\(prefix).weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try store.tensor("\(prefix).bias", shape: [outFeatures]) : nil
    }

    /// Applies the layer to `rows` rows stored contiguously in `x`.
    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        guard rows > 0 else { return y }
        x.withUnsafeBufferPointer { xp in
            weight.scalars.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    BLAS.gemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                              a: xp.baseAddress!, lda: inFeatures, b: wp.baseAddress!, ldb: inFeatures,
                              c: yp.baseAddress!, ldc: outFeatures)
                    if let bias {
                        bias.scalars.withUnsafeBufferPointer { bp in
                            Kernels.addBias(yp.baseAddress!, rows: rows, columns: outFeatures, bias: bp.baseAddress!)
                        }
                    }
                }
            }
        }
        return y
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor(shape: [x.rows, outFeatures], scalars: self(x.scalars, rows: x.rows))
    }
}

/// LayerNorm over the last dimension.
struct LayerNorm: Sendable {
    let weight: Tensor
    let bias: Tensor
    let eps: Float

    init(_ store: WeightStore, _ prefix: String, dim: Int, eps: Float) throws {
        weight = try store.tensor("\(prefix).weight", shape: [dim])
        bias = try store.tensor("\(prefix).bias", shape: [dim])
        self.eps = eps
    }

    func callAsFunction(_ x: inout [Float]) {
        let dim = weight.count
        let rows = x.count / dim
        x.withUnsafeMutableBufferPointer { xp in
            weight.scalars.withUnsafeBufferPointer { g in
                bias.scalars.withUnsafeBufferPointer { b in
                    Kernels.layerNorm(xp.baseAddress!, rows: rows, dim: dim, gamma: g.baseAddress!, beta: b.baseAddress!, eps: eps)
                }
            }
        }
    }
}

/// The position-wise feed-forward block: `W2 · act(W1·x + b1) + b2`.
struct FeedForward: Sendable {
    let intermediate: Linear
    let output: Linear
    let activation: Activation

    init(_ store: WeightStore, _ prefix: String, hidden: Int, inner: Int, activation: Activation) throws {
        intermediate = try Linear(store, "\(prefix).intermediate_dense", in: hidden, out: inner)
        output = try Linear(store, "\(prefix).output_dense", in: inner, out: hidden)
        self.activation = activation
    }

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var h = intermediate(x, rows: rows)
        activation.apply(&h)
        return output(h, rows: rows)
    }
}

/// 1-D convolution over one channels-first sequence `[cIn, length]`, stride 1.
struct Conv1d: Sendable {
    let weight: Tensor   // [cOut, cIn, kernel]
    let bias: Tensor?
    let dilation: Int
    let padding: Int
    var inChannels: Int { weight.shape[1] }
    var outChannels: Int { weight.shape[0] }
    var kernelSize: Int { weight.shape[2] }

    init(weight: Tensor, bias: Tensor?, dilation: Int = 1, padding: Int) {
        self.weight = weight
        self.bias = bias
        self.dilation = dilation
        self.padding = padding
    }

    init(_ store: WeightStore, _ prefix: String, in cIn: Int, out cOut: Int, kernel: Int,
         dilation: Int = 1, padding: Int, bias hasBias: Bool = true) throws {
        weight = try store.tensor("\(prefix).weight", shape: [cOut, cIn, kernel])
        bias = hasBias ? try store.tensor("\(prefix).bias", shape: [cOut]) : nil
        self.dilation = dilation
        self.padding = padding
    }

    /// `x` is `[inChannels, length]`; returns `[outChannels, newLength]` and `newLength`.
    func callAsFunction(_ x: [Float], length: Int) -> (values: [Float], length: Int) {
        x.withUnsafeBufferPointer { xp in
            weight.scalars.withUnsafeBufferPointer { wp in
                let run = { (bp: UnsafePointer<Float>?) in
                    Kernels.conv1d(input: xp.baseAddress!, cIn: inChannels, length: length,
                                   weight: wp.baseAddress!, cOut: outChannels, kernel: kernelSize,
                                   bias: bp, dilation: dilation, padding: padding)
                }
                if let bias { return bias.scalars.withUnsafeBufferPointer { run($0.baseAddress!) } }
                return run(nil)
            }
        }
    }
}

/// Transposed 1-D convolution with torch's `[cIn, cOut, kernel]` weight layout.
struct ConvTranspose1d: Sendable {
    let weight: Tensor   // [cIn, cOut, kernel]
    let bias: Tensor
    let stride: Int
    let padding: Int
    var inChannels: Int { weight.shape[0] }
    var outChannels: Int { weight.shape[1] }
    var kernelSize: Int { weight.shape[2] }

    init(_ store: WeightStore, _ prefix: String, in cIn: Int, out cOut: Int, kernel: Int, stride: Int, padding: Int) throws {
        weight = try store.tensor("\(prefix).weight", shape: [cIn, cOut, kernel])
        bias = try store.tensor("\(prefix).bias", shape: [cOut])
        self.stride = stride
        self.padding = padding
    }

    func callAsFunction(_ x: [Float], length: Int) -> (values: [Float], length: Int) {
        x.withUnsafeBufferPointer { xp in
            weight.scalars.withUnsafeBufferPointer { wp in
                bias.scalars.withUnsafeBufferPointer { bp in
                    Kernels.convTranspose1d(input: xp.baseAddress!, cIn: inChannels, length: length,
                                            weight: wp.baseAddress!, cOut: outChannels, kernel: kernelSize,
                                            bias: bp.baseAddress!, stride: stride, padding: padding)
                }
            }
        }
    }
}

/// The sinusoidal position table `[positions, dim]` (sin in even columns, cos in odd), built with the
/// float32 recipe that tracks torch's own table to ~1e-5 even at long positions (spec §3a).
func sinusoidalPositions(count: Int, dim: Int) -> [Float] {
    var table = [Float](repeating: 0, count: count * dim)
    let c = Float(-(log(10000.0) / Double(dim)))
    let half = dim / 2
    var frequencies = [Float](repeating: 0, count: half)
    for k in 0..<half { frequencies[k] = Float(exp(Double(Float(2 * k) * c))) }
    for position in 0..<count {
        for k in 0..<half {
            let argument = Float(position) * frequencies[k]
            table[position * dim + 2 * k] = Float(sin(Double(argument)))
            table[position * dim + 2 * k + 1] = Float(cos(Double(argument)))
        }
    }
    return table
}
