import Foundation

/// SentencePiece's text normalizer (`normalizer.cc`), byte for byte.
///
/// Normalization works on UTF-8 bytes:
/// 1. At each position, a USER_DEFINED piece is kept as is; otherwise the longest key of the precompiled
///    character map (a Darts double-array trie over UTF-8 bytes) that prefixes the input is replaced by
///    its NUL-terminated replacement string; otherwise one UTF-8 character is copied as is (a malformed
///    byte becomes U+FFFD and consumes one byte).
/// 2. `remove_extra_whitespaces` drops leading spaces, collapses runs of spaces (after mapping, so a tab or
///    an NBSP that the map turns into a space collapses too) and drops trailing ones.
/// 3. `add_dummy_prefix` puts one space first (last with `treat_whitespace_as_suffix`), and
///    `escape_whitespaces` writes every space as U+2581 `▁`.
///
/// The charsmap is untrusted bytes. Its trie is checked in full when the normalizer is made (every node's
/// child block and every value must lie inside the blob), and every access is bounds-checked again while
/// normalizing, so a hostile blob gives an error at load time and can never make normalization crash.
public struct CharsmapNormalizer: Sendable {
    /// The double-array units of the character map; empty when the model has no map (`identity`).
    private let trie: DoubleArrayTrie?
    /// The replacement strings, each NUL-terminated, addressed by the trie's values.
    private let replacements: [UInt8]
    private let userDefined: PrefixMatcher
    /// Puts one (escaped) space before the text, so that the first word looks like every other word.
    public let addDummyPrefix: Bool
    /// Drops leading and trailing spaces and collapses runs of spaces.
    public let removeExtraWhitespaces: Bool
    /// Writes spaces as U+2581 `▁`, the word-boundary piece.
    public let escapeWhitespaces: Bool
    /// Puts the dummy space after the text instead of before it (a TrainerSpec flag).
    public let treatWhitespaceAsSuffix: Bool

