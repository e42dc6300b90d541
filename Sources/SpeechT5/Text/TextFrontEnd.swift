import Foundation

/// How text is normalized before tokenizing (`--normalize off|reference|full`).
public enum TextNormalization: String, CaseIterable, Sendable {
    /// The raw tokenizer, as transformers' default `normalize=False`: digits and symbols become `<unk>`.
    case off
    /// transformers' `normalize=True`: its `EnglishNumberNormalizer`, quirks included
    /// (`ReferenceNumberNormalizer`). For parity tests.
    case reference
    /// This engine's English front end (`EnglishNormalizer`): numbers, money, dates, abbreviations,
    /// symbols, addresses and unknown characters read sensibly. The default.
    case full
}

/// The text front end: validates the input, applies the chosen normalization, and cuts long text into
/// pieces the model can take (`TextSplitter`).
///
/// Validation, in every mode:
/// - empty or whitespace-only text is an error;
/// - C0 and C1 control characters are removed (tab, line feed and carriage return are whitespace and
///   stay; form feed and U+0085 NEXT LINE become line breaks); text with nothing left is an error. The
///   tokenizer already drops C0 controls, so this changes the reference's tokens only for C1 controls,
///   which it would turn into `<unk>`.
/// - text with nothing speakable is an error: no letter that is in the model's vocabulary (when the
///   vocabulary is known), or no letter or digit at all. In `off` mode digits alone are not speakable,
///   because the vocabulary has no digits.
///
/// In `reference` mode the controls are removed after transformers' normalizer has run, because the
/// reference sees them (a control character is not a word character, so it can decide whether a number
/// is matched).
public struct TextFrontEnd: Sendable {
    /// The normalization applied by `prepare`.
    public let normalization: TextNormalization
    /// How `pieces` groups sentences. By default, `full` synthesizes sentence by sentence, while `off` and
    /// `reference` keep the text whole whenever it fits, so that they stay identical to the reference.
    public var splitOptions: TextSplitter.Options

    private let isInVocabulary: EnglishNormalizer.VocabularyPredicate?
    private let englishNormalizer: EnglishNormalizer

    /// A front end for a model whose vocabulary is described by `isInVocabulary`. With nil, `full` mode
    /// assumes `EnglishNormalizer.basicVocabulary`, and the speakable check accepts any letter or digit in
    /// the other modes.
    public init(normalization: TextNormalization = .full, isInVocabulary: EnglishNormalizer.VocabularyPredicate? = nil) {
        self.normalization = normalization
        self.isInVocabulary = isInVocabulary
        self.englishNormalizer = EnglishNormalizer(isInVocabulary: isInVocabulary)
        self.splitOptions = TextSplitter.Options(packSentences: normalization != .full)
    }

    /// A front end for the model whose tokenizer is given: its vocabulary decides which characters are
    /// kept, transliterated or rejected.
    public init(normalization: TextNormalization = .full, tokenizer: SpeechT5Tokenizer) {
        let vocabulary = Self.vocabulary(of: tokenizer)
        self.init(normalization: normalization, isInVocabulary: { vocabulary.contains($0) })
    }

    /// The single characters the tokenizer maps to their own ids (normal and user-defined SentencePiece
    /// pieces), plus the space, which becomes the word-boundary piece `▁`.
    public static func vocabulary(of tokenizer: SpeechT5Tokenizer) -> Set<Character> {
        var characters: Set<Character> = [" "]
        for piece in tokenizer.model.pieces where piece.type == .normal || piece.type == .userDefined {
            let text = piece.string
            guard text.count == 1, let character = text.first, character != "\u{2581}" else { continue }
            characters.insert(character)
        }
        return characters
    }

    /// The text to hand to the tokenizer: validated, stripped of control characters and normalized.
    /// - Throws: `SpeechT5Error.invalidText` for empty, whitespace-only, control-only or unspeakable text,
    ///   and where transformers' own normalizer fails (`reference` mode).
    public func prepare(_ text: String) throws -> String {
        let cleaned = try validated(text)
        let prepared: String
        switch normalization {
        case .off:
            prepared = cleaned
        case .reference:
            prepared = Self.removingControlCharacters(try ReferenceNumberNormalizer()(text))
        case .full:
            prepared = englishNormalizer(cleaned)
        }
        try checkSpeakable(prepared, original: cleaned)
        return prepared
    }

