import ArgumentParser
import Foundation
import SpeechT5

/// `speecht5 voices`: the presets (and whether they are in the cache) and the user's voices.
struct Voices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the voices: the built-in presets and your own.",
        discussion: """
            Presets are x-vectors of CMU ARCTIC speakers from spkrec-xvect.zip of the Hugging Face dataset \
            Matthijs/cmu-arctic-xvectors, fetched into the hub cache on first use (or now, with --download). \
            Your own voices are made with 'speecht5 voice create'. Pass a name to 'say' or 'synthesize' \
            with --voice NAME; your voices take precedence over presets of the same name. Any other \
            utterance of the archive is SPEAKER_UTTERANCE, such as bdl_b0001 (--utterances lists them).
            """)

    @Flag(help: "Fetch spkrec-xvect.zip into the cache now if it is not there.")
    var download = false

    @Flag(help: "Also list every utterance in the cached archive, as SPEAKER_UTTERANCE names.")
    var utterances = false

    @Option(name: .customLong("voices-dir"),
            help: ArgumentHelp("Your voices folder (default: $\(VoiceStore.environmentVariable) or ~/.local/share/speecht5/voices).",
                               valueName: "dir"))
    var voicesDirectory: String?

    func run() throws {
        let store = VoiceStore(directory: voicesDirectory)
        let hub = HubClient()
        let archive = try locateArchive(hub: hub)
        let userVoices = try store.names()

        print("Presets (CMU ARCTIC x-vectors, \(VoicePresets.archiveFileName) of dataset \(HubRepo.cmuArcticXVectors.id)):")
        let opened: XVectorArchive?
        switch archive {
        case .cached(let path):
            opened = try XVectorArchive(path: path)
        case .missing:
            opened = nil
        }
        for preset in VoicePresets.all {
            let status: String
            if let opened {
                status = opened.contains(preset) ? "cached" : "missing from the archive"
            } else {
                status = "not downloaded"
            }
            var flags: [String] = []
            if preset == VoicePresets.defaultPreset { flags.append("default") }
            if userVoices.contains(preset.name) { flags.append("your voice '\(preset.name)' takes precedence") }
            let note = flags.isEmpty ? "" : "  (\(flags.joined(separator: "; ")))"
            print("  " + pad(preset.name, 5) + pad(preset.summary, 24) + pad(preset.stem, 38) + status + note)
        }
        switch archive {
        case .cached(let path):
            print("  archive: \(path)")
        case .missing(let reason):
            print("  \(reason)")
        }
        if utterances, let opened {
            let names = opened.stems.compactMap { VoicePresets.utterance(named: $0)?.name }
            print("Utterances in the archive (\(names.count)):")
            for name in names { print("  \(name)") }
        }

        print("Your voices (\(store.directory)):")
        if userVoices.isEmpty {
            print("  none yet; make one with 'speecht5 voice create --from REC.wav --name NAME'")
        } else {
            for name in userVoices { print("  \(name)") }
        }
    }

    enum ArchiveState {
        case cached(String)
        case missing(String)
    }

    /// The cached archive, fetched first with `--download`; never touches the network otherwise.
    func locateArchive(hub: HubClient) throws -> ArchiveState {
        if download {
            let path = try blockingWait { try await hub.speakerEmbeddingArchive() }
            return .cached(path)
        }
        var configuration = hub.configuration
        configuration.offline = true
        let offline = HubClient(configuration: configuration)
        do {
            return .cached(try blockingWait { try await offline.speakerEmbeddingArchive() })
        } catch is HubError {
            let how = hub.configuration.offline
                ? "HF_HUB_OFFLINE is set, so it cannot be fetched"
                : "it is fetched on first use, or now with 'speecht5 voices --download'"
            return .missing("\(VoicePresets.archiveFileName) is not in the cache at \(hub.configuration.cacheDirectory): \(how)")
        }
    }

    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
