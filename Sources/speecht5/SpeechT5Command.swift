import ArgumentParser
import Foundation
import SpeechT5

@main
struct SpeechT5Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speecht5",
        abstract: "Text to speech with Microsoft SpeechT5 and HiFi-GAN, on the CPU.",
        subcommands: [Synthesize.self, Serve.self])

    /// Runs the command and turns any engine error into one line on stderr and exit code 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as SpeechT5Error {
            printError(error.description)
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("speecht5: error: \(message)\n".utf8))
}

func printWarning(_ message: String) {
    FileHandle.standardError.write(Data("speecht5: warning: \(message)\n".utf8))
}

/// Options shared by the commands that synthesize.
struct GenerationArguments: ParsableArguments {
    @Option(help: "Stop when the summed stop probabilities of a step reach this value.")
    var threshold: Float = 0.5

    @Option(name: .customLong("min-len-ratio"), help: "Minimum length: steps ≥ tokens · ratio / reduction factor.")
    var minLenRatio: Double = 0.0

    @Option(name: .customLong("max-len-ratio"), help: "Maximum length: steps ≤ tokens · ratio / reduction factor.")
    var maxLenRatio: Double = 20.0

    @Option(help: "Seed of the pre-net dropout masks (same seed, same audio).")
    var seed: UInt64 = 0

    @Option(help: "Text front end: full (numbers and symbols spelled in English), reference (transformers' normalize=True), off (raw text).")
    var normalize: TextNormalization = .full

    @Flag(name: .customLong("no-sentence-split"), help: "Speak a text that fits the model in one piece instead of sentence by sentence (as the reference does).")
    var noSentenceSplit = false

    var synthesisOptions: SynthesisOptions {
        SynthesisOptions(generation: GenerationOptions(threshold: threshold, minLengthRatio: minLenRatio,
                                                       maxLengthRatio: maxLenRatio, seed: seed),
                         normalization: normalize, splitSentences: noSentenceSplit ? false : nil)
    }
}

/// Where the model, vocoder and voice come from.
struct ModelArguments: ParsableArguments {
    @Option(help: "Model directory (config.json, model.safetensors, spm_char.model).")
    var model: String

    @Option(help: "Vocoder directory (config.json, model.safetensors).")
    var vocoder: String

    @Option(help: "Speaker x-vector: .npy (float32/float64) or raw little-endian float32 .bin.")
    var speaker: String

    func load() throws -> (SpeechSynthesizer, [Float]) {
        let synthesizer = try SpeechSynthesizer(modelDirectory: model, vocoderDirectory: vocoder)
        let vector = try SpeakerEmbeddingFile.load(path: speaker, expectedDimension: synthesizer.speakerDimension)
        return (synthesizer, vector)
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case wav, pcm
}

struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Speak a text into a WAV file (or stream it to standard output).")

    @Argument(help: "The text to speak. Read from standard input when absent.")
    var text: String?

    @OptionGroup var source: ModelArguments
    @OptionGroup var generation: GenerationArguments

    @Option(name: [.short, .customLong("output")], help: "Output WAV file ('-' for standard output).")
    var output: String = "speech.wav"

    @Option(name: .customLong("mel-out"), help: "Also write the post-net mel spectrogram (frames × bins, float32 .npy; the first piece's).")
    var melOut: String?

    @Option(name: .customLong("sample-format"), help: "Sample format: s16 (16-bit PCM) or f32 (IEEE float).")
    var sampleFormat: SampleFormat = .s16

    @Flag(help: "Write audio to standard output as it is made (a WAV header with an open length, or raw PCM with --format pcm).")
    var stream = false

    @Option(help: "Streamed output format: wav or pcm.")
    var format: OutputFormat = .wav

    @Option(help: "Synthesize every line of FILE ('voice-file<TAB>text' or just text) into numbered WAVs OUTPUT-1.wav, OUTPUT-2.wav, ….")
    var batch: String?

    func validate() throws {
        if batch != nil && (stream || text != nil) {
            throw ValidationError("--batch cannot be combined with a text argument or --stream")
        }
    }

