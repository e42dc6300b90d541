import CKernels
import Foundation

/// The HiFi-GAN vocoder (`SpeechT5HifiGan`): log-mel spectrogram `[frames, n_mel]` → waveform.
///
/// Every convolution runs as a direct convolution on the C kernels (fp32 weights used in place from the
/// memory-mapped checkpoint, or bf16 channel pairs in bf16 precision), with each leaky ReLU fused into
/// the copy that pads the next convolution's input.
public struct HiFiGAN: Sendable {
    /// One multi-receptive-field residual block: pairs of (dilated conv, conv), each pair a residual.
    struct ResidualBlock: Sendable {
        let dilatedConvolutions: [Conv1d]   // convs1
        let convolutions: [Conv1d]          // convs2
        let slope: Float

        /// `out = block(x)` for `x [channels, length]`; `out` may not alias `x`.
        func apply(_ x: UnsafePointer<Float>, channels: Int, length: Int, into out: UnsafeMutablePointer<Float>,
                   workspace: HiFiGAN.Workspace) {
            out.update(from: x, count: channels * length)
            let t = workspace.buffer(0, channels * length)
            for (dilated, plain) in zip(dilatedConvolutions, convolutions) {
                workspace.convolve(dilated, input: out, length: length, slope: slope, into: t, residual: nil)
                workspace.convolve(plain, input: t, length: length, slope: slope, into: out, residual: out)
            }
        }
    }

    /// Reusable buffers of one vocoder call.
    final class Workspace: @unchecked Sendable {
        private var buffers: [Int: (UnsafeMutableRawPointer, Int)] = [:]

        func raw(_ slot: Int, _ bytes: Int) -> UnsafeMutableRawPointer {
            if let (p, size) = buffers[slot], size >= bytes { return p }
            if let (p, _) = buffers[slot] { p.deallocate() }
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
            buffers[slot] = (p, bytes)
            return p
        }

        func buffer(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
            raw(slot, count * 4).bindMemory(to: Float.self, capacity: count)
        }

        /// `out = conv(leaky(x, slope)) (+ residual)`, same length (stride 1, "same" padding).
        func convolve(_ conv: Conv1d, input x: UnsafePointer<Float>, length: Int, slope: Float,
                      into out: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
            let pad = conv.padding
            let ld = length + 2 * pad
            let outLength = conv.outputLength(length)
            if conv.packed != nil {
                let xb = raw(10, (conv.inChannels + 1) / 2 * ld * 4).bindMemory(to: UInt16.self, capacity: (conv.inChannels + 1) / 2 * ld * 2)
                ck_pack_input_bf16(x, Int32(conv.inChannels), Int32(length), Int32(length), Int32(pad), slope, xb)
                conv.apply(pairs: xb, ldx: ld, outLength: outLength, y: out, ldy: outLength, residual: residual, ldr: outLength)
            } else {
                let padded = buffer(11, conv.inChannels * ld)
                padInput(x, channels: conv.inChannels, length: length, ldx: length, pad: pad, slope: slope, into: padded)
                conv.apply(padded: padded, ldx: ld, outLength: outLength, y: out, ldy: outLength, residual: residual, ldr: outLength)
            }
        }

        deinit { for (p, _) in buffers.values { p.deallocate() } }
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
        // The first and last convolutions are small (80 and 1 channels): fp32 in every precision.
        inputConvolution = try Conv1d(store, "conv_pre", in: c.modelInDim, out: c.upsampleInitialChannel, kernel: 7, padding: 3)
        var upsamplers: [ConvTranspose1d] = []
        var blocks: [ResidualBlock] = []
        for (i, (rate, kernel)) in zip(c.upsampleRates, c.upsampleKernelSizes).enumerated() {
            let cIn = i == 0 ? c.upsampleInitialChannel : c.channels(afterUpsample: i - 1)
            let cOut = c.channels(afterUpsample: i)
            upsamplers.append(try ConvTranspose1d(store, "upsampler.\(i)", in: cIn, out: cOut, kernel: kernel,
                                                  stride: rate, padding: (kernel - rate) / 2, precision: precision))
            for (j, (k, dilations)) in zip(c.resblockKernelSizes, c.resblockDilationSizes).enumerated() {
                let p = "resblocks.\(i * c.resblockKernelSizes.count + j)"
                blocks.append(ResidualBlock(
                    dilatedConvolutions: try dilations.enumerated().map { n, d in
                        try Conv1d(store, "\(p).convs1.\(n)", in: cOut, out: cOut, kernel: k, dilation: d,
                                   padding: (k * d - d) / 2, precision: precision)
                    },
                    convolutions: try dilations.indices.map { n in
                        try Conv1d(store, "\(p).convs2.\(n)", in: cOut, out: cOut, kernel: k, padding: (k - 1) / 2,
                                   precision: precision)
                    },
                    slope: c.leakyReluSlope))
            }
        }
        self.upsamplers = upsamplers
        residualBlocks = blocks
        outputConvolution = try Conv1d(store, "conv_post", in: c.channels(afterUpsample: c.upsampleRates.count - 1),
                                       out: 1, kernel: 7, padding: 3)
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
        let workspace = Workspace()
        var (h, length) = inputConvolution(x, length: frames)
        let kernels = config.resblockKernelSizes.count
        for (i, upsampler) in upsamplers.enumerated() {
            let channels = upsampler.outChannels
            let upLength = upsampler.outputLength(length)
            var up = [Float](repeating: 0, count: channels * upLength)
            h.withUnsafeBufferPointer { hp in
                up.withUnsafeMutableBufferPointer { u in
                    _ = upsampler(hp.baseAddress!, length: length, ldx: length, inputSlope: config.leakyReluSlope, into: u.baseAddress!)
                }
            }
            length = upLength
            var sum = [Float](repeating: 0, count: channels * length)
            up.withUnsafeBufferPointer { u in
                sum.withUnsafeMutableBufferPointer { s in
                    let block = workspace.buffer(1, channels * length)
                    for j in 0..<kernels {
                        residualBlocks[i * kernels + j].apply(u.baseAddress!, channels: channels, length: length,
                                                              into: j == 0 ? s.baseAddress! : block, workspace: workspace)
                        if j > 0 { for n in 0..<(channels * length) { s[n] += block[n] } }
                    }
                    let inverse = 1 / Float(kernels)
                    ck_activation(s.baseAddress!, channels * length, Int32(CK_ACT_SCALE), inverse)
                }
            }
            h = sum
        }
        // The reference's last activation is F.leaky_relu with torch's default slope 0.01, not the config's.
        (h, length) = outputConvolution(h, length: length, inputSlope: 0.01)
        h.withUnsafeMutableBufferPointer { ck_activation($0.baseAddress!, $0.count, Int32(CK_ACT_TANH), 0) }
        return h
    }
}
