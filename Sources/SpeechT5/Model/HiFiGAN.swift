import CKernels
import Foundation

/// The HiFi-GAN vocoder (`SpeechT5HifiGan`): log-mel spectrogram `[frames, n_mel]` → waveform.
///
/// Every convolution runs on the C kernels: fp32 weights used in place from the memory-mapped checkpoint, the
/// upsamplers' repacked by phase. On AVX2 and AVX-512 CPUs the residual blocks, nearly all of the work, run in
/// fp32 as Winograd F(4, r) convolutions (up to 128 channels; a dilation d as d phase convolutions); on AVX-512
/// in bf16 precision as bf16 channel pairs, and in int8 precision as int8 weights times inputs quantized per
/// position. Each leaky ReLU is fused into the copy that prepares the next convolution's input.
public struct HiFiGAN: Sendable {
    /// One multi-receptive-field residual block: pairs of (dilated conv, conv), each pair a residual.
    struct ResidualBlock: Sendable {
        let dilatedConvolutions: [Conv1d]   // convs1
        let convolutions: [Conv1d]          // convs2
        let slope: Float

        /// `out = block(x)` for `x [channels, length]`; `out` may not alias `x`.
        /// Samples on each side that one output sample depends on.
        var reach: Int { zip(dilatedConvolutions, convolutions).reduce(0) { $0 + $1.0.padding + $1.1.padding } }

        func apply(_ x: UnsafePointer<Float>, channels: Int, length: Int, into out: UnsafeMutablePointer<Float>,
                   workspace: ConvolutionWorkspace) {
            out.update(from: x, count: channels * length)
            let t = workspace.buffer(0, channels * length)
            for (dilated, plain) in zip(dilatedConvolutions, convolutions) {
                workspace.convolve(dilated, input: out, length: length, slope: slope, into: t, residual: nil)
                workspace.convolve(plain, input: t, length: length, slope: slope, into: out, residual: out)
            }
        }
    }

    /// The configuration the weights were loaded with.
    public let config: HiFiGANConfig
    /// The arithmetic precision of the weights.
    public let precision: Precision
    let mean: Tensor?
    let scale: Tensor?
    let inputConvolution: Conv1d
    let upsamplers: [ConvTranspose1d]
    let residualBlocks: [ResidualBlock]   // upsamplers.count × kernels, stage-major
    let outputConvolution: Conv1d

    /// Loads the vocoder from a directory holding `config.json` and `model.safetensors`.
    public init(directory: String, precision: Precision = .fp32) throws {
        let config = try HiFiGANConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        let store = try WeightStore(directory: directory)
        try self.init(store, config: config, precision: precision)
    }

    init(_ store: WeightStore, config c: HiFiGANConfig, precision: Precision = .fp32) throws {
        config = c
        self.precision = precision
        if c.normalizeBefore {
            mean = try store.tensor("mean", shape: [c.modelInDim])
            scale = try store.tensor("scale", shape: [c.modelInDim])
        } else {
            mean = nil
            scale = nil
        }
        // The first and last convolutions are small (80 and 1 channels), and the upsamplers 3% of the
        // arithmetic: fp32 in every precision.
        inputConvolution = try Conv1d(store, "conv_pre", in: c.modelInDim, out: c.upsampleInitialChannel, kernel: 7, padding: 3)
        var upsamplers: [ConvTranspose1d] = []
        var blocks: [ResidualBlock] = []
        for (i, (rate, kernel)) in zip(c.upsampleRates, c.upsampleKernelSizes).enumerated() {
            let cIn = i == 0 ? c.upsampleInitialChannel : c.channels(afterUpsample: i - 1)
            let cOut = c.channels(afterUpsample: i)
            upsamplers.append(try ConvTranspose1d(store, "upsampler.\(i)", in: cIn, out: cOut, kernel: kernel,
                                                  stride: rate, padding: (kernel - rate) / 2))
            // fp32: Winograd form (about half the multiplications, twice the weights) up to 128 channels. Every
            // stage does about the same work (channels halve as the length quadruples), but the 256-channel stage
            // of the full-size vocoder holds 3/4 of the residual-block weights: in Winograd form it would add
            // 22 MB to the peak RSS (683 → 711 MB, above the 700 MB budget) for a quarter of the gain.
            let winograd = cOut <= Self.winogradChannels
            for (j, (k, dilations)) in zip(c.resblockKernelSizes, c.resblockDilationSizes).enumerated() {
                let p = "resblocks.\(i * c.resblockKernelSizes.count + j)"
                blocks.append(ResidualBlock(
                    dilatedConvolutions: try dilations.enumerated().map { n, d in
                        try Conv1d(store, "\(p).convs1.\(n)", in: cOut, out: cOut, kernel: k, dilation: d,
                                   padding: (k * d - d) / 2, precision: precision, winograd: winograd)
                    },
                    convolutions: try dilations.indices.map { n in
                        try Conv1d(store, "\(p).convs2.\(n)", in: cOut, out: cOut, kernel: k, padding: (k - 1) / 2,
                                   precision: precision, winograd: winograd)
                    },
                    slope: c.leakyReluSlope))
            }
        }
        self.upsamplers = upsamplers
        residualBlocks = blocks
        outputConvolution = try Conv1d(store, "conv_post", in: c.channels(afterUpsample: c.upsampleRates.count - 1),
                                       out: 1, kernel: 7, padding: 3)
        store.releasePagesNotInUse()
    }

