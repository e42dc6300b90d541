import Foundation

/// The word tables of `EnglishNormalizer`, kept apart from its logic so that adding a unit, a currency or an
/// abbreviation is a one-line change.
enum EnglishTables {
    // MARK: - Currencies

    struct Currency: Sendable {
        let singular: String
        let plural: String
        /// The minor unit ("cent", "cents"), nil for currencies whose amounts are not read with one.
        let minor: (singular: String, plural: String)?
    }

    private static let dollar = Currency(singular: "dollar", plural: "dollars", minor: ("cent", "cents"))

    /// Symbols written before (or after) an amount. Multi-character prefixes are tried first.
    static let currencySymbols: [String: Currency] = [
        "$": dollar,
        "US$": Currency(singular: "U S dollar", plural: "U S dollars", minor: ("cent", "cents")),
        "A$": Currency(singular: "Australian dollar", plural: "Australian dollars", minor: ("cent", "cents")),
        "C$": Currency(singular: "Canadian dollar", plural: "Canadian dollars", minor: ("cent", "cents")),
        "NZ$": Currency(singular: "New Zealand dollar", plural: "New Zealand dollars", minor: ("cent", "cents")),
        "HK$": Currency(singular: "Hong Kong dollar", plural: "Hong Kong dollars", minor: ("cent", "cents")),
        "R$": Currency(singular: "real", plural: "reais", minor: ("centavo", "centavos")),
        "€": Currency(singular: "euro", plural: "euros", minor: ("cent", "cents")),
        "£": Currency(singular: "pound", plural: "pounds", minor: ("penny", "pence")),
        "¥": Currency(singular: "yen", plural: "yen", minor: nil),
        "₹": Currency(singular: "rupee", plural: "rupees", minor: ("paisa", "paise")),
        "₽": Currency(singular: "ruble", plural: "rubles", minor: ("kopek", "kopeks")),
        "₩": Currency(singular: "won", plural: "won", minor: nil),
        "₪": Currency(singular: "shekel", plural: "shekels", minor: ("agora", "agorot")),
        "₺": Currency(singular: "lira", plural: "lira", minor: ("kurus", "kurus")),
        "₦": Currency(singular: "naira", plural: "naira", minor: ("kobo", "kobo")),
        "₱": Currency(singular: "peso", plural: "pesos", minor: ("centavo", "centavos")),
        "฿": Currency(singular: "baht", plural: "baht", minor: ("satang", "satang")),
        "₫": Currency(singular: "dong", plural: "dong", minor: nil),
        "₴": Currency(singular: "hryvnia", plural: "hryvnias", minor: ("kopiyka", "kopiyky")),
        "₣": Currency(singular: "franc", plural: "francs", minor: ("centime", "centimes")),
        "₡": Currency(singular: "colon", plural: "colones", minor: ("centimo", "centimos")),
        "₮": Currency(singular: "tugrik", plural: "tugriks", minor: nil),
        "﷼": Currency(singular: "riyal", plural: "riyals", minor: ("halala", "halalas")),
        "¢": Currency(singular: "cent", plural: "cents", minor: nil),
    ]
    /// The longest symbol first, so that "US$" wins over "$".
    static let currencyPrefixes: [String] = currencySymbols.keys.sorted { $0.count > $1.count }

    /// ISO codes read after an amount ("5 USD").
    static let currencyCodes: [String: Currency] = [
        "USD": Currency(singular: "U S dollar", plural: "U S dollars", minor: ("cent", "cents")),
        "EUR": Currency(singular: "euro", plural: "euros", minor: ("cent", "cents")),
        "GBP": Currency(singular: "pound", plural: "pounds", minor: ("penny", "pence")),
        "JPY": Currency(singular: "yen", plural: "yen", minor: nil),
    ]

    // MARK: - Scale words and magnitude suffixes

    /// Words that may follow an amount ("$5 million").
    static let scaleWords: Set<String> = ["thousand", "million", "billion", "trillion"]

    /// Suffixes glued to a number ("5k", "$2.5M", "3bn"). Lower-case "m" and "b" mean million and
    /// billion only after a currency; on a bare number "5m" is five meters.
    static let magnitudes: [String: String] = [
        "k": "thousand", "K": "thousand", "M": "million", "mn": "million", "mln": "million",
        "B": "billion", "bn": "billion", "T": "trillion", "tn": "trillion",
    ]
    static let currencyOnlyMagnitudes: [String: String] = ["m": "million", "b": "billion"]

    // MARK: - Units

    struct Unit: Sendable {
        let singular: String
        let plural: String
        /// Also recognized as a separate word after a number ("5 km"). Single letters ("5 m", "5 s") are
        /// not, because as separate words they are more often something else.
        let spaced: Bool
    }

