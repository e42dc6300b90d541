import Foundation
import XCTest

@testable import SpeechT5

/// `TextSplitter`: sentence, clause and word cuts, merging of tiny sentences, errors, and cost on long text.
final class TextSplitterTests: XCTestCase {
    /// Roughly SpeechT5's count for a character model: one token per character, plus `▁` and EOS.
    private static func count(_ text: String) -> Int { text.count + 2 }

    private func split(_ text: String, max: Int = 600, merge: Int = 0, pack: Bool = false) throws -> [TextPiece] {
        try TextSplitter.split(
            text, maxTokens: max, options: .init(mergeBelowTokens: merge, packSentences: pack), tokenCount: Self.count)
    }

    private func texts(_ pieces: [TextPiece]) -> [String] { pieces.map(\.text) }

    func testOneSentencePerPiece() throws {
        let pieces = try split("Hello there, my friend. How are you today?  I am fine!")
        XCTAssertEqual(pieces, [
            TextPiece(text: "Hello there, my friend.", endsSentence: true),
            TextPiece(text: "How are you today?", endsSentence: true),
            TextPiece(text: "I am fine!", endsSentence: true),
        ])
    }

    func testTinySentencesAreJoinedToANeighbour() throws {
        // "Yes." is 6 tokens here, "No." 5: below 10 they join; "Yes. No." (10) then stands.
        let text = "Yes. No. Maybe so, my friend."
        XCTAssertEqual(texts(try split(text, merge: 10)), ["Yes. No.", "Maybe so, my friend."])
        XCTAssertEqual(texts(try split(text, merge: 0)), ["Yes.", "No.", "Maybe so, my friend."])
        // A tiny sentence at the end of a paragraph joins the one before; never across paragraphs.
        XCTAssertEqual(texts(try split("This one is long enough. Ok.\n\nHi.", merge: 10)),
                       ["This one is long enough. Ok.", "Hi."])
        // The default options join sentences under 10 tokens.
        XCTAssertEqual(try TextSplitter.split("Hi. Ok.", maxTokens: 600, tokenCount: Self.count).map(\.text), ["Hi. Ok."])
    }

    func testPeriodsThatDoNotEndSentences() throws {
        XCTAssertEqual(
            texts(try split("Mr. Smith met J. R. R. Tolkien in the U.S. today. Then they left.")),
            ["Mr. Smith met J. R. R. Tolkien in the U.S. today.", "Then they left."])
        // Letters the normalizer spelled out ("U.S." → "U S", "p.m." → "p m") keep their sentence end.
        XCTAssertEqual(texts(try split("We met at three p m. Then we left the U S. It was late.")),
                       ["We met at three p m.", "Then we left the U S.", "It was late."])
        XCTAssertEqual(texts(try split("It costs approx. five dollars, e.g. in Paris.")),
                       ["It costs approx. five dollars, e.g. in Paris."])
        XCTAssertEqual(texts(try split("It was 3.5 meters. OK then.")), ["It was 3.5 meters.", "OK then."])
        XCTAssertEqual(texts(try split("See No. 5 and p. 12. Done.")), ["See No. 5 and p. 12.", "Done."])
        XCTAssertEqual(texts(try split("Wait... what? Really! Yes.")), ["Wait... what?", "Really!", "Yes."])
        XCTAssertEqual(texts(try split("\"Really?\" she asked. \"Yes.\" He nodded.")),
                       ["\"Really?\" she asked.", "\"Yes.\"", "He nodded."])
    }

    func testParagraphsAndLineBreaks() throws {
        let pieces = try split("First line\nstill the first sentence.\n\n  \nSecond paragraph\r\n\r\nThird")
        XCTAssertEqual(pieces, [
            TextPiece(text: "First line still the first sentence.", endsSentence: true),
            TextPiece(text: "Second paragraph", endsSentence: true),
            TextPiece(text: "Third", endsSentence: true),
        ])
    }

    func testLongSentenceIsCutAtClausesThenWords() throws {
        let clause = "and then the quick brown fox jumped over the lazy dog,"
        let sentence = String(repeating: clause + " ", count: 12) + "and that was all."
        let pieces = try split(sentence, max: 130)
        XCTAssertGreaterThan(pieces.count, 1)
        for piece in pieces.dropLast() {
            XCTAssertFalse(piece.endsSentence)
            XCTAssertTrue(piece.text.hasSuffix(","), piece.text)
        }
        XCTAssertEqual(pieces.last?.endsSentence, true)
        for piece in pieces { XCTAssertLessThanOrEqual(Self.count(piece.text), 130) }
        // Two clauses (2 × 54 characters) fit in 130 tokens: clauses are packed, not one per piece.
        XCTAssertEqual(pieces.first?.text, clause + " " + clause)
        XCTAssertEqual(pieces.map(\.text).joined(separator: " "), sentence)

        // Dashes are clause boundaries too.
        let dashed = try split("one two three four - five six seven eight - nine ten", max: 30)
        XCTAssertEqual(texts(dashed), ["one two three four -", "five six seven eight -", "nine ten"])
    }

    func testNoPunctuationAtAll() throws {
        let words = (0..<3_000).map { "word\($0 % 97)" }
        let text = words.joined(separator: " ")
        let pieces = try split(text, max: 100)
        XCTAssertGreaterThan(pieces.count, 200)
        for piece in pieces { XCTAssertLessThanOrEqual(Self.count(piece.text), 100) }
        XCTAssertEqual(pieces.map(\.text).joined(separator: " "), text)
        XCTAssertEqual(pieces.filter(\.endsSentence).count, 1)
        // Greedy: each piece but the last could not take one more word.
        for (piece, next) in zip(pieces, pieces.dropFirst()) {
            let firstWord = next.text.split(separator: " ")[0]
            XCTAssertGreaterThan(Self.count(piece.text + " " + firstWord), 100)
        }
    }

