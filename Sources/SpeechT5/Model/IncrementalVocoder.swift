import Foundation

/// Turns a growing decoder spectrogram into waveform chunks that join into exactly the one-shot waveform.
///
/// The post-net and HiFi-GAN are convolutions, so an output sample depends only on a bounded window of
/// frames. Each chunk is computed on a window that extends `context` frames beyond the chunk on both sides
/// (clipped at the sequence start, where the one-shot path pads with zeros as well), and only the samples of
/// the chunk's own frames are kept. Near the end of the sequence nothing is emitted until generation has
/// finished, because the one-shot path pads there too.
struct IncrementalVocoder {
    let postnet: PostNet
    let vocoder: HiFiGAN
    /// Frames on each side that a refined (post-net) frame depends on.
    let postnetContext: Int
    /// Frames on each side that a waveform sample depends on.
    let vocoderContext: Int
    /// Frames whose samples have been emitted.
    private(set) var emittedFrames = 0

    init(postnet: PostNet, vocoder: HiFiGAN) {
        self.postnet = postnet
        self.vocoder = vocoder
        postnetContext = postnet.receptiveHalfWidth
        vocoderContext = vocoder.receptiveHalfWidthInFrames
    }

    /// Samples that are final given the first `available` decoder frames (`frames` is `[available, n_mel]`).
    /// Emits nothing until at least `minimumChunk` new frames are final, unless `isFinal` flushes the rest.
    mutating func advance(frames: [Float], available: Int, isFinal: Bool, minimumChunk: Int = 1) -> [Float] {
        let melBins = postnet.melBins
        let end = isFinal ? available : available - postnetContext - vocoderContext
        guard end > emittedFrames, isFinal || end - emittedFrames >= minimumChunk else { return [] }
        let start = emittedFrames
        let vocoderStart = max(0, start - vocoderContext)
        let vocoderEnd = isFinal ? available : min(available, end + vocoderContext)
        let refineStart = max(0, vocoderStart - postnetContext)
        let refineEnd = isFinal ? available : min(available, vocoderEnd + postnetContext)
        let refined = postnet.refine(Array(frames[(refineStart * melBins)..<(refineEnd * melBins)]),
                                     frames: refineEnd - refineStart)
        let window = Array(refined[((vocoderStart - refineStart) * melBins)..<((vocoderEnd - refineStart) * melBins)])
        let waveform = vocoder(window, frames: vocoderEnd - vocoderStart)
        // The vocoder is shift-equivariant with stride `hop`: window sample j is global sample j + vocoderStart·hop.
        let hop = vocoder.hopLength
        let offset = vocoderStart * hop
        let firstSample = start * hop
        let lastSample = isFinal ? vocoder.sampleCount(frames: available) : end * hop
        emittedFrames = end
        return Array(waveform[(firstSample - offset)..<(lastSample - offset)])
    }
}

extension PostNet {
    /// Frames on each side that one refined frame depends on: `(K − 1) / 2` per convolution.
    var receptiveHalfWidth: Int {
        convolutions.reduce(0) { $0 + ($1.kernelSize - 1) / 2 * $1.dilation }
    }
}

extension HiFiGAN {
    /// Samples per mel frame (the product of the upsample rates).
    public var hopLength: Int { config.upsampleRates.reduce(1, *) }

    /// A bound on the frames on each side that one output sample depends on, from the layer shapes:
    /// walked backwards from `conv_post` through each stage's residual blocks and transposed convolution.
    var receptiveHalfWidthInFrames: Int {
        var width = 3                                            // conv_post, kernel 7
        for (stage, (rate, kernel)) in zip(config.upsampleRates, config.upsampleKernelSizes).enumerated().reversed() {
            _ = stage
            let blocks = zip(config.resblockKernelSizes, config.resblockDilationSizes).map { k, dilations in
                dilations.reduce(0) { $0 + (k - 1) / 2 * $1 + (k - 1) / 2 }
            }
            width += blocks.max() ?? 0
            width = (width + kernel + rate - 1) / rate + 1       // back through the transposed convolution
        }
        return width + 3 + 1                                     // conv_pre, kernel 7, and one frame of margin
    }
}
