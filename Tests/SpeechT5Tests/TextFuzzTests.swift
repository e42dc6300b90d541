import Foundation
import XCTest

@testable import SpeechT5

/// Random text made of the characters the front end reacts to: nothing may trap, every output of the full
/// front end stays in the vocabulary and free of digits, and every piece fits.
final class TextFuzzTests: XCTestCase {
    private static let alphabet: [String] = Array("0123456789").map(String.init) + [
        " ", " ", " ", "\n", "\n\n", "\t", ".", ",", "-", "/", ":", "'", "\"", "%", "$", "€", "£", "¥", "¢", "#", "@",
        "&", "+", "=", "x", "×", "°", "C", "F", "k", "m", "M", "s", "th", "st", "am", "p.m.", "Dr.", "St.", "U.S.",
        "e.g.", "No.", "www.", ".com", "http://", "a", "b", "Z", "é", "É", "ß", "π", "½", "²", "\u{201C}", "\u{2019}",
        "\u{2014}", "\u{2013}", "\u{2026}", "\u{00A0}", "\u{200B}", "\u{0007}", "\u{0085}", "\u{0301}", "٣", "５",
        "😀", "日", "(", ")", "[", "]", "!", "?", ";", "~", "*", "_", "|", "\\", "<", ">", "^", "‰", "₹", "US$",
        "March", "Jan", "BC", "AD", "km", "mph", "GB", "e", "E",
    ]

    func testRandomTextNeverTraps() throws {
        var state: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let vocabulary = TextEnglishNormalizerTests.speechT5LikeVocabulary
        let normalizer = EnglishNormalizer(vocabulary: vocabulary)
        let frontEnd = TextFrontEnd(normalization: .full, isInVocabulary: { vocabulary.contains($0) })
        let reference = ReferenceNumberNormalizer()
        for _ in 0..<3_000 {
            let text = (0..<(1 + next(25))).map { _ in Self.alphabet[next(Self.alphabet.count)] }.joined()
            let output = normalizer.normalize(text)
            for character in output where character != "\n" && !character.isLetter {
                XCTAssertTrue(vocabulary.contains(character), "\(character) from \(text.debugDescription)")
            }
            XCTAssertFalse(output.contains(where: EnglishNormalizer.isDigit), text.debugDescription)
            _ = try? reference(text)
            for mode in TextNormalization.allCases {
                var modeFrontEnd = mode == .full ? frontEnd : TextFrontEnd(normalization: mode)
                modeFrontEnd.splitOptions.mergeBelowTokens = next(20)
                let maxTokens = 8 + next(40)
                if let pieces = try? modeFrontEnd.pieces(text, maxTokens: maxTokens, tokenCount: { $0.count + 2 }) {
                    XCTAssertFalse(pieces.isEmpty)
                    for piece in pieces {
                        XCTAssertFalse(piece.text.isEmpty, text.debugDescription)
                        XCTAssertLessThanOrEqual(piece.text.count + 2, maxTokens, text.debugDescription)
                    }
                }
            }
        }
    }
}
