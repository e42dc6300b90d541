import CKernels
import Foundation

/// The speech-decoder pre-net: an MLP over the previous mel frame with the inference-time dropout,
/// a projection to the model width, `alpha · PE`, and fusion with the L2-normalized speaker vector.
struct SpeechDecoderPrenet: Sendable {
    let layers: [Linear]              // n_mel → P → … → P, each followed by ReLU and dropout
    let finalLayer: Linear            // P → H
    let positionScale: Float          // encode_positions.alpha
    let positions: SinusoidalPositions // [maxSpeechPositions, H], rows computed on demand
    let speakerFusion: Linear         // [hidden ‖ speaker] (H + S) → H, then ReLU
    let hidden: Int
    let speakerDim: Int

    init(_ store: WeightStore, config c: SpeechT5Config, precision: Precision = .fp32) throws {
        let prefix = "speecht5.decoder.prenet"
        layers = try (0..<c.speechDecoderPrenetLayers).map { j in
            try Linear(store, "\(prefix).layers.\(j)", in: j == 0 ? c.numMelBins : c.speechDecoderPrenetUnits,
                       out: c.speechDecoderPrenetUnits, precision: precision)
        }
        finalLayer = try Linear(store, "\(prefix).final_layer", in: c.speechDecoderPrenetUnits, out: c.hiddenSize, precision: precision)
        positionScale = try store.scalar("\(prefix).encode_positions.alpha")
        positions = SinusoidalPositions(count: c.maxSpeechPositions, dim: c.hiddenSize)
        speakerFusion = try Linear(store, "\(prefix).speaker_embeds_layer", in: c.hiddenSize + c.speakerEmbeddingDim,
                                   out: c.hiddenSize, precision: precision)
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
            z = layer(z, rows: rows, activation: Int32(CK_ACT_RELU))
            for r in 0..<rows {
                dropouts[r].apply(to: &z, row: r, units: layer.outFeatures, step: steps[r], layer: j)
            }
        }
        z = finalLayer(z, rows: rows)
        let width = hidden + speakerDim
        var fused = [Float](repeating: 0, count: rows * width)
        fused.withUnsafeMutableBufferPointer { f in
            for r in 0..<rows {
                let row = f.baseAddress! + r * width
                for d in 0..<hidden { row[d] = z[r * hidden + d] }
                positions.add(position: steps[r], scale: positionScale, to: row)
                for d in 0..<speakerDim { row[hidden + d] = speakers[r * speakerDim + d] }
            }
        }
        return speakerFusion(fused, rows: rows, activation: Int32(CK_ACT_RELU))
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
/// lengths; the rows of a step share every weight read.
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
    let innerDim: Int
    /// Keys and values cached in bf16 (the reduced precisions) instead of float32.
    let cachesBF16: Bool

