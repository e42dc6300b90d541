import Foundation

/// One CMU ARCTIC utterance's x-vector in `spkrec-xvect.zip` of the dataset `Matthijs/cmu-arctic-xvectors`,
/// used as a voice: `spkrec-xvect/cmu_us_<speaker>_arctic-wav-arctic_<utterance>.npy` (512 float32).
public struct VoicePreset: Sendable, Hashable, CustomStringConvertible {
    /// The name `--voice` takes: the speaker for a preset (`slt`), `<speaker>_<utterance>` otherwise.
    public let name: String
    /// The CMU ARCTIC speaker (`slt`).
    public let speaker: String
    /// The utterance (`a0508`).
    public let utterance: String
    /// Accent and sex, for listings.
    public let summary: String

    public init(name: String, speaker: String, utterance: String, summary: String) {
        self.name = name
        self.speaker = speaker
        self.utterance = utterance
        self.summary = summary
    }

    /// `cmu_us_slt_arctic-wav-arctic_a0508`: the dataset's `filename` field.
    public var stem: String { "cmu_us_\(speaker)_arctic-wav-arctic_\(utterance)" }

    /// The entry in `spkrec-xvect.zip`.
    public var entryName: String { "\(VoicePresets.archiveFolder)/\(stem).npy" }

    public var description: String { name }
}

/// The built-in voices: one chosen utterance per CMU ARCTIC speaker, read from `spkrec-xvect.zip`.
///
/// | voice | speaker | utterance | why this one |
/// | --- | --- | --- | --- |
/// | `slt` (default) | US female | a0508 | the usual SpeechT5 default (dataset index 7306) |
/// | `clb` | US female | a0144 | the SpeechT5 demo's pick |
/// | `bdl` | US male | a0009 | the SpeechT5 demo's pick |
/// | `rms` | US male | b0353 | the SpeechT5 demo's pick |
/// | `ksp` | Indian male | b0087 | the SpeechT5 demo's pick |
/// | `awb` | Scottish male | b0002 | the transformers.js demo's pick |
/// | `jmk` | Canadian male | a0002 | the transformers.js demo's pick |
public enum VoicePresets {
    /// The folder inside `spkrec-xvect.zip`.
    public static let archiveFolder = "spkrec-xvect"
    /// The archive's file name in the dataset.
    public static let archiveFileName = "spkrec-xvect.zip"

    /// Every preset, default first.
    public static let all: [VoicePreset] = [
        VoicePreset(name: "slt", speaker: "slt", utterance: "a0508", summary: "US English, female"),
        VoicePreset(name: "clb", speaker: "clb", utterance: "a0144", summary: "US English, female"),
        VoicePreset(name: "bdl", speaker: "bdl", utterance: "a0009", summary: "US English, male"),
        VoicePreset(name: "rms", speaker: "rms", utterance: "b0353", summary: "US English, male"),
        VoicePreset(name: "awb", speaker: "awb", utterance: "b0002", summary: "Scottish English, male"),
        VoicePreset(name: "jmk", speaker: "jmk", utterance: "a0002", summary: "Canadian English, male"),
        VoicePreset(name: "ksp", speaker: "ksp", utterance: "b0087", summary: "Indian English, male"),
    ]

    /// The voice used when none is given: `slt` (`cmu_us_slt_arctic-wav-arctic_a0508`).
    public static var defaultPreset: VoicePreset { all[0] }

    /// The CMU ARCTIC speakers.
    public static var speakers: [String] { all.map(\.speaker) }

    /// The preset called `name` (case-insensitive), or nil.
    public static func preset(named name: String) -> VoicePreset? {
        let lowered = name.lowercased()
        return all.first { $0.name == lowered }
    }

