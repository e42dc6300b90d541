import Foundation

/// transformers' `EnglishNumberNormalizer` (what `SpeechT5Tokenizer(normalize=True)` runs on the raw text
/// before tokenizing), reproduced exactly, quirks included: "0" spells as nothing, "1,234,567" keeps a comma,
/// "3.14159" is read as "three.fourteen thousand …", "$5.50" is "five point five zero dollars", and so on
/// (see SPEECHT5.md section 2). Use it for parity with the reference; `EnglishNormalizer` is the better front end.
///
/// The reference is two Python regular expressions plus a spelling function. They are re-implemented here
/// by hand on Unicode scalars (Python's `re` works on code points, not grapheme clusters), with Python's
/// own character classes: `\d` is any Unicode decimal digit (general category Nd, e.g. "٣" or "５", which
/// `int()` also accepts), and `\w` is `str.isalnum()` plus "_" (letters Lu/Ll/Lt/Lm/Lo and anything with a
/// numeric value, but not combining marks). Python 3.11 uses Unicode 14; the Swift standard library may
/// know characters assigned later, which is the only place the two can differ.
///
/// The reference raises on two inputs, and so does this type (with `SpeechT5Error.invalidText`):
/// a number whose non-zero digits reach past 36 digits (its scale-word list ends at "decillion", so
/// Python hits `IndexError`), and a number written with two currency symbols such as "$€5" (`int()` is
/// handed the second symbol, `ValueError`).
public struct ReferenceNumberNormalizer: Sendable {
    public init() {}

    /// The text with its numbers spelled as transformers spells them.
    /// - Throws: `SpeechT5Error.invalidText` where transformers raises (see the type's documentation).
    public func callAsFunction(_ text: String) throws -> String {
        try normalize(text)
    }

    /// The text with its numbers spelled as transformers spells them.
    /// - Throws: `SpeechT5Error.invalidText` where transformers raises (see the type's documentation).
    public func normalize(_ text: String) throws -> String {
        let withoutCommas = Self.removeDigitCommas(Array(text.unicodeScalars))
        let spelled = try Self.replaceNumbers(withoutCommas)
        return Self.collapseSpaces(spelled)
    }

    // MARK: - Tables (in the reference's order)

    private static let ones = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    private static let teens = [
        "", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    ]
    private static let tens = ["", "ten", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    private static let thousands = [
        "", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion", "septillion",
        "octillion", "nonillion", "decillion",
    ]

    /// The optional currency symbols of the match pattern, in the order the regular expression lists them.
    /// Each may appear at most once and only in this order, which is why "€$5" matches only from "$".
    private static let patternSymbols: [Unicode.Scalar] = [
        "$", "€", "£", "¢", "¥", "₹", "₽", "฿", "₺", "₴", "₣", "₡", "₱", "₪", "₮", "₩", "₦", "₫", "﷼",
    ]

    /// `currency_symbols`: the name appended after the number (leading space included, as in Python).
    private static let currencyNames: [Unicode.Scalar: String] = [
        "$": " dollars", "€": " euros", "£": " pounds", "¢": " cents", "¥": " japanese yen",
        "﷼": " saudi riyal", "₹": " indian rupees", "₽": " russian rubles", "฿": " thai baht",
        "₺": " turkish liras", "₴": " ukrainian hryvnia", "₣": " swiss francs", "₡": " costa rican colon",
        "₱": " philippine peso", "₪": " israeli shekels", "₮": " mongolian tögrög", "₩": " south korean won",
        "₦": " nigerian naira", "₫": " vietnamese Đồng",
    ]

    // MARK: - Python's character classes

    /// Python `\d` on `str` patterns (and what `int()` accepts as a digit): Unicode decimal digits.
    static func isPythonDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.numericType == .decimal
    }

    /// The value of a `\d` scalar (0…9).
    private static func digitValue(_ scalar: Unicode.Scalar) -> Int {
        Int(scalar.properties.numericValue ?? 0)
    }

