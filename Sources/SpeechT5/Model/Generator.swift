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
        if threshold.isNaN {
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

/// One sequence being decoded: its encoder state, KV cache, the frames so far and the stop rule.
/// Sequences are stepped together in a batch (`SpeechT5Model.step`) and leave it as soon as they stop.
final class DecoderSequence: @unchecked Sendable {
    let tokenCount: Int
    let speaker: [Float]              // L2-normalized
    let dropout: PrenetDropout
    let minSteps: Int
    let maxSteps: Int
    let threshold: Float
    let cache: SpeechDecoder.Cache
    /// The frame fed to the next step: zeros first, then the last frame of each step's group.
    var lastFrame: [Float]
    /// Frames before the post-net, `[steps · r, n_mel]`.
    var frames: [Float] = []
    var steps = 0
    var stopReason: StopReason?
    var trace: GenerationTrace?

    var isFinished: Bool { stopReason != nil }

    init(tokenCount: Int, speaker: [Float], dropout: PrenetDropout, minSteps: Int, maxSteps: Int,
         threshold: Float, cache: SpeechDecoder.Cache, melBins: Int, trace: GenerationTrace?) {
        self.tokenCount = tokenCount
        self.speaker = speaker
        self.dropout = dropout
        self.minSteps = minSteps
        self.maxSteps = maxSteps
        self.threshold = threshold
        self.cache = cache
        self.lastFrame = [Float](repeating: 0, count: melBins)
        self.trace = trace
    }
}

extension SpeechT5Model {
    /// Checks `ids` against the model's limits and encodes them (one sequence, no padding).
    func encode(_ ids: [Int]) throws -> [Float] {
        guard !ids.isEmpty else { throw SpeechT5Error.invalidText(reason: "no tokens to encode") }
        guard ids.count <= config.maxTextPositions else {
            throw SpeechT5Error.invalidText(reason: "\(ids.count) tokens; the model accepts at most \(config.maxTextPositions) (max_text_positions)")
        }
        if let (position, id) = ids.enumerated().first(where: { $0.element < 0 || $0.element >= config.vocabSize }) {
            throw SpeechT5Error.invalidText(reason: "token id \(id) at position \(position) is outside the vocabulary (vocab_size \(config.vocabSize))")
        }
        return encoder(ids, keyIsValid: keyMask(ids))
    }

    /// The reference derives the encoder mask from the pad id, so a literal "<pad>" in the text is masked out.
    func keyMask(_ ids: [Int]) -> [Bool]? {
        let valid = ids.map { $0 != config.padTokenId }
        return valid.allSatisfy { $0 } ? nil : valid
    }

    /// Encodes the text and prepares a sequence for decoding.
    func makeSequence(ids: [Int], speaker: [Float], options: GenerationOptions, tracing: Bool = false) throws -> DecoderSequence {
        try options.validate()
        guard speaker.count == config.speakerEmbeddingDim else {
            throw SpeechT5Error.invalidSpeaker(reason: "has \(speaker.count) values, the model expects \(config.speakerEmbeddingDim)")
        }
        guard speaker.allSatisfy(\.isFinite) else { throw SpeechT5Error.invalidSpeaker(reason: "contains NaN or infinite values") }
        let encoderOutput = try encode(ids)
        let r = Double(config.reductionFactor)
        let tokens = Double(ids.count)
        var trace: GenerationTrace? = nil
        if tracing { trace = GenerationTrace(encoderOutput: encoderOutput) }
        // Python's int() truncates; clamping first keeps absurd ratios from trapping the conversion.
        func steps(_ ratio: Double) -> Int { Int(min(tokens * ratio / r, Double(Int32.max))) }
        let minSteps = steps(options.minLengthRatio), maxSteps = steps(options.maxLengthRatio)
        // The cache only needs room for the steps this sequence can take (at least one, at most the table).
        let capacity = min(config.maxSpeechPositions, max(1, minSteps, maxSteps))
        return DecoderSequence(
            tokenCount: ids.count,
            speaker: SpeechDecoderPrenet.normalizeSpeaker(speaker),
            dropout: PrenetDropout(probability: config.speechDecoderPrenetDropout, seed: options.seed),
            minSteps: minSteps,
            maxSteps: maxSteps,
            threshold: options.threshold,
            cache: decoder.makeCache(encoderOutput: encoderOutput, encoderLength: ids.count,
                                     keyIsValid: keyMask(ids), capacity: capacity),
            melBins: config.numMelBins, trace: trace)
    }

    /// Runs one decoder step for every unfinished sequence in `batch`, sharing the weight reads between
    /// rows, and applies each row's stop rule exactly as `_generate_speech`.
    func step(_ batch: [DecoderSequence]) {
        let active = batch.filter { !$0.isFinished }
        guard !active.isEmpty else { return }
        let rows = active.count
        let r = config.reductionFactor
        let melBins = config.numMelBins
        let input = prenet(frames: active.flatMap(\.lastFrame), speakers: active.flatMap(\.speaker),
                           steps: active.map(\.steps), dropouts: active.map(\.dropout))
        let output = decoder.step(input, caches: active.map(\.cache))
        let frames = postnet.frames(output, rows: rows)
        let probabilities = postnet.stopProbabilities(output, rows: rows)
        let hidden = config.hiddenSize
        for (row, sequence) in active.enumerated() {
            let rowFrames = frames[(row * r * melBins)..<((row + 1) * r * melBins)]
            let rowProbabilities = Array(probabilities[(row * r)..<((row + 1) * r)])
            if sequence.trace != nil {
                sequence.trace?.prenetOutputs.append(Array(input[(row * hidden)..<((row + 1) * hidden)]))
                sequence.trace?.decoderOutputs.append(Array(output[(row * hidden)..<((row + 1) * hidden)]))
                sequence.trace?.stopProbabilities.append(rowProbabilities)
            }
            sequence.frames.append(contentsOf: rowFrames)
            sequence.lastFrame = Array(rowFrames.suffix(melBins))   // feed back only the last of the r frames
            sequence.steps += 1
            let step = sequence.steps
            if step >= sequence.minSteps {
                if step >= sequence.maxSteps {
                    sequence.stopReason = .maxLength
                } else if rowProbabilities.reduce(0, +) >= sequence.threshold {
                    sequence.stopReason = .stopToken
                }
            }
            // §13: where the reference would index past its position table, stop as if the token fired.
            if sequence.stopReason == nil && step >= min(config.maxSpeechPositions, sequence.cache.capacity) {
                sequence.stopReason = .speechPositionLimit
            }
        }
    }

    /// The post-net spectrogram of a finished sequence.
    func spectrogram(of sequence: DecoderSequence) -> Spectrogram {
        let frames = sequence.steps * config.reductionFactor
        return Spectrogram(mel: postnet.refine(sequence.frames, frames: frames), melBeforePostnet: sequence.frames,
                           frames: frames, melBins: config.numMelBins, steps: sequence.steps,
                           stopReason: sequence.stopReason ?? .maxLength)
    }

    /// Generates the spectrogram of one token sequence exactly as `_generate_speech` does for a batch of
    /// one, with the pre-net dropout of SPEECHT5.md §13 and a graceful stop at `max_speech_positions`.
    public func generate(ids: [Int], speaker: [Float], options: GenerationOptions = .init()) throws -> Spectrogram {
        var untraced: GenerationTrace? = nil
        return try generate(ids: ids, speaker: speaker, options: options, trace: &untraced)
    }

    func generate(ids: [Int], speaker: [Float], options: GenerationOptions, trace: inout GenerationTrace?) throws -> Spectrogram {
        let sequence = try makeSequence(ids: ids, speaker: speaker, options: options, tracing: trace != nil)
        while !sequence.isFinished { step([sequence]) }
        trace = sequence.trace
        return spectrogram(of: sequence)
    }

    /// Generates several sequences in one decoder batch. Unlike the reference, each row keeps its own
    /// length limits (from its own token count) and leaves the batch when it stops, so every row equals
    /// its unbatched generation. A row that cannot start (bad text or speaker) fails alone.
    /// - Parameter onStep: called after every decoder step with the number of finished rows and the
    ///   frames generated so far over all rows.
    public func generate(batch requests: [(ids: [Int], speaker: [Float], options: GenerationOptions)],
                         onStep: ((_ finishedRows: Int, _ frames: Int) -> Void)? = nil) -> [Result<Spectrogram, Error>] {
        let sequences: [Result<DecoderSequence, Error>] = requests.map { request in
            Result { try makeSequence(ids: request.ids, speaker: request.speaker, options: request.options) }
        }
        let running = sequences.compactMap { try? $0.get() }
        while running.contains(where: { !$0.isFinished }) {
            step(running)
            onStep?(running.filter(\.isFinished).count, running.reduce(0) { $0 + $1.steps } * config.reductionFactor)
        }
        return sequences.map { $0.map { spectrogram(of: $0) } }
    }
}
