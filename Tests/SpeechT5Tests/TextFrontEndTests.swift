import Foundation
import XCTest

@testable import SpeechT5

/// `TextFrontEnd`: the three normalization modes, input validation, and the path to token pieces with the
/// fixture tokenizer.
final class TextFrontEndTests: XCTestCase {
    private static func tokenizer() throws -> SpeechT5Tokenizer {
        let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let directory = root.appendingPathComponent("tokenizer").path
        return try SpeechT5Tokenizer(
            modelPath: (directory as NSString).appendingPathComponent("spm_char.model"),
            configurationDirectory: directory)
    }

    private func assertInvalidText(_ expression: @autoclosure () throws -> Any, contains fragment: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard case SpeechT5Error.invalidText(let reason) = error else {
                return XCTFail("expected invalidText, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(reason.contains(fragment), "\"\(reason)\" lacks \"\(fragment)\"", file: file, line: line)
            XCTAssertTrue(error.localizedDescription.hasPrefix("text: "), file: file, line: line)
        }
    }

    func testModes() throws {
        XCTAssertEqual(TextNormalization.allCases.map(\.rawValue), ["off", "reference", "full"])
        XCTAssertEqual(TextNormalization(rawValue: "reference"), .reference)
        let text = "I have 3 apples and $5.50."
        XCTAssertEqual(try TextFrontEnd(normalization: .off).prepare(text), text)
        XCTAssertEqual(try TextFrontEnd(normalization: .reference).prepare(text),
                       "I have three apples and five point five zero dollars.")
        XCTAssertEqual(try TextFrontEnd(normalization: .full).prepare(text),
                       "I have three apples and five dollars and fifty cents.")
        XCTAssertEqual(try TextFrontEnd().prepare("0"), "zero")
        XCTAssertEqual(TextFrontEnd().normalization, .full)
    }

    func testEmptyWhitespaceAndControlOnlyTextAreErrors() {
        for mode in TextNormalization.allCases {
            let frontEnd = TextFrontEnd(normalization: mode)
            assertInvalidText(try frontEnd.prepare(""), contains: "is empty")
            assertInvalidText(try frontEnd.prepare(" \n\t\u{00A0} "), contains: "only whitespace")
            assertInvalidText(try frontEnd.prepare("\u{01}\u{02} \u{7F}\u{9B}"), contains: "only control characters")
        }
    }

    func testNothingSpeakable() throws {
        let tokenizer = try Self.tokenizer()
        assertInvalidText(try TextFrontEnd().prepare("★ ☃ ♫"), contains: "nothing speakable")
        assertInvalidText(try TextFrontEnd().prepare("!!! ... ???"), contains: "nothing speakable")
        assertInvalidText(try TextFrontEnd(tokenizer: tokenizer).prepare("日本語"), contains: "nothing speakable")
        // Digits alone are unspeakable without normalization: the vocabulary has none.
        assertInvalidText(try TextFrontEnd(normalization: .off, tokenizer: tokenizer).prepare("123 456"),
                          contains: "digits are not in the vocabulary")
        XCTAssertEqual(try TextFrontEnd(tokenizer: tokenizer).prepare("123"), "one hundred twenty three")
        // Without a vocabulary, `off` accepts any letter or digit.
        XCTAssertEqual(try TextFrontEnd(normalization: .off).prepare("123"), "123")
    }

    func testControlCharactersAreStripped() throws {
        let off = TextFrontEnd(normalization: .off)
        XCTAssertEqual(try off.prepare("Hel\u{07}lo\u{85}world\u{0C}again\tand\r\nmore\u{00}"),
                       "Hello\nworld\nagain\tand\r\nmore")
        XCTAssertEqual(try TextFrontEnd().prepare("Hel\u{07}lo\u{1B} world"), "Hello world")
        // In reference mode transformers sees the control character (not a word character, so "5" matches)
        // and only then is it removed.
        XCTAssertEqual(try TextFrontEnd(normalization: .reference).prepare("a\u{01}5"), "afive")
        XCTAssertEqual(TextFrontEnd.removingControlCharacters("a\u{01}b\u{9F}c\u{85}d"), "abc\nd")
    }

    func testReferenceModeFailsWhereTransformersFails() {
        assertInvalidText(try TextFrontEnd(normalization: .reference).prepare("pay $€5 now"), contains: "transformers")
    }

    func testVocabularyOfTheTokenizer() throws {
        let vocabulary = TextFrontEnd.vocabulary(of: try Self.tokenizer())
        XCTAssertEqual(vocabulary, TextEnglishNormalizerTests.speechT5LikeVocabulary)
    }