    /// sentencepiece stores at most this many trie matches per position (`kMaxTrieResultsSize`).
    private static let maxTrieResults = 32
    private static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]
    private static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Builds the normalizer of a model; `path` only labels errors.
    public init(model: SentencePieceModel, path: String) throws {
        try self.init(
            spec: model.normalizerSpec,
            treatWhitespaceAsSuffix: model.trainerSpec.treatWhitespaceAsSuffix,
            userDefinedSymbols: model.userDefinedSymbols,
            path: path)
    }

    /// Builds a normalizer from a spec; `addDummyPrefix` overrides the spec's flag (transformers turns it off
    /// for `legacy=false` tokenizers).
    init(spec: SentencePieceModel.NormalizerSpec, treatWhitespaceAsSuffix: Bool, userDefinedSymbols: [[UInt8]],
         addDummyPrefix: Bool? = nil, path: String) throws {
        self.addDummyPrefix = addDummyPrefix ?? spec.addDummyPrefix
        self.removeExtraWhitespaces = spec.removeExtraWhitespaces
        self.escapeWhitespaces = spec.escapeWhitespaces
        self.treatWhitespaceAsSuffix = treatWhitespaceAsSuffix
        self.userDefined = PrefixMatcher(userDefinedSymbols)
        let blob = spec.precompiledCharsmap
        if blob.isEmpty {
            trie = nil
            replacements = []
            return
        }
        // DecodePrecompiledCharsMap: <uint32 LE trie size><trie><replacement strings>.
        func broken(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: "precompiled_charsmap of normalizer '\(spec.name)': \(reason)")
        }
        guard blob.count > 4 else { throw broken("blob of \(blob.count) bytes is too short") }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize < blob.count else {
            throw broken("trie size \(trieSize) exceeds the blob size \(blob.count)")
        }
        // The C++ code uses size / 4 units and ignores a remainder; so do we.
        // The C++ check above still lets the trie overlap the size field's 4 bytes past the end; not here.
        guard 4 + trieSize <= blob.count else {
            throw broken("trie of \(trieSize) bytes runs past the end of the \(blob.count)-byte blob")
        }
        let unitCount = trieSize / 4
        guard unitCount > 0 else { throw broken("empty trie") }
        var units = [UInt32](repeating: 0, count: unitCount)
        for i in 0..<unitCount {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        let strings = Array(blob[(4 + trieSize)...])
        try DoubleArrayTrie.validate(units: units, replacements: strings, fail: broken)
        trie = DoubleArrayTrie(units: units)
        replacements = strings
    }

    /// Normalizes text as sentencepiece's `Normalizer::Normalize` does (the string that is then split
    /// into pieces).
    public func normalize(_ text: String) -> String {
        String(decoding: normalize(bytes: Array(text.utf8)), as: UTF8.self)
    }

    /// `Normalizer::Normalize` on raw bytes (which may hold malformed UTF-8).
    public func normalize(bytes input: [UInt8]) -> [UInt8] {
        let count = input.count
        if count == 0 { return [] }
        var position = 0

        // Leading whitespace: only prefixes that normalize to exactly one space are dropped.
        if removeExtraWhitespaces {
            while position < count {
                let prefix = normalizePrefix(input, at: position)
                guard prefix.text.count == 1, prefix.text.first == 0x20 else { break }
                position += prefix.consumed
            }
        }
        if position == count { return [] }

        let space = escapeWhitespaces ? Self.spaceSymbol : [0x20]
        var output: [UInt8] = []
        output.reserveCapacity((count - position) * 3)
        if !treatWhitespaceAsSuffix, addDummyPrefix { output += space }

        var previousIsSpace = removeExtraWhitespaces
        while position < count {
            let prefix = normalizePrefix(input, at: position)
            var piece = prefix.text[...]
            // Spaces right after a space (or at the start) are dropped when collapsing whitespace.
            while previousIsSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            if !piece.isEmpty {
                for byte in piece {
                    if escapeWhitespaces, byte == 0x20 {
                        output += Self.spaceSymbol
                    } else {
                        output.append(byte)
                    }
                }
                previousIsSpace = piece.last == 0x20
            }
            position += prefix.consumed
            if !removeExtraWhitespaces { previousIsSpace = false }
        }

        if removeExtraWhitespaces {
            while output.count >= space.count, output.suffix(space.count).elementsEqual(space) {
                output.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix, addDummyPrefix { output += space }
        return output
    }

    /// `Normalizer::NormalizePrefix`: the replacement for the input at `position`, and how many input
    /// bytes it consumes (always at least one).
    private func normalizePrefix(_ input: [UInt8], at position: Int) -> (text: ArraySlice<UInt8>, consumed: Int) {
        if let length = userDefined.longestMatch(input, at: position) {
            return (input[position..<(position + length)], length)
        }
        if let trie {
            var longestLength = 0
            var longestValue = 0
            var found = 0
            trie.commonPrefixSearch(input, from: position) { value, length in
                // Only the first kMaxTrieResultsSize results are stored by the C++ code; their lengths grow,
                // so the last stored one is the longest.
                found += 1
                if found <= Self.maxTrieResults, longestLength == 0 || length > longestLength {
                    longestLength = length
                    longestValue = value
                }
            }
            if longestLength > 0, longestValue < replacements.count,
                let nul = replacements[longestValue...].firstIndex(of: 0)
            {
                return (replacements[longestValue..<nul], longestLength)
            }
        }
        let (valid, length) = decodeUTF8Length(input, at: position)
        if !valid { return (Self.replacementCharacter[...], 1) }
        return (input[position..<(position + length)], length)
    }
}

/// sentencepiece's `string_util::IsValidDecodeUTF8`: the byte length of the UTF-8 character at `position`
/// and whether it is well formed (no overlong forms, no surrogates, nothing above U+10FFFF). A literal
/// U+FFFD counts as valid; a malformed sequence has length 1.
func decodeUTF8Length(_ bytes: [UInt8], at position: Int) -> (valid: Bool, length: Int) {
    let remaining = bytes.count - position
    let b0 = UInt32(bytes[position])
    func isTrail(_ offset: Int) -> Bool { bytes[position + offset] & 0xC0 == 0x80 }
    func isValidScalar(_ c: UInt32) -> Bool { c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF) }
    if b0 < 0x80 { return (true, 1) }
    if remaining >= 2, b0 & 0xE0 == 0xC0 {
        let c = (b0 & 0x1F) << 6 | UInt32(bytes[position + 1] & 0x3F)
        if isTrail(1), c >= 0x80, isValidScalar(c) { return (true, 2) }
    } else if remaining >= 3, b0 & 0xF0 == 0xE0 {
        let c = (b0 & 0x0F) << 12 | UInt32(bytes[position + 1] & 0x3F) << 6 | UInt32(bytes[position + 2] & 0x3F)
        if isTrail(1), isTrail(2), c >= 0x800, isValidScalar(c) { return (true, 3) }
    } else if remaining >= 4, b0 & 0xF8 == 0xF0 {
        let c = (b0 & 0x07) << 18 | UInt32(bytes[position + 1] & 0x3F) << 12
            | UInt32(bytes[position + 2] & 0x3F) << 6 | UInt32(bytes[position + 3] & 0x3F)
        if isTrail(1), isTrail(2), isTrail(3), c >= 0x10000, isValidScalar(c) { return (true, 4) }
    }
    return (false, 1)
}