    /// Any utterance of the archive, named `<speaker>_<utterance>` (`bdl_b0001`), `<speaker>:<utterance>`,
    /// or by its stem (`cmu_us_bdl_arctic-wav-arctic_b0001`, optionally with `.npy`). Nil when `name` has
    /// none of these forms (whether the utterance exists is only known once the archive is open).
    public static func utterance(named name: String) -> VoicePreset? {
        var text = name.lowercased()
        if text.hasSuffix(".npy") { text.removeLast(4) }
        let speaker: String
        let utterance: String
        if text.hasPrefix("cmu_us_") {
            let parts = text.dropFirst("cmu_us_".count).components(separatedBy: "_arctic-wav-arctic_")
            guard parts.count == 2 else { return nil }
            speaker = parts[0]
            utterance = parts[1]
        } else {
            let parts = text.split(separator: text.contains(":") ? ":" : "_", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            speaker = String(parts[0])
            utterance = String(parts[1])
        }
        guard let preset = preset(named: speaker), isUtteranceID(utterance) else { return nil }
        return VoicePreset(name: "\(speaker)_\(utterance)", speaker: speaker, utterance: utterance, summary: preset.summary)
    }

    /// `a0001`…`a9999` or `b0001`…`b9999` (CMU ARCTIC's two prompt sets).
    static func isUtteranceID(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count == 5, scalars[0] == "a" || scalars[0] == "b" else { return false }
        return scalars.dropFirst().allSatisfy { ("0" ... "9").contains($0) }
    }
}

/// `spkrec-xvect.zip` opened: x-vectors by preset.
public struct XVectorArchive {
    /// Largest entry read: a 512-float `.npy` is 2 176 bytes; anything near this is not an x-vector.
    public static let maxEntryBytes = 1 << 20

    /// The archive.
    public let archive: ZipArchive

    /// Opens and validates the archive at `path` (see ``ZipArchive``).
    public init(path: String) throws {
        archive = try ZipArchive(path: path)
    }

    /// The archive's path.
    public var path: String { archive.path }

    /// The stems of every `.npy` in the archive, sorted (the dataset's order).
    public var stems: [String] {
        archive.entryNames.compactMap { name -> String? in
            guard name.hasSuffix(".npy") else { return nil }
            return String((name as NSString).lastPathComponent.dropLast(4))
        }
    }

    /// The entry holding `voice`: `spkrec-xvect/<stem>.npy`, or any `<stem>.npy` in another folder.
    public func entryName(for voice: VoicePreset) -> String? {
        if archive.entry(named: voice.entryName) != nil { return voice.entryName }
        let file = "\(voice.stem).npy"
        return archive.entryNames.first { $0 == file || $0.hasSuffix("/\(file)") }
    }

    /// Whether the archive has `voice`.
    public func contains(_ voice: VoicePreset) -> Bool { entryName(for: voice) != nil }

    /// The x-vector of `voice`: a float32 or float64 `.npy` of shape `[S]` or `[1, S]` with
    /// `S == expectedDimension`, all finite. Errors are `.invalidSpeaker` (missing voice, wrong dimension,
    /// bad values) or `.invalidFile` (a corrupt or hostile archive).
    public func vector(for voice: VoicePreset, expectedDimension: Int) throws -> [Float] {
        guard let entry = entryName(for: voice) else {
            throw SpeechT5Error.invalidSpeaker(
                reason: "voice '\(voice.name)': \(path) has no entry \(voice.entryName) (\(archive.entryNames.count) entries)")
        }
        let bytes = try archive.contents(of: entry, maxBytes: Self.maxEntryBytes)
        let label = "\(path)!\(entry)"
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidSpeaker(reason: "voice '\(voice.name)' (\(label)): \(reason)")
        }
        let array: (shape: [Int], values: [Float], type: NPYFile.ElementType)
        do {
            array = try NPYFile.parse(bytes, path: label)
        } catch SpeechT5Error.invalidFile(_, let reason) {
            throw invalid(reason)
        }
        guard array.type == .float32 || array.type == .float64 else {
            throw invalid("NPY dtype \(array.type.rawValue) is not a float array")
        }
        guard array.shape.count == 1 || (array.shape.count == 2 && array.shape[0] == 1) else {
            throw invalid("has shape \(array.shape); expected [\(expectedDimension)]")
        }
        guard array.values.count == expectedDimension else {
            throw invalid("has \(array.values.count) values, the model expects \(expectedDimension); pass --speaker FILE with a \(expectedDimension)-value x-vector for this model")
        }
        if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
            throw invalid("value \(bad) is not finite")
        }
        return array.values
    }
}

