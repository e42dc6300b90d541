import Foundation
import XCTest

@testable import SpeechT5

/// `EnglishNormalizer`, the default front end. The expectations are written by hand: what a careful
/// reader would say, in the conventions the normalizer documents (American "one hundred one", years in
/// pairs, "p m" for times, "dot"/"slash" in addresses).
final class TextEnglishNormalizerTests: XCTestCase {
    /// The characters of the fixture `spm_char.model` (which mirrors the hub model's: no digits, no
    /// upper-case J K Q V X Z, some accented letters), plus the space.
    static let speechT5LikeVocabulary: Set<Character> = Set(
        "eotanrshildumwgycfbpvk.zjW\"x,;:?OT!SEIé()'MqHAU-êàœYNñBçüèLûâFCôGîäïëùDPRö ")

    /// (input, expected) with the default vocabulary (`EnglishNormalizer.basicVocabulary`).
    static let table: [(String, String)] = [
        // Cardinals, zero, leading zeros, huge numbers.
        ("0", "zero"),
        ("I have 0 apples", "I have zero apples"),
        ("7", "seven"),
        ("13", "thirteen"),
        ("42", "forty two"),
        ("100", "one hundred"),
        ("101", "one hundred one"),
        ("999", "nine hundred ninety nine"),
        ("12345", "twelve thousand three hundred forty five"),
        ("92000", "ninety two thousand"),
        ("1000000", "one million"),
        ("123456789", "one hundred twenty three million four hundred fifty six thousand seven hundred eighty nine"),
        ("1000000000000", "one trillion"),
        ("3000", "three thousand"),
        ("007", "zero zero seven"),
        ("1234567890123456789012345678901234567890",
         String(repeating: "one two three four five six seven eight nine zero ", count: 4).trimmingCharacters(in: .whitespaces)),
        // Thousands separators and lists.
        ("1,234,567", "one million two hundred thirty four thousand five hundred sixty seven"),
        ("1,000", "one thousand"),
        ("10,000 people", "ten thousand people"),
        ("1,2,3", "one, two, three"),
        ("5, 6 and 7", "five, six and seven"),
        // Decimals.
        ("3.14", "three point one four"),
        ("0.5", "zero point five"),
        (".5", "point five"),
        ("3.14159", "three point one four one five nine"),
        ("1,234.56", "one thousand two hundred thirty four point five six"),
        ("10.0", "ten point zero"),
        ("3.5 million people", "three point five million people"),
        // Signs.
        ("-5", "minus five"),
        ("-3.5", "minus three point five"),
        ("It was -10 outside", "It was minus ten outside"),
        ("+5", "plus five"),
        ("-0", "minus zero"),
        // Ordinals.
        ("1st", "first"),
        ("2nd", "second"),
        ("3rd", "third"),
        ("4th", "fourth"),
        ("11th", "eleventh"),
        ("12th", "twelfth"),
        ("21st", "twenty first"),
        ("22nd", "twenty second"),
        ("103rd", "one hundred third"),
        ("100th", "one hundredth"),
        ("1000th", "one thousandth"),
        ("the 20th century", "the twentieth century"),
        // Money.
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$5.50", "five dollars and fifty cents"),
        ("$0.99", "ninety nine cents"),
        ("$0.01", "one cent"),
        ("$1.01", "one dollar and one cent"),
        ("$5.00", "five dollars"),
        ("$5.5", "five dollars and fifty cents"),
        ("$0", "zero dollars"),
        ("$1,000,000", "one million dollars"),
        ("$2.5 million", "two point five million dollars"),
        ("$100 billion", "one hundred billion dollars"),
        ("$5M", "five million dollars"),
        ("€10", "ten euros"),
        ("€1.50", "one euro and fifty cents"),
        ("£3.20", "three pounds and twenty pence"),
        ("£1", "one pound"),
        ("£0.50", "fifty pence"),
        ("¥100", "one hundred yen"),
        ("¥1.5", "one point five yen"),
        ("₹500", "five hundred rupees"),
        ("-$3", "minus three dollars"),
        ("50¢", "fifty cents"),
        ("10€", "ten euros"),
        ("5 USD", "five U S dollars"),
        ("US$5", "five U S dollars"),
        ("It costs $12.50.", "It costs twelve dollars and fifty cents."),
        // Percentages.
        ("50%", "fifty percent"),
        ("3.5%", "three point five percent"),
        ("-2%", "minus two percent"),
        ("100 %", "one hundred percent"),
        ("0%", "zero percent"),
        ("100% sure", "one hundred percent sure"),
        // Years and decades.
        ("1999", "nineteen ninety nine"),
        ("2005", "two thousand five"),
        ("2000", "two thousand"),
        ("2024", "twenty twenty four"),
        ("1900", "nineteen hundred"),
        ("1905", "nineteen oh five"),
        ("2010", "twenty ten"),
        ("In 1066 AD", "In ten sixty six A D"),
        ("44 BC", "forty four B C"),
        ("the 1900s", "the nineteen hundreds"),
        ("the 1990s", "the nineteen nineties"),
        ("the '90s", "the nineties"),
        ("the 80s", "the eighties"),
        ("2000s", "two thousands"),
        ("1990-1995", "nineteen ninety to nineteen ninety five"),
        ("1990-95", "nineteen ninety to ninety five"),
        // Times.
        ("3:45", "three forty five"),
        ("3:45 pm", "three forty five p m"),
        ("3:45pm", "three forty five p m"),
        ("12:00", "twelve o'clock"),
        ("9:05", "nine oh five"),
        ("15:30", "fifteen thirty"),
        ("18:00", "eighteen hundred"),
        ("0:30", "zero thirty"),
        ("3pm", "three p m"),
        ("10 a.m.", "ten a m."),
        ("at 10 a.m. we left", "at ten a m we left"),
        ("We left at 10 pm. Then", "We left at ten p m. Then"),
        ("It ends at 3:45 pm.", "It ends at three forty five p m."),
        ("It ends at 3:45 p.m. and", "It ends at three forty five p m and"),
        ("1:02:03", "one hour two minutes three seconds"),
        ("10:30:45 pm", "ten thirty and forty five seconds p m"),
        // Dates.
        ("2024-03-05", "March fifth, twenty twenty four"),
        ("2024/03/05", "March fifth, twenty twenty four"),
        ("March 5", "March fifth"),
        ("March 5, 2024", "March fifth, twenty twenty four"),
        ("Mar. 5th", "March fifth"),
        ("5 March 2024", "the fifth of March twenty twenty four"),
        ("5/3/2024", "May third, twenty twenty four"),
        ("25/12/2024", "December twenty fifth, twenty twenty four"),
        ("12/25/99", "December twenty fifth, ninety nine"),
        ("05.03.2024", "March fifth, twenty twenty four"),
        ("On 12 Oct 1492", "On the twelfth of October fourteen ninety two"),
        ("Jan 2024", "January twenty twenty four"),
        // Abbreviations and titles.
        ("Mr. Smith", "Mister Smith"),
        ("Mrs. Jones", "Missus Jones"),
        ("Ms. Lee", "Miz Lee"),
        ("Dr. Watson", "Doctor Watson"),
        ("Prof. Xavier", "Professor Xavier"),
        ("St. Louis", "Saint Louis"),
        ("He lives on Baker St.", "He lives on Baker Street."),
        ("He lives on Baker St. now", "He lives on Baker Street now"),
        ("We drove down Mulholland Dr. yesterday", "We drove down Mulholland Drive yesterday"),
        ("apples, pears, etc.", "apples, pears, et cetera."),
        ("e.g. apples", "for example apples"),
        ("i.e., this", "that is, this"),
        ("cats vs. dogs", "cats versus dogs"),
        ("cats vs dogs", "cats versus dogs"),
        ("No. 5", "Number five"),
        ("I said no.", "I said no."),
        ("the U.S. Army", "the U S Army"),
        ("I love the U.S.", "I love the U S."),
        ("Acme Inc. makes things", "Acme Incorporated makes things"),
        ("John Smith Jr. arrived", "John Smith Junior arrived"),
        ("see p. 12", "see page twelve"),
        ("Mt. Everest", "Mount Everest"),
        ("approx. 5 km", "approximately five kilometers"),
        ("a.k.a. Bob", "also known as Bob"),
        ("cities, e.g. London", "cities, for example London"),
        // Units.
        ("5 km", "five kilometers"),
        ("1 km", "one kilometer"),
        ("5km", "five kilometers"),
        ("60 mph", "sixty miles per hour"),
        ("100 km/h", "one hundred kilometers per hour"),
        ("20°C", "twenty degrees Celsius"),
        ("-5 °C", "minus five degrees Celsius"),
        ("98.6°F", "ninety eight point six degrees Fahrenheit"),
        ("90°", "ninety degrees"),
        ("2.5 kg", "two point five kilograms"),
        ("500mg", "five hundred milligrams"),
        ("10 cm", "ten centimeters"),
        ("16 GB", "sixteen gigabytes"),
        ("3 GHz", "three gigahertz"),
        ("100m", "one hundred meters"),
        ("5s", "five seconds"),
        ("200 ms", "two hundred milliseconds"),
        ("50 m²", "fifty square meters"),
        ("5k", "five thousand"),
        ("2x", "two times"),
        ("~5 km", "about five kilometers"),
        ("She bought 3 lbs. of apples.", "She bought three pounds of apples."),
        ("£5.99/month", "five pounds and ninety nine pence per month"),
        ("20kg/m²", "twenty kilograms per square meter"),
        ("$10/hr", "ten dollars per hour"),
        ("€ 5", "five euros"),
        ("α-particles", "alpha-particles"),
        // Symbols.
        ("Tom & Jerry", "Tom and Jerry"),
        ("AT&T", "AT and T"),
        ("R&D", "R and D"),
        ("2 + 2 = 4", "two plus two equals four"),
        ("x = 5", "x equals five"),
        ("@john", "at john"),
        ("#1", "number one"),
        ("#hashtag", "hashtag hashtag"),
        ("C++", "C plus plus"),
        ("and/or", "and or"),
        ("input/output", "input slash output"),
        ("5 * 3", "five times three"),
        ("5 × 3", "five times three"),
        ("10 - 5 = 5", "ten minus five equals five"),
        ("x²", "x squared"),
        // Ranges and products.
        ("10-20", "ten to twenty"),
        ("pages 10-20", "pages ten to twenty"),
        ("$10-20", "ten to twenty dollars"),
        ("5-10%", "five to ten percent"),
        ("10 - 20", "ten to twenty"),
        ("2-3pm", "two to three p m"),
        ("He won 3-2", "He won three to two"),
        ("1920x1080", "one thousand nine hundred twenty by one thousand eighty"),
        ("4x4", "four by four"),
        ("16:9", "sixteen to nine"),
        ("A 50-50 chance", "A fifty fifty chance"),
        ("I scored 95/100.", "I scored ninety five over one hundred."),
        ("1e-5", "one times ten to the minus fifth"),
        ("6.02e23", "six point zero two times ten to the twenty third"),
        ("He's 6'2\" tall.", "He's six feet two inches tall."),
        ("Call me at (555) 123-4567.", "Call me at (five five five) one two three, four five six seven."),
        // Fractions, phone numbers, versions, mixed words.
        ("3/4", "three quarters"),
        ("1/2", "one half"),
        ("2/3", "two thirds"),
        ("24/7", "twenty four seven"),
        ("1 1/2", "one and a half"),
        ("1½ cups", "one and a half cups"),
        ("½", "one half"),
        ("call 555-123-4567", "call five five five, one two three, four five six seven"),
        ("version 1.2.3", "version one dot two dot three"),
        ("A4", "A four"),
        ("MP3", "MP three"),
        ("COVID-19", "COVID-nineteen"),
        ("a 5-year-old", "a five-year-old"),
        ("Room 101.", "Room one hundred one."),
        ("(5)", "(five)"),
        ("[1]", "(one)"),
        // URLs and e-mail addresses.
        ("https://www.example.com", "w w w dot example dot com"),
        ("http://example.com/path/to", "example dot com slash path slash to"),
        ("Visit example.org.", "Visit example dot org."),
        ("john.smith@example.com", "john dot smith at example dot com"),
        ("https://github.com/user/repo-name", "github dot com slash user slash repo dash name"),
        ("www.site123.com", "w w w dot site one two three dot com"),
        // Quotes, dashes, ellipses, spaces, controls.
        ("\u{201C}Hello,\u{201D} she said.", "\"Hello,\" she said."),
        ("It\u{2019}s fine", "It's fine"),
        ("wait\u{2014}what", "wait - what"),
        ("pages 10\u{2013}20", "pages ten to twenty"),
        ("Wait\u{2026}", "Wait..."),
        ("a -- b", "a - b"),
        ("Hello!!!", "Hello!!!"),
        ("", ""),
        ("Hello world", "Hello world"),
        ("   many   spaces  ", "many spaces"),
        ("a\tb", "a b"),
        ("a\u{0007}b", "ab"),
        ("a\u{200B}b", "ab"),
        ("a\u{00A0}b", "a b"),
        ("Para one.\n\nPara two.", "Para one.\n\nPara two."),
        ("line one\nline two", "line one\nline two"),
        ("I \u{2764} you", "I you"),
        // Unicode digits are read like ASCII ones.
        ("\u{0663} apples", "three apples"),
        ("\u{FF11}\u{FF12}\u{FF13}", "one hundred twenty three"),
        // Letters the basic vocabulary lacks.
        ("café", "cafe"),
        ("naïve", "naive"),
        ("Straße", "Strasse"),
        ("Æsop", "Aesop"),
        ("smørrebrød", "smorrebrod"),
        ("Łódź", "Lodz"),
        ("π", "pi"),
    ]

