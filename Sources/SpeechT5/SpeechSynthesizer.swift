import Foundation

/// Synthesized speech: the waveform and how it was made.
public struct Speech: Sendable {
    /// Mono samples in [-1, 1]; empty when no vocoder was loaded.
    public let samples: [Float]
    /// Sample rate of `samples` in Hz (the vocoder's `sampling_rate`).
    public let sampleRate: Int
    /// The spectrogram of each piece the text was split into, in order.
    public let pieces: [SpokenPiece]

    /// Duration of the audio in seconds.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }

    /// The spectrogram of a single-piece text (the first piece otherwise).
    public var spectrogram: Spectrogram { pieces[0].spectrogram }
}

/// One piece of a text, as it was spoken.
public struct SpokenPiece: Sendable {
    /// The text of the piece after normalization.
    public let text: String
    /// Its token ids (EOS included).
    public let tokenIds: [Int]
    /// Its post-net spectrogram and how generation ended.
    public let spectrogram: Spectrogram
}

/// Options of `SpeechSynthesizer` beyond the generation arguments.
public struct SynthesisOptions: Sendable, Equatable {
    /// Stop threshold, length ratios and dropout seed.
    public var generation = GenerationOptions()
    /// How the text is normalized before tokenizing: `full` spells numbers and symbols in English,
    /// `reference` reproduces transformers' `normalize=True`, `off` feeds the raw text to the tokenizer.
    public var normalization: TextNormalization = .full
    /// Speak sentence by sentence (true) or keep a text that fits the model whole (false). `nil` follows
    /// the normalization: `full` splits, `off` and `reference` keep the text whole, like the reference.
    /// Text longer than the model accepts is always split.
    public var splitSentences: Bool? = nil
    /// Silence inserted after a sentence, in seconds.
    public var sentencePause = 0.3
    /// Silence inserted after a clause that had to be split off a long sentence, in seconds.
    public var clausePause = 0.12

    public init(generation: GenerationOptions = .init(), normalization: TextNormalization = .full,
                splitSentences: Bool? = nil, sentencePause: Double = 0.3, clausePause: Double = 0.12) {
        self.generation = generation
        self.normalization = normalization
        self.splitSentences = splitSentences
        self.sentencePause = sentencePause
        self.clausePause = clausePause
    }
}

/// How far a synthesis has come, for progress displays.
public struct SynthesisProgress: Sendable {
    /// Pieces (sentences or clauses) finished, over all texts of the call.
    public let piecesDone: Int
    /// Pieces in all.
    public let piecesTotal: Int
    /// Seconds of audio generated so far.
    public let audioSeconds: Double
}

/// A chunk of a streamed synthesis.
public struct AudioChunk: Sendable {
    /// Mono samples in [-1, 1], continuing the previous chunk.
    public let samples: [Float]
    /// Sample rate in Hz.
    public let sampleRate: Int
}

/// Text to speech with SpeechT5 and HiFi-GAN: the library's entry point.
///
/// ```swift
/// let synthesizer = try SpeechSynthesizer(modelDirectory: "speecht5_tts", vocoderDirectory: "speecht5_hifigan")
/// let speaker = try SpeakerEmbeddingFile.load(path: "slt.npy", expectedDimension: synthesizer.speakerDimension)
/// let speech = try synthesizer.synthesize("Hello there.", speaker: speaker)
/// try WAVFile.write(speech.samples, sampleRate: speech.sampleRate, format: .s16, to: "hello.wav")
/// ```
public final class SpeechSynthesizer: Sendable {
    /// The text tokenizer (`spm_char.model` and added tokens).
    public let tokenizer: SpeechT5Tokenizer
    /// The acoustic model.
    public let model: SpeechT5Model
    /// The vocoder, if one was loaded.
    public let vocoder: HiFiGAN?

