import ArgumentParser
import Foundation
import SpeechT5

@main
struct SpeechT5Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speecht5",
        abstract: "Text to speech with Microsoft SpeechT5 and HiFi-GAN, on the CPU.",
        subcommands: [Synthesize.self, Bench.self])

    /// Runs the command and turns any error into one line on stderr and exit code 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as SpeechT5Error {
            FileHandle.standardError.write(Data("speecht5: error: \(error.description)\n".utf8))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Speak a text into a WAV file.")

    @Argument(help: "The text to speak. Read from standard input when absent.")
    var text: String?

    @Option(help: "Model directory (config.json, model.safetensors, spm_char.model).")
    var model: String

    @Option(help: "Vocoder directory (config.json, model.safetensors).")
    var vocoder: String

    @Option(help: "Speaker x-vector: .npy (float32/float64) or raw little-endian float32 .bin.")
    var speaker: String

    @Option(name: [.short, .customLong("output")], help: "Output WAV file.")
    var output: String = "speech.wav"

    @Option(help: "Stop when the summed stop probabilities of a step reach this value.")
    var threshold: Float = 0.5

    @Option(name: .customLong("min-len-ratio"), help: "Minimum length: steps ≥ tokens · ratio / reduction factor.")
    var minLenRatio: Double = 0.0

    @Option(name: .customLong("max-len-ratio"), help: "Maximum length: steps ≤ tokens · ratio / reduction factor.")
    var maxLenRatio: Double = 20.0

    @Option(help: "Seed of the pre-net dropout masks (same seed, same audio).")
    var seed: UInt64 = 0

    @Option(name: .customLong("mel-out"), help: "Also write the post-net mel spectrogram (frames × bins, float32 .npy).")
    var melOut: String?

    @Option(name: .customLong("sample-format"), help: "WAV sample format: s16 (16-bit PCM) or f32 (IEEE float).")
    var sampleFormat: SampleFormat = .s16

    @Option(help: "Weight precision: fp32 (exact, the reference's numbers) or bf16 (faster, slightly different audio).")
    var precision: Precision = .fp32

    func run() throws {
        let input = try text ?? readStandardInput()
        let synthesizer = try SpeechSynthesizer(modelDirectory: model, vocoderDirectory: vocoder, precision: precision)
        let speakerVector = try SpeakerEmbeddingFile.load(path: speaker, expectedDimension: synthesizer.speakerDimension)
        let options = GenerationOptions(threshold: threshold, minLengthRatio: minLenRatio, maxLengthRatio: maxLenRatio, seed: seed)
        let speech = try synthesizer.synthesize(input, speaker: speakerVector, options: options)
        if speech.spectrogram.stopReason == .speechPositionLimit {
            FileHandle.standardError.write(Data("speecht5: warning: stopped at max_speech_positions (\(synthesizer.model.config.maxSpeechPositions) steps) before the stop token fired\n".utf8))
        }
        if let melOut {
            try NPYFile.write(speech.spectrogram.mel, shape: [speech.spectrogram.frames, speech.spectrogram.melBins], to: melOut)
        }
        try WAVFile.write(speech.samples, sampleRate: speech.sampleRate, format: sampleFormat, to: output)
        FileHandle.standardError.write(Data(String(format: "wrote %@: %.2f s of audio (%d frames, stopped by %@)\n",
                                                   output, speech.duration, speech.spectrogram.frames,
                                                   speech.spectrogram.stopReason.rawValue).utf8))
    }
}

extension SampleFormat: ExpressibleByArgument {}

/// Reads all of standard input as UTF-8, rejecting invalid bytes with a clear error.
func readStandardInput() throws -> String {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard let text = String(data: data, encoding: .utf8) else {
        throw SpeechT5Error.invalidText(reason: "standard input is not valid UTF-8")
    }
    return text
}