    func testAWordThatCannotFitIsAClearError() {
        let giant = String(repeating: "a", count: 100)
        XCTAssertThrowsError(try split("ok then " + giant + " end", max: 50)) { error in
            guard case SpeechT5Error.invalidText(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains(String(repeating: "a", count: 40) + "…"), reason)
            XCTAssertFalse(reason.contains(String(repeating: "a", count: 41)), reason)
            XCTAssertTrue(reason.contains("character 8"), reason)
            XCTAssertTrue(reason.contains("102 tokens"), reason)
            XCTAssertTrue(reason.contains("50"), reason)
        }
        XCTAssertThrowsError(try split("x", max: 0)) { error in
            guard case SpeechT5Error.invalidArgument(let name, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "maxTokens")
        }
    }

    func testNothingToSplit() throws {
        XCTAssertEqual(try split(""), [])
        XCTAssertEqual(try split("   \n\n  "), [])
        XCTAssertEqual(try split("... !!! ---"), [])
        // A sentence of punctuation alone between real ones is dropped.
        XCTAssertEqual(texts(try split("Hello there. ... Goodbye now.")), ["Hello there.", "Goodbye now."])
    }

    func testUnicode() throws {
        XCTAssertEqual(texts(try split("Ça va? Très bien! 日本語です。次の文。Ελληνικά; ναι.")),
                       ["Ça va?", "Très bien!", "日本語です。", "次の文。", "Ελληνικά; ναι."])
        // Grapheme clusters are never cut: a word of emoji and combining marks stays whole.
        let word = String(repeating: "e\u{301}👩‍👩‍👧", count: 5)
        let pieces = try split(Array(repeating: word, count: 30).joined(separator: " "), max: 40)
        for piece in pieces {
            XCTAssertTrue(piece.text.split(separator: " ").allSatisfy { $0 == word })
        }
    }

    func testPackingKeepsTextWholeWhenItFits() throws {
        let text = "  Hello   there.\nHow are you?  "
        XCTAssertEqual(try split(text, pack: true), [TextPiece(text: text, endsSentence: true)])
        // Otherwise whole sentences are packed up to the limit.
        let long = (0..<40).map { "Sentence number \($0) is here." }.joined(separator: " ")
        let pieces = try split(long, max: 100, pack: true)
        XCTAssertGreaterThan(pieces.count, 5)
        for piece in pieces {
            XCTAssertLessThanOrEqual(Self.count(piece.text), 100)
            XCTAssertTrue(piece.endsSentence)
            XCTAssertTrue(piece.text.hasSuffix("here."))
        }
        XCTAssertEqual(pieces.map(\.text).joined(separator: " "), long)
    }

    /// A 100k-character chapter: every piece fits, nothing is lost, and the token counter is never asked
    /// about much more than one piece at a time.
    func testChapterIsSplitInLinearTime() throws {
        var generator = SystemRandomNumberGenerator()
        _ = generator
        let vocabulary = ["the", "old", "man", "walked", "slowly", "towards", "river", "and", "she", "said",
                          "nothing", "about", "it", "because", "morning", "light", "was", "cold", "grey"]
        var state: UInt64 = 12345
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        var paragraphs: [String] = []
        var length = 0
        while length < 100_000 {
            var sentences: [String] = []
            for _ in 0..<(3 + next(6)) {
                var words: [String] = []
                for w in 0..<(4 + next(40)) {
                    words.append(vocabulary[next(vocabulary.count)] + (w > 0 && next(7) == 0 ? "," : ""))
                }
                if next(20) == 0 { words += Array(repeating: "very", count: 200) }  // an over-long sentence
                sentences.append(words.joined(separator: " ").capitalized + [".", "!", "?"][next(3)])
            }
            let paragraph = sentences.joined(separator: " ")
            paragraphs.append(paragraph)
            length += paragraph.count + 2
        }
        let chapter = paragraphs.joined(separator: "\n\n")

        var calls = 0
        var counted = 0
        var longest = 0
        let start = Date()
        let pieces = try TextSplitter.split(chapter, maxTokens: 600) { text in
            calls += 1
            counted += text.count
            longest = max(longest, text.count)
            return text.count + 2
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertLessThan(elapsed, 10)
        for piece in pieces { XCTAssertLessThanOrEqual(piece.text.count + 2, 600) }
        let words = { (text: String) in text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        XCTAssertEqual(words(pieces.map(\.text).joined(separator: " ")), words(chapter))
        XCTAssertLessThanOrEqual(longest, 1_300, "the counter saw a string far longer than a piece")
        XCTAssertLessThan(counted, chapter.count * 8, "\(calls) calls over \(counted) characters")
    }

    /// With the real tokenizer of the fixture model, every piece encodes within the limit.
    func testWithTheTokenizer() throws {
        let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let directory = root.appendingPathComponent("tokenizer").path
        let tokenizer = try SpeechT5Tokenizer(
            modelPath: (directory as NSString).appendingPathComponent("spm_char.model"),
            configurationDirectory: directory)
        let text = String(repeating: "It was a bright cold day in April, and the clocks were striking thirteen. ", count: 300)
        let pieces = try TextSplitter.split(text, maxTokens: 60) { tokenizer.encode($0).count }
        XCTAssertGreaterThan(pieces.count, 300)
        for piece in pieces { XCTAssertLessThanOrEqual(tokenizer.encode(piece.text).count, 60) }
    }
}
