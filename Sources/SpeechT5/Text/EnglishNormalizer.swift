import Foundation

/// The engine's English text front end (`TextNormalization.full`): turns written English into the words a
/// reader would say, using only characters the model's vocabulary has.
///
/// SpeechT5's vocabulary has letters and a little punctuation but no digits, so without this every number
/// is a single `<unk>`. The normalizer reads:
/// - numbers: cardinals ("0" → "zero"), ordinals ("22nd"), decimals ("3.14" → "three point one four"),
///   signs ("-5" → "minus five"), thousands separators ("1,234,567"), leading zeros ("007" digit by digit),
///   years ("1999" → "nineteen ninety nine", "2005" → "two thousand five"), decades ("1990s"), fractions
///   ("3/4", "1½"), ranges ("10-20" → "ten to twenty"), dimensions ("4x4"), phone numbers, versions;
/// - money ("$5.50" → "five dollars and fifty cents", €, £, ¥, ₹, … and "$5M"), percentages, units
///   ("5 km", "60mph", "20°C"), times ("3:45 pm", "12:00"), dates ("2024-03-05", "March 5", "5/3/2024");
/// - abbreviations and titles ("Dr. Smith" → "Doctor Smith", "Elm St." → "Elm Street", "e.g.", "etc.",
///   "U.S." → "U S", "No. 5"), symbols ("&", "+", "=", "@", "#", "/", "%"), URLs and e-mail addresses
///   ("www.example.com" → "w w w dot example dot com");
/// - typography: curly quotes and dashes become the ASCII forms, "…" becomes "...", odd spaces and invisible
///   characters go, full-width and compatibility forms are folded (NFKC);
/// - characters the vocabulary lacks: an upper-case letter becomes lower-case if only that is known, an
///   accented letter loses its accent only if the accented form is unknown ("é" stays for SpeechT5),
///   "ß" → "ss", "æ" → "ae", Greek letters are named, punctuation falls back to a neighbour (";" → ",").
///   Letters of other scripts with no close form are kept (the tokenizer makes them `<unk>`); other
///   unknown symbols and emoji are dropped.
///
/// Line breaks are kept (one "\n" for a line break, "\n\n" for a paragraph) so that `TextSplitter` can see
/// paragraphs; the tokenizer treats them as spaces. Normalization never fails; whether anything speakable
/// is left is checked by `TextFrontEnd`.
///
/// The rules are heuristics, chosen for running prose (books, articles): a four-digit number from 1100 to
/// 2099 standing alone is read as a year, "10-20" is a range, "5/3/2024" is month/day/year unless the first
/// number cannot be a month. Roman numerals and all-capital acronyms are left as written.
public struct EnglishNormalizer: Sendable {
    /// Tells whether a character is in the model's vocabulary.
    public typealias VocabularyPredicate = @Sendable (Character) -> Bool

    /// The vocabulary assumed when none is given: ASCII letters, the space and `. , ; : ? ! ' " ( ) -`.
    /// Every other character is transliterated, so the output suits any English character model.
    public static let basicVocabulary: Set<Character> = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:?!'\"()-")

    private let isInVocabulary: VocabularyPredicate

    /// A normalizer for a model whose vocabulary is `vocabulary` (single characters, space included or not).
    public init(vocabulary: Set<Character>) {
        isInVocabulary = { vocabulary.contains($0) }
    }

    /// A normalizer for a model whose vocabulary is described by a predicate (nil: `basicVocabulary`).
    public init(isInVocabulary: VocabularyPredicate? = nil) {
        let basic = Self.basicVocabulary
        self.isInVocabulary = isInVocabulary ?? { basic.contains($0) }
    }

    /// The spoken form of `text`: plain words and punctuation, ready for the tokenizer.
    /// Equal to `fitToVocabulary(spell(text))`.
    public func normalize(_ text: String) -> String {
        fitToVocabulary(spell(text))
    }

    /// The first stage of `normalize`: everything is read out (numbers, symbols, abbreviations, addresses,
    /// typography), but characters are not yet fitted to the vocabulary, so capitals and punctuation the
    /// model lacks are still there. `TextFrontEnd` splits this form into sentences (a capital the model
    /// lacks still marks a sentence start) and fits each piece afterwards.
    public func spell(_ text: String) -> String {
        let tokens = Self.tokenize(Self.prepare(text))
        let spoken = ExpansionContext(tokens: tokens).run()
        return Self.tidy(Self.spellStrayDigits(spoken))
    }

    /// The second stage of `normalize`: every character the vocabulary lacks is replaced by its closest
    /// form or dropped (see the type's documentation). Works on any part of a spelled text.
    public func fitToVocabulary(_ text: String) -> String {
        Self.tidy(applyVocabulary(text))
    }

    /// `normalize(text)`.
    public func callAsFunction(_ text: String) -> String { normalize(text) }

    // MARK: - Stage 1: characters

    /// Unicode clean-up before any reading: line breaks unified, controls and invisible format characters
    /// removed, odd spaces made plain, digits of every script made ASCII, NFC composition, typography mapped
    /// to ASCII, vulgar fractions written out, and compatibility forms folded (NFKC) except where a symbol
    /// means something to the reader ("²", "°", currency signs).
    static func prepare(_ text: String) -> String {
        var cleaned = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar {
            case "\n":
                if !previousWasCR { cleaned.append("\n") }
                continue
            case "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}":
                cleaned.append("\n")
                continue
            case "\u{2029}":
                cleaned.append(contentsOf: "\n\n".unicodeScalars)
                continue
            case "\t":
                cleaned.append(" ")
                continue
            default:
                break
            }
            let properties = scalar.properties
            switch properties.generalCategory {
            case .control, .format, .surrogate, .unassigned:
                continue
            case .spaceSeparator, .lineSeparator, .paragraphSeparator:
                cleaned.append(" ")
                continue
            default:
                break
            }
            if !scalar.isASCII, properties.numericType == .decimal, let value = properties.numericValue,
                let ascii = Unicode.Scalar(48 + Int(value))
            {
                cleaned.append(ascii)
                continue
            }
            cleaned.append(scalar)
        }