    /// Number of samples the vocoder makes from `frames` mel frames (the ConvTranspose length formula).
    public func sampleCount(frames: Int) -> Int {
        var length = frames
        for (u, k) in zip(config.upsampleRates, config.upsampleKernelSizes) {
            length = (length - 1) * u - 2 * ((k - u) / 2) + k
        }
        return length
    }

    /// Converts a log-mel spectrogram `[frames, model_in_dim]` (row-major) into a waveform in [-1, 1].
    public func callAsFunction(_ spectrogram: [Float], frames: Int) -> [Float] {
        let bins = config.modelInDim
        guard frames > 0 else { return [] }
        // Normalize and go channels-first: [bins, frames].
        var x = [Float](repeating: 0, count: bins * frames)
        for t in 0..<frames {
            for m in 0..<bins {
                var v = spectrogram[t * bins + m]
                if let mean, let scale { v = (v - mean.scalars[m]) / scale.scalars[m] }
                x[m * frames + t] = v
            }
        }
        let workspace = ConvolutionWorkspace()
        var length = frames
        var h = Scratch(inputConvolution.outChannels * length, filled: true)
        x.withUnsafeBufferPointer { xp in
            workspace.convolve(inputConvolution, input: xp.baseAddress!, length: length, slope: 1, into: h.pointer, residual: nil)
        }
        let kernels = config.resblockKernelSizes.count
        for (i, upsampler) in upsamplers.enumerated() {
            let channels = upsampler.outChannels
            let upLength = upsampler.outputLength(length)
            let up = Scratch(channels * upLength, filled: true)
            _ = upsampler(h.pointer, length: length, ldx: length, inputSlope: config.leakyReluSlope, into: up.pointer)
            length = upLength
            h = up
            // The residual blocks in time tiles, in place: each tile is computed on a window widened by the
            // blocks' receptive half-width, so its own samples are exact while the buffers stay small (and in
            // cache). The window's left margin comes from the previous window (whose columns still hold the
            // input there), the rest from the not yet overwritten input.
            let blocks = (0..<kernels).map { residualBlocks[i * kernels + $0] }
            let halo = blocks.map(\.reach).max() ?? 0
            let tile = Self.tileLength
            let inverse = 1 / Float(kernels)
            var a = 0, index = 0
            var previous: (pointer: UnsafeMutablePointer<Float>, lo: Int, width: Int)?
            while a < length {
                let b = min(length, a + tile)
                let lo = max(0, a - halo), hi = min(length, b + halo), width = hi - lo
                let window = workspace.buffer(index % 2 == 0 ? 2 : 4, channels * width)
                let result = workspace.buffer(3, channels * width)
                for c in 0..<channels {
                    let row = window + c * width
                    let fromPrevious = a - lo
                    if fromPrevious > 0, let previous {
                        (row).update(from: previous.pointer + c * previous.width + (lo - previous.lo), count: fromPrevious)
                    }
                    (row + fromPrevious).update(from: up.pointer + c * length + a, count: hi - a)
                }
                for (j, block) in blocks.enumerated() {
                    block.apply(window, channels: channels, length: width, into: result, workspace: workspace)
                    for c in 0..<channels {
                        let source = result + c * width + (a - lo), destination = up.pointer + c * length + a
                        if j == 0 {
                            destination.update(from: source, count: b - a)
                        } else {
                            for t in 0..<(b - a) { destination[t] += source[t] }
                        }
                    }
                }
                for c in 0..<channels { ck_activation(up.pointer + c * length + a, b - a, Int32(CK_ACT_SCALE), inverse) }
                previous = (window, lo, width)
                index += 1
                a = b
            }
        }
        // The reference's last activation is F.leaky_relu with torch's default slope 0.01, not the config's.
        var waveform = [Float](repeating: 0, count: length)
        waveform.withUnsafeMutableBufferPointer { w in
            workspace.convolve(outputConvolution, input: h.pointer, length: length, slope: 0.01, into: w.baseAddress!,
                               residual: nil)
            ck_activation(w.baseAddress!, length, Int32(CK_ACT_TANH), 0)
        }
        return waveform
    }

    /// The most channels a residual-block convolution may have to run in Winograd form (fp32).
    static let winogradChannels = 128

    /// Samples per tile of the residual blocks (the halo costs 2·reach / tileLength extra work).
    nonisolated(unsafe) static var tileLength = 4096
}
