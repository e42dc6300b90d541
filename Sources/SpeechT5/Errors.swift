import Foundation

/// Every failure the engine reports. Each case names what went wrong and where (file, key, shape,
/// position), so that a command-line user sees one actionable line.
public enum SpeechT5Error: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A required file does not exist.
    case fileNotFound(path: String)
    /// A file exists but could not be read or parsed (truncated, hostile, wrong format).
    case invalidFile(path: String, reason: String)
    /// A config field holds a value the engine cannot honour.
    case invalidConfig(path: String, field: String, reason: String)
    /// A weight that the config requires is absent from the checkpoint.
    case missingWeight(key: String, path: String)
    /// A weight has a shape other than the one the config implies.
    case shapeMismatch(key: String, expected: [Int], actual: [Int], path: String)
    /// A weight is stored in a dtype the engine does not read.
    case unsupportedDType(key: String, dtype: String, path: String)
    /// The speaker embedding is unusable (wrong length, not finite, unreadable file).
    case invalidSpeaker(reason: String)
    /// The input text cannot be synthesized (empty, too long, nothing speakable).
    case invalidText(reason: String)
    /// A generation argument is out of range.
    case invalidArgument(name: String, reason: String)
    /// Writing an output failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "file not found: \(path)"
        case .invalidFile(let path, let reason):
            return "\(path): \(reason)"
        case .invalidConfig(let path, let field, let reason):
            return "\(path): config field '\(field)': \(reason)"
        case .missingWeight(let key, let path):
            return "\(path): missing weight '\(key)'"
        case .shapeMismatch(let key, let expected, let actual, let path):
            return "\(path): weight '\(key)' has shape \(actual), expected \(expected)"
        case .unsupportedDType(let key, let dtype, let path):
            return "\(path): weight '\(key)' has unsupported dtype \(dtype)"
        case .invalidSpeaker(let reason):
            return "speaker embedding: \(reason)"
        case .invalidText(let reason):
            return "text: \(reason)"
        case .invalidArgument(let name, let reason):
            return "argument '\(name)': \(reason)"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