        let composed = String(cleaned).precomposedStringWithCanonicalMapping
        var out = ""
        out.reserveCapacity(composed.utf8.count)
        var previous: Character? = nil
        for character in composed {
            defer { previous = character }
            if let replacement = EnglishTables.typography[character] {
                out += replacement
            } else if let fraction = EnglishTables.vulgarFractions[character] {
                if let previous, isDigit(previous) { out += " " }
                out += fraction
            } else if character.isASCII || keepsCompatibilityForm(character) {
                out.append(character)
            } else {
                out += String(character).precomposedStringWithCompatibilityMapping
            }
        }
        return out
    }

    /// Characters NFKC would spoil: symbols with a reading of their own and currency signs ("﷼" would
    /// become Arabic letters, "²" a plain digit).
    private static func keepsCompatibilityForm(_ character: Character) -> Bool {
        EnglishTables.symbolWords[character] != nil || EnglishTables.greek[character] != nil
            || EnglishTables.currencySymbols[String(character)] != nil
    }

    // MARK: - Stage 2: tokens

    /// A whitespace-delimited word with its surrounding punctuation peeled off.
    struct Token {
        /// The whitespace before the token: "" (first token), " ", "\n" or "\n\n" (paragraph break).
        var separator: String
        /// Opening quotes and brackets.
        var lead: String
        /// What the rules read.
        var core: String
        /// Closing quotes and brackets and sentence punctuation.
        var trail: String
    }

    private static let leadingPunctuation: Set<Character> = ["\"", "'", "(", "¿", "¡"]
    private static let trailingPunctuation: Set<Character> = ["\"", "'", ")", ",", ";", ":", "!", "?", "."]

    static func tokenize(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var separator = ""
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            tokens.append(peel(word, separator: separator))
            word = ""
            separator = ""
        }
        for character in text {
            if character == " " || character == "\n" {
                flush()
                separator.append(character)
            } else {
                word.append(character)
            }
        }
        flush()
        // Whitespace runs become one separator: a paragraph break where two line breaks were seen.
        for index in tokens.indices {
            let newlines = tokens[index].separator.filter { $0 == "\n" }.count
            tokens[index].separator = index == 0 ? "" : newlines >= 2 ? "\n\n" : newlines == 1 ? "\n" : " "
        }
        return tokens
    }

    private static func peel(_ word: String, separator: String) -> Token {
        var characters = Substring(word)
        var lead = ""
        while let first = characters.first, leadingPunctuation.contains(first) {
            lead.append(first)
            characters.removeFirst()
        }
        var trail = ""
        while let last = characters.last, trailingPunctuation.contains(last) {
            trail.insert(last, at: trail.startIndex)
            characters.removeLast()
        }
        return Token(separator: separator, lead: lead, core: String(characters), trail: trail)
    }

    // MARK: - Stage 4: vocabulary

    /// Digits that no rule read (none should be left) are spelled one by one rather than becoming `<unk>`.
    static func spellStrayDigits(_ text: String) -> String {
        guard text.contains(where: isDigit) else { return text }
        var out = ""
        for character in text {
            if let value = character.wholeNumberValue, isDigit(character) {
                out += " " + EnglishNumberWords.units[value] + " "
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// Every character the vocabulary lacks is replaced by its closest known form, kept (letters of other
    /// scripts, which the tokenizer turns into `<unk>`), or dropped (symbols, emoji).
    func applyVocabulary(_ text: String) -> String {
        let characters = Array(text)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for (index, character) in characters.enumerated() {
            if character == " " || character == "\n" || isInVocabulary(character) {
                out.append(character)
            } else if character.isLetter {
                out += transliterate(character) ?? String(character)
            } else if character == "-" {
                // A hyphen inside a word becomes a space; a dash between words, a comma.
                let before = index > 0 && characters[index - 1].isLetter
                let after = index + 1 < characters.count && characters[index + 1].isLetter
                out += before && after ? " " : known(",") ?? " "
            } else if let fallback = EnglishTables.punctuationFallbacks[character] {
                out += fallback.isEmpty ? "" : known(fallback) ?? " "
            } else if character.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .nonspacingMark }) {
                continue
            } else {
                out += " "
            }
        }
        return out
    }

    /// `text` if all of its characters are in the vocabulary.
    private func known(_ text: String) -> String? {
        text.allSatisfy { $0 == " " || isInVocabulary($0) } ? text : nil
    }

    /// A character, or its lower-case form if only that is in the vocabulary.
    private func nearest(_ character: Character) -> String {
        if isInVocabulary(character) { return String(character) }
        let lower = String(character).lowercased()
        if lower != String(character), known(lower) != nil { return lower }
        return String(character)
    }

    /// The closest form of a letter the vocabulary lacks, or nil if there is none.
    private func transliterate(_ character: Character) -> String? {
        let lower = String(character).lowercased()
        if lower != String(character), known(lower) != nil { return lower }
        if let replacement = EnglishTables.transliterations[character] {
            return replacement.map(nearest).joined()
        }
        let stripped = String(
            String.UnicodeScalarView(
                String(character).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                    $0.properties.generalCategory != .nonspacingMark
                        && $0.properties.generalCategory != .spacingMark
                        && $0.properties.generalCategory != .enclosingMark
                }))
        if !stripped.isEmpty, stripped != String(character) {
            return stripped.map(nearest).joined()
        }
        if let name = EnglishTables.greek[character] {
            return name.map(nearest).joined()
        }
        return nil
    }

    // MARK: - Stage 5: tidy

    /// Collapses spaces, removes spaces before closing punctuation and after opening brackets, and drops
    /// empty punctuation left behind by removed symbols (", ," → ",").
    static func tidy(_ text: String) -> String {
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var out = ""
            for character in line {
                if character == " " {
                    if out.isEmpty || out.last == " " || out.last == "(" { continue }
                    out.append(" ")
                } else if ",.;:!?)".contains(character) {
                    while out.last == " " { out.removeLast() }
                    if character == ",", out.isEmpty || out.last == "," || out.last == "(" { continue }
                    if character == ".", out.last == "," { out.removeLast() }
                    out.append(character)
                } else {
                    out.append(character)
                }
            }
            while out.last == " " { out.removeLast() }
            lines.append(out)
        }
        // At most one empty line in a row (a paragraph break), none at the ends.
        var result: [String] = []
        for line in lines {
            if line.isEmpty, result.last?.isEmpty ?? true { continue }
            result.append(line)
        }
        while result.last?.isEmpty == true { result.removeLast() }
        return result.joined(separator: "\n")
    }

    static func isDigit(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return ascii >= 48 && ascii <= 57
    }
}

// MARK: - Stage 3: reading the tokens

/// Walks the tokens left to right; each rule reads one token, or a few when a number is followed by its
/// unit ("5 km"), a month by its day ("March 5"), and so on.
private struct ExpansionContext {
    typealias Tables = EnglishTables
    typealias Words = EnglishNumberWords

    let tokens: [EnglishNormalizer.Token]

    /// What replaces tokens[i ..< i + consumed]: the separator and lead of the first token and `trail`
    /// surround `text`.
    struct Expansion {
        var text: String
        var consumed: Int = 1
        var lead: String? = nil
        var trail: String? = nil
    }

