import Foundation

/// A parsed JSON value. The tokenizer files are small and loosely typed (a special token is a string or
/// an object), so they are read into this rather than into fixed `Decodable` structs.
enum JSONValue: Decodable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// Python truthiness of a flag that should be a bool.
    var isTrue: Bool {
        switch self {
        case .bool(let value): return value
        case .number(let value): return value != 0
        default: return false
        }
    }
}

/// One added token as transformers' `AddedToken` (the flags the slow tokenizer's `tokenize` honours).
struct AddedTokenSpec: Sendable {
    var content: Scalars
    var lstrip = false
    var rstrip = false
    var singleWord = false
}

/// The tokenizer files of a hub repo (`tokenizer_config.json`, `special_tokens_map.json`,
/// `added_tokens.json`), resolved the way transformers 5.24's `from_pretrained` and `PythonBackend.__init__`
/// resolve them for SpeechT5Tokenizer.
struct TokenizerConfiguration {
    /// The named special tokens in transformers' order (`SPECIAL_TOKENS_ATTRIBUTES`), nil when unset.
    var namedSpecialTokens: [(attribute: String, content: Scalars?)] = []
    /// `extra_special_tokens` / `additional_special_tokens`.
    var extraSpecialTokens: [Scalars] = []
    /// Added tokens with their ids, from `added_tokens_decoder` or the legacy `added_tokens.json`.
    var addedTokens: [(id: Int, token: AddedTokenSpec)] = []
    var legacy = true
    var splitSpecialTokens = false
    var normalize = false

    static let specialTokenAttributes = [
        "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
    ]
    /// SpeechT5Tokenizer's constructor defaults.
    static let defaultSpecialTokens = ["bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"]

    /// What transformers would load from microsoft/speecht5_tts's files (`added_tokens.json` =
    /// `{"<ctc_blank>": 80, "<mask>": 79}` for its 79 pieces, `<mask>` named as mask token). Used when a
    /// directory holds none of the JSON files; the ids follow the model's piece count.
    static func hubDefaults(pieceCount: Int) -> TokenizerConfiguration {
        var config = TokenizerConfiguration()
        config.namedSpecialTokens = specialTokenAttributes.map { attribute in
            let content = attribute == "mask_token" ? "<mask>" : defaultSpecialTokens[attribute]
            return (attribute, content.map { Array($0.unicodeScalars) })
        }
        config.addedTokens = [
            (pieceCount, AddedTokenSpec(content: Array("<mask>".unicodeScalars))),
            (pieceCount + 1, AddedTokenSpec(content: Array("<ctc_blank>".unicodeScalars))),
        ]
        return config
    }

    /// Reads whichever of the three files exist in `directory`; nil when none does.
    static func load(directory: String) throws -> TokenizerConfiguration? {
        let configPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
        let mapPath = (directory as NSString).appendingPathComponent("special_tokens_map.json")
        let addedPath = (directory as NSString).appendingPathComponent("added_tokens.json")
        let fm = FileManager.default
        guard fm.fileExists(atPath: configPath) || fm.fileExists(atPath: mapPath) || fm.fileExists(atPath: addedPath)
        else { return nil }

        let config = try readObject(configPath) ?? [:]
        var kwargs = config  // transformers' init_kwargs
        var result = TokenizerConfiguration()

        if let decoder = config["added_tokens_decoder"] {
            // A re-saved tokenizer: the decoder is authoritative; special_tokens_map.json is not read.
            guard let entries = decoder.object else {
                throw SpeechT5Error.invalidConfig(path: configPath, field: "added_tokens_decoder", reason: "is not an object")
            }
            for (key, value) in entries {
                guard let id = Int(key), id >= 0 else {
                    throw SpeechT5Error.invalidConfig(
                        path: configPath, field: "added_tokens_decoder", reason: "key '\(key)' is not a token id")
                }
                guard case .string(let content)? = value["content"] else {
                    throw SpeechT5Error.invalidConfig(
                        path: configPath, field: "added_tokens_decoder.\(key)", reason: "has no string 'content'")
                }
                var token = AddedTokenSpec(content: Array(content.unicodeScalars))
                token.lstrip = value["lstrip"]?.isTrue ?? false
                token.rstrip = value["rstrip"]?.isTrue ?? false
                token.singleWord = value["single_word"]?.isTrue ?? false
                result.addedTokens.append((id, token))
            }
            // JSON object order is lost; make the order deterministic (it only matters for duplicates).
            result.addedTokens.sort { $0.id < $1.id }
        } else {
            // Legacy layout (the hub's): special_tokens_map.json overrides the config's named tokens...
            if let map = try readObject(mapPath) {
                for (key, value) in map { kwargs[key] = value }
            }
            // ...and added_tokens.json gives the ids, with every flag off (transformers builds
            // `AddedToken(str, rstrip=False, lstrip=False, ...)` from it, so the hub's `<mask>` lstrip=true in
            // special_tokens_map.json is not what the loaded tokenizer uses).
            if let added = try readObject(addedPath) {
                for (content, value) in added {
                    guard case .number(let number) = value, number >= 0, number == number.rounded(),
                        number < 1e15
                    else {
                        throw SpeechT5Error.invalidConfig(
                            path: addedPath, field: content, reason: "is not a non-negative integer id")
                    }
                    result.addedTokens.append((Int(number), AddedTokenSpec(content: Array(content.unicodeScalars))))
                }
                result.addedTokens.sort { $0.id < $1.id }
            }
        }

        for attribute in specialTokenAttributes {
            let content: String?
            if let value = kwargs[attribute] {
                content = try tokenContent(value, path: configPath, field: attribute)
            } else {
                content = defaultSpecialTokens[attribute]
            }
            result.namedSpecialTokens.append((attribute, content.map { Array($0.unicodeScalars) }))
        }
        for key in ["extra_special_tokens", "additional_special_tokens"] {
            // transformers only falls back to the deprecated name when the new one is absent or empty.
            guard case .array(let list)? = kwargs[key], !list.isEmpty else { continue }
            for item in list {
                if let content = try tokenContent(item, path: configPath, field: key) {
                    result.extraSpecialTokens.append(Array(content.unicodeScalars))
                }
            }
            break
        }
        // `kwargs.get("legacy", True)`: an explicit null is falsy, i.e. legacy off.
        result.legacy = kwargs["legacy"]?.isTrue ?? true
        result.splitSpecialTokens = kwargs["split_special_tokens"]?.isTrue ?? false
        result.normalize = kwargs["normalize"]?.isTrue ?? false
        return result
    }

    /// A special token is written either as a string or as an `AddedToken` object with `content`.
    private static func tokenContent(_ value: JSONValue, path: String, field: String) throws -> String? {
        switch value {
        case .null: return nil
        case .string(let content): return content
        case .object(let object):
            guard case .string(let content)? = object["content"] else {
                throw SpeechT5Error.invalidConfig(path: path, field: field, reason: "token object has no string 'content'")
            }
            return content
        default:
            throw SpeechT5Error.invalidConfig(path: path, field: field, reason: "is neither a string nor a token object")
        }
    }

    /// The top-level object of a JSON file, or nil if the file does not exist.
    private static func readObject(_ path: String) throws -> [String: JSONValue]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let bytes = try readFileBytes(path)
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw SpeechT5Error.invalidFile(path: path, reason: "invalid JSON (\(error.localizedDescription))")
        }
        guard let object = value.object else {
            throw SpeechT5Error.invalidFile(path: path, reason: "top-level JSON value is not an object")
        }
        return object
    }
}
