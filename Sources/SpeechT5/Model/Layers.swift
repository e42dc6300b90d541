import CKernels
import Foundation

/// Float32 values at a stable address (biases, norms, small folded weights), for the C kernels.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ values: [Float]) {
        count = values.count
        pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: values.count) } }
    }

    convenience init(_ tensor: Tensor) { self.init(tensor.scalars) }

    deinit { pointer.deallocate() }

    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Uninitialized float32 scratch memory of a fixed size, freed with the object. Large buffers (KV caches,
/// vocoder activations) are mapped directly from the kernel: only the pages written become resident, and
/// all of them go back when the buffer dies (the C heap would keep freed multi-megabyte blocks resident).
final class Scratch: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let mappedBytes: Int

    static let mapThreshold = 1 << 20

    /// `filled`: the caller writes every element, so the mapping may use 2 MB pages where the kernel offers them
    /// (a 13 MB vocoder activation then takes 7 page faults instead of 3300: 1.7 instead of 6.2 ms here), which
    /// would make a partly written buffer (a key/value cache) resident in 2 MB steps.
    init(_ count: Int, filled: Bool = false) {
        self.count = count
        let bytes = max(count, 16) * 4
        if bytes >= Self.mapThreshold,
           let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            #if os(Linux)
            if filled { _ = madvise(p, bytes, 14) }   // 14: MADV_HUGEPAGE; advice only, ignored where unsupported
            #endif
            mappedBytes = bytes
            pointer = p.bindMemory(to: Float.self, capacity: max(count, 16))
        } else {
            mappedBytes = 0
            pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                .bindMemory(to: Float.self, capacity: max(count, 16))
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(UnsafeMutableRawPointer(pointer), mappedBytes) } else { pointer.deallocate() }
    }
}

extension Activation {
    /// The kernel library's code for this activation.
    var kernelCode: Int32 {
        switch self {
        case .geluErf: return Int32(CK_ACT_GELU_ERF)
        case .geluTanh: return Int32(CK_ACT_GELU_TANH)
        case .relu: return Int32(CK_ACT_RELU)
        case .silu: return Int32(CK_ACT_SILU)
        case .quickGelu: return Int32(CK_ACT_QUICK_GELU)
        case .tanh: return Int32(CK_ACT_TANH)
        case .sigmoid: return Int32(CK_ACT_SIGMOID)
        }
    }
}

/// How activations meet bf16 weights in a product (`CK_X_*`); fp32 weights ignore it.
enum BF16Input: Sendable {
    /// x stays float32 and the weights are widened.
    case float32
    /// x is rounded to bf16 from 16 rows on (compute-bound products: encoder, cross-attention keys/values).
    case rounded
    /// x is split into two bf16 halves at any row count (the decoder step: near-float32 accuracy, a third
    /// of the instructions of widening).
    case split

    var code: Int32 {
        switch self {
        case .float32: return Int32(CK_X_F32)
        case .rounded: return Int32(CK_X_BF16)
        case .split: return Int32(CK_X_BF16_SPLIT)
        }
    }
}

/// `y = x·Wᵀ + b` over the rows of `x [rows, inFeatures]`. The weight keeps torch's `[out, in]` layout and
/// lives in the memory-mapped checkpoint in fp32 precision.
struct Linear: Sendable {
    let weight: WeightMatrix   // [outFeatures, inFeatures]
    let bias: FloatBuffer?     // [outFeatures]
    var inFeatures: Int { weight.columns }
    var outFeatures: Int { weight.rows }

    init(weight: WeightMatrix, bias: FloatBuffer?) {
        self.weight = weight
        self.bias = bias
    }

    init(_ store: WeightStore, _ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true,
         precision: Precision = .fp32) throws {
        weight = try store.matrix("\(prefix).weight", shape: [outFeatures, inFeatures], precision: precision)
        bias = hasBias ? FloatBuffer(try store.tensor("\(prefix).bias", shape: [outFeatures])) : nil
    }

    /// Kernel arguments for `y = act(x·Wᵀ + b) + residual` over `rows` rows. The pointers must stay valid
    /// until the kernel call returns.
    func arguments(x: UnsafePointer<Float>, rows: Int, ldx: Int? = nil, y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
                   activation: Int32 = Int32(CK_ACT_NONE), parameter: Float = 0,
                   residual: UnsafePointer<Float>? = nil, ldr: Int? = nil, bf16Input: BF16Input = .float32) -> ck_linear_args {
        ck_linear_args(
            m: Int32(rows), n: Int32(outFeatures), k: Int32(inFeatures),
            x: x, ldx: Int32(ldx ?? inFeatures),
            weight_f32: weight.f32, weight_bf16: weight.bf16, weight_i8: weight.int8, weight_scales: weight.rowScales,
            ldw: Int32(inFeatures),
            bias: bias.map { UnsafePointer($0.pointer) },
            activation: activation, activation_parameter: parameter,
            residual: residual, ldr: Int32(ldr ?? outFeatures),
            y: y, ldy: Int32(ldy ?? outFeatures), bf16_activations: bf16Input.code)
    }

