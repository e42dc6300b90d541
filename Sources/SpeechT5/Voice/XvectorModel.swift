import Foundation

/// speechbrain's `Xvector` embedding network in eval mode (`speechbrain.lobes.models.Xvector.Xvector`):
///
/// - per TDNN block i: `Conv1d` (kernel kᵢ, dilation dᵢ, "same" padding = dᵢ(kᵢ−1)/2 frames of **reflect**
///   padding on each side, as speechbrain's Conv1d does) → activation (LeakyReLU, slope 0.01) →
///   `BatchNorm1d` with running statistics (eps 1e-5);
/// - `StatisticsPooling`: mean ‖ standard deviation over time, the std *unbiased* (÷ (T−1)) plus 1e-5.
///   speechbrain also adds random noise in [1e-5, 9e-5] to the mean, in eval mode too; this port adds its
///   midpoint, 5e-5, so it is deterministic and as close as a single value can be;
/// - `Linear(2·C_last → lin_neurons)`.
///
/// State-dict keys (`embedding_model.ckpt`): `blocks.{3i}.conv.{weight,bias}`,
/// `blocks.{3i+2}.norm.{weight,bias,running_mean,running_var}`, `blocks.{3N+1}.w.{weight,bias}`.
///
/// The network is local in time until the pooling, so long inputs run in chunks (with the receptive field's
/// context) and the pooling accumulates; memory stays bounded whatever the length.
struct XvectorModel: Sendable {
    struct Block: Sendable {
        let inChannels: Int
        let outChannels: Int
        let kernel: Int
        let dilation: Int
        /// `[out, in, kernel]`.
        let weight: [Float]
        let bias: [Float]
        /// BatchNorm folded: `y = x·scale + shift`.
        let scale: [Float]
        let shift: [Float]
        var padding: Int { dilation * (kernel - 1) / 2 }
    }

    let blocks: [Block]
    let activation: SpeakerEncoderConfiguration.Activation
    /// `[embeddingDimension, 2·C_last]`.
    let linearWeight: [Float]
    let linearBias: [Float]
    let embeddingDimension: Int

    static let batchNormEpsilon: Float = 1e-5
    static let leakySlope: Float = 0.01
    static let poolingStdEpsilon: Double = 1e-5
    /// Midpoint of speechbrain's pooling noise `1e-5 · (9 − 8·u)`, u in [0, 1].
    static let poolingMeanNoise: Double = 5e-5
    /// Output frames per chunk (any value ≥ 1 gives the same result; tests vary it).
    var chunkFrames = 1024

    /// Frames of context each side that the TDNN stack needs.
    var receptiveHalfWidth: Int { blocks.reduce(0) { $0 + $1.padding } }
    /// Fewest frames speechbrain can process: reflect padding needs more frames than its width, and the
    /// unbiased standard deviation two frames.
    var minimumFrames: Int { max(2, (blocks.map(\.padding).max() ?? 0) + 1) }

    init(configuration config: SpeakerEncoderConfiguration, weights: WeightStore) throws {
        var blocks: [Block] = []
        var inChannels = config.inChannels
        for i in 0..<config.blockCount {
            let out = config.channels[i], k = config.kernelSizes[i]
            let conv = "blocks.\(3 * i).conv"
            let norm = "blocks.\(3 * i + 2).norm"
            let weight = try weights.tensor("\(conv).weight", shape: [out, inChannels, k]).scalars
            let bias = try weights.tensor("\(conv).bias", shape: [out]).scalars
            let gamma = try weights.tensor("\(norm).weight", shape: [out]).scalars
            let beta = try weights.tensor("\(norm).bias", shape: [out]).scalars
            let mean = try weights.tensor("\(norm).running_mean", shape: [out]).scalars
            let variance = try weights.tensor("\(norm).running_var", shape: [out]).scalars
            var scale = [Float](repeating: 0, count: out)
            var shift = [Float](repeating: 0, count: out)
            for c in 0..<out {
                guard variance[c] >= 0, variance[c].isFinite else {
                    throw SpeechT5Error.invalidFile(path: weights.path, reason: "'\(norm).running_var' holds \(variance[c]) at \(c); a variance must be finite and >= 0")
                }
                let inv = 1 / (Double(variance[c]) + Double(Self.batchNormEpsilon)).squareRoot()
                scale[c] = Float(Double(gamma[c]) * inv)
                shift[c] = Float(Double(beta[c]) - Double(mean[c]) * Double(gamma[c]) * inv)
            }
            blocks.append(Block(inChannels: inChannels, outChannels: out, kernel: k, dilation: config.dilations[i],
                                weight: weight, bias: bias, scale: scale, shift: shift))
            inChannels = out
        }
        let linear = "blocks.\(3 * config.blockCount + 1).w"
        linearWeight = try weights.tensor("\(linear).weight", shape: [config.embeddingDimension, 2 * inChannels]).scalars
        linearBias = try weights.tensor("\(linear).bias", shape: [config.embeddingDimension]).scalars
        self.blocks = blocks
        self.activation = config.activation
        embeddingDimension = config.embeddingDimension
    }

