import Foundation

/// Synthesized speech: the spectrogram and, when a vocoder is loaded, the waveform.
public struct Speech: Sendable {
    /// The post-net spectrogram and how generation ended.
    public let spectrogram: Spectrogram
    /// Mono samples in [-1, 1]; empty when no vocoder was loaded.
    public let samples: [Float]
    /// Sample rate of `samples` in Hz (the vocoder's `sampling_rate`).
    public let sampleRate: Int
    /// The token ids the text was encoded to (EOS included).
    public let tokenIds: [Int]

    /// Duration of the audio in seconds.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }
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
    /// reference's numbers; `.bf16`: weights in bfloat16, about twice as fast, slightly different audio).
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
    }

    /// Length of the speaker x-vector the model takes.
    public var speakerDimension: Int { model.config.speakerEmbeddingDim }

    /// Sample rate of the waveform (0 without a vocoder).
    public var sampleRate: Int { vocoder?.config.samplingRate ?? 0 }

    /// Tokenizes `text`, generates its spectrogram and, with a vocoder, its waveform.
    public func synthesize(_ text: String, speaker: [Float], options: GenerationOptions = .init()) throws -> Speech {
        let trimmed = text.unicodeScalars.filter { !$0.properties.isWhitespace }
        guard !trimmed.isEmpty else { throw SpeechT5Error.invalidText(reason: "the text is empty") }
        let ids = tokenizer.encode(text)
        let spectrogram = try model.generate(ids: ids, speaker: speaker, options: options)
        let samples = vocoder.map { $0(spectrogram.mel, frames: spectrogram.frames) } ?? []
        return Speech(spectrogram: spectrogram, samples: samples, sampleRate: sampleRate, tokenIds: ids)
    }
}