    /// Runs one layer on raw pointers.
    func apply(x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>,
               activation: Int32 = Int32(CK_ACT_NONE), residual: UnsafePointer<Float>? = nil, bf16Input: BF16Input = .float32) {
        guard rows > 0 else { return }
        var a = arguments(x: x, rows: rows, y: y, activation: activation, residual: residual, bf16Input: bf16Input)
        ck_linear(&a, 1)
        withExtendedLifetime(self) {}
    }

    /// Applies the layer to `rows` rows stored contiguously in `x`.
    func callAsFunction(_ x: [Float], rows: Int, activation: Int32 = Int32(CK_ACT_NONE)) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        guard rows > 0 else { return y }
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                apply(x: xp.baseAddress!, rows: rows, y: yp.baseAddress!, activation: activation)
            }
        }
        return y
    }
}

/// Runs several linear layers in one parallel region (their output rows are spread over the threads).
func runLinear(_ layers: [ck_linear_args]) {
    layers.withUnsafeBufferPointer { ck_linear($0.baseAddress!, Int32($0.count)) }
}

/// LayerNorm over the last dimension.
struct LayerNorm: Sendable {
    let weight: FloatBuffer
    let bias: FloatBuffer
    let eps: Float

    init(_ store: WeightStore, _ prefix: String, dim: Int, eps: Float) throws {
        weight = FloatBuffer(try store.tensor("\(prefix).weight", shape: [dim]))
        bias = FloatBuffer(try store.tensor("\(prefix).bias", shape: [dim]))
        self.eps = eps
    }

    var dim: Int { weight.count }

    /// `x = LayerNorm(x + add)` over `rows` rows, in place.
    func apply(_ x: UnsafeMutablePointer<Float>, adding add: UnsafePointer<Float>? = nil, rows: Int) {
        ck_layer_norm(x, add, Int32(rows), Int32(dim), Int32(dim), weight.pointer, bias.pointer, eps)
    }

    func callAsFunction(_ x: inout [Float]) {
        let rows = x.count / dim
        x.withUnsafeMutableBufferPointer { apply($0.baseAddress!, rows: rows) }
    }
}

/// The position-wise feed-forward block: `W2 · act(W1·x + b1) + b2`.
struct FeedForward: Sendable {
    let intermediate: Linear
    let output: Linear
    let activation: Activation

    init(_ store: WeightStore, _ prefix: String, hidden: Int, inner: Int, activation: Activation, precision: Precision = .fp32) throws {
        intermediate = try Linear(store, "\(prefix).intermediate_dense", in: hidden, out: inner, precision: precision)
        output = try Linear(store, "\(prefix).output_dense", in: inner, out: hidden, precision: precision)
        self.activation = activation
    }

    /// `y = FFN(x) + residual` with `inner` as scratch (`rows × innerFeatures`).
    func apply(x: UnsafePointer<Float>, rows: Int, inner: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
               residual: UnsafePointer<Float>? = nil, bf16Input: BF16Input = .float32) {
        intermediate.apply(x: x, rows: rows, y: inner, activation: activation.kernelCode, bf16Input: bf16Input)
        output.apply(x: inner, rows: rows, y: y, residual: residual, bf16Input: bf16Input)
    }

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        let h = intermediate(x, rows: rows, activation: activation.kernelCode)
        return output(h, rows: rows)
    }
}

/// 1-D convolution over one channels-first sequence `[cIn, length]`, stride 1, run as a direct
/// convolution (no im2col). fp32: the weight `[cOut, cIn, kernel]` is used in place, or for the vocoder's
/// residual blocks as Winograd filter transforms; bf16 and int8: packed once for `vdpbf16ps` or `vpdpbusd`
/// (``PackedConvWeights``).
struct Conv1d: Sendable {
    let weight: WeightMatrix          // [cOut, cIn · kernel], fp32
    let packed: PackedConvWeights?    // bf16 or int8 precision, or fp32 Winograd
    let bias: FloatBuffer?
    let inChannels: Int
    let outChannels: Int
    let kernelSize: Int
    let dilation: Int
    let padding: Int