    /// The text cut into the pieces to synthesize in order: `prepare(text)` split by `TextSplitter` with
    /// `splitOptions`. Each piece's text is exactly what `prepare` would give for it.
    ///
    /// In `full` mode the split is made on the spelled text before it is fitted to the vocabulary
    /// (`EnglishNormalizer.spell`), so that a capital the model lacks still marks a sentence start; each
    /// piece is then fitted (`fitToVocabulary`) and counted in its fitted form.
    /// - Parameters:
    ///   - maxTokens: the model's `max_text_positions`.
    ///   - tokenCount: the number of tokens of a piece, e.g. `{ tokenizer.encode($0).count }`.
    /// - Throws: `SpeechT5Error.invalidText` as `prepare` does, and for a word too long for one piece.
    public func pieces(_ text: String, maxTokens: Int, tokenCount: (String) -> Int) throws -> [TextPiece] {
        var pieces: [TextPiece]
        if normalization == .full {
            let cleaned = try validated(text)
            let spelled = englishNormalizer.spell(cleaned)
            try checkSpeakable(englishNormalizer.fitToVocabulary(spelled), original: cleaned)
            pieces = try TextSplitter.split(spelled, maxTokens: maxTokens, options: splitOptions) {
                tokenCount(englishNormalizer.fitToVocabulary($0))
            }
            pieces = pieces.compactMap { piece in
                let fitted = englishNormalizer.fitToVocabulary(piece.text)
                return fitted.isEmpty ? nil : TextPiece(text: fitted, endsSentence: piece.endsSentence)
            }
        } else {
            let prepared = try prepare(text)
            pieces = try TextSplitter.split(prepared, maxTokens: maxTokens, options: splitOptions, tokenCount: tokenCount)
        }
        guard !pieces.isEmpty else {
            throw SpeechT5Error.invalidText(reason: "has nothing speakable after normalization")
        }
        return pieces
    }

    /// The text without control characters, after the checks that do not depend on the mode.
    private func validated(_ text: String) throws -> String {
        guard !text.isEmpty else { throw SpeechT5Error.invalidText(reason: "is empty") }
        guard text.contains(where: { !$0.isWhitespace }) else {
            throw SpeechT5Error.invalidText(reason: "contains only whitespace")
        }
        let cleaned = Self.removingControlCharacters(text)
        guard cleaned.contains(where: { !$0.isWhitespace }) else {
            throw SpeechT5Error.invalidText(reason: "contains only control characters and whitespace")
        }
        return cleaned
    }

    /// The text without C0/C1 control characters. Tab, line feed and carriage return stay; form feed and
    /// NEXT LINE (U+0085) become line feeds, since they separate lines.
    public static func removingControlCharacters(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x09, 0x0A, 0x0D:
                scalars.append(scalar)
            case 0x0C, 0x85:
                scalars.append("\n")
            case 0x00...0x1F, 0x7F...0x9F:
                continue
            default:
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// Decodes UTF-8 bytes (standard input, a file) strictly, without a leading byte-order mark.
    /// - Throws: `SpeechT5Error.invalidText` naming the offset of the first byte that is not valid UTF-8.
    public static func decodeUTF8<Bytes: Collection>(_ bytes: Bytes) throws -> String where Bytes.Element == UInt8 {
        var bytes = Array(bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var scalars = String.UnicodeScalarView()
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                scalars.append(scalar)
                offset += UTF8.width(scalar)
            case .emptyInput:
                return String(scalars)
            case .error:
                throw SpeechT5Error.invalidText(reason: "is not valid UTF-8 (byte offset \(offset))")
            }
        }
    }

    private func checkSpeakable(_ prepared: String, original: String) throws {
        let speakable: (Character) -> Bool
        switch (normalization, isInVocabulary) {
        case (.full, nil):
            speakable = { $0.isLetter && EnglishNormalizer.basicVocabulary.contains($0) }
        case (_, let isInVocabulary?):
            speakable = { $0.isLetter && isInVocabulary($0) }
        case (_, nil):
            speakable = { $0.isLetter || $0.isNumber }
        }
        guard !prepared.contains(where: speakable) else { return }
        let shown = original.count > 40 ? String(original.prefix(40)) + "…" : original
        var reason = "has nothing speakable: \"\(shown)\" has no letter the model can say"
        if normalization == .off, original.contains(where: \.isNumber) {
            reason += " (digits are not in the vocabulary; use normalization 'full')"
        }
        throw SpeechT5Error.invalidText(reason: reason)
    }
}