    func run() -> String {
        var out = ""
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            let expansion = expand(index)
            let last = tokens[index + expansion.consumed - 1]
            out += token.separator + (expansion.lead ?? token.lead) + expansion.text + (expansion.trail ?? last.trail)
            index += expansion.consumed
        }
        return out
    }

    private func expand(_ i: Int) -> Expansion {
        let core = tokens[i].core
        if core.isEmpty { return Expansion(text: "") }
        if let e = operatorBetweenNumbers(i) { return e }
        if core.allSatisfy({ $0 == "-" }) { return Expansion(text: "-") }  // "--" is a dash
        if let e = monthAndDay(i) { return e }
        if let e = abbreviation(i) { return e }
        if let e = address(i) { return e }
        if core.contains(where: EnglishNormalizer.isDigit), let e = numeric(i) { return e }
        if let e = symbols(i) { return e }
        return Expansion(text: core)
    }

    // MARK: Context helpers

    /// The token after `i` if it continues the phrase: `i` has no trailing punctuation, the next one no
    /// leading punctuation, and no paragraph break separates them.
    private func following(_ i: Int) -> EnglishNormalizer.Token? {
        guard i + 1 < tokens.count, tokens[i].trail.isEmpty else { return nil }
        let next = tokens[i + 1]
        guard next.lead.isEmpty, next.separator != "\n\n" else { return nil }
        return next
    }

    /// Whether a token reads as a number: a digit, or a sign, point or currency sign and then a digit.
    private func isNumeric(_ i: Int) -> Bool {
        guard i >= 0, i < tokens.count else { return false }
        var core = Substring(tokens[i].core)
        if let first = core.first, "-+.~".contains(first) { core = core.dropFirst() }
        for prefix in Tables.currencyPrefixes where core.hasPrefix(prefix) {
            core = core.dropFirst(prefix.count)
            break
        }
        return core.first.map(EnglishNormalizer.isDigit) ?? false
    }

    /// Whether the word after `i` starts a sentence: there is none, a paragraph starts, or it begins with
    /// a capital.
    private func nextStartsSentence(_ i: Int) -> Bool {
        guard i + 1 < tokens.count else { return true }
        let next = tokens[i + 1]
        if next.separator == "\n\n" { return true }
        return next.core.first?.isUppercase ?? false
    }

    /// The trail of an abbreviation whose period was read as part of it: the period is removed, and put
    /// back when the abbreviation also ends the sentence.
    private func trailAfterAbbreviation(_ trail: String, index: Int, keepsSentenceEnd: Bool) -> String {
        guard trail.hasPrefix(".") else { return trail }
        let rest = String(trail.dropFirst())
        if keepsSentenceEnd, rest.isEmpty, nextStartsSentence(index) { return "." }
        return rest
    }

    /// The trail of a meridiem word: after "p.m" a period is the abbreviation's (kept only at a sentence
    /// end); after "pm" it is the sentence's own.
    private func meridiemTrail(_ token: EnglishNormalizer.Token, index: Int) -> String {
        token.core.contains(".") ? trailAfterAbbreviation(token.trail, index: index, keepsSentenceEnd: true) : token.trail
    }

    /// "=" among the next few tokens: the line is arithmetic ("10 - 5 = 5").
    private func arithmeticFollows(_ i: Int) -> Bool {
        tokens[i..<min(tokens.count, i + 5)].contains { $0.core == "=" }
    }

    // MARK: Operators between numbers

    /// "10 - 20" → "to" (or "minus" in arithmetic), "2 x 4" → "by", "3 * 4" → "times", "6 / 2" → "divided by".
    private func operatorBetweenNumbers(_ i: Int) -> Expansion? {
        let token = tokens[i]
        guard ["-", "x", "X", "×", "*", "/", "÷"].contains(token.core), token.lead.isEmpty, token.trail.isEmpty,
            i > 0, tokens[i - 1].trail.isEmpty, isNumeric(i - 1), isNumeric(i + 1),
            tokens[i + 1].lead.isEmpty, tokens[i].separator != "\n\n", tokens[i + 1].separator != "\n\n"
        else { return nil }
        let arithmetic = arithmeticFollows(i)
        switch token.core {
        case "-": return Expansion(text: arithmetic ? "minus" : "to")
        case "x", "X": return Expansion(text: arithmetic ? "times" : "by")
        case "×", "*": return Expansion(text: "times")
        default: return Expansion(text: "divided by")
        }
    }

    // MARK: Months

    /// "March 5" / "Mar. 5th" → "March fifth". A year after it is read by the year rule.
    private func monthAndDay(_ i: Int) -> Expansion? {
        let token = tokens[i]
        guard let month = Tables.months[token.core] else { return nil }
        var trail = token.trail
        if !Tables.fullMonthNames.contains(token.core), trail.hasPrefix(".") { trail.removeFirst() }
        guard trail.isEmpty, i + 1 < tokens.count, tokens[i + 1].lead.isEmpty, tokens[i + 1].separator != "\n\n"
        else { return nil }
        let next = tokens[i + 1].core
        if let day = dayNumber(next) {
            return Expansion(text: Tables.monthNames[month - 1] + " " + Words.ordinal(day), consumed: 2)
        }
        // "Jan 2024": an abbreviation without its period is taken as a month before a year.
        if token.trail.isEmpty, !Tables.fullMonthNames.contains(token.core), next.count == 4,
            next.allSatisfy(EnglishNormalizer.isDigit)
        {
            return Expansion(text: Tables.monthNames[month - 1])
        }
        return nil
    }

    /// 1…31, optionally with an ordinal suffix ("5", "05", "5th").
    private func dayNumber(_ core: String) -> Int? {
        var digits = Substring(core)
        let lower = core.lowercased()
        for suffix in ["st", "nd", "rd", "th"] where lower.hasSuffix(suffix) {
            digits = digits.dropLast(2)
            break
        }
        guard (1...2).contains(digits.count), digits.allSatisfy(EnglishNormalizer.isDigit), let day = Int(digits),
            (1...31).contains(day)
        else { return nil }
        return day
    }

    // MARK: Abbreviations

    private func abbreviation(_ i: Int) -> Expansion? {
        let token = tokens[i]
        let core = token.core
        let hasPeriod = token.trail.hasPrefix(".")

        if let entry = Tables.abbreviations[core], hasPeriod || entry.periodOptional {
            let nextIsCapitalized = i + 1 < tokens.count && tokens[i + 1].separator != "\n\n"
                && (tokens[i + 1].core.first?.isUppercase ?? false)
            switch entry.kind {
            case .beforeNumber:
                guard i + 1 < tokens.count, tokens[i + 1].separator != "\n\n", isNumeric(i + 1) else { return nil }
                return Expansion(text: entry.expansion, trail: trailAfterAbbreviation(token.trail, index: i, keepsSentenceEnd: false))
            case .general:
                return Expansion(
                    text: capitalized(entry.expansion, like: core),
                    trail: trailAfterAbbreviation(token.trail, index: i, keepsSentenceEnd: true))
            case .leading:
                if core == "Dr" || core == "St" {
                    return driveOrStreet(i, nextIsCapitalized: nextIsCapitalized, hasPeriod: hasPeriod)
                }
                // Without its period a title is only taken as one before a name ("Mr Smith"), except "vs".
                guard hasPeriod || nextIsCapitalized || core == "vs" else { return nil }
                return Expansion(text: entry.expansion, trail: trailAfterAbbreviation(token.trail, index: i, keepsSentenceEnd: false))
            }
        }

        // Letters with periods: "U.S." → "U S", "a.k.a." is in the table above.
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count >= 2, parts.allSatisfy({ $0.count == 1 && $0.first?.isLetter == true }) {
            var trail = token.trail
            if hasPeriod {
                trail.removeFirst()
                let next = i + 1 < tokens.count ? tokens[i + 1] : nil
                let endsSentence = next == nil || next?.separator == "\n\n"
                    || Tables.sentenceStarters.contains(next?.core ?? "")
                if endsSentence, trail.isEmpty { trail = "." }
            }
            return Expansion(text: parts.joined(separator: " "), trail: trail)
        }
        return nil
    }

    /// "Dr." is Doctor before a name and Drive after one ("Mulholland Dr."); "St." is Saint before a name
    /// ("St. Paul") and Street after one ("Baker St.") or a house number.
    private func driveOrStreet(_ i: Int, nextIsCapitalized: Bool, hasPeriod: Bool) -> Expansion? {
        let token = tokens[i]
        let isDoctor = token.core == "Dr"
        // A capitalized word just before, in the same sentence (not a sentence's first word), or a number.
        var afterName = false
        if i > 0 {
            let previous = tokens[i - 1]
            let previousStartsSentence = i - 1 == 0 || previous.separator == "\n\n"
                || tokens[i - 2].trail.contains { ".!?".contains($0) }
            afterName = previous.trail.isEmpty
                && ((previous.core.first?.isUppercase ?? false) && !previousStartsSentence
                    || isNumeric(i - 1) || previous.core.first.map(EnglishNormalizer.isDigit) ?? false)
        }
        if afterName {
            return Expansion(
                text: isDoctor ? "Drive" : "Street",
                trail: trailAfterAbbreviation(token.trail, index: i, keepsSentenceEnd: true))
        }
        guard hasPeriod || nextIsCapitalized else { return nil }
        let title = isDoctor ? "Doctor" : (nextIsCapitalized ? "Saint" : "Street")
        return Expansion(
            text: title, trail: trailAfterAbbreviation(token.trail, index: i, keepsSentenceEnd: title == "Street"))
    }

    private func capitalized(_ expansion: String, like original: String) -> String {
        guard original.first?.isUppercase == true, let first = expansion.first, first.isLowercase else {
            return expansion
        }
        return first.uppercased() + expansion.dropFirst()
    }

    // MARK: URLs and e-mail addresses

    private func address(_ i: Int) -> Expansion? {
        let core = tokens[i].core
        let lower = core.lowercased()
        if lower.contains("://") || lower.hasPrefix("www.") || isEmail(core) || isBareDomain(core) {
            return Expansion(text: readAddress(core))
        }
        return nil
    }

    private static let addressCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

    private func isHostName(_ host: Substring) -> Bool {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.addressCharacters.contains) }),
            let last = labels.last, Tables.topLevelDomains.contains(last.lowercased()),
            host.contains(where: \.isLetter)
        else { return false }
        return true
    }

    private func isEmail(_ core: String) -> Bool {
        let parts = core.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty,
            parts[0].allSatisfy({ Self.addressCharacters.contains($0) || "._%+".contains($0) })
        else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && $0.allSatisfy(Self.addressCharacters.contains) }
            && (labels.last?.count ?? 0) >= 2 && (labels.last?.allSatisfy(\.isLetter) ?? false)
    }

    private func isBareDomain(_ core: String) -> Bool {
        let host = core.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return isHostName(host)
    }

    /// "https://www.example.com/a-b?x=1" → "w w w dot example dot com slash a dash b question mark x equals one".
    private func readAddress(_ address: String) -> String {
        var rest = Substring(address)
        let lower = address.lowercased()
        if lower.hasPrefix("https://") {
            rest = rest.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        }
        var words: [String] = []
        if rest.lowercased().hasPrefix("www.") {
            words += ["w w w", "dot"]
            rest = rest.dropFirst(4)
        }
        while rest.last == "/" { rest = rest.dropLast() }
        var run = ""
        var runIsDigits = false
        func flush() {
            guard !run.isEmpty else { return }
            words.append(runIsDigits ? Words.digitByDigit(run) : run)
            run = ""
        }
        for character in rest {
            if EnglishNormalizer.isDigit(character) || character.isLetter {
                let isDigit = EnglishNormalizer.isDigit(character)
                if !run.isEmpty, isDigit != runIsDigits { flush() }
                runIsDigits = isDigit
                run.append(character)
            } else {
                flush()
                if let word = Tables.addressSymbols[character] { words.append(word) }
            }
        }
        flush()
        return words.joined(separator: " ")
    }

    // MARK: Symbols

    private func symbols(_ i: Int) -> Expansion? {
        let token = tokens[i]
        let core = token.core
        if let reading = Tables.slashPairs[core.lowercased()] { return Expansion(text: reading) }
        if core.count == 1, let character = core.first {
            if character == "-" { return nil }  // a dash between words stays a dash
            if character == "#" { return Expansion(text: isNumeric(i + 1) ? "number" : "hash") }
            if Tables.currencySymbols[core] != nil, token.trail.isEmpty, i + 1 < tokens.count,
                tokens[i + 1].lead.isEmpty, tokens[i + 1].separator != "\n\n", isNumeric(i + 1),
                let amount = numericCore(Array(core + tokens[i + 1].core), i + 1)
            {
                // "€ 5" reads like "€5".
                return Expansion(text: amount.text, consumed: amount.consumed + 1, trail: amount.trail)
            }
            if let currency = Tables.currencySymbols[core] { return Expansion(text: currency.plural) }
            if let word = Tables.symbolWords[character] { return Expansion(text: word) }
            return nil
        }
        if core.first == "#", core.dropFirst().allSatisfy({ $0.isLetter || $0 == "_" }) {
            return Expansion(text: "hashtag " + core.dropFirst())
        }
        if core == "C#" || core == "F#" { return Expansion(text: String(core.prefix(1)) + " sharp") }
        guard core.contains(where: { Tables.symbolWords[$0] != nil || $0 == "_" || $0 == "*" || $0 == "|" }) else {
            return nil
        }
        return Expansion(text: readMixed(core))
    }

    /// A word mixing letters, digits and symbols, read piece by piece: "AT&T" → "AT and T", "MP3" →
    /// "MP three", "COVID-19" → "COVID-nineteen", "v1.2" → "v one point two". Hyphens, apostrophes and
    /// periods between letters stay as written.
    private func readMixed(_ core: String) -> String {
        let characters = Array(core)
        var pieces: [(text: String, glue: Bool)] = []
        var i = 0
        while i < characters.count {
            let character = characters[i]
            if EnglishNormalizer.isDigit(character) {
                let (number, end) = NumberScanner.number(characters, i, allowGrouping: false)
                    ?? (NumberLiteral(integer: String(character), fraction: nil, grouped: false), i + 1)
                let long = number.integer.count > 4 || (number.integer.count > 1 && number.integer.first == "0")
                pieces.append((long && number.fraction == nil ? Words.digitByDigit(number.integer) : number.words, false))
                i = end
            } else if character.isLetter {
                var end = i
                while end < characters.count, characters[end].isLetter { end += 1 }
                pieces.append((String(characters[i..<end]), false))
                i = end
            } else {
                if "-'.".contains(character) {
                    pieces.append((String(character), true))
                } else if character == "," {
                    pieces.append((",", true))
                } else if let word = Tables.symbolWords[character] {
                    pieces.append((word, false))
                } else if let currency = Tables.currencySymbols[String(character)] {
                    pieces.append((currency.plural, false))
                }
                i += 1
            }
        }
        var out = ""
        var previousGlue = true
        for piece in pieces {
            if !out.isEmpty, !piece.glue, !previousGlue { out += " " }
            if piece.text == "," {
                out += ", "
                previousGlue = true
                continue
            }
            out += piece.text
            previousGlue = piece.glue
        }
        return out
    }

    // MARK: Numbers

    private func numeric(_ i: Int) -> Expansion? {
        let token = tokens[i]
        var core = Substring(token.core)
        var prefix = ""
        if core.first == "#", core.count > 1 {
            prefix = "number "
            core = core.dropFirst()
        } else if core.first == "~", core.count > 1 {
            prefix = "about "
            core = core.dropFirst()
        } else if core.hasPrefix("No.") || core.hasPrefix("no."), core.count > 3,
            core.dropFirst(3).first.map(EnglishNormalizer.isDigit) == true
        {
            prefix = core.first == "N" ? "Number " : "number "
            core = core.dropFirst(3)
        }
        if prefix.isEmpty, let e = feetAndInches(i) ?? areaCode(i) { return e }
        if prefix.isEmpty, token.lead.hasSuffix("'"), let decade = shortDecade(String(core)) {
            return Expansion(text: decade, lead: String(token.lead.dropLast()))
        }
        if let expansion = numericCore(Array(core), i) {
            var result = expansion
            result.text = prefix + result.text
            return result
        }
        return Expansion(text: prefix + readMixed(String(core)))
    }

    /// Everything a token made of a number can be, tried from the most specific shape to the least.
    private func numericCore(_ c: [Character], _ i: Int) -> Expansion? {
        if let e = time(c, i) { return e }
        if let text = date(c) ?? dottedNumber(c) ?? phoneNumber(c) ?? fraction(c) ?? ratio(c) ?? scientific(c) {
            return Expansion(text: text)
        }
        if let e = amountExpression(c, i) { return e }
        return nil
    }

    /// 6'2" → "six feet two inches" (the closing `"` was peeled off as trailing punctuation).
    private func feetAndInches(_ i: Int) -> Expansion? {
        let token = tokens[i]
        guard token.trail.hasPrefix("\""), let groups = digitGroups(Array(token.core), separator: "'"),
            groups.count == 2, let feet = Int(groups[0]), let inches = Int(groups[1]), inches < 12
        else { return nil }
        let text = Words.cardinal(feet) + (feet == 1 ? " foot " : " feet ") + Words.cardinal(inches)
            + (inches == 1 ? " inch" : " inches")
        return Expansion(text: text, trail: String(token.trail.dropFirst()))
    }

    /// "(555) 123-4567": the area code is read digit by digit, like the number after it.
    private func areaCode(_ i: Int) -> Expansion? {
        let token = tokens[i]
        guard token.lead == "(", token.trail == ")", token.core.count == 3,
            token.core.allSatisfy(EnglishNormalizer.isDigit), i + 1 < tokens.count,
            let groups = digitGroups(Array(tokens[i + 1].core), separator: "-"), groups.map(\.count) == [3, 4]
        else { return nil }
        return Expansion(text: Words.digitByDigit(token.core))
    }

    /// "1e-5" → "one times ten to the minus fifth", "6.02e23".
    private func scientific(_ c: [Character]) -> String? {
        guard let (amount, end) = scanAmount(c, 0), end < c.count, c[end] == "e" || c[end] == "E",
            amount.currency == nil, !amount.number.integer.isEmpty
        else { return nil }
        var i = end + 1
        var minus = false
        if i < c.count, c[i] == "-" || c[i] == "+" {
            minus = c[i] == "-"
            i += 1
        }
        let exponent = String(c[i...])
        guard !exponent.isEmpty, exponent.count <= 4, exponent.allSatisfy(EnglishNormalizer.isDigit) else {
            return nil
        }
        let sign = amount.sign.map { $0 + " " } ?? ""
        return sign + amount.number.words + " times ten to the " + (minus ? "minus " : "")
            + Words.ordinal(digits: exponent)
    }

    /// "90s" after an apostrophe ("'90s") → "nineties".
    private func shortDecade(_ core: String) -> String? {
        guard core.count == 3, core.hasSuffix("s"), let value = Int(core.prefix(2)), value % 10 == 0, value >= 10
        else { return nil }
        return Words.pluralize(Words.cardinal(value))
    }

    /// Splits on a separator, requiring every part to be ASCII digits.
    private func digitGroups(_ c: [Character], separator: Character) -> [String]? {
        let parts = c.split(separator: separator, omittingEmptySubsequences: false).map { String($0) }
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(EnglishNormalizer.isDigit) }) else {
            return nil
        }
        return parts
    }

    // Times: "3:45", "12:00", "3:45pm", "3:45 p.m.", "1:02:03" (a duration).
    private func time(_ c: [Character], _ i: Int) -> Expansion? {
        var end = c.count
        var meridiem: String? = nil
        if let colon = c.lastIndex(of: ":") {
            var letterStart = colon + 1
            while letterStart < c.count, EnglishNormalizer.isDigit(c[letterStart]) { letterStart += 1 }
            if letterStart < c.count {
                guard let m = Tables.meridiems[String(c[letterStart...])] else { return nil }
                meridiem = m
                end = letterStart
            }
        }
        guard let groups = digitGroups(Array(c[..<end]), separator: ":"), (2...3).contains(groups.count),
            groups[0].count <= 2, groups.dropFirst().allSatisfy({ $0.count == 2 }),
            let hour = Int(groups[0]), let minute = Int(groups[1]), hour <= 24, minute <= 59
        else { return nil }
        var expansion = Expansion(text: "")
        // A meridiem may be the next word ("3:45 pm", "3:45 p.m.").
        if meridiem == nil, let next = following(i), let m = Tables.meridiems[next.core] {
            meridiem = m
            expansion.consumed = 2
            expansion.trail = meridiemTrail(next, index: i + 1)
        }
        if groups.count == 3 {
            guard let second = Int(groups[2]), second <= 59 else { return nil }
            if let meridiem, (1...12).contains(hour) {
                // A time of day with seconds: "10:30:45 pm".
                expansion.text = Words.cardinal(hour) + (minute == 0 ? "" : " " + Words.twoDigits(minute))
                    + (second == 0 ? "" : " and " + Words.cardinal(second) + (second == 1 ? " second" : " seconds"))
                    + " " + meridiem
                return expansion
            }
            // Otherwise a duration: "1:02:03".
            expansion = Expansion(text: "")
            var parts: [String] = []
            func add(_ value: Int, _ unit: String) {
                parts.append(Words.cardinal(value) + " " + unit + (value == 1 ? "" : "s"))
            }
            if hour > 0 { add(hour, "hour") }
            if minute > 0 { add(minute, "minute") }
            if second > 0 || parts.isEmpty { add(second, "second") }
            expansion.text = parts.joined(separator: " ")
            return expansion
        }
        if let meridiem, (1...12).contains(hour) {
            expansion.text = Words.cardinal(hour) + (minute == 0 ? "" : " " + Words.twoDigits(minute)) + " " + meridiem
        } else if minute == 0 {
            expansion.text = hour == 0 ? "zero hundred" : hour <= 12 ? Words.cardinal(hour) + " o'clock"
                : Words.cardinal(hour) + " hundred"
            if let meridiem { expansion.text += " " + meridiem }
        } else {
            expansion.text = Words.cardinal(hour) + " " + Words.twoDigits(minute)
            if let meridiem { expansion.text += " " + meridiem }
        }
        return expansion
    }

    /// "2024-03-05", "2024/03/05", "3/5/2024" (month first unless that cannot be), "05.03.2024" (day first).
    private func date(_ c: [Character]) -> String? {
        func spoken(year: String, month: Int, day: Int) -> String? {
            guard (1...12).contains(month), (1...31).contains(day), let y = Int(year) else { return nil }
            let yearWords = year.count == 2 ? Words.twoDigits(y) : Words.year(y)
            return Tables.monthNames[month - 1] + " " + Words.ordinal(day) + ", " + yearWords
        }
        for separator: Character in ["-", "/"] {
            guard let g = digitGroups(c, separator: separator), g.count == 3 else { continue }
            if g[0].count == 4, g[1].count <= 2, g[2].count <= 2, let m = Int(g[1]), let d = Int(g[2]) {
                return spoken(year: g[0], month: m, day: d)
            }
            if separator == "/", g[0].count <= 2, g[1].count <= 2, g[2].count == 4 || g[2].count == 2,
                let a = Int(g[0]), let b = Int(g[1])
            {
                return a <= 12 ? spoken(year: g[2], month: a, day: b) : spoken(year: g[2], month: b, day: a)
            }
        }
        if let g = digitGroups(c, separator: "."), g.count == 3, g[0].count <= 2, g[1].count <= 2, g[2].count == 4,
            let d = Int(g[0]), let m = Int(g[1])
        {
            return spoken(year: g[2], month: m, day: d)
        }
        return nil
    }

    /// Versions and addresses: "1.2.3" → "one dot two dot three", "192.168.0.1".
    private func dottedNumber(_ c: [Character]) -> String? {
        guard let groups = digitGroups(c, separator: "."), groups.count >= 3 else { return nil }
        return groups.map { $0.count > 1 && $0.first == "0" ? Words.digitByDigit($0) : Words.cardinal(digits: $0) }
            .joined(separator: " dot ")
    }

    /// "555-123-4567", "1-800-555-0199", "123-45-6789", and "555-1234" (but not ranges like "300-1200").
    private func phoneNumber(_ c: [Character]) -> String? {
        guard let groups = digitGroups(c, separator: "-") else { return nil }
        let isPhone: Bool
        if groups.count >= 3 {
            isPhone = true
        } else if groups[0].count == 3, groups[1].count == 4, let a = Int(groups[0]), let b = Int(groups[1]) {
            isPhone = a % 10 != 0 && b % 100 != 0
        } else {
            isPhone = false
        }
        guard isPhone else { return nil }
        return groups.map(Words.digitByDigit).joined(separator: ", ")
    }

    /// "3/4" → "three quarters", "1/2" → "one half", "5/32" → "five thirty seconds", "7/13" → "seven over
    /// thirteen", plus the idioms of `slashPairs` ("24/7").
    private func fraction(_ c: [Character]) -> String? {
        if let idiom = Tables.slashPairs[String(c)] { return idiom }
        guard let groups = digitGroups(c, separator: "/"), groups.count == 2 else { return nil }
        return fractionWords(numerator: groups[0], denominator: groups[1], article: false)
    }

    private func fractionWords(numerator: String, denominator: String, article: Bool) -> String {
        if let n = Int(numerator), let d = Int(denominator), let name = Words.denominator(d) {
            if n == 1 { return (article ? (name.singular == "eighth" ? "an" : "a") : "one") + " " + name.singular }
            return Words.cardinal(n) + " " + name.plural
        }
        return Words.cardinal(digits: numerator) + " over " + Words.cardinal(digits: denominator)
    }

    /// "3:2" → "three to two" (a ratio or score: not a valid time).
    private func ratio(_ c: [Character]) -> String? {
        guard let groups = digitGroups(c, separator: ":"), groups.count == 2 else { return nil }
        return Words.cardinal(digits: groups[0]) + " to " + Words.cardinal(digits: groups[1])
    }

    // MARK: Amounts

    /// What follows a number inside its token.
    enum Suffix {
        case none, percent, perMille, ordinal, decade, times
        case currency(EnglishTables.Currency)
        case magnitude(String)
        case unit(EnglishTables.Unit)
        case meridiem(String)
    }

    struct Amount {
        var sign: String? = nil
        var currency: EnglishTables.Currency? = nil
        var number: NumberLiteral
        var suffix: Suffix = .none
    }

    /// sign? currency? number (with grouping and decimals), e.g. "-$1,234.50".
    private func scanAmount(_ c: [Character], _ start: Int, allowSign: Bool = true) -> (Amount, Int)? {
        var i = start
        var sign: String? = nil
        func scanSign() {
            guard allowSign, sign == nil, i + 1 < c.count, c[i] == "-" || c[i] == "+" else { return }
            sign = c[i] == "-" ? "minus" : "plus"
            i += 1
        }
        scanSign()
        var currency: EnglishTables.Currency? = nil
        let rest = String(c[i...])
        for prefix in Tables.currencyPrefixes where rest.hasPrefix(prefix) {
            currency = Tables.currencySymbols[prefix]
            i += prefix.count
            break
        }
        if currency != nil { scanSign() }
        guard let (number, end) = NumberScanner.number(c, i, allowGrouping: true) else { return nil }
        return (Amount(sign: sign, currency: currency, number: number), end)
    }

    /// The suffix glued to a number, or nil if the text after the number is not one.
    private func suffix(_ text: String, for amount: Amount) -> Suffix? {
        let number = amount.number
        let wholeInteger = number.fraction == nil && !number.integer.isEmpty
        if text.isEmpty { return Suffix.none }
        if text == "%" { return .percent }
        if text == "‰" { return .perMille }
        if amount.currency == nil, let currency = Tables.currencySymbols[text] { return .currency(currency) }
        if wholeInteger, ["st", "nd", "rd", "th"].contains(text.lowercased()) { return .ordinal }
        if wholeInteger, !number.grouped, text == "s" || text == "'s", number.integer.hasSuffix("0"),
            number.integer.count == 4 || (number.integer.count == 2 && number.integer.first != "0")
        {
            return .decade
        }
        if let word = Tables.magnitudes[text] { return .magnitude(word) }
        if amount.currency != nil, let word = Tables.currencyOnlyMagnitudes[text] { return .magnitude(word) }
        if let unit = Tables.units[text] { return .unit(unit) }
        if wholeInteger, let meridiem = Tables.meridiems[text], let v = Int(number.integer), (1...12).contains(v) {
            return .meridiem(meridiem)
        }
        if text == "x" || text == "×" { return .times }
        return nil
    }

    private func amountExpression(_ c: [Character], _ i: Int) -> Expansion? {
        guard let (first, end) = scanAmount(c, 0) else { return nil }
        var a = first

        // A range or a product: "10-20", "$10-$20", "5-10%", "2-3pm", "1920x1080", "4x4".
        var split = end
        while split < c.count, !"-x×".contains(c[split]) { split += 1 }
        if split < c.count, split + 1 < c.count,
            let aSuffix = suffix(String(c[end..<split]), for: a),
            let (second, secondEnd) = scanAmount(c, split + 1, allowSign: false),
            let bSuffix = suffix(String(c[secondEnd...]), for: second)
        {
            a.suffix = aSuffix
            var b = second
            b.suffix = bSuffix
            if c[split] == "-" {
                if a.currency != nil, b.currency == nil {
                    b.currency = a.currency
                    a.currency = nil
                }
                if case .none = aSuffix, case .none = bSuffix, a.sign == nil, a.currency == nil, b.currency == nil,
                    let yearA = yearValue(a.number)
                {
                    // "1990-1995", "1990-95".
                    let bWords = yearValue(b.number).map(Words.year)
                        ?? (b.number.integer.count == 2 ? Words.cardinal(digits: b.number.integer) : spoken(b))
                    return Expansion(text: Words.year(yearA) + " to " + bWords)
                }
                if case .none = aSuffix, case .none = bSuffix, a.sign == nil, a.currency == nil, b.currency == nil,
                    a.number.integer == b.number.integer, a.number.fraction == nil, b.number.fraction == nil
                {
                    return Expansion(text: spoken(a) + " " + spoken(b))  // "50-50" → "fifty fifty"
                }
                return Expansion(text: spoken(a) + " to " + spoken(b))
            }
            return Expansion(text: spoken(a) + (c[split] == "×" ? " times " : " by ") + spoken(b))
        }

        // "£5.99/month", "$10/hr", "20kg/m²": an amount per something.
        if let slash = c[end...].firstIndex(of: "/"), slash + 1 < c.count,
            let before = suffix(String(c[end..<slash]), for: a)
        {
            let per = String(c[(slash + 1)...])
            if let unit = Tables.units[per] {
                a.suffix = before
                return Expansion(text: spoken(a) + " per " + unit.singular)
            }
            if per.allSatisfy(\.isLetter) {
                a.suffix = before
                return Expansion(text: spoken(a) + " per " + per)
            }
        }

        guard let glued = suffix(String(c[end...]), for: a) else { return nil }
        a.suffix = glued
        if case .none = glued { return standalone(a, i) }
        if case .decade = glued { return Expansion(text: decade(a.number)) }
        return Expansion(text: spoken(a))
    }

    /// A four-digit integer from 1100 to 2099 without sign, grouping or decimals: read as a year.
    private func yearValue(_ number: NumberLiteral) -> Int? {
        guard number.fraction == nil, !number.grouped, number.integer.count == 4, number.integer.first != "0",
            let value = Int(number.integer), (1100...2099).contains(value)
        else { return nil }
        return value
    }

    private func decade(_ number: NumberLiteral) -> String {
        let value = Int(number.integer) ?? 0
        return Words.pluralize(number.integer.count == 4 ? Words.year(value) : Words.cardinal(value))
    }

    /// A number alone in its token: its reading may depend on the next word ("5 km", "$5 million", "3 pm",
    /// "44 BC", "5 March", "1 1/2").
    private func standalone(_ a: Amount, _ i: Int) -> Expansion {
        let number = a.number
        let plainInteger = a.sign == nil && a.currency == nil && number.fraction == nil && !number.integer.isEmpty
        if let next = following(i) {
            let word = next.core
            if let currency = a.currency, Tables.scaleWords.contains(word.lowercased()) {
                return Expansion(text: currencyWords(a, currency, scale: word.lowercased()), consumed: 2)
            }
            if a.currency == nil, let currency = Tables.currencyCodes[word] {
                var b = a
                b.suffix = .currency(currency)
                return Expansion(text: spoken(b), consumed: 2)
            }
            if a.currency == nil, let unit = Tables.units[word], unit.spaced {
                var b = a
                b.suffix = .unit(unit)
                // "3 lbs. of": the period belongs to the unit unless it also ends the sentence.
                return Expansion(
                    text: spoken(b), consumed: 2,
                    trail: trailAfterAbbreviation(next.trail, index: i + 1, keepsSentenceEnd: true))
            }
            if plainInteger, !number.grouped, let meridiem = Tables.meridiems[word], let v = Int(number.integer),
                (1...12).contains(v)
            {
                return Expansion(
                    text: Words.cardinal(v) + " " + meridiem, consumed: 2,
                    trail: meridiemTrail(next, index: i + 1))
            }
            if plainInteger, !number.grouped, let era = Tables.eras[word], let v = Int(number.integer) {
                let dotted = word.contains(".")
                return Expansion(
                    text: (number.integer.count == 4 ? Words.year(v) : Words.cardinal(v)) + " " + era, consumed: 2,
                    trail: dotted ? trailAfterAbbreviation(next.trail, index: i + 1, keepsSentenceEnd: true) : next.trail)
            }
            if plainInteger, let month = Tables.months[word], let day = Int(number.integer), (1...31).contains(day) {
                let trail = Tables.fullMonthNames.contains(word)
                    ? next.trail : trailAfterAbbreviation(next.trail, index: i + 1, keepsSentenceEnd: true)
                return Expansion(
                    text: "the " + Words.ordinal(day) + " of " + Tables.monthNames[month - 1], consumed: 2, trail: trail)
            }
            if plainInteger, !number.grouped, let groups = digitGroups(Array(word), separator: "/"), groups.count == 2 {
                return Expansion(
                    text: Words.cardinal(digits: number.integer) + " and "
                        + fractionWords(numerator: groups[0], denominator: groups[1], article: true),
                    consumed: 2)
            }
        }
        if let currency = a.currency { return Expansion(text: currencyWords(a, currency, scale: nil)) }
        if a.sign == nil, let year = yearValue(number) { return Expansion(text: Words.year(year)) }
        if a.sign == nil, number.fraction == nil, !number.grouped, number.integer.count > 1,
            number.integer.first == "0"
        {
            return Expansion(text: Words.digitByDigit(number.integer))
        }
        return Expansion(text: spoken(a))
    }

    /// An amount with its sign and suffix, without context.
    private func spoken(_ a: Amount) -> String {
        let sign = a.sign.map { $0 + " " } ?? ""
        let number = a.number
        var currency = a.currency
        var scale: String? = nil
        var tail = ""
        switch a.suffix {
        case .none: break
        case .percent: tail = " percent"
        case .perMille: tail = " per mille"
        case .ordinal: return sign + Words.ordinal(digits: number.integer)
        case .decade: return sign + decade(number)
        case .times: tail = " times"
        case .currency(let c): currency = c
        case .magnitude(let word): scale = word
        case .unit(let unit): tail = " " + (number.isOne ? unit.singular : unit.plural)
        case .meridiem(let meridiem): tail = " " + meridiem
        }
        if let currency {
            var b = a
            b.sign = nil
            return sign + currencyWords(b, currency, scale: scale) + tail
        }
        return sign + number.words + (scale.map { " " + $0 } ?? "") + tail
    }

    /// "$5.50" → "five dollars and fifty cents", "$0.99" → "ninety nine cents", "$1" → "one dollar",
    /// "$2.5 million" → "two point five million dollars", "¥1.5" → "one point five yen".
    private func currencyWords(_ a: Amount, _ currency: EnglishTables.Currency, scale: String?) -> String {
        let sign = a.sign.map { $0 + " " } ?? ""
        let number = a.number
        if let scale { return sign + number.words + " " + scale + " " + currency.plural }
        if let minor = currency.minor, let fraction = number.fraction, fraction.count <= 2,
            let cents = Int(fraction.count == 1 ? fraction + "0" : fraction)
        {
            let major = number.integer.drop { $0 == "0" }
            let majorWords = Words.cardinal(digits: String(major)) + " "
                + (major == "1" ? currency.singular : currency.plural)
            let minorWords = Words.cardinal(cents) + " " + (cents == 1 ? minor.singular : minor.plural)
            if cents == 0 { return sign + majorWords }
            if major.isEmpty { return sign + minorWords }
            return sign + majorWords + " and " + minorWords
        }
        return sign + number.words + " " + (number.isOne ? currency.singular : currency.plural)
    }
}

