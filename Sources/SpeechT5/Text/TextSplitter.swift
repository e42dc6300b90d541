import Foundation

/// One piece of a long text, small enough for one pass of the model.
public struct TextPiece: Sendable, Equatable {
    /// The text to synthesize (whitespace runs collapsed to single spaces, trimmed), or the whole input
    /// unchanged when `TextSplitter.Options.packSentences` found that it fits as it is.
    public let text: String
    /// The piece ends a sentence (or a paragraph): the synthesizer pauses longer after it than after a
    /// piece cut at a clause or word boundary.
    public let endsSentence: Bool

    public init(text: String, endsSentence: Bool) {
        self.text = text
        self.endsSentence = endsSentence
    }
}

/// Splits text of any length into pieces whose token count fits the model's `max_text_positions`.
///
/// Order of cuts:
/// 1. **Paragraphs** (a blank line) and **sentences**: after `.`, `!`, `?`, `…` (and runs of them, with any
///    closing quotes or brackets) followed by whitespace or the end (full-width "。！？" need no space).
///    A period is not a sentence end after an initial ("J. R. R. Tolkien"; but "U S." as the normalizer
///    writes "U.S." does end one), after letters with periods ("U.S."), after a known
///    abbreviation ("Dr.", "e.g.", "vs."), or when the next word starts with a lower-case letter or a
///    digit ("approx. five", "No. 5"). A single line break is only whitespace, because hard-wrapped prose
///    (e-books) breaks lines in the middle of sentences.
/// 2. **Clauses**, only inside a sentence too long for one piece: after `,` `;` `:` and after a dash
///    standing between words (" - ", " — "). As many clauses as fit go into each piece.
/// 3. **Words**, only inside a clause too long for one piece: as many words as fit. A single word that
///    does not fit alone is an error (`SpeechT5Error.invalidText`, naming the word and its position).
///
/// By default every sentence is its own piece (SpeechT5 is most reliable on one sentence at a time, and a
/// sentence end is where a pause belongs), except that a tiny sentence ("Yes.", "Hi!") is joined to its
/// neighbour in the same paragraph, since very short inputs make the model unreliable. With
/// `Options.packSentences` the input is kept whole when it fits, and otherwise whole sentences are packed
/// greedily up to the limit: that mode reproduces the reference exactly whenever the reference would not
/// have failed.
///
/// **Splitting runs after normalization** (`TextFrontEnd.pieces` does it in that order) because the
/// normalizer removes most periods that are not sentence ends ("Dr." → "Doctor", "3.5" → "three point
/// five", "e.g." → "for example") and changes lengths (a number grows into words), so the token counts
/// must be taken on the normalized text. The positions in error messages are character offsets in the
/// text given to `split`.
///
/// Token counts come from a closure, called once per candidate piece (never on the whole text, except
/// once in `packSentences` mode), so a 100 000-character chapter costs a few linear passes.
public enum TextSplitter {
    /// How sentences are grouped into pieces.
    public struct Options: Sendable, Equatable {
        /// A whole sentence with fewer tokens than this is joined to its neighbour in the same paragraph
        /// when the two fit together (0 disables joining). Counted as `tokenCount` counts (SpeechT5's
        /// count includes the end-of-sequence token: "Yes." is 6).
        public var mergeBelowTokens: Int
        /// Keep the whole text as one piece when it fits, and otherwise pack as many whole sentences per
        /// piece as fit (for parity with the reference, which never splits).
        public var packSentences: Bool

        public init(mergeBelowTokens: Int = 10, packSentences: Bool = false) {
            self.mergeBelowTokens = mergeBelowTokens
            self.packSentences = packSentences
        }
    }

    /// Splits `text` into pieces of at most `maxTokens` tokens as counted by `tokenCount`.
    ///
    /// Text without any letter or digit (empty, whitespace, stray punctuation) gives no pieces; sentences
    /// made only of punctuation are dropped.
    /// - Throws: `SpeechT5Error.invalidText` when one word alone needs more than `maxTokens` tokens;
    ///   `SpeechT5Error.invalidArgument` when `maxTokens` is not positive.
    public static func split(
        _ text: String, maxTokens: Int, options: Options = Options(), tokenCount: (String) -> Int
    ) throws -> [TextPiece] {
        guard maxTokens > 0 else {
            throw SpeechT5Error.invalidArgument(name: "maxTokens", reason: "must be positive, got \(maxTokens)")
        }
        let characters = Array(text)
        guard characters.contains(where: isSpeakable) else { return [] }
        if options.packSentences, tokenCount(text) <= maxTokens {
            return [TextPiece(text: text, endsSentence: true)]
        }

        return try withoutActuallyEscaping(tokenCount) { tokenCount in
            let splitter = Splitter(characters: characters, maxTokens: maxTokens, tokenCount: tokenCount)
            var pieces: [Splitter.Piece] = []
            for sentence in sentences(in: characters) {
                try splitter.appendPieces(of: sentence, to: &pieces, options: options)
            }
            return pieces.map { TextPiece(text: $0.text, endsSentence: $0.endsSentence) }
        }
    }