    /// Python `\w` on `str` patterns: `_` or `str.isalnum()`, i.e. a letter of category L[ultmo] or a
    /// character with any numeric value (decimal, digit or numeric: "²", "Ⅻ", "一" are word characters).
    static func isPythonWord(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" { return true }
        let properties = scalar.properties
        if properties.numericType != nil { return true }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return false
        }
    }

    // MARK: - Step 1: re.sub(r"(\d+,\d+)", remove the comma, text)

    /// One left-to-right pass of non-overlapping matches of `\d+,\d+`, each losing its comma. The pass is
    /// not repeated, which is why "1,234,567" becomes "1234,567".
    private static func removeDigitCommas(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            guard isPythonDigit(s[i]) else {
                out.append(s[i])
                i += 1
                continue
            }
            // `\d+` is greedy and only a comma may follow it, so every start inside this digit run sees
            // the same run end: a failed match here fails for the whole run.
            var runEnd = i
            while runEnd < s.count, isPythonDigit(s[runEnd]) { runEnd += 1 }
            if runEnd + 1 < s.count, s[runEnd] == ",", isPythonDigit(s[runEnd + 1]) {
                var end = runEnd + 1
                while end < s.count, isPythonDigit(s[end]) { end += 1 }
                out.append(contentsOf: s[i..<runEnd])
                out.append(contentsOf: s[(runEnd + 1)..<end])
                i = end
            } else {
                out.append(contentsOf: s[i..<runEnd])
                i = runEnd
            }
        }
        return out
    }

    // MARK: - Step 2: re.sub(pattern, convert, text)

    /// The pattern `(?<!\w)(-?\$?\€?…\﷼?\d+(?:\.\d{1,2})?%?)(?!\w)`, tried at every position left to
    /// right; each match is replaced by its spelling and the scan resumes after it.
    private static func replaceNumbers(_ s: [Unicode.Scalar]) throws -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count * 2)
        var i = 0
        while i < s.count {
            if let end = match(s, at: i) {
                let spelled = try convert(Array(s[i..<end]))
                out.append(contentsOf: spelled.unicodeScalars)
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// The end of the match starting at `start`, or nil. Backtracking is reproduced where it can change
    /// the outcome: the digit run may give back digits, the decimal group may take two, one or no digits,
    /// and `%` may be dropped, in the order Python's engine tries them. The sign and the symbols cannot
    /// usefully backtrack (dropping one leaves a character that nothing later in the pattern accepts).
    private static func match(_ s: [Unicode.Scalar], at start: Int) -> Int? {
        if start > 0, isPythonWord(s[start - 1]) { return nil }
        func wordAt(_ index: Int) -> Bool { index < s.count && isPythonWord(s[index]) }

        var i = start
        if i < s.count, s[i] == "-" { i += 1 }
        for symbol in patternSymbols where i < s.count && s[i] == symbol { i += 1 }
        var digitsEnd = i
        while digitsEnd < s.count, isPythonDigit(s[digitsEnd]) { digitsEnd += 1 }
        guard digitsEnd > i else { return nil }

        for integerEnd in stride(from: digitsEnd, to: i, by: -1) {
            var candidates: [Int] = []
            if integerEnd < s.count, s[integerEnd] == "." {
                var available = 0
                while available < 2, integerEnd + 1 + available < s.count,
                    isPythonDigit(s[integerEnd + 1 + available])
                {
                    available += 1
                }
                for taken in stride(from: available, to: 0, by: -1) { candidates.append(integerEnd + 1 + taken) }
            }
            candidates.append(integerEnd)
            for end in candidates {
                if end < s.count, s[end] == "%", !wordAt(end + 1) { return end + 1 }
                if !wordAt(end) { return end }
            }
        }
        return nil
    }

    /// `EnglishNumberNormalizer.convert` on one match.
    private static func convert(_ number: [Unicode.Scalar]) throws -> String {
        // The match is: optional "-", symbols, digits, optional "." + digits, optional "%".
        var i = 0
        var minusPrefix = ""
        if i < number.count, number[i] == "-" {
            minusPrefix = "minus "
            i += 1
        }
        var symbols: [Unicode.Scalar] = []
        while i < number.count, currencyNames[number[i]] != nil {
            symbols.append(number[i])
            i += 1
        }
        var integerDigits: [Unicode.Scalar] = []
        while i < number.count, isPythonDigit(number[i]) {
            integerDigits.append(number[i])
            i += 1
        }
        // Python compares the decimal part with the ASCII string "00" (after removing "%"), and defaults it
        // to "00" when there is no ".", so "5.00" reads as "five" while "5.٠٠" reads "five point zero zero".
        var decimalDigits: [Unicode.Scalar] = ["0", "0"]
        if i < number.count, number[i] == "." {
            decimalDigits = []
            i += 1
            while i < number.count, isPythonDigit(number[i]) {
                decimalDigits.append(number[i])
                i += 1
            }
        }
        let percentSuffix = (i < number.count && number[i] == "%") ? " percent" : ""

        // The reference removes the first symbol (in its dictionary's order) and hands the rest to int().
        if symbols.count > 1 {
            throw SpeechT5Error.invalidText(
                reason: "transformers' number normalizer fails on \"\(String(String.UnicodeScalarView(number)))\" "
                    + "(two currency symbols reach int(): ValueError)")
        }
        let currencyName = symbols.first.flatMap { currencyNames[$0] } ?? ""

        // zfill to whole groups of three, then spell each non-zero group with its scale word.
        let padding = (3 - integerDigits.count % 3) % 3
        let padded = [Int](repeating: 0, count: padding) + integerDigits.map(digitValue)
        var parts: [String] = []
        for groupStart in stride(from: 0, to: padded.count, by: 3) {
            let chunk = padded[groupStart] * 100 + padded[groupStart + 1] * 10 + padded[groupStart + 2]
            guard chunk > 0 else { continue }
            let scaleIndex = (padded.count - groupStart) / 3 - 1
            guard scaleIndex < thousands.count else {
                throw SpeechT5Error.invalidText(
                    reason: "transformers' number normalizer fails on a number of \(integerDigits.count) digits "
                        + "(its scale words end at decillion: IndexError)")
            }
            let unit = thousands[scaleIndex]
            parts.append(unit.isEmpty ? spellNumber(chunk) : spellNumber(chunk) + " " + unit)
        }
        let spelledInteger = parts.joined(separator: " ")

        if decimalDigits == ["0", "0"] {
            // Both branches of the reference give the same string here.
            return minusPrefix + spelledInteger + percentSuffix + currencyName
        }
        let spelledDecimal = decimalDigits.map { spellNumber(digitValue($0)) }.joined(separator: " ")
        return minusPrefix + spelledInteger + " point " + spelledDecimal + percentSuffix + currencyName
    }

    /// `spell_number` for 0…999 (the only values the reference passes it).
    private static func spellNumber(_ number: Int) -> String {
        if number == 0 { return "zero" }
        var part = ""
        let hundreds = number % 1000 / 100
        let tensUnits = number % 100
        if hundreds > 0 {
            part += ones[hundreds] + " hundred"
            if tensUnits > 0 { part += " and " }
        }
        if tensUnits > 10, tensUnits < 20 {
            part += teens[tensUnits - 10]
        } else {
            let tensWord = tens[tensUnits / 10]
            let onesWord = ones[tensUnits % 10]
            part += tensWord
            if !onesWord.isEmpty {
                if !tensWord.isEmpty { part += " " }
                part += onesWord
            }
        }
        return part
    }

    // MARK: - Step 3: re.sub(" +", " ", text)

    private static func collapseSpaces(_ s: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        var previousWasSpace = false
        for scalar in s {
            if scalar == " " {
                if previousWasSpace { continue }
                previousWasSpace = true
            } else {
                previousWasSpace = false
            }
            out.append(scalar)
        }
        return String(out)
    }
}
