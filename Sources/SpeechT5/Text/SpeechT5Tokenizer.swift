import Foundation

/// SpeechT5's text tokenizer, giving exactly the `input_ids` of transformers 5.24's
/// `SpeechT5Tokenizer(...)(text)` (with `normalize=False`, its default).
///
/// The pipeline, as transformers runs it:
/// 1. The text is cut around added/special token strings (`<s>`, `</s>`, `<unk>`, `<pad>`, `<mask>`,
///    `<ctc_blank>`, …), each of which becomes its id directly, so a literal `</s>` in the text is an EOS.
///    Tokens flagged `lstrip`/`rstrip`/`single_word` in the files adjust their neighbours as transformers does.
///    With the hub's legacy files (`added_tokens.json`, no `added_tokens_decoder`) transformers 5.24 loads
///    `<mask>` WITHOUT lstrip, whatever `special_tokens_map.json` says; this type reproduces that.
/// 2. Every other chunk is encoded separately by SentencePiece (charsmap normalization, whitespace
///    handling, dummy `▁` prefix, one piece per character, runs of unknown characters merged into one
///    unknown piece), and each piece is mapped to an id, added tokens first.
/// 3. EOS is appended; there is no BOS.
///
/// Only CHAR SentencePiece models are supported (SpeechT5's `spm_char.model` is one). The config keys
/// `legacy` (false: no dummy prefix, leading space kept as `▁`) and `split_special_tokens` are honoured.
/// Number spelling (`normalize=True` in transformers) is not applied here; see `requestsNumberNormalization`.
public struct SpeechT5Tokenizer: Sendable {
    /// The id of the padding token (`<pad>`).
    public let padTokenId: Int
    /// The id appended to every encoding (`</s>`).
    public let eosTokenId: Int
    /// The id of the unknown token (`<unk>`), which characters outside the vocabulary map to.
    public let unknownTokenId: Int
    /// `len(tokenizer)` in transformers: the SentencePiece pieces plus the added tokens (81 for
    /// microsoft/speecht5_tts, the number of rows of its embedding table).
    public let vocabularySize: Int
    /// The configuration asks for transformers' English number normalizer (`"normalize": true`), which this
    /// type does not run: the caller's text front end must spell numbers before `encode`.
    public let requestsNumberNormalization: Bool

    /// The parsed SentencePiece model.
    public var model: SentencePieceModel { processor.model }

    private let processor: SentencePieceProcessor
    private let splitter: AddedTokenSplitter
    /// transformers' `_added_tokens_decoder`: id → token and flags.
    private let addedTokens: [Int: AddedTokenSpec]
    /// transformers' `_added_tokens_encoder`, keyed by UTF-8 bytes (Python `str` equality, not Swift's).
    private let addedTokenIds: [[UInt8]: Int]
    private let legacy: Bool
    private let splitSpecialTokens: Bool
    private let unknownToken: Scalars

    /// Loads `spm_char.model` and the tokenizer JSON files from a model directory, as
    /// `SpeechT5Tokenizer.from_pretrained(directory)` does.
    ///
    /// `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json` are each optional. When
    /// none is present the hub's files are assumed: `<mask>` and `<ctc_blank>` are added after the model's
    /// pieces (ids 79 and 80 for the 79-piece `spm_char.model`).
    public init(directory: String) throws {
        try self.init(
            modelPath: (directory as NSString).appendingPathComponent("spm_char.model"),
            configurationDirectory: directory)
    }

    /// Loads a SentencePiece model file plus the JSON files found in `configurationDirectory` (nil: the hub's
    /// defaults, as when a directory has none of them).
    public init(modelPath: String, configurationDirectory: String?) throws {
        let model = try SentencePieceModel(contentsOf: modelPath)
        let config = try configurationDirectory.flatMap { try TokenizerConfiguration.load(directory: $0) }
            ?? .hubDefaults(pieceCount: model.pieces.count)
        // transformers rewrites the model with add_dummy_prefix=false when legacy=false.
        let processor = try SentencePieceProcessor(
            model: model, addDummyPrefix: config.legacy ? nil : false, path: modelPath)
        let configPath = configurationDirectory.map { ($0 as NSString).appendingPathComponent("tokenizer_config.json") }
            ?? modelPath

        // PythonBackend.__init__: the loaded added tokens first...
        var decoder: [Int: AddedTokenSpec] = [:]
        for (id, token) in config.addedTokens { decoder[id] = token }
        var encoder: [[UInt8]: Int] = [:]
        for id in decoder.keys.sorted() {
            if let token = decoder[id] { encoder[token.content.utf8Bytes] = id }
        }

        // ...then every special token that is not yet an added token, in transformers' order, as a plain
        // token (no strip flags): its piece id if the model has it, else the next free id.
        var specialTokens: [Scalars] = []
        for token in config.namedSpecialTokens.compactMap(\.content) + config.extraSpecialTokens
        where !specialTokens.contains(token) {
            specialTokens.append(token)
        }
        var nextId = Self.vocabularyCount(model: model, decoder: decoder, encoder: encoder)
        for token in specialTokens where !token.isEmpty {
            let bytes = token.utf8Bytes
            guard encoder[bytes] == nil else { continue }
            let pieceId = model.id(forPiece: bytes)
            let id: Int
            if pieceId < model.pieces.count, model.pieces[pieceId].bytes == bytes {
                id = pieceId
            } else {
                id = nextId
                nextId += 1
            }
            decoder[id] = AddedTokenSpec(content: token)
            encoder[bytes] = id
        }

        func tokenId(_ attribute: String) throws -> Int {
            guard let content = config.namedSpecialTokens.first(where: { $0.attribute == attribute })?.content,
                !content.isEmpty
            else {
                throw SpeechT5Error.invalidConfig(path: configPath, field: attribute, reason: "is not set")
            }
            let bytes = content.utf8Bytes
            return encoder[bytes] ?? model.id(forPiece: bytes)
        }

        self.processor = processor
        self.addedTokens = decoder
        self.addedTokenIds = encoder
        self.splitter = AddedTokenSplitter(tokens: decoder.values.map(\.content) + specialTokens)
        self.legacy = config.legacy
        self.splitSpecialTokens = config.splitSpecialTokens
        self.requestsNumberNormalization = config.normalize
        self.unknownToken = config.namedSpecialTokens.first { $0.attribute == "unk_token" }?.content ?? []
        self.eosTokenId = try tokenId("eos_token")
        self.padTokenId = try tokenId("pad_token")
        self.unknownTokenId = try tokenId("unk_token")
        self.vocabularySize = Self.vocabularyCount(model: model, decoder: decoder, encoder: encoder)
    }