    // MARK: - Sentences

    struct Sentence {
        var range: Range<Int>
        var paragraph: Int
    }

    private static let terminators: Set<Character> = [".", "!", "?", "…", "‼", "⁇", "⁈", "⁉", "。", "！", "？"]
    private static let fullWidthTerminators: Set<Character> = ["。", "！", "？"]
    private static let closers: Set<Character> = ["\"", "'", ")", "]", "}", "»", "”", "’", "」", "』"]
    private static let openers: Set<Character> = ["\"", "'", "(", "[", "{", "«", "“", "‘", "¿", "¡"]
    /// Lower-cased, without their final period: a period after them does not end a sentence.
    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "mx", "dr", "prof", "st", "mt", "ft", "rev", "hon", "gen", "col", "capt", "lt", "sgt",
        "gov", "sen", "rep", "pres", "fr", "vs", "e.g", "i.e", "cf", "vol", "fig", "p", "pp", "ch", "approx", "ca",
        "al", "sec", "art", "eq", "ex",
    ]

    static func isSpeakable(_ character: Character) -> Bool {
        character.isLetter || character.isNumber
    }

    /// Sentence ranges of the text, with their paragraph numbers.
    static func sentences(in c: [Character]) -> [Sentence] {
        var result: [Sentence] = []
        var paragraph = 0
        var start = 0
        func close(_ end: Int) {
            if c[start..<end].contains(where: isSpeakable) {
                result.append(Sentence(range: start..<end, paragraph: paragraph))
            }
            start = end
        }
        var i = 0
        while i < c.count {
            let character = c[i]
            if character.isNewline {
                // A blank line (two line breaks with only whitespace between) ends the paragraph.
                var j = i + 1
                var newlines = 1
                while j < c.count, c[j].isWhitespace {
                    if c[j].isNewline { newlines += 1 }
                    j += 1
                }
                if newlines >= 2 {
                    close(i)
                    paragraph += 1
                    start = j
                }
                i = j
                continue
            }
            if terminators.contains(character) {
                var j = i + 1
                while j < c.count, terminators.contains(c[j]) { j += 1 }
                let terminatorEnd = j
                while j < c.count, closers.contains(c[j]) { j += 1 }
                // Full-width terminators end sentences in scripts written without spaces.
                let fullWidth = fullWidthTerminators.contains(c[terminatorEnd - 1])
                if j == c.count || c[j].isWhitespace || fullWidth,
                    fullWidth || isSentenceEnd(c, terminator: i..<terminatorEnd, after: j)
                {
                    close(j)
                }
                i = j
                continue
            }
            i += 1
        }
        close(c.count)
        return result
    }

    private static func isSentenceEnd(_ c: [Character], terminator: Range<Int>, after: Int) -> Bool {
        // The next word: a lower-case letter or a digit continues the sentence.
        var next = after
        while next < c.count, c[next].isWhitespace { next += 1 }
        while next < c.count, openers.contains(c[next]) { next += 1 }
        guard next < c.count else { return true }
        if c[next].isLowercase || c[next].isNumber { return false }
        guard terminator.count == 1, c[terminator.lowerBound] == "." else { return true }

        // The word before a single period: an initial, letters with periods, or a known abbreviation.
        var wordStart = terminator.lowerBound
        while wordStart > 0, !c[wordStart - 1].isWhitespace { wordStart -= 1 }
        while wordStart < terminator.lowerBound, openers.contains(c[wordStart]) { wordStart += 1 }
        let word = c[wordStart..<terminator.lowerBound]
        if word.count == 1, word.first?.isUppercase == true {
            // An initial ("J. R. R. Tolkien"), unless the word before is a bare single letter too: then the
            // letters spell an acronym the normalizer wrote out ("U S.", "A D.") and the period is real.
            var previousEnd = wordStart
            while previousEnd > 0, c[previousEnd - 1].isWhitespace { previousEnd -= 1 }
            var previousStart = previousEnd
            while previousStart > 0, !c[previousStart - 1].isWhitespace { previousStart -= 1 }
            let previous = c[previousStart..<previousEnd]
            if !(previous.count == 1 && previous.first?.isLetter == true) { return false }
        }
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count >= 2, parts.allSatisfy({ $0.count == 1 && $0.first?.isLetter == true }) { return false }
        return !abbreviations.contains(String(word).lowercased())
    }

    // MARK: - Pieces

    private struct Splitter {
        struct Piece {
            var text: String
            var tokens: Int
            var endsSentence: Bool
            /// A whole sentence (or several): may be joined with a neighbour.
            var whole: Bool
            var paragraph: Int
        }

        struct Word {
            var text: String
            var offset: Int
        }

        let characters: [Character]
        let maxTokens: Int
        let tokenCount: (String) -> Int

        init(characters: [Character], maxTokens: Int, tokenCount: @escaping (String) -> Int) {
            self.characters = characters
            self.maxTokens = maxTokens
            self.tokenCount = tokenCount
        }

        func words(in range: Range<Int>) -> [Word] {
            var result: [Word] = []
            var i = range.lowerBound
            while i < range.upperBound {
                while i < range.upperBound, characters[i].isWhitespace { i += 1 }
                let start = i
                while i < range.upperBound, !characters[i].isWhitespace { i += 1 }
                if i > start { result.append(Word(text: String(characters[start..<i]), offset: start)) }
            }
            return result
        }

        func appendPieces(of sentence: Sentence, to pieces: inout [Piece], options: Options) throws {
            let words = words(in: sentence.range)
            guard !words.isEmpty else { return }
            let text = words.map(\.text).joined(separator: " ")
            let count = tokenCount(text)
            if count <= maxTokens {
                let piece = Piece(text: text, tokens: count, endsSentence: true, whole: true, paragraph: sentence.paragraph)
                if let last = pieces.last, last.whole,
                    options.packSentences
                        || (last.paragraph == piece.paragraph
                            && (last.tokens < options.mergeBelowTokens || piece.tokens < options.mergeBelowTokens))
                {
                    let merged = last.text + " " + text
                    let mergedCount = tokenCount(merged)
                    if mergedCount <= maxTokens {
                        pieces[pieces.count - 1].text = merged
                        pieces[pieces.count - 1].tokens = mergedCount
                        pieces[pieces.count - 1].paragraph = piece.paragraph
                        return
                    }
                }
                pieces.append(piece)
                return
            }

            // Too long: clauses, packed greedily; a clause too long alone is cut at words.
            let clauses = clauseRanges(words)
            var ranges: [Range<Int>] = []
            var u = 0
            while u < clauses.count {
                let fitting = largestFit(count: clauses.count - u) { k in
                    join(words, clauses[u].lowerBound..<clauses[u + k - 1].upperBound)
                }
                if fitting == 0 {
                    ranges += try wordRanges(words, clauses[u])
                    u += 1
                } else {
                    ranges.append(clauses[u].lowerBound..<clauses[u + fitting - 1].upperBound)
                    u += fitting
                }
            }
            for (index, range) in ranges.enumerated() {
                // Parts of a sentence are never joined with anything, so their counts are not needed again.
                pieces.append(
                    Piece(
                        text: join(words, range), tokens: maxTokens, endsSentence: index == ranges.count - 1,
                        whole: false, paragraph: sentence.paragraph))
            }
        }

        func join(_ words: [Word], _ range: Range<Int>) -> String {
            words[range].map(\.text).joined(separator: " ")
        }

        /// Clause boundaries: after a word ending in , ; : or after a dash standing alone.
        func clauseRanges(_ words: [Word]) -> [Range<Int>] {
            var ranges: [Range<Int>] = []
            var start = 0
            for (index, word) in words.enumerated() {
                let isDash = ["-", "--", "–", "—", "―"].contains(word.text)
                if isDash || word.text.last.map({ ",;:".contains($0) }) == true {
                    ranges.append(start..<(index + 1))
                    start = index + 1
                }
            }
            if start < words.count { ranges.append(start..<words.count) }
            return ranges
        }

        /// Word ranges of one clause, as many words per piece as fit.
        func wordRanges(_ words: [Word], _ clause: Range<Int>) throws -> [Range<Int>] {
            var ranges: [Range<Int>] = []
            var w = clause.lowerBound
            while w < clause.upperBound {
                let fitting = largestFit(count: clause.upperBound - w) { k in join(words, w..<(w + k)) }
                guard fitting > 0 else {
                    let word = words[w]
                    let shown = word.text.count > 40 ? String(word.text.prefix(40)) + "…" : word.text
                    throw SpeechT5Error.invalidText(
                        reason: "the word \"\(shown)\" at character \(word.offset) needs "
                            + "\(tokenCount(word.text)) tokens, more than the \(maxTokens) one piece may have")
                }
                ranges.append(w..<(w + fitting))
                w += fitting
            }
            return ranges
        }

        /// The largest k in 0...count such that text(k) fits, by doubling then bisection, assuming that
        /// the token count grows with k. Only values that were checked to fit are returned.
        func largestFit(count: Int, text: (Int) -> String) -> Int {
            func fits(_ k: Int) -> Bool { tokenCount(text(k)) <= maxTokens }
            guard count > 0, fits(1) else { return 0 }
            var good = 1
            var bad = count + 1
            while good < count {
                let probe = min(good * 2, count)
                if fits(probe) {
                    good = probe
                } else {
                    bad = probe
                    break
                }
            }
            while bad - good > 1 {
                let middle = (good + bad) / 2
                if fits(middle) { good = middle } else { bad = middle }
            }
            return good
        }
    }
}
