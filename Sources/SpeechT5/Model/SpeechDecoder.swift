import Foundation

/// The speech-decoder pre-net: an MLP over the previous mel frame with the inference-time dropout,
/// a projection to the model width, `alpha · PE`, and fusion with the L2-normalized speaker vector.
struct SpeechDecoderPrenet: Sendable {
    let layers: [Linear]              // n_mel → P → … → P, each followed by ReLU and dropout
    let finalLayer: Linear            // P → H
    let positionScale: Float          // encode_positions.alpha
    let positions: [Float]            // [maxSpeechPositions, H]
    let speakerFusion: Linear         // [hidden ‖ speaker] (H + S) → H, then ReLU
    let hidden: Int
    let speakerDim: Int

    init(_ store: WeightStore, config c: SpeechT5Config) throws {
        let prefix = "speecht5.decoder.prenet"
        layers = try (0..<c.speechDecoderPrenetLayers).map { j in
            try Linear(store, "\(prefix).layers.\(j)", in: j == 0 ? c.numMelBins : c.speechDecoderPrenetUnits,
                       out: c.speechDecoderPrenetUnits)
        }
        finalLayer = try Linear(store, "\(prefix).final_layer", in: c.speechDecoderPrenetUnits, out: c.hiddenSize)
        positionScale = try store.scalar("\(prefix).encode_positions.alpha")
        positions = sinusoidalPositions(count: c.maxSpeechPositions, dim: c.hiddenSize)
        speakerFusion = try Linear(store, "\(prefix).speaker_embeds_layer", in: c.hiddenSize + c.speakerEmbeddingDim, out: c.hiddenSize)
        hidden = c.hiddenSize
        speakerDim = c.speakerEmbeddingDim
    }

    /// The pre-net output for the newest position of each row.
    /// - Parameters:
    ///   - frames: the last fed-back frame of each row, `[rows, n_mel]` (zeros at step 0).
    ///   - speakers: L2-normalized speaker vectors, `[rows, S]`.
    ///   - steps: each row's decoder step, which is also its speech position.
    ///   - dropouts: each row's dropout generator (rows with the same seed and step share a mask).
    func callAsFunction(frames: [Float], speakers: [Float], steps: [Int], dropouts: [PrenetDropout]) -> [Float] {
        let rows = steps.count
        var z = frames
        for (j, layer) in layers.enumerated() {
            z = layer(z, rows: rows)
            Kernels.apply(&z) { max($0, 0) }
            for r in 0..<rows {
                dropouts[r].apply(to: &z, row: r, units: layer.outFeatures, step: steps[r], layer: j)
            }
        }
        z = finalLayer(z, rows: rows)
        let width = hidden + speakerDim
        var fused = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows {
            let position = steps[r] * hidden
            for d in 0..<hidden {
                fused[r * width + d] = z[r * hidden + d] + positionScale * positions[position + d]
            }
            for d in 0..<speakerDim {
                fused[r * width + hidden + d] = speakers[r * speakerDim + d]
            }
        }
        var out = speakerFusion(fused, rows: rows)
        Kernels.apply(&out) { max($0, 0) }
        return out
    }

    /// `s / max(‖s‖₂, 1e-12)`, as `F.normalize`.
    static func normalizeSpeaker(_ s: [Float]) -> [Float] {
        var sumOfSquares: Float = 0
        for v in s { sumOfSquares += v * v }
        let norm = max(sumOfSquares.squareRoot(), 1e-12)
        return s.map { $0 / norm }
    }
}

/// The post-norm speech-decoder stack (no input or final LayerNorm), run one position at a time with a
/// key/value cache. Each row of a batch has its own cache, so rows may attend to encoders of different
/// lengths.
struct SpeechDecoder: Sendable {
    /// One post-norm decoder layer: causal self-attention, cross-attention over the encoder, feed-forward.
    struct Layer: Sendable {
        let selfAttention: MultiHeadAttention
        let selfAttentionNorm: LayerNorm
        let crossAttention: MultiHeadAttention
        let crossAttentionNorm: LayerNorm
        let feedForward: FeedForward
        let outputNorm: LayerNorm
    }

    let layers: [Layer]
    let hidden: Int