    /// `format` nil: fp32 weights used in place.
    init(weight: WeightMatrix, bias: FloatBuffer?, inChannels: Int, kernelSize: Int, dilation: Int = 1, padding: Int,
         format: PackedConvWeights.Format? = nil) {
        self.weight = weight
        self.bias = bias
        self.inChannels = inChannels
        outChannels = weight.rows
        self.kernelSize = kernelSize
        self.dilation = dilation
        self.padding = padding
        if let format, let f32 = weight.f32 {
            packed = PackedConvWeights(format, weight: f32, so: inChannels * kernelSize, sc: kernelSize, sj: 1,
                                           cOut: outChannels, cIn: inChannels, taps: kernelSize)
        } else {
            packed = nil
        }
    }

    /// `winograd`: in fp32, use the Winograd form where the kernels have it (``PackedConvWeights/Format/winograd``).
    init(_ store: WeightStore, _ prefix: String, in cIn: Int, out cOut: Int, kernel: Int,
         dilation: Int = 1, padding: Int, bias hasBias: Bool = true, precision: Precision = .fp32,
         winograd: Bool = false) throws {
        let w = try store.matrix("\(prefix).weight", shape: [cOut, cIn, kernel], precision: .fp32)
        self.init(weight: w, bias: hasBias ? FloatBuffer(try store.tensor("\(prefix).bias", shape: [cOut])) : nil,
                  inChannels: cIn, kernelSize: kernel, dilation: dilation, padding: padding,
                  format: PackedConvWeights.Format(precision, inChannels: cIn)
                      ?? (winograd && ck_conv_winograd_available(Int32(kernel), Int32(dilation)) != 0 ? .winograd : nil))
        if packed != nil { store.releasePages("\(prefix).weight") }
    }

    /// Output length for an input of `length`.
    func outputLength(_ length: Int) -> Int { length + 2 * padding - dilation * (kernelSize - 1) }

    /// Columns of zeros an input needs on each side.
    var reach: Int { padding }

    /// `x [inChannels, length]` → `[outChannels, newLength]` and `newLength`. `slope` applies a leaky ReLU to
    /// the input first (1: none).
    func callAsFunction(_ x: [Float], length: Int, inputSlope slope: Float = 1) -> (values: [Float], length: Int) {
        let outLength = outputLength(length)
        guard outLength > 0 else { return ([], 0) }
        var out = [Float](repeating: 0, count: outChannels * outLength)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                ConvolutionWorkspace().convolve(self, input: xp.baseAddress!, length: length, slope: slope,
                                                into: op.baseAddress!, residual: nil)
            }
        }
        return (out, outLength)
    }
}

/// Conv weights packed once for the compute-bound kernels: bf16 channel pairs (`ck_pack_conv_bf16`) or int8
/// channel quads with one scale per output channel (`ck_pack_conv_i8`).
final class PackedConvWeights: @unchecked Sendable {
    enum Format {
        /// bf16 channel pairs, int8 channel quads, or fp32 Winograd F(4, r) filter transforms
        /// (`ck_pack_conv_winograd`: about twice the floats, for about half the multiplications of a direct
        /// convolution; the sums differ from the direct ones by rounding only, 1.5–2× a direct sum's error).
        case bf16, int8, winograd

        /// The format for a convolution loaded in `precision` (nil: fp32 in place). int8 only where the CPU
        /// has int8 dot products (AVX512-VNNI, the `avx512bf16` level): elsewhere the portable integer sums
        /// are slower than bf16 (measured at the avx512 level: 0.25 vs 0.095 s per audio second). Also bf16
        /// for channel counts whose integer sums could overflow. Below the avx512 level, fp32 in place: there
        /// bf16 products are fp32 FMAs plus conversions, slower than the fp32 weights themselves (AVX2:
        /// 30–39 against 75–97 GFLOP/s in `kernel_floors`), which are also exact.
        init?(_ precision: Precision, inChannels: Int) {
            guard Threading.cpuLevel >= .avx512 else { return nil }
            switch precision {
            case .fp32: return nil
            case .bf16: self = .bf16
            case .int8:
                self = Threading.cpuLevel >= .avx512bf16 && ck_conv_i8_supported(Int32(inChannels)) != 0 ? .int8 : .bf16
            }
        }
    }
    let format: Format
    let pointer: UnsafeMutableRawPointer

