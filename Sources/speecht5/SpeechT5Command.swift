import ArgumentParser
import Foundation
import SpeechT5

@main
struct SpeechT5Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speecht5",
        abstract: "Text to speech with Microsoft SpeechT5 and HiFi-GAN, on the CPU.",
        discussion: """
            Start with 'speecht5 say "Hello there."': the model (microsoft/speecht5_tts), the vocoder \
            (microsoft/speecht5_hifigan) and the default voice are fetched from the Hugging Face hub on first \
            use into the cache Python's huggingface_hub uses, and speech.wav is written.
            """,
        subcommands: [Say.self, Synthesize.self, Voices.self, VoiceCommand.self, Convert.self, Bench.self, Serve.self])

    /// Runs the command and turns any engine or hub error into one line on stderr and exit code 1.
    static func main() {
        // A file-size limit (ulimit -f) must fail the write with EFBIG, not kill the process halfway.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as SpeechT5Error {
            printError(error.description)
            Foundation.exit(1)
        } catch let error as HubError {
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

/// Where the model, vocoder and voice come from. Every part has a default, so `speecht5 say "Hi."` needs
/// nothing else: the hub's `microsoft/speecht5_tts` and `microsoft/speecht5_hifigan`, and the `slt` voice
/// from `spkrec-xvect.zip` of `Matthijs/cmu-arctic-xvectors`, fetched into the hub cache on first use.
struct ModelArguments: ParsableArguments {
    static let defaultModel = "microsoft/speecht5_tts"
    static let defaultVocoder = "microsoft/speecht5_hifigan"

    @Option(help: ArgumentHelp("Model: a local directory (config.json, model.safetensors or pytorch_model.bin, spm_char.model) or a hub repo id.",
                               valueName: "dir-or-repo"))
    var model: String = ModelArguments.defaultModel

    @Option(help: ArgumentHelp("Branch, tag or commit of the --model repo (default: main).", valueName: "rev"))
    var revision: String?

    @Option(help: ArgumentHelp("Vocoder: a local directory (config.json, model.safetensors or pytorch_model.bin) or a hub repo id.",
                               valueName: "dir-or-repo"))
    var vocoder: String = ModelArguments.defaultVocoder

    @Option(name: .customLong("vocoder-revision"), help: ArgumentHelp("Branch, tag or commit of the --vocoder repo (default: main).", valueName: "rev"))
    var vocoderRevision: String?

    @Option(help: ArgumentHelp("Voice: a preset (\(VoicePresets.all.map(\.name).joined(separator: ", "))), one of your voices ('speecht5 voices'), or SPEAKER_UTTERANCE such as bdl_b0001 (default: \(VoicePresets.defaultPreset.name)).",
                               valueName: "name"))
    var voice: String?

    @Option(help: ArgumentHelp("Speaker x-vector file instead of a voice: .npy (float32/float64) or raw little-endian float32 .bin.", valueName: "file"))
    var speaker: String?

    @Option(help: "Weight precision: fp32 (exact, the reference's numbers), bf16 (faster, slightly different audio) or int8 (int8 decoder weights and vocoder residual blocks, the rest bf16: fastest, a little further from the reference).")
    var precision: Precision = .fp32

    func validate() throws {
        if voice != nil && speaker != nil {
            throw ValidationError("give either --voice or --speaker, not both")
        }
    }

    /// The arguments as plain values.
    var sources: SpeechSources {
        SpeechSources(model: model, revision: revision, vocoder: vocoder, vocoderRevision: vocoderRevision,
                      voice: voice, speaker: speaker, precision: precision)
    }

    /// Resolves and loads, for async callers (see ``SpeechSources``).
    func loadAsync() async throws -> (SpeechSynthesizer, [Float]) {
        try SpeechSources.load(try await sources.resolve(), precision: precision)
    }

    /// The same, blocking the calling (non-async) thread while the hub is asked.
    func load() throws -> (SpeechSynthesizer, [Float]) {
        let sources = self.sources
        return try SpeechSources.load(try blockingWait { try await sources.resolve() }, precision: precision)
    }
}

/// Where the model, vocoder and voice come from, as given (local directories or hub repo ids, a voice name
/// or an x-vector file).
struct SpeechSources: Sendable {
    var model = ModelArguments.defaultModel
    var revision: String?
    var vocoder = ModelArguments.defaultVocoder
    var vocoderRevision: String?
    var voice: String?
    var speaker: String?
    var precision: Precision = .fp32

    /// What the sources resolved to: local directories and a voice ready to load.
    struct Resolved: Sendable {
        let modelDirectory: String
        let vocoderDirectory: String
        let voice: VoiceSource
        /// The cached `spkrec-xvect.zip`, when the voice is in it.
        let archivePath: String?
    }

    /// Resolves the model, vocoder and voice, fetching what is missing from the hub (configured from the
    /// environment: HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HOME, HF_HUB_OFFLINE). The voice name is checked
    /// before anything is downloaded.
    func resolve(hub: HubClient = HubClient(), voices: VoiceResolver = VoiceResolver()) async throws -> Resolved {
        let source = try voices.source(voice: voice, speaker: speaker)
        let modelDirectory = try await Self.directory(model, revision: revision, role: "model", hub: hub)
        let vocoderDirectory = try await Self.directory(vocoder, revision: vocoderRevision, role: "vocoder", hub: hub)
        var archivePath: String?
        if case .archive = source {
            archivePath = try await hub.speakerEmbeddingArchive()
        }
        return Resolved(modelDirectory: modelDirectory, vocoderDirectory: vocoderDirectory, voice: source,
                        archivePath: archivePath)
    }

    static func directory(_ argument: String, revision: String?, role: String, hub: HubClient) async throws -> String {
        do {
            return try await hub.resolveModelDirectory(argument, revision: revision)
        } catch HubError.invalidArgument(let name, let value, let reason) where name == "model" {
            throw HubError.invalidArgument(name: role, value: value, reason: reason)
        }
    }

    /// Loads the synthesizer and the voice's x-vector from resolved sources.
    static func load(_ resolved: Resolved, precision: Precision = .fp32, voices: VoiceResolver = VoiceResolver()) throws -> (SpeechSynthesizer, [Float]) {
        let synthesizer = try SpeechSynthesizer(modelDirectory: resolved.modelDirectory, vocoderDirectory: resolved.vocoderDirectory,
                                                precision: precision)
        let vector = try voices.load(resolved.voice, expectedDimension: synthesizer.speakerDimension) {
            guard let path = resolved.archivePath else {
                throw SpeechT5Error.invalidArgument(name: "voice", reason: "the voice archive was not fetched")
            }
            return path
        }
        return (synthesizer, vector)
    }
}

/// Holds the result of an async operation for ``blockingWait(_:)``.
private final class BlockingResult<T: Sendable>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// Runs `operation` on the concurrency runtime and blocks the calling thread until it finishes. Only for
/// synchronous command entry points (never call it from async code).
func blockingWait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let box = BlockingResult<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do {
            box.result = .success(try await operation())
        } catch {
            box.result = .failure(error)
        }
        done.signal()
    }
    done.wait()
    guard let result = box.result else {
        throw SpeechT5Error.invalidArgument(name: "internal", reason: "an asynchronous step ended without a result")
    }
    return try result.get()
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case wav, pcm
}