    init(_ store: WeightStore, config c: SpeechT5Config, precision: Precision = .fp32) throws {
        cachesBF16 = precision != .fp32
        let activation = Activation(configName: c.hiddenAct) ?? .geluErf
        hidden = c.hiddenSize
        innerDim = c.decoderFfnDim
        layers = try (0..<c.decoderLayers).map { i in
            let p = "speecht5.decoder.wrapped_decoder.layers.\(i)"
            return Layer(
                selfAttention: try MultiHeadAttention(store, "\(p).self_attn", hidden: c.hiddenSize, heads: c.decoderAttentionHeads, precision: precision),
                selfAttentionNorm: try LayerNorm(store, "\(p).self_attn_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps),
                crossAttention: try MultiHeadAttention(store, "\(p).encoder_attn", hidden: c.hiddenSize, heads: c.decoderAttentionHeads,
                                                   precision: precision, keyValuePrecision: precision.computeBound),
                crossAttentionNorm: try LayerNorm(store, "\(p).encoder_attn_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps),
                feedForward: try FeedForward(store, "\(p).feed_forward", hidden: c.hiddenSize, inner: c.decoderFfnDim,
                                             activation: activation, precision: precision),
                outputNorm: try LayerNorm(store, "\(p).final_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps))
        }
    }

    /// Per-row state: the encoder's keys and values (projected once) and the growing self-attention
    /// cache, all head-major (``HeadMajorCache``), bf16 in the reduced precisions. The self-attention cache
    /// is reserved for `capacity` positions but only the pages written become resident memory.
    final class Cache: @unchecked Sendable {
        let crossKeys: [HeadMajorCache]       // per layer
        let crossValues: [HeadMajorCache]
        let encoderLength: Int
        let encoderKeyIsValid: [UInt8]?
        let selfKeys: [HeadMajorCache]        // per layer
        let selfValues: [HeadMajorCache]
        var length = 0
        let capacity: Int

        init(crossKeys: [HeadMajorCache], crossValues: [HeadMajorCache], encoderLength: Int, encoderKeyIsValid: [Bool]?,
             selfKeys: [HeadMajorCache], selfValues: [HeadMajorCache], capacity: Int) {
            self.crossKeys = crossKeys
            self.crossValues = crossValues
            self.encoderLength = encoderLength
            self.encoderKeyIsValid = encoderKeyIsValid.map { $0.map { UInt8($0 ? 1 : 0) } }
            self.capacity = capacity
            self.selfKeys = selfKeys
            self.selfValues = selfValues
        }
    }

    /// Projects the encoder output once for every layer's cross-attention.
    func makeCache(encoderOutput: [Float], encoderLength: Int, keyIsValid: [Bool]?, capacity: Int) -> Cache {
        let bf16 = cachesBF16
        let projected = (0..<2 * layers.count).map { _ in Scratch(encoderLength * hidden) }
        encoderOutput.withUnsafeBufferPointer { e in
            var arguments: [ck_linear_args] = []
            for (l, layer) in layers.enumerated() {
                arguments.append(layer.crossAttention.keyProjection.arguments(x: e.baseAddress!, rows: encoderLength, y: projected[2 * l].pointer,
                                                                             bf16Input: .rounded))
                arguments.append(layer.crossAttention.valueProjection.arguments(x: e.baseAddress!, rows: encoderLength,
                                                                               y: projected[2 * l + 1].pointer, bf16Input: .rounded))
            }
            runLinear(arguments)
        }
        var keys: [HeadMajorCache] = [], values: [HeadMajorCache] = []
        for (l, layer) in layers.enumerated() {
            let attention = layer.crossAttention
            let k = attention.makeCache(capacity: encoderLength, bf16: bf16), v = attention.makeCache(capacity: encoderLength, bf16: bf16)
            k.store(projected[2 * l].pointer, rows: encoderLength, at: 0)
            v.store(projected[2 * l + 1].pointer, rows: encoderLength, at: 0)
            keys.append(k)
            values.append(v)
        }
        withExtendedLifetime(projected) {}
        return Cache(crossKeys: keys, crossValues: values, encoderLength: encoderLength, encoderKeyIsValid: keyIsValid,
                     selfKeys: layers.map { $0.selfAttention.makeCache(capacity: capacity, bf16: bf16) },
                     selfValues: layers.map { $0.selfAttention.makeCache(capacity: capacity, bf16: bf16) },
                     capacity: capacity)
    }

    /// Runs one position for `caches.count` rows: `input [rows, H]` → last layer output `[rows, H]`.
    /// Every cache must have room for one more position.
    func step(_ input: [Float], caches: [Cache]) -> [Float] {
        let rows = caches.count
        let hidden = self.hidden
        var h = input
        let scratch = Scratch(rows * (4 * hidden + innerDim))
        let q = scratch.pointer, k = q + rows * hidden, v = k + rows * hidden, context = v + rows * hidden
        let inner = context + rows * hidden
        h.withUnsafeMutableBufferPointer { hp in
            let x = hp.baseAddress!
            for (l, layer) in layers.enumerated() {
                // Self-attention over all cached positions, this one included.
                let attention = layer.selfAttention
                runLinear([attention.queryArguments(x: x, rows: rows, y: q, bf16Input: .split),
                           attention.keyProjection.arguments(x: x, rows: rows, y: k, bf16Input: .split),
                           attention.valueProjection.arguments(x: x, rows: rows, y: v, bf16Input: .split)])
                var problems: [ck_attention_args] = []
                problems.reserveCapacity(rows)
                for r in 0..<rows {
                    let cache = caches[r]
                    cache.selfKeys[l].store(k + r * hidden, rows: 1, at: cache.length)
                    cache.selfValues[l].store(v + r * hidden, rows: 1, at: cache.length)
                    problems.append(HeadMajorCache.problem(q: q + r * hidden, keys: cache.selfKeys[l], values: cache.selfValues[l],
                                                               out: context + r * hidden, count: cache.length + 1))
                }
                attention.attend(problems: problems)
                attention.outputProjection.apply(x: context, rows: rows, y: x, residual: x, bf16Input: .split)
                layer.selfAttentionNorm.apply(x, rows: rows)

                // Cross-attention over the encoder output.
                let cross = layer.crossAttention
                var crossArguments = cross.queryArguments(x: x, rows: rows, y: q, bf16Input: .split)
                ck_linear(&crossArguments, 1)
                problems.removeAll(keepingCapacity: true)
                for r in 0..<rows {
                    problems.append(HeadMajorCache.problem(q: q + r * hidden, keys: caches[r].crossKeys[l], values: caches[r].crossValues[l],
                                                           out: context + r * hidden, count: caches[r].encoderLength))
                }
                cross.attend(problems: problems, keyIsValid: caches.map(\.encoderKeyIsValid))
                cross.outputProjection.apply(x: context, rows: rows, y: x, residual: x, bf16Input: .split)
                layer.crossAttentionNorm.apply(x, rows: rows)

                layer.feedForward.apply(x: x, rows: rows, inner: inner, y: x, residual: x, bf16Input: .split)
                layer.outputNorm.apply(x, rows: rows)
            }
        }
        withExtendedLifetime(caches) {}
        withExtendedLifetime(scratch) {}
        for r in 0..<rows { caches[r].length += 1 }
        return h
    }
}
