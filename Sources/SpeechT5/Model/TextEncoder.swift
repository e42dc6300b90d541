import CKernels
import Foundation

/// The text encoder: token embeddings plus `alpha · PE` (no √H scaling), one LayerNorm before the first
/// layer, then post-norm transformer layers with a relative position bias and no final LayerNorm.
struct TextEncoder: Sendable {
    /// One post-norm encoder layer.
    struct Layer: Sendable {
        let selfAttention: MultiHeadAttention
        let attentionNorm: LayerNorm
        let feedForward: FeedForward
        let outputNorm: LayerNorm
    }

    let hidden: Int
    let innerDim: Int
    let tokenEmbedding: Tensor        // [vocab, hidden]
    let positionScale: Float          // encode_positions.alpha
    let positions: [Float]            // [maxTextPositions, hidden]
    let maxPositions: Int
    let inputNorm: LayerNorm
    let relativeBias: RelativePositionBias
    let layers: [Layer]

    init(_ store: WeightStore, config c: SpeechT5Config, precision: Precision = .fp32) throws {
        let prefix = "speecht5.encoder"
        hidden = c.hiddenSize
        innerDim = c.encoderFfnDim
        tokenEmbedding = try store.tensor("\(prefix).prenet.embed_tokens.weight", shape: [c.vocabSize, c.hiddenSize])
        positionScale = try store.scalar("\(prefix).prenet.encode_positions.alpha")
        maxPositions = c.maxTextPositions
        positions = sinusoidalPositions(count: c.maxTextPositions, dim: c.hiddenSize)
        inputNorm = try LayerNorm(store, "\(prefix).wrapped_encoder.layer_norm", dim: c.hiddenSize, eps: c.layerNormEps)
        relativeBias = try RelativePositionBias(store, "\(prefix).wrapped_encoder.embed_positions.pe_k.weight",
                                                maxDistance: c.encoderMaxRelativePosition,
                                                headDim: c.hiddenSize / c.encoderAttentionHeads)
        let activation = Activation(configName: c.hiddenAct) ?? .geluErf
        layers = try (0..<c.encoderLayers).map { i in
            let p = "\(prefix).wrapped_encoder.layers.\(i)"
            return Layer(
                selfAttention: try MultiHeadAttention(store, "\(p).attention", hidden: c.hiddenSize, heads: c.encoderAttentionHeads, precision: precision),
                attentionNorm: try LayerNorm(store, "\(p).layer_norm", dim: c.hiddenSize, eps: c.layerNormEps),
                feedForward: try FeedForward(store, "\(p).feed_forward", hidden: c.hiddenSize, inner: c.encoderFfnDim,
                                             activation: activation, precision: precision),
                outputNorm: try LayerNorm(store, "\(p).final_layer_norm", dim: c.hiddenSize, eps: c.layerNormEps))
        }
    }

    /// Encodes token ids `[T]` into `[T, hidden]`. `keyIsValid` masks padding keys (nil: none).
    /// Ids must be in range and `T ≤ maxPositions`; the caller checks that.
    func callAsFunction(_ ids: [Int], keyIsValid: [Bool]? = nil) -> [Float] {
        let count = ids.count
        var h = [Float](repeating: 0, count: count * hidden)
        for (t, id) in ids.enumerated() {
            for d in 0..<hidden {
                h[t * hidden + d] = tokenEmbedding.scalars[id * hidden + d] + positionScale * positions[t * hidden + d]
            }
        }
        let mask = keyIsValid.map { $0.map { UInt8($0 ? 1 : 0) } }
        let scratch = Scratch(max(4 * count * hidden, count * innerDim))
        h.withUnsafeMutableBufferPointer { hp in
            let x = hp.baseAddress!
            inputNorm.apply(x, rows: count)
            for layer in layers {
                layer.selfAttention.selfAttendAddingResidual(x, rows: count, keyIsValid: mask, relativeBias: relativeBias,
                                                             scratch: scratch.pointer)
                layer.attentionNorm.apply(x, rows: count)
                layer.feedForward.apply(x: x, rows: count, inner: scratch.pointer, y: x, residual: x, bf16Input: .rounded)
                layer.outputNorm.apply(x, rows: count)
            }
        }
        return h
    }
}