// MARK: - Number literals

/// The digits of a written number: "1,234.50" is integer "1234", fraction "50", grouped.
struct NumberLiteral {
    /// ASCII digits before the point, commas removed; empty for ".5".
    var integer: String
    /// ASCII digits after the point.
    var fraction: String?
    /// Written with thousands separators.
    var grouped: Bool

    /// Exactly one, so that units and currencies take the singular ("1 km", not "1.0 km").
    var isOne: Bool { fraction == nil && integer.drop { $0 == "0" } == "1" }

    /// The cardinal reading: "three point one four", "point five" (for ".5"), "zero".
    var words: String {
        let integerWords = integer.isEmpty ? "" : EnglishNumberWords.cardinal(digits: integer)
        guard let fraction else { return integerWords }
        let fractionWords = "point " + EnglishNumberWords.digitByDigit(fraction)
        return integerWords.isEmpty ? fractionWords : integerWords + " " + fractionWords
    }
}

enum NumberScanner {
    /// Scans digits (with valid thousands grouping if allowed: 1–3 digits, then ",ddd" groups), then an
    /// optional "." and digits. Returns nil if there is no digit.
    static func number(_ c: [Character], _ start: Int, allowGrouping: Bool) -> (NumberLiteral, Int)? {
        func digitsEnd(_ from: Int) -> Int {
            var end = from
            while end < c.count, EnglishNormalizer.isDigit(c[end]) { end += 1 }
            return end
        }
        var i = start
        let integerEnd = digitsEnd(i)
        var integer = String(c[i..<integerEnd])
        var grouped = false
        i = integerEnd
        if allowGrouping, (1...3).contains(integer.count) {
            var j = i
            var groups = ""
            while j + 3 < c.count, c[j] == ",", digitsEnd(j + 1) == j + 4 {
                groups += String(c[(j + 1)..<(j + 4)])
                j += 4
            }
            if !groups.isEmpty {
                integer += groups
                grouped = true
                i = j
            }
        }
        var fraction: String? = nil
        if i + 1 < c.count, c[i] == ".", EnglishNormalizer.isDigit(c[i + 1]) {
            let fractionEnd = digitsEnd(i + 1)
            fraction = String(c[(i + 1)..<fractionEnd])
            i = fractionEnd
        }
        guard !integer.isEmpty || fraction != nil else { return nil }
        return (NumberLiteral(integer: integer, fraction: fraction, grouped: grouped), i)
    }
}
