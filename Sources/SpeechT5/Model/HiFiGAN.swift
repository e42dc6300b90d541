import Foundation

/// The HiFi-GAN vocoder (`SpeechT5HifiGan`): log-mel spectrogram `[frames, n_mel]` → waveform.
public struct HiFiGAN: Sendable {
    /// One multi-receptive-field residual block: pairs of (dilated conv, conv), each pair a residual.
    struct ResidualBlock: Sendable {
        let dilatedConvolutions: [Conv1d]   // convs1
        let convolutions: [Conv1d]          // convs2
        let slope: Float

        func callAsFunction(_ x: [Float], length: Int) -> [Float] {
            var h = x
            for (dilated, plain) in zip(dilatedConvolutions, convolutions) {
                var t = h
                Kernels.apply(&t) { Kernels.leakyReLU($0, slope: slope) }
                t = dilated(t, length: length).values
                Kernels.apply(&t) { Kernels.leakyReLU($0, slope: slope) }
                t = plain(t, length: length).values
                for i in h.indices { h[i] += t[i] }
            }
            return h
        }
    }

    /// The configuration the weights were loaded with.
    public let config: HiFiGANConfig
    let mean: Tensor?
    let scale: Tensor?
    let inputConvolution: Conv1d
    let upsamplers: [ConvTranspose1d]
    let residualBlocks: [ResidualBlock]   // upsamplers.count × kernels, stage-major
    let outputConvolution: Conv1d

    /// Loads the vocoder from a directory holding `config.json` and `model.safetensors`.
    public init(directory: String) throws {
        let config = try HiFiGANConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        let store = try WeightStore(directory: directory)
        try self.init(store, config: config)
    }

    init(_ store: WeightStore, config c: HiFiGANConfig) throws {
        config = c
        if c.normalizeBefore {
            mean = try store.tensor("mean", shape: [c.modelInDim])
            scale = try store.tensor("scale", shape: [c.modelInDim])
        } else {
            mean = nil
            scale = nil
        }
        inputConvolution = try Conv1d(store, "conv_pre", in: c.modelInDim, out: c.upsampleInitialChannel, kernel: 7, padding: 3)
        var upsamplers: [ConvTranspose1d] = []
        var blocks: [ResidualBlock] = []
        for (i, (rate, kernel)) in zip(c.upsampleRates, c.upsampleKernelSizes).enumerated() {
            let cIn = i == 0 ? c.upsampleInitialChannel : c.channels(afterUpsample: i - 1)
            let cOut = c.channels(afterUpsample: i)
            upsamplers.append(try ConvTranspose1d(store, "upsampler.\(i)", in: cIn, out: cOut, kernel: kernel,
                                                  stride: rate, padding: (kernel - rate) / 2))
            for (j, (k, dilations)) in zip(c.resblockKernelSizes, c.resblockDilationSizes).enumerated() {
                let p = "resblocks.\(i * c.resblockKernelSizes.count + j)"
                blocks.append(ResidualBlock(
                    dilatedConvolutions: try dilations.enumerated().map { n, d in
                        try Conv1d(store, "\(p).convs1.\(n)", in: cOut, out: cOut, kernel: k, dilation: d, padding: (k * d - d) / 2)
                    },
                    convolutions: try dilations.indices.map { n in
                        try Conv1d(store, "\(p).convs2.\(n)", in: cOut, out: cOut, kernel: k, padding: (k - 1) / 2)
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
        var h = [Float](repeating: 0, count: bins * frames)
        for t in 0..<frames {
            for m in 0..<bins {
                var v = spectrogram[t * bins + m]
                if let mean, let scale { v = (v - mean.scalars[m]) / scale.scalars[m] }
                h[m * frames + t] = v
            }
        }
        var length = frames
        (h, length) = inputConvolution(h, length: length)
        let kernels = config.resblockKernelSizes.count
        for (i, upsampler) in upsamplers.enumerated() {
            Kernels.apply(&h) { Kernels.leakyReLU($0, slope: config.leakyReluSlope) }
            (h, length) = upsampler(h, length: length)
            var sum = residualBlocks[i * kernels](h, length: length)
            for j in 1..<kernels {
                let block = residualBlocks[i * kernels + j](h, length: length)
                for n in sum.indices { sum[n] += block[n] }
            }
            let inverse = Float(kernels)
            for n in sum.indices { sum[n] /= inverse }
            h = sum
        }
        // The reference's last activation is F.leaky_relu with torch's default slope 0.01, not the config's.
        Kernels.apply(&h) { Kernels.leakyReLU($0, slope: 0.01) }
        (h, length) = outputConvolution(h, length: length)
        Kernels.apply(&h) { tanhf($0) }
        return h
    }
}