    /// Loads a model directory (`config.json`, `model.safetensors`, `spm_char.model`, tokenizer files) and,
    /// optionally, a vocoder directory (`config.json`, `model.safetensors`), in `precision` (`.fp32`: the
    /// reference's numbers; `.bf16`: weights in bfloat16, about twice as fast, slightly different audio;
    /// `.int8`: the decoder's weights and the vocoder's residual blocks in int8, the fastest, a little further
    /// from the reference).
    public init(modelDirectory: String, vocoderDirectory: String?, precision: Precision = .fp32) throws {
        guard FileManager.default.fileExists(atPath: modelDirectory) else {
            throw SpeechT5Error.fileNotFound(path: modelDirectory)
        }
        tokenizer = try SpeechT5Tokenizer(directory: modelDirectory)
        model = try SpeechT5Model(directory: modelDirectory, precision: precision)
        vocoder = try vocoderDirectory.map { try HiFiGAN(directory: $0, precision: precision) }
        if let vocoder, vocoder.config.modelInDim != model.config.numMelBins {
            throw SpeechT5Error.invalidConfig(
                path: ((vocoderDirectory ?? "") as NSString).appendingPathComponent("config.json"), field: "model_in_dim",
                reason: "vocoder takes \(vocoder.config.modelInDim) mel bins but the model makes \(model.config.numMelBins)")
        }
        if tokenizer.vocabularySize > model.config.vocabSize {
            throw SpeechT5Error.invalidConfig(
                path: (modelDirectory as NSString).appendingPathComponent("config.json"), field: "vocab_size",
                reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model embeds only \(model.config.vocabSize)")
        }
    }

    /// Length of the speaker x-vector the model takes.
    public var speakerDimension: Int { model.config.speakerEmbeddingDim }

    /// Sample rate of the waveform (0 without a vocoder).
    public var sampleRate: Int { vocoder?.config.samplingRate ?? 0 }

    // MARK: Text

    /// Normalizes and splits `text` into pieces that fit the model, each with its token ids.
    func pieces(of text: String, options: SynthesisOptions) throws -> [(piece: TextPiece, ids: [Int])] {
        var frontEnd = TextFrontEnd(normalization: options.normalization, tokenizer: tokenizer)
        if let split = options.splitSentences { frontEnd.splitOptions.packSentences = !split }
        let pieces = try frontEnd.pieces(text, maxTokens: model.config.maxTextPositions) { tokenizer.encode($0).count }
        return pieces.map { ($0, tokenizer.encode($0.text)) }
    }

    /// Silence after a piece, in samples.
    func pause(after piece: TextPiece, isLast: Bool, options: SynthesisOptions) -> Int {
        guard !isLast else { return 0 }
        let seconds = piece.endsSentence ? options.sentencePause : options.clausePause
        return max(0, Int((seconds * Double(sampleRate)).rounded()))
    }

    /// Generation options of piece `index`: each piece draws its own dropout masks, so that a long text
    /// does not repeat one mask pattern, while a one-piece text uses the seed as given.
    func generationOptions(_ options: SynthesisOptions, piece index: Int) -> GenerationOptions {
        var generation = options.generation
        generation.seed = options.generation.seed &+ UInt64(index)
        return generation
    }

    // MARK: Synthesis

    /// Synthesizes `text`: normalizes it, splits it into pieces that fit the model, generates every piece
    /// in one decoder batch and joins their waveforms with short pauses.
    public func synthesize(_ text: String, speaker: [Float], options: SynthesisOptions = .init(),
                           progress: ((SynthesisProgress) -> Void)? = nil) throws -> Speech {
        guard let result = synthesize(batch: [(text, speaker)], options: options, progress: progress).first else {
            throw SpeechT5Error.invalidText(reason: "the text is empty")
        }
        return try result.get()
    }

    /// Synthesizes several texts (each with its own speaker) in one decoder batch. Every result equals the
    /// text's own synthesis; a text that fails (empty, unspeakable, bad speaker) fails alone.
    public func synthesize(batch requests: [(text: String, speaker: [Float])], options: SynthesisOptions = .init(),
                           progress: ((SynthesisProgress) -> Void)? = nil) -> [Result<Speech, Error>] {
        // Every piece of every text becomes one row of the batch.
        var prepared: [Result<[(piece: TextPiece, ids: [Int])], Error>] = []
        var rows: [(ids: [Int], speaker: [Float], options: GenerationOptions)] = []
        for request in requests {
            let result = Result { try pieces(of: request.text, options: options) }
            prepared.append(result)
            if case .success(let pieces) = result {
                for (index, piece) in pieces.enumerated() {
                    rows.append((piece.ids, request.speaker, generationOptions(options, piece: index)))
                }
            }
        }
        let secondsPerFrame = vocoder.map { Double($0.hopLength) / Double($0.config.samplingRate) } ?? 0
        let total = rows.count
        var spectrograms = model.generate(batch: rows) { finished, frames in
            progress?(SynthesisProgress(piecesDone: finished, piecesTotal: total, audioSeconds: Double(frames) * secondsPerFrame))
        }.makeIterator()
        return prepared.map { preparedText in
            Result {
                let pieces = try preparedText.get()
                var spoken: [SpokenPiece] = []
                var failure: Error?
                for piece in pieces {
                    switch spectrograms.next() {
                    case .success(let spectrogram)?:
                        spoken.append(SpokenPiece(text: piece.piece.text, tokenIds: piece.ids, spectrogram: spectrogram))
                    case .failure(let error)?: failure = failure ?? error
                    case nil: break
                    }
                }
                if let failure { throw failure }
                return assemble(spoken, pieces: pieces.map(\.piece), options: options)
            }
        }
    }

    /// Vocodes each piece and joins them with pauses.
    func assemble(_ spoken: [SpokenPiece], pieces: [TextPiece], options: SynthesisOptions) -> Speech {
        var samples: [Float] = []
        if let vocoder {
            for (index, piece) in spoken.enumerated() {
                samples += vocoder(piece.spectrogram.mel, frames: piece.spectrogram.frames)
                samples += [Float](repeating: 0, count: pause(after: pieces[index], isLast: index == spoken.count - 1, options: options))
            }
        }
        return Speech(samples: samples, sampleRate: sampleRate, pieces: spoken)
    }

    // MARK: Streaming

    /// Streams the audio of `text` as it is generated. The chunks join into the same waveform as
    /// `synthesize` (within float rounding). Cancelling the consuming task stops generation at the next step.
    /// - Parameters:
    ///   - firstChunkFrames: frames in the first chunk, emitted as soon as they are final.
    ///   - chunkFrames: the largest chunk. Between the two, each chunk holds at least as many frames as all
    ///     the chunks before it (8, 8, 16, 32, …, 256, 256, …), so that a player that started on the first
    ///     chunk gets the next one before it runs out, even though every chunk waits for its right-hand
    ///     context. Large chunks keep the cost of that context (recomputed on both sides) small.
    public func stream(_ text: String, speaker: [Float], options: SynthesisOptions = .init(),
                       firstChunkFrames: Int = 8, chunkFrames: Int = 256) -> AsyncThrowingStream<AudioChunk, Error> {
        AsyncThrowingStream { continuation in
            let cancelled = CancellationFlag()
            continuation.onTermination = { _ in cancelled.set() }
            let thread = Thread { [self] in
                do {
                    try self.generateStreaming(text, speaker: speaker, options: options,
                                               firstChunkFrames: firstChunkFrames, chunkFrames: chunkFrames,
                                               isCancelled: { cancelled.isSet }) { samples in
                        continuation.yield(AudioChunk(samples: samples, sampleRate: self.sampleRate))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// The synchronous core of `stream`: calls `emit` with each chunk, in order, on the calling thread.
    public func generateStreaming(_ text: String, speaker: [Float], options: SynthesisOptions = .init(),
                                  firstChunkFrames: Int = 8, chunkFrames: Int = 256,
                                  isCancelled: () -> Bool = { false }, emit: ([Float]) -> Void) throws {
        let stream = try PieceStream(synthesizer: self, text: text, speaker: speaker, options: options,
                                     firstChunkFrames: firstChunkFrames, chunkFrames: chunkFrames)
        while let sequence = stream.sequence {
            if isCancelled() { return }
            model.step([sequence])
            stream.collect().forEach(emit)
        }
        if let failure = stream.failure { throw failure }
    }
}

/// One text being streamed piece by piece: the current piece's decoder sequence, its windowed post-net
/// and vocoder, and the pauses between pieces. `SpeechSynthesizer.generateStreaming` steps it alone; the
/// scheduler steps many of them in one batch.
final class PieceStream: @unchecked Sendable {
    private let synthesizer: SpeechSynthesizer
    private let vocoder: HiFiGAN
    private let speaker: [Float]
    private let options: SynthesisOptions
    private let firstChunkFrames: Int
    private let chunkFrames: Int
    private let pieces: [(piece: TextPiece, ids: [Int])]
    private var pieceIndex = 0
    private var incremental: IncrementalVocoder
    private var emittedAny = false
    /// The sequence to step next; nil once every piece is done or a piece could not start.
    private(set) var sequence: DecoderSequence?
    /// Why a later piece could not start (the audio before it has been handed out).
    private(set) var failure: Error?

    /// Prepares the pieces of `text` and the first piece's sequence (text, speaker or vocoder problems throw).
    init(synthesizer: SpeechSynthesizer, text: String, speaker: [Float], options: SynthesisOptions,
         firstChunkFrames: Int, chunkFrames: Int) throws {
        guard let vocoder = synthesizer.vocoder else {
            throw SpeechT5Error.invalidArgument(name: "vocoder", reason: "streaming needs a vocoder")
        }
        self.synthesizer = synthesizer
        self.vocoder = vocoder
        self.speaker = speaker
        self.options = options
        self.firstChunkFrames = max(1, firstChunkFrames)
        self.chunkFrames = max(1, chunkFrames)
        pieces = try synthesizer.pieces(of: text, options: options)
        incremental = IncrementalVocoder(postnet: synthesizer.model.postnet, vocoder: vocoder)
        try startPiece()
    }

    private func startPiece() throws {
        sequence = try synthesizer.model.makeSequence(
            ids: pieces[pieceIndex].ids, speaker: speaker,
            options: synthesizer.generationOptions(options, piece: pieceIndex))
        incremental = IncrementalVocoder(postnet: synthesizer.model.postnet, vocoder: vocoder)
    }

    /// The audio the last step made final, in order (a chunk, then a pause when a piece ended), moving on
    /// to the next piece when the current one has finished.
    func collect() -> [[Float]] {
        guard let sequence else { return [] }
        var out: [[Float]] = []
        let chunk = incremental.advance(frames: sequence.frames,
                                        available: sequence.steps * synthesizer.model.config.reductionFactor,
                                        isFinal: sequence.isFinished,
                                        minimumChunk: emittedAny ? min(chunkFrames, max(firstChunkFrames, incremental.emittedFrames))
                                                                 : firstChunkFrames)
        if !chunk.isEmpty {
            out.append(chunk)
            emittedAny = true
        }
        guard sequence.isFinished else { return out }
        let isLast = pieceIndex == pieces.count - 1
        let silence = synthesizer.pause(after: pieces[pieceIndex].piece, isLast: isLast, options: options)
        if silence > 0 { out.append([Float](repeating: 0, count: silence)) }
        self.sequence = nil
        if !isLast {
            pieceIndex += 1
            do { try startPiece() } catch { failure = error }
        }
        return out
    }
}

/// A thread-safe one-way flag.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