    /// (input, expected) with a SpeechT5-like vocabulary: accents it has are kept, capitals it lacks become
    /// lower-case.
    static let vocabularyTable: [(String, String)] = [
        ("café", "café"),
        ("Éclair", "éclair"),
        ("Zoë", "zoë"),
        ("Jazz Quartet", "jazz quartet"),
        ("Ångström", "Angström"),
        ("œuvre", "œuvre"),
        ("Straße", "Strasse"),
        ("5 Kings", "five kings"),
    ]

    private static func escaped(_ text: String) -> String {
        text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
            .joined()
    }

    private func check(_ table: [(String, String)], _ normalizer: EnglishNormalizer, file: StaticString = #filePath,
                       line: UInt = #line) {
        var failures: [String] = []
        for (input, expected) in table {
            let output = normalizer.normalize(input)
            if output != expected {
                failures.append("\(Self.escaped(input)): expected \"\(expected)\", got \"\(output)\"")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) of \(table.count) cases differ:\n"
                      + failures.joined(separator: "\n"), file: file, line: line)
    }

    func testTable() {
        XCTAssertGreaterThanOrEqual(Self.table.count + Self.vocabularyTable.count, 150)
        check(Self.table, EnglishNormalizer())
    }

    func testVocabularyDecidesTransliteration() {
        check(Self.vocabularyTable, EnglishNormalizer(vocabulary: Self.speechT5LikeVocabulary))
    }