    init(_ store: WeightStore, config c: SpeechT5Config) throws {
        let activation = Activation(configName: c.hiddenAct) ?? .geluErf
        hidden = c.hiddenSize
        layers = try (0..<c.decoderLayers).map { i in
            let p = "speecht5.decoder.wrapped_decoder.layers.\(i)"
            return Layer(
                selfAttention: try MultiHeadAttention(store, "\(p).self_attn", hidden: c.hiddenSize, heads: c.decoderAttentionHeads),
                selfAttentionNorm: try LayerNorm(store, "\(p).self_attn_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps),
                crossAttention: try MultiHeadAttention(store, "\(p).encoder_attn", hidden: c.hiddenSize, heads: c.decoderAttentionHeads),
                crossAttentionNorm: try LayerNorm(store, "\(p).encoder_attn_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps),
                feedForward: try FeedForward(store, "\(p).feed_forward", hidden: c.hiddenSize, inner: c.decoderFfnDim, activation: activation),
                outputNorm: try LayerNorm(store, "\(p).final_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps))
        }
    }

    /// Per-row state: the encoder's keys and values (projected once) and the growing self-attention
    /// cache. A class, so that a batch can gather its rows' caches without copying them.
    final class Cache: @unchecked Sendable {
        let crossKeys: [[Float]]       // per layer, [encoderLength, H]
        let crossValues: [[Float]]
        let encoderLength: Int
        let encoderKeyIsValid: [Bool]?
        var selfKeys: [[Float]]        // per layer, [capacity, H]
        var selfValues: [[Float]]
        var length = 0
        let capacity: Int

        init(crossKeys: [[Float]], crossValues: [[Float]], encoderLength: Int, encoderKeyIsValid: [Bool]?,
             layers: Int, hidden: Int, capacity: Int) {
            self.crossKeys = crossKeys
            self.crossValues = crossValues
            self.encoderLength = encoderLength
            self.encoderKeyIsValid = encoderKeyIsValid
            self.capacity = capacity
            selfKeys = (0..<layers).map { _ in [Float](repeating: 0, count: capacity * hidden) }
            selfValues = (0..<layers).map { _ in [Float](repeating: 0, count: capacity * hidden) }
        }
    }

    /// Projects the encoder output once for every layer's cross-attention.
    func makeCache(encoderOutput: [Float], encoderLength: Int, keyIsValid: [Bool]?, capacity: Int) -> Cache {
        Cache(crossKeys: layers.map { $0.crossAttention.keyProjection(encoderOutput, rows: encoderLength) },
              crossValues: layers.map { $0.crossAttention.valueProjection(encoderOutput, rows: encoderLength) },
              encoderLength: encoderLength, encoderKeyIsValid: keyIsValid,
              layers: layers.count, hidden: hidden, capacity: capacity)
    }

    /// Runs one position for `caches.count` rows: `input [rows, H]` → last layer output `[rows, H]`.
    /// Every cache must have room for one more position.
    func step(_ input: [Float], caches: [Cache]) -> [Float] {
        let rows = caches.count
        var h = input
        for (l, layer) in layers.enumerated() {
            // Self-attention over all cached positions, this one included.
            let q = layer.selfAttention.queries(h, rows: rows)
            let k = layer.selfAttention.keyProjection(h, rows: rows)
            let v = layer.selfAttention.valueProjection(h, rows: rows)
            var context = [Float](repeating: 0, count: rows * hidden)
            for r in 0..<rows {
                let position = caches[r].length
                let slot = position * hidden
                caches[r].selfKeys[l].replaceSubrange(slot..<(slot + hidden), with: k[(r * hidden)..<((r + 1) * hidden)])
                caches[r].selfValues[l].replaceSubrange(slot..<(slot + hidden), with: v[(r * hidden)..<((r + 1) * hidden)])
                let rowContext = layer.selfAttention.attend(
                    queries: Array(q[(r * hidden)..<((r + 1) * hidden)]), queryCount: 1,
                    keys: caches[r].selfKeys[l], values: caches[r].selfValues[l], keyCount: position + 1)
                context.replaceSubrange((r * hidden)..<((r + 1) * hidden), with: rowContext)
            }
            var attended = layer.selfAttention.outputProjection(context, rows: rows)
            for i in h.indices { h[i] += attended[i] }
            layer.selfAttentionNorm(&h)

            // Cross-attention over the encoder output.
            let crossQ = layer.crossAttention.queries(h, rows: rows)
            for r in 0..<rows {
                let rowContext = layer.crossAttention.attend(
                    queries: Array(crossQ[(r * hidden)..<((r + 1) * hidden)]), queryCount: 1,
                    keys: caches[r].crossKeys[l], values: caches[r].crossValues[l], keyCount: caches[r].encoderLength,
                    keyIsValid: caches[r].encoderKeyIsValid)
                context.replaceSubrange((r * hidden)..<((r + 1) * hidden), with: rowContext)
            }
            attended = layer.crossAttention.outputProjection(context, rows: rows)
            for i in h.indices { h[i] += attended[i] }
            layer.crossAttentionNorm(&h)

            let transformed = layer.feedForward(h, rows: rows)
            for i in h.indices { h[i] += transformed[i] }
            layer.outputNorm(&h)
        }
        for r in 0..<rows { caches[r].length += 1 }
        return h
    }
}