    func run() throws {
        let (synthesizer, speaker) = try source.load()
        let options = generation.synthesisOptions
        if let batch {
            try runBatch(file: batch, synthesizer: synthesizer, defaultSpeaker: speaker, options: options)
            return
        }
        let input = try text ?? readStandardInput()
        if stream {
            try runStreaming(input, synthesizer: synthesizer, speaker: speaker, options: options)
            return
        }
        let progress = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
        let start = Date()
        let speech = try synthesizer.synthesize(input, speaker: speaker, options: options) { status in
            progress.update(status, elapsed: Date().timeIntervalSince(start))
        }
        progress.finish()
        report(speech, synthesizer: synthesizer)
        if let melOut {
            try NPYFile.write(speech.spectrogram.mel, shape: [speech.spectrogram.frames, speech.spectrogram.melBins], to: melOut)
        }
        try WAVFile.write(speech.samples, sampleRate: speech.sampleRate, format: sampleFormat, to: output)
        FileHandle.standardError.write(Data(String(format: "wrote %@: %.2f s of audio in %.2f s (%d piece%@)\n",
                                                   output, speech.duration, Date().timeIntervalSince(start),
                                                   speech.pieces.count, speech.pieces.count == 1 ? "" : "s").utf8))
    }

    func report(_ speech: Speech, synthesizer: SpeechSynthesizer) {
        for piece in speech.pieces where piece.spectrogram.stopReason == .speechPositionLimit {
            printWarning("stopped at max_speech_positions (\(synthesizer.model.config.maxSpeechPositions) steps) before the stop token fired: \"\(piece.text.prefix(40))…\"")
        }
    }

    func runStreaming(_ input: String, synthesizer: SpeechSynthesizer, speaker: [Float], options: SynthesisOptions) throws {
        let out = FileHandle.standardOutput
        if format == .wav { out.write(WAVFile.streamingHeader(sampleRate: synthesizer.sampleRate, format: sampleFormat)) }
        let start = Date()
        var first: TimeInterval?
        var samples = 0
        try synthesizer.generateStreaming(input, speaker: speaker, options: options) { chunk in
            if first == nil { first = Date().timeIntervalSince(start) }
            samples += chunk.count
            out.write(WAVFile.encodeSamples(chunk, format: sampleFormat))
        }
        let seconds = Double(samples) / Double(max(1, synthesizer.sampleRate))
        FileHandle.standardError.write(Data(String(format: "streamed %.2f s of audio; first audio after %.0f ms, done in %.2f s\n",
                                                   seconds, (first ?? 0) * 1000, Date().timeIntervalSince(start)).utf8))
    }

    func runBatch(file: String, synthesizer: SpeechSynthesizer, defaultSpeaker: [Float], options: SynthesisOptions) throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw SpeechT5Error.fileNotFound(path: file) }
        guard let content = String(data: data, encoding: .utf8) else {
            throw SpeechT5Error.invalidFile(path: file, reason: "not valid UTF-8")
        }
        let lines = content.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .enumerated().filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }
        var requests: [(text: String, speaker: [Float])] = []
        var failures: [Int: Error] = [:]
        for (index, line) in lines {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                do {
                    requests.append((parts[1], try SpeakerEmbeddingFile.load(path: parts[0], expectedDimension: synthesizer.speakerDimension)))
                } catch {
                    failures[index] = error
                    requests.append(("", defaultSpeaker))
                }
            } else {
                requests.append((line, defaultSpeaker))
            }
        }
        let results = synthesizer.synthesize(batch: requests, options: options)
        let base = (output as NSString).deletingPathExtension
        var failed = 0
        for (n, ((index, _), result)) in zip(lines, results).enumerated() {
            let path = "\(base)-\(n + 1).wav"
            do {
                if let error = failures[index] { throw error }
                let speech = try result.get()
                try WAVFile.write(speech.samples, sampleRate: speech.sampleRate, format: sampleFormat, to: path)
                FileHandle.standardError.write(Data(String(format: "wrote %@: %.2f s\n", path, speech.duration).utf8))
            } catch {
                failed += 1
                printError("\(file):\(index + 1): \(error)")
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

extension SampleFormat: ExpressibleByArgument {}
extension TextNormalization: ExpressibleByArgument {}

/// Reads all of standard input as UTF-8, rejecting invalid bytes with a clear error.
func readStandardInput() throws -> String {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard let text = String(data: data, encoding: .utf8) else {
        throw SpeechT5Error.invalidText(reason: "standard input is not valid UTF-8")
    }
    return text
}

/// A one-line progress display on a terminal; silent otherwise.
final class ProgressBar {
    let enabled: Bool
    private var lastDraw = Date.distantPast

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ status: SynthesisProgress, elapsed: TimeInterval) {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let width = 24
        let fraction = status.piecesTotal > 0 ? Double(status.piecesDone) / Double(status.piecesTotal) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let speed = elapsed > 0 ? status.audioSeconds / elapsed : 0
        FileHandle.standardError.write(Data(String(format: "\r%@ %d/%d pieces, %.1f s of audio, %.1fx real time ",
                                                   bar, status.piecesDone, status.piecesTotal, status.audioSeconds, speed).utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