    static let units: [String: Unit] = {
        var table: [String: Unit] = [:]
        func add(_ symbols: [String], _ singular: String, _ plural: String, spaced: Bool = true) {
            for symbol in symbols { table[symbol] = Unit(singular: singular, plural: plural, spaced: spaced) }
        }
        // Length, area, volume.
        add(["km"], "kilometer", "kilometers")
        add(["m"], "meter", "meters", spaced: false)
        add(["cm"], "centimeter", "centimeters")
        add(["mm"], "millimeter", "millimeters")
        add(["µm", "μm"], "micrometer", "micrometers")
        add(["nm"], "nanometer", "nanometers")
        add(["mi"], "mile", "miles", spaced: false)
        add(["ft"], "foot", "feet")
        add(["yd"], "yard", "yards")
        add(["km²"], "square kilometer", "square kilometers")
        add(["m²"], "square meter", "square meters")
        add(["cm²"], "square centimeter", "square centimeters")
        add(["ft²"], "square foot", "square feet")
        add(["m³"], "cubic meter", "cubic meters")
        add(["cm³"], "cubic centimeter", "cubic centimeters")
        add(["l", "L"], "liter", "liters", spaced: false)
        add(["ml", "mL"], "milliliter", "milliliters")
        // Mass.
        add(["kg"], "kilogram", "kilograms")
        add(["g"], "gram", "grams", spaced: false)
        add(["mg"], "milligram", "milligrams")
        add(["µg", "μg"], "microgram", "micrograms")
        add(["lb", "lbs"], "pound", "pounds")
        add(["oz"], "ounce", "ounces")
        // Speed, temperature, angle.
        add(["mph"], "mile per hour", "miles per hour")
        add(["km/h", "kmh", "kph"], "kilometer per hour", "kilometers per hour")
        add(["m/s"], "meter per second", "meters per second")
        add(["°C"], "degree Celsius", "degrees Celsius")
        add(["°F"], "degree Fahrenheit", "degrees Fahrenheit")
        add(["°"], "degree", "degrees")
        // Time.
        add(["s"], "second", "seconds", spaced: false)
        add(["sec", "secs"], "second", "seconds")
        add(["ms"], "millisecond", "milliseconds")
        add(["µs", "μs"], "microsecond", "microseconds")
        add(["ns"], "nanosecond", "nanoseconds")
        add(["min", "mins"], "minute", "minutes")
        add(["h"], "hour", "hours", spaced: false)
        add(["hr", "hrs"], "hour", "hours")
        // Frequency, power, data, misc.
        add(["Hz"], "hertz", "hertz")
        add(["kHz"], "kilohertz", "kilohertz")
        add(["MHz"], "megahertz", "megahertz")
        add(["GHz"], "gigahertz", "gigahertz")
        add(["W"], "watt", "watts", spaced: false)
        add(["kW"], "kilowatt", "kilowatts")
        add(["MW"], "megawatt", "megawatts")
        add(["kWh"], "kilowatt hour", "kilowatt hours")
        add(["V"], "volt", "volts", spaced: false)
        add(["mAh"], "milliamp hour", "milliamp hours")
        add(["KB", "kB"], "kilobyte", "kilobytes")
        add(["MB"], "megabyte", "megabytes")
        add(["GB"], "gigabyte", "gigabytes")
        add(["TB"], "terabyte", "terabytes")
        add(["px"], "pixel", "pixels")
        add(["dB"], "decibel", "decibels")
        add(["kcal"], "kilocalorie", "kilocalories")
        return table
    }()

    // MARK: - Times of day

    /// "am", "p.m" (its final period is trailing punctuation by then), "PM", …
    static let meridiems: [String: String] = [
        "am": "a m", "AM": "a m", "a.m": "a m", "A.M": "a m", "a.m.": "a m", "A.M.": "a m",
        "pm": "p m", "PM": "p m", "p.m": "p m", "P.M": "p m", "p.m.": "p m", "P.M.": "p m",
    ]

    /// Era markers after a year.
    static let eras: [String: String] = [
        "AD": "A D", "A.D": "A D", "BC": "B C", "B.C": "B C", "BCE": "B C E", "B.C.E": "B C E", "CE": "C E",
        "C.E": "C E",
    ]

    // MARK: - Months

