import Foundation

/// Arguments of the autoregressive generation, as `generate_speech` takes them.
public struct GenerationOptions: Sendable, Equatable {
    /// Stop when the sum of a step's `r` stop probabilities reaches this value.
    public var threshold: Float = 0.5
    /// No stop check before `Int(T · minLengthRatio / r)` steps (T = tokens including EOS).
    public var minLengthRatio: Double = 0.0
    /// Forced stop at `Int(T · maxLengthRatio / r)` steps.
    public var maxLengthRatio: Double = 20.0
    /// Seed of the pre-net dropout masks (SPEECHT5.md §13).
    public var seed: UInt64 = 0

    public init(threshold: Float = 0.5, minLengthRatio: Double = 0.0, maxLengthRatio: Double = 20.0, seed: UInt64 = 0) {
        self.threshold = threshold
        self.minLengthRatio = minLengthRatio
        self.maxLengthRatio = maxLengthRatio
        self.seed = seed
    }

    func validate() throws {
        if !threshold.isFinite && threshold != .infinity {
            throw SpeechT5Error.invalidArgument(name: "threshold", reason: "must be a number, got \(threshold)")
        }
        if !(minLengthRatio >= 0 && minLengthRatio.isFinite) {
            throw SpeechT5Error.invalidArgument(name: "min-len-ratio", reason: "must be a finite number ≥ 0, got \(minLengthRatio)")
        }
        if !(maxLengthRatio >= 0 && maxLengthRatio.isFinite) {
            throw SpeechT5Error.invalidArgument(name: "max-len-ratio", reason: "must be a finite number ≥ 0, got \(maxLengthRatio)")
        }
    }
}

/// Why generation of a sequence ended.
public enum StopReason: String, Sendable, Equatable {
    /// The stop probabilities reached the threshold.
    case stopToken = "stop_token"
    /// `maxLengthRatio` forced the stop.
    case maxLength = "max_length"
    /// The decoder reached `max_speech_positions`, where the reference would crash (§13).
    case speechPositionLimit = "speech_position_limit"
}

/// A generated spectrogram.
public struct Spectrogram: Sendable {
    /// Post-net output, `[frames, melBins]` row-major: what `generate_speech` returns.
    public var mel: [Float]
    /// The decoder's frames before the post-net, same shape.
    public var melBeforePostnet: [Float]
    /// Number of frames (`steps · r`).
    public var frames: Int
    /// Mel bins per frame.
    public var melBins: Int
    /// Decoder steps taken.
    public var steps: Int
    /// Why generation ended.
    public var stopReason: StopReason
}

/// Intermediate values of one generation, for parity tests and debugging.
struct GenerationTrace {
    var encoderOutput: [Float] = []
    var prenetOutputs: [[Float]] = []
    var decoderOutputs: [[Float]] = []
    var stopProbabilities: [[Float]] = []
}

extension SpeechT5Model {
    /// Encodes `ids` (one sequence, no padding) and checks them against the model's limits.
    func encode(_ ids: [Int]) throws -> [Float] {
        guard !ids.isEmpty else { throw SpeechT5Error.invalidText(reason: "no tokens to encode") }
        guard ids.count <= config.maxTextPositions else {
            throw SpeechT5Error.invalidText(reason: "\(ids.count) tokens; the model accepts at most \(config.maxTextPositions) (max_text_positions)")
        }
        if let (position, id) = ids.enumerated().first(where: { $0.element < 0 || $0.element >= config.vocabSize }) {
            throw SpeechT5Error.invalidText(reason: "token id \(id) at position \(position) is outside the vocabulary (vocab_size \(config.vocabSize))")
        }
        // The reference derives the mask from the pad id: a literal "<pad>" in the text is masked out.
        let keyIsValid = ids.map { $0 != config.padTokenId }
        return encoder(ids, keyIsValid: keyIsValid.allSatisfy { $0 } ? nil : keyIsValid)
    }

    /// Generates the spectrogram of one token sequence exactly as `_generate_speech` does for a batch of
    /// one, with the pre-net dropout of SPEECHT5.md §13 and a graceful stop at `max_speech_positions`.
    public func generate(ids: [Int], speaker: [Float], options: GenerationOptions = .init()) throws -> Spectrogram {
        var trace: GenerationTrace? = nil
        return try generate(ids: ids, speaker: speaker, options: options, trace: &trace)
    }

    func generate(ids: [Int], speaker: [Float], options: GenerationOptions, trace: inout GenerationTrace?) throws -> Spectrogram {
        try options.validate()
        guard speaker.count == config.speakerEmbeddingDim else {
            throw SpeechT5Error.invalidSpeaker(reason: "has \(speaker.count) values, the model expects \(config.speakerEmbeddingDim)")
        }
        guard speaker.allSatisfy(\.isFinite) else { throw SpeechT5Error.invalidSpeaker(reason: "contains NaN or infinite values") }

        let encoderOutput = try encode(ids)
        trace?.encoderOutput = encoderOutput
        let r = config.reductionFactor
        let melBins = config.numMelBins
        let tokens = ids.count
        let maxSteps = Int(Double(tokens) * options.maxLengthRatio / Double(r))
        let minSteps = Int(Double(tokens) * options.minLengthRatio / Double(r))
        let capacity = config.maxSpeechPositions
        let keyIsValid = ids.map { $0 != config.padTokenId }
        var caches = [decoder.makeCache(encoderOutput: encoderOutput, encoderLength: tokens,
                                        keyIsValid: keyIsValid.allSatisfy { $0 } ? nil : keyIsValid,
                                        capacity: capacity)]
        let speakerUnit = SpeechDecoderPrenet.normalizeSpeaker(speaker)
        let dropout = PrenetDropout(probability: config.speechDecoderPrenetDropout, seed: options.seed)

        var frame = [Float](repeating: 0, count: melBins)     // the all-zero first input
        var spectrogram: [Float] = []
        var step = 0
        var reason = StopReason.maxLength
        while true {
            let decoderInput = prenet(frames: frame, speakers: speakerUnit, rows: 1, step: step, dropout: dropout)
            let output = decoder.step(decoderInput, caches: &caches)
            let frames = postnet.frames(output, rows: 1)
            let probabilities = postnet.stopProbabilities(output, rows: 1)
            trace?.prenetOutputs.append(decoderInput)
            trace?.decoderOutputs.append(output)
            trace?.stopProbabilities.append(probabilities)
            spectrogram.append(contentsOf: frames)
            frame = Array(frames[((r - 1) * melBins)...])       // feed back only the last of the r frames
            step += 1
            if step >= minSteps {
                if step >= maxSteps { reason = .maxLength; break }
                var total: Float = 0
                for p in probabilities { total += p }
                if total >= options.threshold { reason = .stopToken; break }
            }
            if step >= capacity { reason = .speechPositionLimit; break }
        }
        let frames = step * r
        let refined = postnet.refine(spectrogram, frames: frames)
        return Spectrogram(mel: refined, melBeforePostnet: spectrogram, frames: frames, melBins: melBins,
                           steps: step, stopReason: reason)
    }
}