    init(_ format: Format, weight: UnsafePointer<Float>, so: Int, sc: Int, sj: Int, cOut: Int, cIn: Int, taps: Int) {
        self.format = format
        switch format {
        case .bf16:
            let size = ck_pack_conv_bf16_size(Int32(cOut), Int32(cIn), Int32(taps))
            let values = UnsafeMutablePointer<UInt16>.allocate(capacity: max(size, 1))
            ck_pack_conv_bf16(weight, so, sc, sj, Int32(cOut), Int32(cIn), Int32(taps), values)
            pointer = UnsafeMutableRawPointer(values)
        case .int8:
            let size = ck_pack_conv_i8_size(Int32(cOut), Int32(cIn), Int32(taps))
            pointer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
            ck_pack_conv_i8(weight, so, sc, sj, Int32(cOut), Int32(cIn), Int32(taps), pointer)
        case .winograd:
            let floats = ck_conv_winograd_size(Int32(cOut), Int32(cIn), Int32(taps))
            pointer = UnsafeMutableRawPointer.allocate(byteCount: max(floats, 1) * 4, alignment: 64)
            ck_pack_conv_winograd(weight, so, sc, sj, Int32(cOut), Int32(cIn), Int32(taps),
                                  pointer.assumingMemoryBound(to: Float.self))
        }
    }

    /// The bf16 pairs (format `.bf16`).
    var pairs: UnsafePointer<UInt16> { UnsafePointer(pointer.assumingMemoryBound(to: UInt16.self)) }

    deinit { pointer.deallocate() }
}

/// Reusable buffers for the layers of one sequence, and the convolutions of `leaky(x)` in each weight format
/// (the kernels prepare each task's input window themselves: padding, bf16 pairs or int8 quantization).
final class ConvolutionWorkspace: @unchecked Sendable {
    private var buffers: [Int: Scratch] = [:]

    /// A buffer of at least `count` floats, kept for the next call with the same slot.
    func buffer(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        if let buffer = buffers[slot], buffer.count >= count { return buffer.pointer }
        let buffer = Scratch(count)
        buffers[slot] = buffer
        return buffer.pointer
    }

    /// `out = conv(leaky(x, slope)) (+ residual)` for `x [inChannels, length]`, out `[outChannels, outLength]`.
    func convolve(_ conv: Conv1d, input x: UnsafePointer<Float>, length: Int, slope: Float,
                  into out: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
        let pad = conv.padding
        let outLength = conv.outputLength(length)
        guard outLength > 0 else { return }
        let bias = conv.bias.map { UnsafePointer($0.pointer) }
        // Each task of the convolution prepares the input window its outputs read (padding, bf16 pairs or int8
        // quantization, with the leaky ReLU), so there is no whole prepared copy and no separate pass.
        var input = ck_conv_input(x: x, length: Int32(length), ldx: Int32(length), pad: Int32(pad), slope: slope)
        let (cIn, cOut, taps, dilation) = (Int32(conv.inChannels), Int32(conv.outChannels), Int32(conv.kernelSize), Int32(conv.dilation))
        switch conv.packed?.format {
        case nil, .winograd:
            var a = ck_conv_args(c_in: cIn, c_out: cOut, taps: taps, dilation: dilation, length: Int32(outLength), x: x, ldx: 0,
                                 weight: conv.weight.f32!, so: conv.inChannels * conv.kernelSize, sc: conv.kernelSize, sj: 1,
                                 bias: bias, residual: residual, ldr: Int32(outLength), y: out, ldy: Int32(outLength),
                                 winograd: conv.packed.map { UnsafePointer($0.pointer.assumingMemoryBound(to: Float.self)) })
            ck_conv1d_leaky(&a, &input)
        case .bf16:
            var a = ck_conv_bf16_args(c_in: cIn, c_out: cOut, taps: taps, dilation: dilation, length: Int32(outLength), xb: nil,
                                      ldx: 0, packed: conv.packed!.pairs, bias: bias, residual: residual, ldr: Int32(outLength),
                                      y: out, ldy: Int32(outLength))
            ck_conv1d_bf16_leaky(&a, &input)
        case .int8:
            var a = ck_conv_i8_args(c_in: cIn, c_out: cOut, taps: taps, dilation: dilation, length: Int32(outLength), xq: nil,
                                    xscale: nil, ldx: 0, packed: conv.packed!.pointer, bias: bias, residual: residual,
                                    ldr: Int32(outLength), y: out, ldy: Int32(outLength))
            ck_conv1d_i8_leaky(&a, &input)
        }
        withExtendedLifetime(conv) {}
    }
}

