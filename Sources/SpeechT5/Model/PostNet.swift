import CKernels
import Foundation

/// The speech-decoder post-net's step heads and its convolutional refinement.
///
/// `featureProjection` turns a decoder output into `r` mel frames and `stopProjection` into `r` stop
/// logits. The convolutional stack runs once over the whole spectrogram after generation and is added as
/// a residual; batch norm (eval mode) is folded into each convolution at load time.
struct PostNet: Sendable {
    let featureProjection: Linear     // feat_out: H → n_mel · r
    let stopProjection: Linear        // prob_out: H → r
    let convolutions: [Conv1d]        // n_mel → Q → … → Q → n_mel, batch norm folded in
    let melBins: Int
    let reductionFactor: Int

    init(_ store: WeightStore, config c: SpeechT5Config) throws {
        let prefix = "speech_decoder_postnet"
        melBins = c.numMelBins
        reductionFactor = c.reductionFactor
        featureProjection = try Linear(store, "\(prefix).feat_out", in: c.hiddenSize, out: c.numMelBins * c.reductionFactor)
        stopProjection = try Linear(store, "\(prefix).prob_out", in: c.hiddenSize, out: c.reductionFactor)
        let count = c.speechDecoderPostnetLayers
        let k = c.speechDecoderPostnetKernel
        convolutions = try (0..<count).map { j in
            let cIn = j == 0 ? c.numMelBins : c.speechDecoderPostnetUnits
            let cOut = j == count - 1 ? c.numMelBins : c.speechDecoderPostnetUnits
            let p = "\(prefix).layers.\(j)"
            let weight = try store.tensor("\(p).conv.weight", shape: [cOut, cIn, k])
            let gamma = try store.tensor("\(p).batch_norm.weight", shape: [cOut])
            let beta = try store.tensor("\(p).batch_norm.bias", shape: [cOut])
            let mean = try store.tensor("\(p).batch_norm.running_mean", shape: [cOut])
            let variance = try store.tensor("\(p).batch_norm.running_var", shape: [cOut])
            // BN(conv(x)) = conv(x)·a + b with a = γ/√(var+ε), b = β − mean·a: fold a into the weights.
            var folded = weight.scalars
            var bias = [Float](repeating: 0, count: cOut)
            for o in 0..<cOut {
                let a = gamma.scalars[o] / (variance.scalars[o] + 1e-5).squareRoot()
                for i in (o * cIn * k)..<((o + 1) * cIn * k) { folded[i] *= a }
                bias[o] = beta.scalars[o] - mean.scalars[o] * a
            }
            return Conv1d(weight: WeightMatrix(rows: cOut, columns: cIn * k, copying: folded, precision: .fp32),
                          bias: FloatBuffer(bias), inChannels: cIn, kernelSize: k, padding: (k - 1) / 2)
        }
    }

    /// The `r` mel frames `[rows, r · n_mel]` predicted from decoder outputs `[rows, H]`.
    func frames(_ decoderOutput: [Float], rows: Int) -> [Float] { featureProjection(decoderOutput, rows: rows) }

    /// The `r` stop probabilities `[rows, r]` (sigmoid of the logits).
    func stopProbabilities(_ decoderOutput: [Float], rows: Int) -> [Float] {
        stopProjection(decoderOutput, rows: rows, activation: Int32(CK_ACT_SIGMOID))
    }

    /// Refines a spectrogram `[frames, n_mel]`: `X + convs(X)`, tanh after every layer but the last.
    func refine(_ spectrogram: [Float], frames: Int) -> [Float] {
        guard frames > 0 else { return spectrogram }
        // To channels-first [n_mel, frames].
        var h = [Float](repeating: 0, count: spectrogram.count)
        for t in 0..<frames { for m in 0..<melBins { h[m * frames + t] = spectrogram[t * melBins + m] } }
        for (j, conv) in convolutions.enumerated() {
            h = conv(h, length: frames).values
            if j < convolutions.count - 1 {
                h.withUnsafeMutableBufferPointer { ck_activation($0.baseAddress!, $0.count, Int32(CK_ACT_TANH), 0) }
            }
        }
        var out = spectrogram
        for t in 0..<frames { for m in 0..<melBins { out[t * melBins + m] += h[m * frames + t] } }
        return out
    }
}