/// sentencepiece's `string_util::OneCharLen`: the length a UTF-8 lead byte announces (1 for a stray
/// continuation byte), used where the C++ code splits without validating.
func oneCharLength(_ byte: UInt8) -> Int {
    switch byte >> 4 {
    case 0xC, 0xD: return 2
    case 0xE: return 3
    case 0xF: return 4
    default: return 1
    }
}

/// A read-only Darts-clone double array, as sentencepiece stores its character map.
///
/// Unit layout (darts-clone `DoubleArrayUnit`): bit 31 marks a value unit (value = low 31 bits); otherwise
/// bits 0–7 are the label, bit 8 says the node has a value child at label 0, and the rest encode the offset
/// to the node's children (`(unit >> 10) << ((unit & 0x200) >> 6)`). A child for byte `b` of the node at
/// `p` sits at `p ^ offset ^ b` and must carry label `b`.
struct DoubleArrayTrie: Sendable {
    let units: [UInt32]

    @inline(__always) static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }
    @inline(__always) static func label(_ unit: UInt32) -> UInt32 { unit & (0x8000_0000 | 0xFF) }
    @inline(__always) static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }

    /// Checks a whole array in one linear pass, so that lookups can never leave it: every non-value unit's
    /// child block (256 units, since children sit at `base ^ byte`) is inside the array, every leaf flag
    /// points at a value unit, and every value addresses a NUL-terminated replacement string.
    static func validate(units: [UInt32], replacements: [UInt8],
                         fail: (String) -> SpeechT5Error) throws {
        let lastNul = replacements.lastIndex(of: 0) ?? -1
        for (index, unit) in units.enumerated() {
            if unit & 0x8000_0000 != 0 {
                let v = value(unit)
                guard v <= lastNul else {
                    throw fail("trie value \(v) at unit \(index) points outside the \(replacements.count)-byte replacement table")
                }
                continue
            }
            let base = index ^ offset(unit)
            guard base | 0xFF < units.count else {
                throw fail("trie unit \(index) has offset \(offset(unit)), out of range for \(units.count) units")
            }
            if hasLeaf(unit) {
                guard units[base] & 0x8000_0000 != 0 else {
                    throw fail("trie unit \(index) has a leaf flag but unit \(base) holds no value")
                }
            }
        }
    }

    /// darts-clone `commonPrefixSearch` over `bytes[start...]` with an explicit length: reports
    /// `(value, length)` for every key that is a prefix, shortest first. Bounds are re-checked so that
    /// even an unvalidated array cannot trap.
    func commonPrefixSearch(_ bytes: [UInt8], from start: Int, _ report: (Int, Int) -> Void) {
        guard let root = units.first else { return }
        var node = Self.offset(root)
        var i = start
        while i < bytes.count {
            let byte = bytes[i]
            node ^= Int(byte)
            guard node >= 0, node < units.count else { return }
            let unit = units[node]
            guard Self.label(unit) == UInt32(byte) else { return }
            node ^= Self.offset(unit)
            if Self.hasLeaf(unit) {
                guard node >= 0, node < units.count else { return }
                report(Self.value(units[node]), i - start + 1)
            }
            i += 1
        }
    }
}

/// sentencepiece's `PrefixMatcher` over the USER_DEFINED pieces: the longest one that starts at a
/// position. Models without such pieces (SpeechT5's) make this a no-op.
struct PrefixMatcher: Sendable {
    /// Symbols grouped by first byte, longest first, so the first hit is the longest match.
    private let byFirstByte: [UInt8: [[UInt8]]]

    init(_ symbols: [[UInt8]]) {
        var groups: [UInt8: [[UInt8]]] = [:]
        for symbol in Set(symbols) where !symbol.isEmpty {
            groups[symbol[0], default: []].append(symbol)
        }
        byFirstByte = groups.mapValues { $0.sorted { $0.count > $1.count } }
    }

    var isEmpty: Bool { byFirstByte.isEmpty }

    /// The byte length of the longest symbol at `position`, or nil.
    func longestMatch(_ bytes: [UInt8], at position: Int) -> Int? {
        guard position < bytes.count, let candidates = byFirstByte[bytes[position]] else { return nil }
        for symbol in candidates where symbol.count <= bytes.count - position {
            if bytes[position..<(position + symbol.count)].elementsEqual(symbol) { return symbol.count }
        }
        return nil
    }
}