/// Transposed 1-D convolution with torch's `[cIn, cOut, kernel]` weight layout, computed as `stride`
/// ordinary convolutions (one per output phase) whose outputs interleave: no multiplications by the
/// zeros a zero-stuffed input would have. fp32 in every precision: the upsamplers are 3% of the vocoder's
/// arithmetic, and their fused fp32 tiles ran faster than bf16 phase-by-phase convolutions (21 vs 24 ms).
struct ConvTranspose1d: Sendable {
    /// `[cOut, cIn, taps, stride]`: every phase's taps in input order, last-aligned (zeros before the first tap
    /// of a phase with fewer), for `ck_conv_transpose1d`, which computes all phases of a tile from one read of
    /// the input. (In torch's layout a phase's weights for consecutive input channels lie `cOut · kernel`
    /// floats apart, a new page for every channel.)
    let weight: FloatBuffer
    let bias: FloatBuffer
    let inChannels: Int
    let outChannels: Int
    let kernelSize: Int
    let stride: Int
    let padding: Int

    init(_ store: WeightStore, _ prefix: String, in cIn: Int, out cOut: Int, kernel: Int, stride: Int, padding: Int) throws {
        let stored = try store.matrix("\(prefix).weight", shape: [cIn, cOut, kernel], precision: .fp32)
        bias = FloatBuffer(try store.tensor("\(prefix).bias", shape: [cOut]))
        inChannels = cIn
        outChannels = cOut
        kernelSize = kernel
        self.stride = stride
        self.padding = padding
        guard let w = stored.f32 else {
            throw SpeechT5Error.invalidArgument(name: "\(prefix).weight", reason: "expected float32 weights")
        }
        // w(o, c, k) = w[c·cOut·kernel + o·kernel + k]. Phase rho's tap j, reading x[m − (taps − 1) + j] with
        // taps = ceil(kernel / stride) for every phase, is kernel index rho + stride·(taps − 1 − j) (none
        // where that lies beyond the kernel: a phase with fewer taps starts later).
        let taps = (kernel + stride - 1) / stride
        var packed = [Float](repeating: 0, count: cOut * cIn * taps * stride)
        for o in 0..<cOut {
            for c in 0..<cIn {
                for j in 0..<taps {
                    for rho in 0..<stride {
                        let k = rho + stride * (taps - 1 - j)
                        if k < kernel { packed[((o * cIn + c) * taps + j) * stride + rho] = w[c * cOut * kernel + o * kernel + k] }
                    }
                }
            }
        }
        weight = FloatBuffer(packed)
        withExtendedLifetime(stored) {}
        store.releasePages("\(prefix).weight")
    }

    func outputLength(_ length: Int) -> Int { (length - 1) * stride - 2 * padding + kernelSize }

    /// Output `[cOut, outLength]` of a transposed convolution of `leaky(x)`, `x [cIn, length]`.
    func callAsFunction(_ x: UnsafePointer<Float>, length: Int, ldx: Int, inputSlope slope: Float,
                        into y: UnsafeMutablePointer<Float>) -> Int {
        let outLength = outputLength(length)
        guard outLength > 0, length > 0 else { return 0 }
        var a = ck_conv_transpose_args(c_in: Int32(inChannels), c_out: Int32(outChannels),
                                       taps: Int32((kernelSize + stride - 1) / stride), stride: Int32(stride),
                                       padding: Int32(padding), x: x, length: Int32(length), ldx: Int32(ldx),
                                       slope: slope, weight: weight.pointer, bias: bias.pointer, y: y,
                                       ldy: Int32(outLength), out_length: Int32(outLength))
        ck_conv_transpose1d(&a)
        withExtendedLifetime(self) {}
        return outLength
    }
}

/// Rows of the sinusoidal position table computed on demand (the speech table has 1876 × H entries,
/// ~6 MB, of which a generation reads one row per step). Same values as `sinusoidalPositions`.
struct SinusoidalPositions: Sendable {
    let count: Int
    let dim: Int
    let frequencies: [Float]

    init(count: Int, dim: Int) {
        self.count = count
        self.dim = dim
        let c = Float(-(log(10000.0) / Double(dim)))
        frequencies = (0..<(dim / 2)).map { k in Float(exp(Double(Float(2 * k) * c))) }
    }

    /// Adds `scale · PE[position]` to `destination[0..<dim]`.
    func add(position: Int, scale: Float, to destination: UnsafeMutablePointer<Float>) {
        for k in 0..<frequencies.count {
            let argument = Float(position) * frequencies[k]
            destination[2 * k] += scale * Float(sin(Double(argument)))
            destination[2 * k + 1] += scale * Float(cos(Double(argument)))
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
