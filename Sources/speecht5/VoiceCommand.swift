import ArgumentParser
import Foundation
import SpeechT5

/// `speecht5 voice …`: clone voices from recordings and manage the voices folder.
struct VoiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voice",
        abstract: "Clone a voice from recordings, and manage the voices folder.",
        discussion: """
            Voices are 512-number speaker x-vectors made by speechbrain's spkrec-xvect-voxceleb model, the \
            kind SpeechT5 was trained with. They are stored as NAME.npy in $\(VoiceStore.environmentVariable), \
            or ~/.local/share/speecht5/voices when it is unset; use one with 'say --voice NAME'. The \
            encoder model is fetched from the Hugging Face hub on first use, unless --encoder DIR or \
            $\(VoiceCommand.encoderEnvironmentVariable) names a local copy.
            """,
        subcommands: [Create.self, Export.self, List.self, Remove.self])

    /// Where the voices live (shared by the subcommands).
    struct StoreOptions: ParsableArguments {
        @Option(name: .customLong("voices-dir"),
                help: ArgumentHelp("Voices folder (default: $\(VoiceStore.environmentVariable) or ~/.local/share/speecht5/voices).",
                                   valueName: "dir"))
        var voicesDirectory: String?

        var store: VoiceStore { VoiceStore(directory: voicesDirectory) }
    }

    /// Environment variable naming a default speaker-encoder directory for `voice create`.
    static let encoderEnvironmentVariable = "SPEECHT5_SPEAKER_ENCODER"

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("speecht5: warning: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a voice from one or more WAV recordings of the same speaker.",
            discussion: """
                Each recording is read (PCM 8/16/24/32-bit or float, any channel count, any sample rate), \
                mixed to mono, resampled to 16 kHz and encoded; several recordings are averaged and the \
                result normalized again. A few seconds of clean speech per recording is enough; a warning \
                is printed when a recording has under 2 s of speech or is clipped.
                """)

        @Option(name: .customLong("from"), parsing: .singleValue,
                help: ArgumentHelp("A WAV recording of the voice (repeat to average several).", valueName: "wav"))
        var recordings: [String] = []

        @Option(help: "Name of the new voice (letters, digits, '-', '_', '.', '+', '@', spaces).")
        var name: String

        @Option(help: ArgumentHelp(
            "Speaker encoder directory with hyperparams.yaml and embedding_model.ckpt (default: $\(VoiceCommand.encoderEnvironmentVariable), else \(HubRepo.speakerEncoder.id) from the Hugging Face hub, fetched on first use).",
            valueName: "dir"))
        var encoder: String?

        @Flag(help: "Replace an existing voice of that name.")
        var force = false

        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            guard !recordings.isEmpty else {
                throw ValidationError("give at least one recording with --from REC.wav")
            }
            if let problem = VoiceStore.nameProblem(name) {
                throw ValidationError("--name: \(problem)")
            }
        }

        func run() throws {
            let store = storeOptions.store
            let path = try store.path(for: name)
            if !force, FileManager.default.fileExists(atPath: path) {
                throw SpeechT5Error.invalidArgument(
                    name: "name", reason: "a voice named '\(name)' already exists (\(path)); pass --force to replace it")
            }
            let encoder = try SpeakerEncoder(directory: resolveEncoderDirectory())
            var embeddings: [[Float]] = []
            var speech = 0.0
            for recording in recordings {
                let (embedding, analysis) = try encoder.embedding(wavFile: recording)
                for warning in analysis.warnings {
                    VoiceCommand.warn("\(recording): \(warning)")
                }
                speech += analysis.speechDuration
                embeddings.append(embedding)
            }
            let voice = try SpeakerEncoder.average(embeddings)
            let written = try store.save(voice, as: name, overwrite: force)
            let count = recordings.count
            VoiceCommand.note(String(format: "created voice '%@' from %d recording%@ (%.1f s of speech): %@",
                                     name, count, count == 1 ? "" : "s", speech, written))
        }

        func resolveEncoderDirectory() throws -> String {
            if let encoder { return encoder }
            if let directory = ProcessInfo.processInfo.environment[VoiceCommand.encoderEnvironmentVariable], !directory.isEmpty {
                return directory
            }
            let hub = HubClient()
            return try blockingWait { try await SpeakerEncoder.fetchDirectory(hub: hub) }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a stored voice to a .npy file (float32, shape [512]).")

        @Argument(help: "The voice's name.")
        var name: String

        @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output .npy file.", valueName: "file"))
        var output: String

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let store = storeOptions.store
            let path = try store.path(for: name)
            guard FileManager.default.fileExists(atPath: path) else {
                _ = try store.load(name)  // throws the "no voice named …" error listing the voices
                return
            }
            let (shape, values) = try NPYFile.read(path: path)
            guard shape.count == 1 || (shape.count == 2 && shape[0] == 1), !values.isEmpty, values.allSatisfy(\.isFinite) else {
                throw SpeechT5Error.invalidSpeaker(reason: "\(path): shape \(shape) is not an x-vector")
            }
            try NPYFile.write(values, shape: [values.count], to: output)
            VoiceCommand.note("wrote \(output): voice '\(name)' (\(values.count) values)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the stored voices, one per line.")

        @Flag(name: .customLong("paths"), help: "Show each voice's file after its name.")
        var showPaths = false

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let store = storeOptions.store
            let names = try store.names()
            if names.isEmpty {
                VoiceCommand.note("no voices in \(store.directory); create one with 'speecht5 voice create --from REC.wav --name NAME'")
                return
            }
            for name in names {
                if showPaths {
                    print("\(name)\t\((try? store.path(for: name)) ?? "")")
                } else {
                    print(name)
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete a stored voice.")

        @Argument(help: "The voice's name.")
        var name: String

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            try storeOptions.store.remove(name)
            VoiceCommand.note("removed voice '\(name)'")
        }
    }
}
