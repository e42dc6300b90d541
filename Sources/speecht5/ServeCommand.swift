import ArgumentParser
import Dispatch
import Foundation
import SpeechT5
import SpeechT5Server

/// `speecht5 serve`: the OpenAI-compatible speech server (see `SpeechT5Server`).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve text to speech over HTTP with OpenAI's API (POST /v1/audio/speech), batching concurrent requests.",
        discussion: """
        Routes: POST /v1/audio/speech, GET /v1/models, GET /v1/voices, GET /health, GET /metrics (Prometheus).
        Voices: --speaker is the voice 'default' (OpenAI's preset names alloy, echo, nova, … stand for it);
        every NAME.npy in --voices is the voice NAME.
        """)

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind (0 picks a free port; the chosen one is printed).")
    var port = 8080

    @Option(help: "Model directory (config.json, model.safetensors, spm_char.model).")
    var model: String

    @Option(help: "Vocoder directory (config.json, model.safetensors).")
    var vocoder: String

    @Option(help: "Speaker x-vector (.npy or .bin) served as the voice 'default'.")
    var speaker: String?

    @Option(help: "Directory of voices: every NAME.npy (or NAME.bin) in it is the voice NAME (default: the voices made with 'speecht5 voice create', when that folder exists).")
    var voices: String?

    /// `--voices`, else the user's voice folder (`speecht5 voice create`) when it exists.
    var voiceDirectory: String? {
        if let voices { return voices }
        let store = VoiceStore().directory
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: store, isDirectory: &isDirectory) && isDirectory.boolValue ? store : nil
    }

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on every route but /health (default: $SPEECHT5_API_KEY; none when both are unset).")
    var apiKey: String?

    @Option(name: .customLong("max-batch"), help: "Most requests decoded together in one batch.")
    var maxBatch = 16

    @Option(name: .customLong("max-queue"), help: "Most requests waiting to join the batch; more are answered 429.")
    var maxQueue = 64

    @Option(name: .customLong("max-input-chars"), help: "Longest input text, in characters.")
    var maxInputChars = 4096

    @Option(help: "Seconds a request may take, queueing included (0: no limit). A stream still running then is cut off.")
    var timeout: Double = 300

    @Option(help: "Weight precision: fp32 (exact, the reference's numbers), bf16 (faster, slightly different audio) or int8 (int8 decoder weights and vocoder residual blocks, the rest bf16: fastest, a little further from the reference).")
    var precision: Precision = .fp32

    @OptionGroup var generation: GenerationArguments

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be at least 0") }
        guard maxInputChars >= 1 else { throw ValidationError("--max-input-chars must be at least 1") }
        guard timeout >= 0, timeout.isFinite else { throw ValidationError("--timeout must be a number of seconds ≥ 0") }
    }

    /// `--speaker` (as `default`), the voices of `--voices` (or the user's voice folder), and the CMU ARCTIC
    /// presets (slt, bdl, …) when the x-vector archive is in the hub cache; `slt` is `default` when nothing
    /// else is. The cache is only read here: a server does not download at start-up.
    func voiceLibrary(dimension: Int) throws -> VoiceLibrary {
        var voices: [String: [Float]] = [:], sources: [String: String] = [:]
        if speaker != nil || voiceDirectory != nil {
            let given = try VoiceLibrary.load(speaker: speaker, directory: voiceDirectory, dimension: dimension)
            voices = given.voices
            sources = given.sources
        }
        var offline = HubConfiguration.fromEnvironment()
        offline.offline = true
        let cacheOnly = HubClient(configuration: offline)
        if let path = try? blockingWait({ try await cacheOnly.speakerEmbeddingArchive() }),
           let archive = try? XVectorArchive(path: path) {
            for preset in VoicePresets.all where voices[preset.name] == nil {
                guard let vector = try? archive.vector(for: preset, expectedDimension: dimension) else { continue }
                voices[preset.name] = vector
                sources[preset.name] = "\(VoicePresets.archiveFileName):\(preset.stem)"
            }
        }
        if voices[VoiceLibrary.defaultName] == nil, let slt = voices[VoicePresets.defaultPreset.name] {
            voices[VoiceLibrary.defaultName] = slt
            sources[VoiceLibrary.defaultName] = sources[VoicePresets.defaultPreset.name]
        }
        guard !voices.isEmpty else {
            throw SpeechT5Error.invalidArgument(
                name: "voices", reason: "no voice: give --speaker FILE or --voices DIR, or fetch the presets with 'speecht5 voices --download'")
        }
        return VoiceLibrary(voices: voices, sources: sources)
    }

    func run() throws {
        let started = Date()
        let synthesizer = try SpeechSynthesizer(modelDirectory: model, vocoderDirectory: vocoder, precision: precision)
        let library = try voiceLibrary(dimension: synthesizer.speakerDimension)
        var settings = SpeechServerConfiguration()
        settings.host = host
        settings.port = port
        let key = apiKey ?? ProcessInfo.processInfo.environment["SPEECHT5_API_KEY"]
        settings.apiKey = (key?.isEmpty ?? true) ? nil : key
        settings.maxInputCharacters = maxInputChars
        settings.timeout = timeout > 0 ? .milliseconds(Int64((timeout * 1000).rounded())) : nil
        settings.synthesisOptions = generation.synthesisOptions
        let scheduler = SynthesisScheduler(synthesizer: synthesizer, maxBatch: maxBatch, maxQueue: maxQueue)
        let server = SpeechServer(scheduler: scheduler, voices: library, configuration: settings)

        FileHandle.standardError.write(Data(String(
            format: "speecht5 serve: model loaded in %.1f s (%d Hz); voices: %@%@; batch ≤ %d, queue ≤ %d%@\n",
            Date().timeIntervalSince(started), synthesizer.sampleRate, library.names.joined(separator: ", "),
            library.aliases.isEmpty ? "" : " (+ OpenAI preset names → default)", maxBatch, maxQueue,
            settings.apiKey == nil ? "" : "; API key required").utf8))

        let host = self.host
        let application = server.makeApplication { port in
            FileHandle.standardOutput.write(Data("speecht5 serve: listening on http://\(host):\(port)\n".utf8))
        }
        let outcome = ServeOutcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await application.runService()
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        scheduler.shutDown()
        if let error = outcome.error { throw error }
    }
}

/// Carries the server's exit error out of its task.
private final class ServeOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    var error: (any Error)? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