    /// English with numbers, symbols, accents, curly quotes and capitals the vocabulary lacks: after the
    /// full front end not a single token is `<unk>`, and every piece fits.
    func testFullFrontEndLeavesNoUnknownTokens() throws {
        let tokenizer = try Self.tokenizer()
        let frontEnd = TextFrontEnd(tokenizer: tokenizer)
        let text = """
            On March 5, 2024, Dr. Zoë Quinn paid $1,234.56 (15% more) for 3.5 kg of Jazz vinyl at 10:30 am \
            — “a bargain,” she said… Visit https://example.com/shop or e-mail sales@example.co.uk! \
            Call 555-123-4567 & ask for Mr. Kovács, Straße 7, 2nd floor; it’s 20°C ± 2°C, 60 mph winds.

            Æsop’s fables: 1st edition, c. 1484 AD. Über-cool Ñandú × 4 = 4x … ½ cup; π ≈ 3.14159!
            """
        let pieces = try frontEnd.pieces(text, maxTokens: 600) { tokenizer.encode($0).count }
        // Five sentences; "Visit" still starts one although the vocabulary has no "V" (it is split before
        // the text is fitted to the vocabulary).
        XCTAssertEqual(pieces.count, 5, pieces.map(\.text).joined(separator: "\n"))
        XCTAssertEqual(pieces[1].text.prefix(12), "visit exampl")
        for piece in pieces {
            let ids = tokenizer.encode(piece.text)
            XCTAssertLessThanOrEqual(ids.count, 600)
            XCTAssertFalse(ids.contains(tokenizer.unknownTokenId), "<unk> in \"\(piece.text)\"")
        }
        XCTAssertEqual(pieces.last?.endsSentence, true)
        XCTAssertTrue(try frontEnd.prepare(text).contains("Doctor zoë quinn paid one thousand two hundred thirty four "
                                                          + "dollars and fifty six cents (fifteen percent more)"))
        XCTAssertTrue(try frontEnd.prepare(text).contains("circa fourteen eighty four A D."))
    }

    func testPiecesUseTheModeDefaults() throws {
        XCTAssertFalse(TextFrontEnd(normalization: .full).splitOptions.packSentences)
        XCTAssertTrue(TextFrontEnd(normalization: .off).splitOptions.packSentences)
        XCTAssertTrue(TextFrontEnd(normalization: .reference).splitOptions.packSentences)

        let text = "The first sentence is here. The second one follows it."
        let count = { (s: String) in s.count + 2 }
        XCTAssertEqual(try TextFrontEnd(normalization: .off).pieces(text, maxTokens: 600, tokenCount: count),
                       [TextPiece(text: text, endsSentence: true)])
        XCTAssertEqual(try TextFrontEnd(normalization: .full).pieces(text, maxTokens: 600, tokenCount: count).map(\.text),
                       ["The first sentence is here.", "The second one follows it."])
        var packed = TextFrontEnd(normalization: .full)
        packed.splitOptions.packSentences = true
        XCTAssertEqual(try packed.pieces(text, maxTokens: 600, tokenCount: count).count, 1)
        assertInvalidText(try TextFrontEnd().pieces(text + " " + String(repeating: "x", count: 700), maxTokens: 600,
                                                    tokenCount: count), contains: "the word")
    }

    func testUTF8Decoding() throws {
        XCTAssertEqual(try TextFrontEnd.decodeUTF8(Array("héllo ✓".utf8)), "héllo ✓")
        XCTAssertEqual(try TextFrontEnd.decodeUTF8([0xEF, 0xBB, 0xBF, 0x61]), "a")
        XCTAssertEqual(try TextFrontEnd.decodeUTF8([UInt8]()), "")
        assertInvalidText(try TextFrontEnd.decodeUTF8([0x61, 0x62, 0xFF, 0x63]), contains: "byte offset 2")
        assertInvalidText(try TextFrontEnd.decodeUTF8([0x61, 0xC3]), contains: "byte offset 1")
        assertInvalidText(try TextFrontEnd.decodeUTF8([0xED, 0xA0, 0x80]), contains: "not valid UTF-8")
    }
}

extension TextFrontEndTests {
    /// A 100k-character chapter through the full front end and the real tokenizer's counts.
    func testChapterThroughTheFullFrontEnd() throws {
        let tokenizer = try Self.tokenizer()
        let paragraph = """
            On March 5, 2024, Dr. Smith paid $1,234.56 (about 15% more) for 3.5 kg at 10:30 am. \
            It was the best of times; it was the worst of times, it was the age of wisdom, it was the age of \
            foolishness. See https://example.com/page or call 555-123-4567! Then, in 1999, nothing happened.
            """
        let chapter = Array(repeating: paragraph, count: 360).joined(separator: "\n\n")  // about 100k characters
        XCTAssertGreaterThan(chapter.count, 100_000)
        let start = Date()
        let pieces = try TextFrontEnd(tokenizer: tokenizer).pieces(chapter, maxTokens: 600) {
            tokenizer.encode($0).count
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertLessThan(elapsed, 20, "front end took \(elapsed) s")
        XCTAssertEqual(pieces.count, 360 * 4)
        for piece in pieces { XCTAssertLessThanOrEqual(tokenizer.encode(piece.text).count, 600) }
        print("front end: \(chapter.count) characters → \(pieces.count) pieces in \(elapsed) s")
    }
}