/// Where a voice comes from.
public enum VoiceSource: Sendable, Equatable, CustomStringConvertible {
    /// An x-vector file (`--speaker FILE`).
    case file(String)
    /// A voice of the user's ``VoiceStore`` (`--voice NAME`), with its file.
    case stored(name: String, path: String)
    /// An utterance of `spkrec-xvect.zip` (a preset, or `<speaker>_<utterance>`).
    case archive(VoicePreset)

    public var description: String {
        switch self {
        case .file(let path): return path
        case .stored(let name, _): return name
        case .archive(let voice): return voice.name
        }
    }
}

/// Turns `--voice` / `--speaker` into a ``VoiceSource`` and loads it.
public struct VoiceResolver: Sendable {
    /// The user's voices.
    public let store: VoiceStore

    public init(store: VoiceStore = VoiceStore()) {
        self.store = store
    }

    /// The source for the given arguments: `speaker` (a file) if set, else `voice`, else the default preset.
    /// A voice name is looked up among the user's voices first, then the presets, then as
    /// `<speaker>_<utterance>`. Unknown names → `.invalidArgument(name: "voice", …)` listing what exists.
    public func source(voice: String?, speaker: String?) throws -> VoiceSource {
        if let speaker {
            guard voice == nil else {
                throw SpeechT5Error.invalidArgument(name: "voice", reason: "give either --voice or --speaker, not both")
            }
            return .file(speaker)
        }
        guard let voice else { return .archive(VoicePresets.defaultPreset) }
        let name = voice.trimmingCharacters(in: .whitespaces)
        if VoiceStore.nameProblem(name) == nil, store.contains(name), let path = try? store.path(for: name) {
            return .stored(name: name, path: path)
        }
        if let preset = VoicePresets.preset(named: name) { return .archive(preset) }
        if let utterance = VoicePresets.utterance(named: name) { return .archive(utterance) }
        throw SpeechT5Error.invalidArgument(name: "voice", reason: unknownVoiceMessage(name))
    }

    func unknownVoiceMessage(_ name: String) -> String {
        let presets = VoicePresets.all.map { $0.name == VoicePresets.defaultPreset.name ? "\($0.name) (default)" : $0.name }
        let user = (try? store.names()) ?? []
        let users = user.isEmpty ? "no voices of your own in \(store.directory)"
            : "your voices: \(user.prefix(20).joined(separator: ", "))\(user.count > 20 ? ", …" : "") (in \(store.directory))"
        let shown = name.count > 60 ? String(name.prefix(60)) + "…" : name
        let printable = String(String.UnicodeScalarView(shown.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : $0 }))
        return "unknown voice '\(printable)': presets are \(presets.joined(separator: ", ")); \(users); "
            + "any CMU ARCTIC utterance works as SPEAKER_UTTERANCE (e.g. bdl_b0001), and --speaker FILE takes an x-vector file"
    }

    /// Loads `source`'s x-vector. `archivePath` is asked for the path of `spkrec-xvect.zip` only when the
    /// source is in the archive.
    public func load(_ source: VoiceSource, expectedDimension: Int, archivePath: () throws -> String) throws -> [Float] {
        switch source {
        case .file(let path):
            return try SpeakerEmbeddingFile.load(path: path, expectedDimension: expectedDimension)
        case .stored(let name, _):
            return try store.load(name, expectedDimension: expectedDimension)
        case .archive(let voice):
            return try XVectorArchive(path: try archivePath()).vector(for: voice, expectedDimension: expectedDimension)
        }
    }
}