/// Where and how the audio goes; shared by `say` and `synthesize`.
struct OutputArguments: ParsableArguments {
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
}

/// Writes a finished WAV. A plain path is written atomically (a temporary file renamed into place, so a
/// failure leaves nothing behind); `-` is standard output; a device, pipe or socket that already exists
/// (`/dev/null`, `/dev/stdout`, a FIFO), or anything under /dev or /proc, is written straight through, never
/// replaced by a rename.
func writeWAV(_ speech: Speech, to path: String, format: SampleFormat) throws {
    if path == "-" {
        try writeThrough(WAVFile.encode(speech.samples, sampleRate: speech.sampleRate, format: format),
                         to: FileHandle.standardOutput, path: path)
        return
    }
    var info = stat()
    if stat(path, &info) == 0 {
        let kind = info.st_mode & S_IFMT
        let special = kind == S_IFCHR || kind == S_IFIFO || kind == S_IFSOCK || kind == S_IFBLK
        if special || ((path.hasPrefix("/dev/") || path.hasPrefix("/proc/")) && kind != S_IFDIR) {
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw SpeechT5Error.writeFailed(path: path, reason: "cannot open for writing")
            }
            defer { try? handle.close() }
            try writeThrough(WAVFile.encode(speech.samples, sampleRate: speech.sampleRate, format: format), to: handle, path: path)
            return
        }
    }
    try WAVFile.write(speech.samples, sampleRate: speech.sampleRate, format: format, to: path)
}

private func writeThrough(_ data: Data, to handle: FileHandle, path: String) throws {
    do {
        try handle.write(contentsOf: data)
    } catch {
        throw SpeechT5Error.writeFailed(path: path, reason: error.localizedDescription)
    }
}

/// The synthesis run shared by `say` and `synthesize`.
struct SpeechRun {
    let generation: GenerationArguments
    let out: OutputArguments