    /// The pooled statistics (mean ‖ std, `2·C_last` values) of normalized features `[frames, inChannels]`.
    func pooledStatistics(features: [Float], frames: Int) -> [Double] {
        guard let first = blocks.first, let last = blocks.last else { return [] }
        let cIn = first.inChannels
        // Channels-first copy of the input: [cIn, frames].
        var input = [Float](repeating: 0, count: cIn * frames)
        for t in 0..<frames {
            for c in 0..<cIn { input[c * frames + t] = features[t * cIn + c] }
        }
        let channels = last.outChannels
        var sum = [Double](repeating: 0, count: channels)
        var squares = [Double](repeating: 0, count: channels)
        let context = receptiveHalfWidth
        var start = 0
        while start < frames {
            let end = min(frames, start + max(1, chunkFrames))
            var lower = max(0, start - context)
            var upper = min(frames, end + context)
            var buffer = [Float](repeating: 0, count: cIn * (upper - lower))
            for c in 0..<cIn {
                for t in lower..<upper { buffer[c * (upper - lower) + t - lower] = input[c * frames + t] }
            }
            for block in blocks {
                (buffer, lower, upper) = apply(block, buffer, lower: lower, upper: upper, total: frames)
            }
            // The buffer now covers [lower, upper) ⊇ [start, end).
            let width = upper - lower
            for c in 0..<channels {
                var s = 0.0, q = 0.0
                let row = c * width
                for t in start..<end {
                    let v = Double(buffer[row + t - lower])
                    s += v
                    q += v * v
                }
                sum[c] += s
                squares[c] += q
            }
            start = end
        }
        let n = Double(frames)
        var pooled = [Double](repeating: 0, count: 2 * channels)
        for c in 0..<channels {
            let mean = sum[c] / n
            let variance = frames > 1 ? max(0, (squares[c] - n * mean * mean) / (n - 1)) : .nan
            pooled[c] = mean + Self.poolingMeanNoise
            pooled[channels + c] = variance.squareRoot() + Self.poolingStdEpsilon
        }
        return pooled
    }

    /// The x-vector (before any normalization) of normalized features `[frames, inChannels]`.
    func embedding(features: [Float], frames: Int) -> [Float] {
        let pooled = pooledStatistics(features: features, frames: frames)
        return linear(pooled)
    }

    func linear(_ pooled: [Double]) -> [Float] {
        let inputs = pooled.count
        return (0..<embeddingDimension).map { o in
            var sum = Double(linearBias[o])
            let row = o * inputs
            for i in 0..<inputs { sum += Double(linearWeight[row + i]) * pooled[i] }
            return Float(sum)
        }
    }

    /// One block on the frames [lower, upper) of a `[inChannels, upper − lower]` buffer. At the true ends of
    /// the sequence (0 and `total`) the input is reflect-padded; elsewhere the context frames are consumed.
    private func apply(_ block: Block, _ buffer: [Float], lower: Int, upper: Int, total: Int)
        -> ([Float], Int, Int)
    {
        let width = upper - lower
        let p = block.padding
        let padLeft = lower == 0 ? p : 0
        let padRight = upper == total ? p : 0
        let padded = width + padLeft + padRight
        var input = buffer
        if padLeft > 0 || padRight > 0 {
            input = [Float](repeating: 0, count: block.inChannels * padded)
            for c in 0..<block.inChannels {
                let src = c * width, dst = c * padded
                for t in 0..<width { input[dst + padLeft + t] = buffer[src + t] }
                // torch reflect: [x_p … x_1] x_0 … x_{n−1} [x_{n−2} … x_{n−1−p}]
                for i in 0..<padLeft { input[dst + i] = buffer[src + padLeft - i] }
                for i in 0..<padRight { input[dst + padLeft + width + i] = buffer[src + width - 2 - i] }
            }
        }
        let result = input.withUnsafeBufferPointer { x in
            block.weight.withUnsafeBufferPointer { w in
                block.bias.withUnsafeBufferPointer { b -> (values: [Float], length: Int) in
                    guard let x = x.baseAddress, let w = w.baseAddress, let b = b.baseAddress else { return ([], 0) }
                    return Kernels.conv1d(input: x, cIn: block.inChannels, length: padded,
                                          weight: w, cOut: block.outChannels, kernel: block.kernel,
                                          bias: b, dilation: block.dilation, padding: 0)
                }
            }
        }
        var values = result.values
        let length = result.length
        let slope = activation == .leakyReLU ? Self.leakySlope : 0
        values.withUnsafeMutableBufferPointer { v in
            for c in 0..<block.outChannels {
                let scale = block.scale[c], shift = block.shift[c]
                let row = c * length
                for t in 0..<length {
                    let x = v[row + t]
                    let activated = x >= 0 ? x : x * slope
                    v[row + t] = activated * scale + shift
                }
            }
        }
        let newLower = lower + (padLeft > 0 ? 0 : p)
        let newUpper = upper - (padRight > 0 ? 0 : p)
        return (values, newLower, newUpper)
    }
}