    /// With the basic vocabulary, every output character is in it (or is a line break): nothing becomes
    /// `<unk>` but letters of other scripts.
    func testOutputStaysInTheVocabulary() {
        let normalizer = EnglishNormalizer()
        let text = Self.table.map(\.0).joined(separator: " ") + " ★ ☃ ¶ ‰ ∞ © ™ ® † ‡ § ^ * | \\ _ ` ~"
        for character in normalizer.normalize(text) where character != "\n" {
            XCTAssertTrue(EnglishNormalizer.basicVocabulary.contains(character), "\(character) in output")
        }
    }

    func testNoDigitSurvives() {
        let normalizer = EnglishNormalizer()
        let inputs = ["a1b2c3", "1e5", "x1.2.3.4y", "0x1F", "v2.0-beta3", "1/0", "9:99", "1:2:3", "99:99:99",
                      "2024-13-45", "12/40/2020", "$$5", "5..5", "1-2-3-4-5", "#", "-", "1,,2", "١٢٣٤", "5\u{0301}"]
        for input in inputs {
            let output = normalizer.normalize(input)
            XCTAssertFalse(output.contains(where: EnglishNormalizer.isDigit), "\(input) → \(output)")
        }
    }

    func testLongTextIsFast() {
        let paragraph = "On March 5, 2024, Dr. Smith paid $1,234.56 (about 15% more) for 3.5 kg at 10:30 am. "
            + "See https://example.com/page or call 555-123-4567!\n\n"
        let text = String(repeating: paragraph, count: 600)  // about 100k characters
        let start = Date()
        let output = EnglishNormalizer().normalize(text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertTrue(output.hasPrefix("On March fifth, twenty twenty four, Doctor Smith paid one thousand two "
                                       + "hundred thirty four dollars and fifty six cents (about fifteen percent more)"),
                      String(output.prefix(200)))
    }
}
