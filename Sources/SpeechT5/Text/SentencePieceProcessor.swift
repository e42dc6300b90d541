import Foundation

/// sentencepiece's `SentencePieceProcessor::Encode` for a CHAR model, returning what the Python binding's
/// `encode(text, out_type=str)` returns: the piece strings (as bytes), before any id lookup.
///
/// transformers' SpeechT5Tokenizer gets pieces this way and only then maps them to ids (through its added
/// tokens first), so the pieces themselves, including how unknown characters merge, are the contract.
struct SentencePieceProcessor: Sendable {
    let model: SentencePieceModel
    let normalizer: CharsmapNormalizer
    private let userDefined: PrefixMatcher

    /// `addDummyPrefix` overrides the model's flag (transformers clears it for `legacy=false`).
    init(model: SentencePieceModel, addDummyPrefix: Bool? = nil, path: String) throws {
        self.model = model
        self.normalizer = try CharsmapNormalizer(
            spec: model.normalizerSpec,
            treatWhitespaceAsSuffix: model.trainerSpec.treatWhitespaceAsSuffix,
            userDefinedSymbols: model.userDefinedSymbols,
            addDummyPrefix: addDummyPrefix,
            path: path)
        self.userDefined = PrefixMatcher(model.userDefinedSymbols)
    }

    /// Normalizes, splits into characters (`character::Model::Encode`) and assembles the pieces as
    /// `PopulateSentencePieceText` does:
    /// - each character (or USER_DEFINED symbol) is looked up with `PieceToId`;
    /// - a run of consecutive unknown characters becomes ONE piece, their concatenation (sentencepiece does
    ///   this so that an unknown span decodes as a unit), which later maps to the unknown id;
    /// - with `byte_fallback`, an unknown character becomes its UTF-8 bytes as `<0xXX>` pieces instead,
    ///   and nothing merges.
    func encodeAsPieces(_ text: [UInt8]) -> [[UInt8]] {
        let normalized = normalizer.normalize(bytes: text)
        var pieces: [[UInt8]] = []
        var previousIsUnknown = false
        var position = 0
        while position < normalized.count {
            let length = userDefined.longestMatch(normalized, at: position)
                ?? min(normalized.count - position, oneCharLength(normalized[position]))
            let piece = Array(normalized[position..<(position + length)])
            position += length
            let id = model.id(forPiece: piece)
            let isUnknown = id == model.unknownId
            if model.pieces[id].type == .control {
                // A control piece has no surface; sentencepiece keeps it as is. (Only a model whose control
                // symbol is a single character could get here.)
                pieces.append(piece)
            } else if isUnknown, model.trainerSpec.byteFallback {
                for byte in piece { pieces.append(bytePiece(byte)) }
            } else if isUnknown, previousIsUnknown, !pieces.isEmpty {
                pieces[pieces.count - 1] += piece
            } else {
                pieces.append(piece)
            }
            previousIsUnknown = isUnknown
        }
        return pieces
    }
}
