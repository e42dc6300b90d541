import Foundation

/// A folder of named voices: one float32 `.npy` x-vector per voice, `NAME.npy`.
///
/// The folder is `$SPEECHT5_VOICES` when set, else `$XDG_DATA_HOME/speecht5/voices` when that is set
/// (absolute), else `~/.local/share/speecht5/voices`. It is created on the first save.
public struct VoiceStore: Sendable {
    /// Environment variable naming the voices folder.
    public static let environmentVariable = "SPEECHT5_VOICES"
    /// Extension of voice files.
    public static let fileExtension = "npy"
    /// Longest voice name, in characters.
    public static let maxNameLength = 100

    /// The folder.
    public let directory: String

    /// A store over `directory`, or over `defaultDirectory()` when nil.
    public init(directory: String? = nil) {
        self.directory = directory ?? Self.defaultDirectory()
    }

    /// The folder used when none is given (see the type's documentation).
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let folder = environment[environmentVariable], !folder.isEmpty {
            return (folder as NSString).expandingTildeInPath
        }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return (data as NSString).appendingPathComponent("speecht5/voices")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".local/share/speecht5/voices")
    }

    // MARK: - Names

    /// Why `name` cannot name a voice, or nil. A name is 1…100 characters of letters, digits, `-`, `_`,
    /// `.`, `+`, `@` or space, does not start with `.` or `-` or space, and does not end with a space or
    /// `.npy`. In particular it holds no path separator.
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "a voice name cannot be empty" }
        if name.count > maxNameLength { return "'\(name.prefix(20))…' is longer than \(maxNameLength) characters" }
        if name.contains("/") || name.contains("\\") {
            return "'\(name)' contains a path separator; a voice name is a plain name such as 'alice'"
        }
        if let bad = name.unicodeScalars.first(where: { !isAllowed($0) }) {
            let shown = bad.properties.generalCategory == .control || bad.properties.isWhitespace
                ? String(format: "U+%04X", bad.value) : "'\(bad)'"
            return "\(name.debugDescription) contains \(shown); use letters, digits, '-', '_', '.', '+', '@' or spaces"
        }
        if let first = name.first, first == "." || first == "-" || first == " " {
            return "'\(name)' starts with '\(first)'"
        }
        if name.hasSuffix(" ") { return "'\(name)' ends with a space" }
        if name.lowercased().hasSuffix(".\(fileExtension)") {
            return "'\(name)' ends with .\(fileExtension); give the name without the extension"
        }
        return nil
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        if "-_.+@ ".unicodeScalars.contains(scalar) { return true }
        let properties = scalar.properties
        return properties.isAlphabetic || properties.numericType == .decimal
    }

    /// Throws `.invalidArgument(name: "name", …)` when `name` is not a valid voice name.
    public static func validate(name: String) throws {
        if let problem = nameProblem(name) {
            throw SpeechT5Error.invalidArgument(name: "name", reason: problem)
        }
    }

    /// The file of voice `name` (validated; the file need not exist).
    public func path(for name: String) throws -> String {
        try Self.validate(name: name)
        return (directory as NSString).appendingPathComponent("\(name).\(Self.fileExtension)")
    }

    // MARK: - Contents

    /// Names of the stored voices, sorted (files whose names are not valid voice names are skipped).
    /// A missing folder has no voices.
    public func names() throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        guard BinaryFileIO.isDirectory(directory) else {
            throw SpeechT5Error.invalidFile(path: directory, reason: "the voices folder is not a directory")
        }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw SpeechT5Error.invalidFile(path: directory, reason: "cannot list the voices folder: \(error.localizedDescription)")
        }
        let suffix = ".\(Self.fileExtension)"
        return entries.compactMap { entry -> String? in
            guard entry.hasSuffix(suffix) else { return nil }
            let name = String(entry.dropLast(suffix.count))
            guard Self.nameProblem(name) == nil,
                  BinaryFileIO.isRegularFile((directory as NSString).appendingPathComponent(entry))
            else { return nil }
            return name
        }.sorted { $0.localizedStandardCompare($1) == .orderedAscending }
    }

    /// Whether voice `name` exists (false for invalid names).
    public func contains(_ name: String) -> Bool {
        guard let path = try? path(for: name) else { return false }
        return BinaryFileIO.isRegularFile(path)
    }

    /// The x-vector of voice `name`. Unknown voice → `.invalidArgument(name: "voice", …)` listing the
    /// available ones; a bad file → `.invalidSpeaker` naming it.
    public func load(_ name: String, expectedDimension: Int = 512) throws -> [Float] {
        let path = try path(for: name)
        guard FileManager.default.fileExists(atPath: path) else {
            let available = (try? names()) ?? []
            let list = available.isEmpty ? "no voices yet; create one with 'speecht5 voice create'"
                : "available: \(available.joined(separator: ", "))"
            throw SpeechT5Error.invalidArgument(name: "voice", reason: "no voice named '\(name)' in \(directory) (\(list))")
        }
        return try SpeakerEmbeddingFile.load(path: path, expectedDimension: expectedDimension)
    }

    /// Stores `vector` as voice `name` (float32 `.npy`, shape `[count]`), creating the folder if needed.
    /// An existing voice is replaced only with `overwrite`. Returns the file's path.
    @discardableResult
    public func save(_ vector: [Float], as name: String, overwrite: Bool = false) throws -> String {
        let path = try path(for: name)
        guard !vector.isEmpty, vector.allSatisfy(\.isFinite) else {
            throw SpeechT5Error.invalidSpeaker(reason: "refusing to store voice '\(name)': the x-vector is empty or not finite")
        }
        if !overwrite, FileManager.default.fileExists(atPath: path) {
            throw SpeechT5Error.invalidArgument(
                name: "name", reason: "a voice named '\(name)' already exists (\(path)); choose another name or replace it")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SpeechT5Error.writeFailed(path: directory, reason: "cannot create the voices folder: \(error.localizedDescription)")
        }
        try NPYFile.write(vector, shape: [vector.count], to: path)
        return path
    }

    /// Deletes voice `name`. Unknown voice → `.invalidArgument(name: "voice", …)`.
    public func remove(_ name: String) throws {
        let path = try path(for: name)
        guard BinaryFileIO.isRegularFile(path) else {
            throw SpeechT5Error.invalidArgument(name: "voice", reason: "no voice named '\(name)' in \(directory)")
        }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw SpeechT5Error.writeFailed(path: path, reason: "cannot delete: \(error.localizedDescription)")
        }
    }
}