    /// `len(tokenizer)`: the number of distinct token strings over the piece ids (an added token with a
    /// piece's id replaces that piece) and the added tokens.
    private static func vocabularyCount(
        model: SentencePieceModel, decoder: [Int: AddedTokenSpec], encoder: [[UInt8]: Int]
    ) -> Int {
        var keys = Set<[UInt8]>()
        for (id, piece) in model.pieces.enumerated() {
            keys.insert(decoder[id]?.content.utf8Bytes ?? piece.bytes)
        }
        keys.formUnion(encoder.keys)
        return keys.count
    }

    /// The token ids of `text`, EOS included: transformers' `tokenizer(text).input_ids`.
    public func encode(_ text: String) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        if splitSpecialTokens {
            ids += encodeChunk(scalars)
        } else {
            for token in splitOnAddedTokens(scalars) where !token.isEmpty {
                if let id = addedTokenIds[token.utf8Bytes] {
                    ids.append(id)
                } else {
                    ids += encodeChunk(token)
                }
            }
        }
        ids.append(eosTokenId)
        return ids
    }

    /// The token string of an id (an added token's content or a SentencePiece piece), nil if out of range.
    public func piece(for id: Int) -> String? {
        if let token = addedTokens[id] { return token.content.string }
        guard id >= 0, id < model.pieces.count else { return nil }
        return model.pieces[id].string
    }

    /// `PythonBackend.tokenize` before `_tokenize`: cut the text on added tokens, then apply their
    /// `rstrip`/`lstrip`/`single_word` flags to the neighbouring chunks, in place and left to right, reading
    /// neighbours exactly when transformers does.
    private func splitOnAddedTokens(_ text: Scalars) -> [Scalars] {
        var tokens = splitter.split(text)
        let space = Unicode.Scalar(0x20)
        for i in tokens.indices {
            let token = tokens[i]
            guard let id = addedTokenIds[token.utf8Bytes], let spec = addedTokens[id] else { continue }
            let left: Scalars? = i > 0 ? tokens[i - 1] : nil
            let right: Scalars? = i < tokens.count - 1 ? tokens[i + 1] : nil
            if spec.rstrip, let right, !right.isEmpty { tokens[i + 1] = right.pythonLstrip() }
            if spec.lstrip, let left, !left.isEmpty { tokens[i - 1] = left.pythonRstrip() }
            if spec.singleWord {
                if let left, let last = left.last, last != space {
                    tokens[i - 1] += token
                    tokens[i] = []
                } else if let right, let first = right.first, first != space {
                    tokens[i + 1] = token + tokens[i + 1]
                    tokens[i] = []
                }
            }
        }
        return tokens
    }

    /// `SentencePieceBackend._tokenize` plus the id lookup (`convert_tokens_to_ids`: added tokens, then
    /// the model's `piece_to_id`, where a merged run of unknown characters becomes the unknown id).
    private func encodeChunk(_ chunk: Scalars) -> [Int] {
        var pieces: [[UInt8]]
        if legacy || !(chunk.first == "\u{2581}" || chunk.first == " ") {
            pieces = processor.encodeAsPieces(chunk.utf8Bytes)
        } else {
            // legacy=false: encode "<unk>" + text without the dummy prefix and drop the pieces of "<unk>",
            // so that a leading space is kept as a real `▁`.
            pieces = processor.encodeAsPieces((unknownToken + chunk).utf8Bytes)
            let prefixCount = processor.encodeAsPieces(unknownToken.utf8Bytes).count
            if pieces.count >= prefixCount { pieces.removeFirst(prefixCount) }
        }
        return pieces.map { addedTokenIds[$0] ?? model.id(forPiece: $0) }
    }
}
