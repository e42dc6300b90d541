import Foundation
import Hummingbird
import SpeechT5

/// Any JSON value, decoded strictly (a number is never a boolean and vice versa), so that a field of
/// the wrong type is reported as such.
indirect enum JSONValue: Decodable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(UInt64.self) { self = .unsigned(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .unsigned, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The value as a Double, for any JSON number.
    var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .unsigned(let value): return Double(value)
        case .number(let value): return value
        default: return nil
        }
    }
}

/// Output encodings of `POST /v1/audio/speech`.
public enum SpeechResponseFormat: String, Sendable, CaseIterable {
    /// A RIFF WAV header with open (0xFFFFFFFF) lengths, then 16-bit PCM.
    case wav
    /// Raw little-endian signed 16-bit mono PCM at the model's sample rate.
    case pcm

    var contentType: String {
        switch self {
        case .wav: return "audio/wav"
        case .pcm: return "audio/pcm"
        }
    }

    static let supportedList = allCases.map(\.rawValue).joined(separator: ", ")
}

/// A validated `POST /v1/audio/speech` body (OpenAI's fields).
struct SpeechRequest: Sendable, Equatable {
    var model: String
    var input: String
    var voice: String
    var responseFormat: SpeechResponseFormat
    var speed: Double
    var seed: UInt64?

    /// Parses and validates a request body; every problem is an `APIError` naming the field.
    static func parse(_ body: ByteBuffer, configuration: SpeechServerConfiguration) throws -> SpeechRequest {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError.invalidRequest(
                "the request body is not valid JSON; send a JSON object such as {\"model\": \"\(configuration.modelName)\", \"input\": \"Hello.\", \"voice\": \"default\"}",
                code: "invalid_json")
        }
        guard case .object(let fields) = root else {
            throw APIError.invalidRequest("the request body must be a JSON object, got \(root.typeName)", code: "invalid_json")
        }

        func string(_ name: String, required: Bool) throws -> String? {
            switch fields[name] {
            case nil, .null?:
                if required { throw APIError.missing(name) }
                return nil
            case .string(let value)?: return value
            case let other?: throw APIError.wrongType(name, expected: "a string", got: other)
            }
        }

        // model
        guard let model = try string("model", required: true) else { throw APIError.missing("model") }
        guard configuration.modelIdentifiers.contains(model) else {
            throw APIError.invalidRequest(
                "unknown model '\(model)'; this server serves \(configuration.modelIdentifiers.joined(separator: ", "))",
                param: "model", code: "model_not_found")
        }

        // input
        guard let input = try string("input", required: true) else { throw APIError.missing("input") }
        if input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw APIError.invalidRequest("'input' is empty; give the text to speak", param: "input", code: "empty_input")
        }
        let length = input.count
        if length > configuration.maxInputCharacters {
            throw APIError.invalidRequest(
                "'input' is \(length) characters long; the limit is \(configuration.maxInputCharacters)",
                param: "input", code: "string_above_max_length")
        }

        // voice: a name, or {"id": name} as newer clients send for custom voices.
        let voice: String
        switch fields["voice"] {
        case nil, .null?: throw APIError.missing("voice")
        case .string(let name)?: voice = name
        case .object(let object)?:
            guard case .string(let id)? = object["id"] else {
                throw APIError.invalidRequest("'voice' as an object must have a string 'id'", param: "voice", code: "invalid_type")
            }
            voice = id
        case let other?: throw APIError.wrongType("voice", expected: "a string", got: other)
        }

        // response_format (OpenAI's default is mp3, which this server does not make: wav is its default).
        var format = SpeechResponseFormat.wav
        if let name = try string("response_format", required: false) {
            guard let known = SpeechResponseFormat(rawValue: name.lowercased()) else {
                throw APIError.invalidRequest(
                    "unsupported response_format '\(name)'; supported formats are \(SpeechResponseFormat.supportedList)",
                    param: "response_format", code: "unsupported_response_format")
            }
            format = known
        }

        // speed: only 1.0 (SpeechT5 has no duration control; resampling would change the pitch).
        var speed = 1.0
        switch fields["speed"] {
        case nil, .null?: break
        case let value?:
            guard let number = value.doubleValue else { throw APIError.wrongType("speed", expected: "a number", got: value) }
            guard number == 1.0 else {
                throw APIError.invalidRequest("speed \(number) is not supported: this server speaks at speed 1.0 only",
                                              param: "speed", code: "unsupported_speed")
            }
            speed = number
        }

        // stream_format: raw audio only.
        if let streamFormat = try string("stream_format", required: false), streamFormat != "audio" {
            throw APIError.invalidRequest("unsupported stream_format '\(streamFormat)'; this server streams raw audio ('audio')",
                                          param: "stream_format", code: "unsupported_stream_format")
        }

        // seed: an optional non-negative integer (the pre-net dropout seed: same seed, same audio).
        var seed: UInt64?
        switch fields["seed"] {
        case nil, .null?: break
        case .integer(let value)?:
            guard value >= 0 else {
                throw APIError.invalidRequest("'seed' must be a non-negative integer, got \(value)", param: "seed", code: "invalid_value")
            }
            seed = UInt64(value)
        case .unsigned(let value)?: seed = value
        case .number(let value)? where value >= 0 && value == value.rounded() && value < 18_446_744_073_709_551_616:
            seed = UInt64(value)
        case let other?:
            throw APIError.wrongType("seed", expected: "a non-negative integer", got: other)
        }

        return SpeechRequest(model: model, input: input, voice: voice, responseFormat: format, speed: speed, seed: seed)
    }
}
