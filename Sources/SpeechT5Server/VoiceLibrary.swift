import Foundation
import SpeechT5

/// The voices a server offers: names mapped to speaker x-vectors, plus aliases (OpenAI's preset names)
/// that stand for one of them.
public struct VoiceLibrary: Sendable {
    /// OpenAI's preset voice names. Each one that is not a voice of its own stands for `default`.
    public static let openAIPresetNames = ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx",
                                           "sage", "shimmer", "verse"]
    /// The name of the voice given by `--speaker`.
    public static let defaultName = "default"

    /// Voice name → x-vector.
    public let voices: [String: [Float]]
    /// Where each voice came from (a file path).
    public let sources: [String: String]
    /// Alias → voice name.
    public let aliases: [String: String]

    /// Builds a library; OpenAI's preset names that are not voices become aliases of `default`, if there is one.
    public init(voices: [String: [Float]], sources: [String: String] = [:]) {
        self.voices = voices
        self.sources = sources
        var aliases: [String: String] = [:]
        if voices[Self.defaultName] != nil {
            for name in Self.openAIPresetNames where voices[name] == nil { aliases[name] = Self.defaultName }
        }
        self.aliases = aliases
    }

    /// Loads `speaker` as the voice `default` and every `NAME.npy` / `NAME.bin` in `directory` as `NAME`.
    /// A file named `default.npy` in the directory is overridden by `speaker`. At least one voice must result.
    public static func load(speaker: String?, directory: String?, dimension: Int) throws -> VoiceLibrary {
        var voices: [String: [Float]] = [:]
        var sources: [String: String] = [:]
        if let directory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw SpeechT5Error.fileNotFound(path: directory)
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            for file in names {
                let ext = (file as NSString).pathExtension.lowercased()
                guard ext == "npy" || ext == "bin" else { continue }
                let name = (file as NSString).deletingPathExtension
                guard isValidName(name) else {
                    throw SpeechT5Error.invalidArgument(
                        name: "voices", reason: "\(file): a voice name may use letters, digits, '-', '_' and '.' only")
                }
                guard voices[name] == nil else {
                    throw SpeechT5Error.invalidArgument(name: "voices", reason: "two files for the voice '\(name)' in \(directory)")
                }
                let path = (directory as NSString).appendingPathComponent(file)
                voices[name] = try SpeakerEmbeddingFile.load(path: path, expectedDimension: dimension)
                sources[name] = path
            }
        }
        if let speaker {
            voices[defaultName] = try SpeakerEmbeddingFile.load(path: speaker, expectedDimension: dimension)
            sources[defaultName] = speaker
        }
        guard !voices.isEmpty else {
            throw SpeechT5Error.invalidArgument(
                name: "voices", reason: "no voice: give --speaker FILE, or --voices DIR with NAME.npy files")
        }
        return VoiceLibrary(voices: voices, sources: sources)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_" || $0 == "."
        }
    }

    /// The voice a request names (a voice or an alias), with its canonical name.
    public func resolve(_ name: String) -> (name: String, vector: [Float])? {
        if let vector = voices[name] { return (name, vector) }
        if let target = aliases[name], let vector = voices[target] { return (target, vector) }
        return nil
    }

    /// Voice names, sorted.
    public var names: [String] { voices.keys.sorted() }
}