    func speak(_ input: String, synthesizer: SpeechSynthesizer, speaker: [Float]) throws {
        let options = generation.synthesisOptions
        if out.stream {
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
        if let melOut = out.melOut {
            try NPYFile.write(speech.spectrogram.mel, shape: [speech.spectrogram.frames, speech.spectrogram.melBins], to: melOut)
        }
        try writeWAV(speech, to: out.output, format: out.sampleFormat)
        FileHandle.standardError.write(Data(String(format: "wrote %@: %.2f s of audio in %.2f s (%d piece%@)\n",
                                                   out.output, speech.duration, Date().timeIntervalSince(start),
                                                   speech.pieces.count, speech.pieces.count == 1 ? "" : "s").utf8))
    }

    func report(_ speech: Speech, synthesizer: SpeechSynthesizer) {
        for piece in speech.pieces where piece.spectrogram.stopReason == .speechPositionLimit {
            printWarning("stopped at max_speech_positions (\(synthesizer.model.config.maxSpeechPositions) steps) before the stop token fired: \"\(piece.text.prefix(40))…\"")
        }
    }

    func runStreaming(_ input: String, synthesizer: SpeechSynthesizer, speaker: [Float], options: SynthesisOptions) throws {
        let stdout = FileHandle.standardOutput
        if out.format == .wav { stdout.write(WAVFile.streamingHeader(sampleRate: synthesizer.sampleRate, format: out.sampleFormat)) }
        let start = Date()
        var first: TimeInterval?
        var samples = 0
        try synthesizer.generateStreaming(input, speaker: speaker, options: options) { chunk in
            if first == nil { first = Date().timeIntervalSince(start) }
            samples += chunk.count
            stdout.write(WAVFile.encodeSamples(chunk, format: out.sampleFormat))
        }
        let seconds = Double(samples) / Double(max(1, synthesizer.sampleRate))
        FileHandle.standardError.write(Data(String(format: "streamed %.2f s of audio; first audio after %.0f ms, done in %.2f s\n",
                                                   seconds, (first ?? 0) * 1000, Date().timeIntervalSince(start)).utf8))
    }
}

struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speak a text into a WAV file (or stream it to standard output).",
        discussion: """
            Like 'say', with batch mode. Without --model/--vocoder/--voice/--speaker it uses the hub's \
            microsoft/speecht5_tts and microsoft/speecht5_hifigan and the slt voice, fetched on first use.
            """)

    @Argument(help: "The text to speak. Read from standard input when absent.")
    var text: String?

    @OptionGroup var source: ModelArguments
    @OptionGroup var generation: GenerationArguments
    @OptionGroup var out: OutputArguments

    @Option(help: "Synthesize every line of FILE ('voice<TAB>text', the voice a name or an x-vector file, or just text) into numbered WAVs OUTPUT-1.wav, OUTPUT-2.wav, ….")
    var batch: String?

    func validate() throws {
        if batch != nil && (out.stream || text != nil) {
            throw ValidationError("--batch cannot be combined with a text argument or --stream")
        }
    }

    func run() throws {
        // Read the text first: a bad input fails before anything is downloaded.
        let input = batch == nil ? try text ?? readStandardInput() : ""
        if batch == nil, input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw SpeechT5Error.invalidText(reason: input.isEmpty ? "the text is empty" : "the text contains only whitespace")
        }
        let (synthesizer, speaker) = try source.load()
        if let batch {
            try runBatch(file: batch, synthesizer: synthesizer, defaultSpeaker: speaker, options: generation.synthesisOptions)
            return
        }
        try SpeechRun(generation: generation, out: out).speak(input, synthesizer: synthesizer, speaker: speaker)
    }

    /// The voice of a batch line: an x-vector file when one exists at that path, else a voice name
    /// (preset, archive utterance or user voice), as `--voice` takes it.
    func batchSpeaker(_ field: String, dimension: Int) throws -> [Float] {
        if FileManager.default.fileExists(atPath: field) {
            return try SpeakerEmbeddingFile.load(path: field, expectedDimension: dimension)
        }
        let resolver = VoiceResolver()
        let source = try resolver.source(voice: field, speaker: nil)
        return try resolver.load(source, expectedDimension: dimension) {
            try blockingWait { try await HubClient().speakerEmbeddingArchive() }
        }
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
                    requests.append((parts[1], try batchSpeaker(parts[0], dimension: synthesizer.speakerDimension)))
                } catch {
                    failures[index] = error
                    requests.append(("", defaultSpeaker))
                }
            } else {
                requests.append((line, defaultSpeaker))
            }
        }
        let results = synthesizer.synthesize(batch: requests, options: options)
        let base = (out.output as NSString).deletingPathExtension
        var failed = 0
        for (n, ((index, _), result)) in zip(lines, results).enumerated() {
            let path = "\(base)-\(n + 1).wav"
            do {
                if let error = failures[index] { throw error }
                let speech = try result.get()
                try writeWAV(speech, to: path, format: out.sampleFormat)
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
