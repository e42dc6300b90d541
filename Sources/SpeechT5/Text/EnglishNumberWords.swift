import Foundation

/// English number words for `EnglishNormalizer`: cardinals of any size, ordinals, years, decades,
/// digit-by-digit readings. American style: no "and" after "hundred", no hyphens ("twenty one"), because
/// SpeechT5 reads the words, not the punctuation, and a hyphen would only add a pause.
enum EnglishNumberWords {
    static let units = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    ]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    /// Scale words for groups of three digits; 10^36 and beyond are read digit by digit.
    static let scales = [
        "", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
        "septillion", "octillion", "nonillion", "decillion",
    ]

    /// Ordinal forms that are not "+th" or "y → ieth".
    private static let irregularOrdinals = [
        "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
        "twelve": "twelfth",
    ]

    /// 0…999.
    static func underThousand(_ n: Int) -> String {
        var words: [String] = []
        let hundreds = n / 100, rest = n % 100
        if hundreds > 0 { words += [units[hundreds], "hundred"] }
        if rest >= 20 {
            words.append(tens[rest / 10])
            if rest % 10 > 0 { words.append(units[rest % 10]) }
        } else if rest > 0 || hundreds == 0 {
            words.append(units[rest])
        }
        return words.joined(separator: " ")
    }

    /// A non-negative integer.
    static func cardinal(_ n: Int) -> String {
        cardinal(digits: String(n))
    }

    /// A non-negative integer written as ASCII digits, of any length. Leading zeros are ignored ("007" is
    /// "seven"; callers that want "zero zero seven" use `digitByDigit`). Past the last scale word
    /// (10^36) the number is read digit by digit, which is what a listener could follow anyway.
    static func cardinal(digits: String) -> String {
        let significant = digits.drop { $0 == "0" }
        if significant.isEmpty { return "zero" }
        guard significant.count <= scales.count * 3 else { return digitByDigit(String(significant)) }
        let values = significant.compactMap(\.wholeNumberValue)
        let padded = [Int](repeating: 0, count: (3 - values.count % 3) % 3) + values
        var words: [String] = []
        let groupCount = padded.count / 3
        for group in 0..<groupCount {
            let value = padded[group * 3] * 100 + padded[group * 3 + 1] * 10 + padded[group * 3 + 2]
            guard value > 0 else { continue }
            words.append(underThousand(value))
            let scale = scales[groupCount - group - 1]
            if !scale.isEmpty { words.append(scale) }
        }
        return words.joined(separator: " ")
    }

    /// "0042" → "zero zero four two".
    static func digitByDigit(_ digits: String) -> String {
        digits.compactMap(\.wholeNumberValue).map { units[$0] }.joined(separator: " ")
    }

    /// The ordinal of a number given as ASCII digits: "103" → "one hundred third".
    static func ordinal(digits: String) -> String {
        ordinalize(cardinal(digits: digits))
    }

    static func ordinal(_ n: Int) -> String { ordinalize(cardinal(n)) }

    /// Turns the last word of a cardinal into its ordinal: "twenty one" → "twenty first".
    static func ordinalize(_ cardinal: String) -> String {
        var words = cardinal.split(separator: " ").map(String.init)
        guard let last = words.popLast() else { return cardinal }
        let ordinal: String
        if let irregular = irregularOrdinals[last] {
            ordinal = irregular
        } else if last.hasSuffix("y") {
            ordinal = String(last.dropLast()) + "ieth"
        } else {
            ordinal = last + "th"
        }
        return (words + [ordinal]).joined(separator: " ")
    }

    /// Turns the last word into a plural, for decades: "nineteen ninety" → "nineteen nineties".
    static func pluralize(_ words: String) -> String {
        if words.hasSuffix("y") { return String(words.dropLast()) + "ies" }
        if words.hasSuffix("x") { return words + "es" }
        return words + "s"
    }

    /// A year as people say it: 1999 "nineteen ninety nine", 1905 "nineteen oh five", 1900 "nineteen
    /// hundred", 2000–2009 "two thousand (five)", 2024 "twenty twenty four". Values outside 1000…9999 and
    /// whole thousands are plain cardinals.
    static func year(_ n: Int) -> String {
        guard n >= 1000, n <= 9999, n % 1000 != 0, !(2000...2009).contains(n) else { return cardinal(n) }
        let high = n / 100, low = n % 100
        if low == 0 { return cardinal(high) + " hundred" }
        if low < 10 { return cardinal(high) + " oh " + units[low] }
        return cardinal(high) + " " + cardinal(low)
    }

    /// Two digits of a time or a short year: "05" → "oh five", "45" → "forty five".
    static func twoDigits(_ n: Int) -> String {
        n < 10 ? "oh " + units[n] : cardinal(n)
    }

    /// The name of a fraction's denominator, singular and plural ("third", "thirds"), or nil when the
    /// fraction is better read as "n over m" (scores such as "95/100" included).
    static func denominator(_ n: Int) -> (singular: String, plural: String)? {
        switch n {
        case 2: return ("half", "halves")
        case 4: return ("quarter", "quarters")
        case 3, 5...10, 16, 32, 64:
            let singular = ordinal(n)
            return (singular, singular + "s")
        default: return nil
        }
    }
}