    static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]
    /// Month name or abbreviation → month number (1…12). Abbreviations are matched with or without their
    /// period, but only as month names when a day follows or the period is there.
    static let months: [String: Int] = {
        var table: [String: Int] = [:]
        for (index, name) in monthNames.enumerated() {
            table[name] = index + 1
            table[name.uppercased()] = index + 1
        }
        let abbreviations = [
            "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Sept": 9, "Oct": 10,
            "Nov": 11, "Dec": 12,
        ]
        for (abbreviation, month) in abbreviations { table[abbreviation] = month }
        return table
    }()
    static let fullMonthNames: Set<String> = Set(monthNames + monthNames.map { $0.uppercased() })

    // MARK: - Abbreviations

    enum AbbreviationKind: Sendable {
        /// Comes before what it qualifies (titles such as "Mr." and "Dr.", and "e.g.", "vs.", "a.k.a."):
        /// never ends a sentence, and is expanded without its period even before a capital ("e.g. Paris").
        case leading
        /// May end a sentence ("etc.", "Inc."): the period is kept when the next word starts a sentence.
        case general
        /// Only expanded before a number ("No. 5", "p. 12"): "no." alone is the word "no".
        case beforeNumber
    }

    struct Abbreviation: Sendable {
        let expansion: String
        let kind: AbbreviationKind
        /// Recognized without a period too ("Mr Smith", "vs").
        let periodOptional: Bool
    }

    static let abbreviations: [String: Abbreviation] = {
        var table: [String: Abbreviation] = [:]
        func add(_ kind: AbbreviationKind, periodOptional: Bool = false, _ entries: [String: String]) {
            for (key, expansion) in entries {
                table[key] = Abbreviation(expansion: expansion, kind: kind, periodOptional: periodOptional)
            }
        }
        add(.leading, periodOptional: true, [
            "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Mx": "Mix", "Messrs": "Messieurs", "Prof": "Professor",
        ])
        // "Dr" and "St" are resolved in context (Doctor/Drive, Saint/Street); these are their title readings.
        add(.leading, periodOptional: true, ["Dr": "Doctor", "St": "Saint"])
        add(.leading, [
            "Rev": "Reverend", "Hon": "Honorable", "Gen": "General", "Col": "Colonel", "Capt": "Captain",
            "Lt": "Lieutenant", "Sgt": "Sergeant", "Gov": "Governor", "Sen": "Senator", "Rep": "Representative",
            "Pres": "President", "Fr": "Father", "Mt": "Mount", "Ft": "Fort", "Cpl": "Corporal", "Maj": "Major",
            "Adm": "Admiral", "Supt": "Superintendent",
        ])
        add(.leading, periodOptional: true, ["vs": "versus"])
        add(.leading, [
            "e.g": "for example", "E.g": "For example", "i.e": "that is", "I.e": "That is", "approx": "approximately",
            "Approx": "Approximately", "cf": "compare", "viz": "namely", "ca": "circa", "a.k.a": "also known as",
            "A.K.A": "also known as",
        ])
        add(.general, periodOptional: true, ["etc": "et cetera", "Etc": "Et cetera"])
        add(.general, [
            "dept": "department", "Dept": "Department", "Inc": "Incorporated",
            "Ltd": "Limited", "Co": "Company", "Jr": "Junior", "Sr": "Senior", "Corp": "Corporation", "Bros": "Brothers", "Ave": "Avenue",
            "Rd": "Road", "Blvd": "Boulevard", "Ln": "Lane", "Hwy": "Highway", "Sq": "Square",
            "est": "established", "Est": "Established", "Ph.D": "P h D", "PhD": "P h D", "a.m": "a m", "A.M": "a m", "p.m": "p m",
            "P.M": "p m", "Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June",
            "Jul": "July", "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October",
            "Nov": "November", "Dec": "December",
        ])
        add(.beforeNumber, [
            "No": "Number", "no": "number", "Nos": "Numbers", "nos": "numbers", "Vol": "Volume", "vol": "volume",
            "Fig": "Figure", "fig": "figure", "p": "page", "pp": "pages", "Ch": "Chapter", "ch": "chapter",
            "Chap": "Chapter", "chap": "chapter", "Sec": "Section", "sec": "section", "Art": "Article",
            "art": "article", "c": "circa", "Ex": "Example", "ex": "example", "Eq": "Equation", "eq": "equation",
        ])
        return table
    }()

    /// Words that usually start a sentence: after "U.S." they tell that the period also ended a sentence.
    static let sentenceStarters: Set<String> = [
        "The", "A", "An", "It", "He", "She", "We", "They", "I", "You", "This", "That", "These", "Those", "There",
        "But", "And", "So", "Then", "In", "On", "At", "As", "If", "When", "While", "After", "Before", "Its",
        "His", "Her", "Their", "Our", "My", "Your", "What", "Why", "How", "Who", "Where", "Yes", "No",
    ]

    // MARK: - Symbols

    /// Symbols spoken as words wherever they stand alone or inside a word ("AT&T", "C++", "x = 5").
    static let symbolWords: [Character: String] = [
        "&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "‰": "per mille", "#": "hash",
        "/": "slash", "\\": "backslash", "×": "times", "÷": "divided by", "±": "plus or minus", "<": "less than",
        ">": "greater than", "≤": "less than or equal to", "≥": "greater than or equal to", "≠": "not equal to",
        "≈": "approximately", "~": "about", "°": "degrees", "§": "section", "¶": "paragraph",
        "©": "copyright", "²": "squared", "³": "cubed", "∞": "infinity", "√": "square root of",
        "→": "to", "←": "from",
    ]

    /// Word pairs with a slash that are read with "or" rather than "slash".
    static let slashPairs: [String: String] = [
        "and/or": "and or", "he/she": "he or she", "him/her": "him or her", "his/her": "his or her",
        "she/he": "she or he", "s/he": "she or he", "w/": "with", "w/o": "without", "24/7": "twenty four seven",
        "50/50": "fifty fifty", "9/11": "nine eleven",
    ]

    /// Readings of the characters of a URL or e-mail address.
    static let addressSymbols: [Character: String] = [
        ".": "dot", "/": "slash", "-": "dash", "_": "underscore", ":": "colon", "?": "question mark",
        "=": "equals", "&": "and", "#": "hash", "@": "at", "~": "tilde", "%": "percent", "+": "plus",
    ]

    /// Top-level domains that make "word.tld" an address.
    static let topLevelDomains: Set<String> = [
        "com", "org", "net", "edu", "gov", "mil", "int", "io", "ai", "co", "uk", "us", "de", "fr", "es", "it",
        "nl", "eu", "ca", "au", "jp", "cn", "ru", "br", "info", "biz", "dev", "app", "xyz", "ly", "gl", "ch", "se",
        "tv", "fm", "ac", "ie", "pl",
    ]

    // MARK: - Characters

    /// Typographic characters mapped to the ASCII the vocabulary has (applied before anything else).
    static let typography: [Character: String] = [
        "\u{2018}": "'", "\u{2019}": "'", "\u{201A}": "'", "\u{201B}": "'", "\u{2032}": "'", "\u{02BC}": "'",
        "\u{00B4}": "'", "`": "'",
        "\u{201C}": "\"", "\u{201D}": "\"", "\u{201E}": "\"", "\u{201F}": "\"", "\u{2033}": "\"",
        "\u{00AB}": "\"", "\u{00BB}": "\"", "\u{2039}": "\"", "\u{203A}": "\"",
        "\u{2010}": "-", "\u{2011}": "-", "\u{2012}": "-", "\u{2013}": "-", "\u{2212}": "-", "\u{FE63}": "-",
        "\u{FF0D}": "-",
        "\u{2014}": " - ", "\u{2015}": " - ", "\u{2E3A}": " - ", "\u{2E3B}": " - ",
        "\u{2026}": "...", "\u{2044}": "/", "\u{2215}": "/",
        "[": "(", "]": ")", "{": "(", "}": ")",
        "\u{2022}": " ", "\u{00B7}": " ", "\u{2023}": " ", "\u{25E6}": " ", "\u{2043}": " ",
        "\u{2103}": "°C", "\u{2109}": "°F", "\u{00BA}": "°", "\u{02DA}": "°",
        "\u{2122}": "", "\u{00AE}": "", "\u{2120}": "",
    ]

    /// Vulgar fractions, written out as "n/d" so that the number reader handles them.
    static let vulgarFractions: [Character: String] = [
        "½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅖": "2/5", "⅗": "3/5",
        "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅐": "1/7", "⅛": "1/8", "⅜": "3/8", "⅝": "5/8", "⅞": "7/8",
        "⅑": "1/9", "⅒": "1/10",
    ]

    /// Letters whose closest form is not their base letter without marks.
    static let transliterations: [Character: String] = [
        "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
        "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "ĸ": "k", "ŋ": "ng", "Ŋ": "Ng",
        "ſ": "s", "ƒ": "f", "ħ": "h", "Ħ": "H", "ŀ": "l", "Ŀ": "L",
    ]

    /// Greek letters, read by name where the vocabulary lacks them ("π" → "pi").
    static let greek: [Character: String] = [
        "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
        "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "ο": "omicron",
        "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi",
        "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi",
        "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega", "µ": "mu",
    ]

    /// ASCII punctuation replaced by its nearest neighbour when the vocabulary lacks it.
    static let punctuationFallbacks: [Character: String] = [
        ";": ",", ":": ",", "!": ".", "?": ".", "(": ",", ")": ",", "\"": "", "'": "", "-": ",",
    ]
}
