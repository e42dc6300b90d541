import Foundation
import XCTest

@testable import SpeechT5

/// Parity of `ReferenceNumberNormalizer` with transformers' `EnglishNumberNormalizer`.
///
/// The expected outputs were produced by transformers itself (scripts/fixtures/make_frontend_cases.py,
/// transformers 5.24, Python 3.11 / Unicode 14), including the inputs on which it raises.
final class TextReferenceNormalizerTests: XCTestCase {
    private struct CaseFile: Decodable {
        struct Case: Decodable {
            let input: String
            let output: String?
            let error: String?
        }
        let transformers: String
        let cases: [Case]
    }

    private static func caseFile() throws -> CaseFile {
        let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: root.appendingPathComponent("frontend/reference_normalizer_cases.json"))
        return try JSONDecoder().decode(CaseFile.self, from: data)
    }

    /// Non-ASCII written as \u{…}, so that a mismatch is readable.
    private static func escaped(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20, scalar.value < 0x7F, scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
        }
        return out + "\""
    }

    func testMatchesTransformersOnEveryFixtureCase() throws {
        let file = try Self.caseFile()
        XCTAssertGreaterThanOrEqual(file.cases.count, 150)
        let normalizer = ReferenceNumberNormalizer()
        var failures: [String] = []
        for testCase in file.cases {
            let input = Self.escaped(testCase.input)
            do {
                let output = try normalizer(testCase.input)
                if let expected = testCase.output {
                    if output != expected {
                        failures.append("\(input): expected \(Self.escaped(expected)), got \(Self.escaped(output))")
                    }
                } else {
                    failures.append("\(input): transformers raises \(testCase.error ?? "?"), got \(Self.escaped(output))")
                }
            } catch {
                if testCase.output != nil {
                    failures.append("\(input): unexpected error \(error)")
                }
            }
        }
        XCTAssertTrue(
            failures.isEmpty,
            "\(failures.count) of \(file.cases.count) cases differ from transformers \(file.transformers):\n"
                + failures.prefix(30).joined(separator: "\n"))
    }

    /// The quirk table of SPEECHT5.md section 2, spelled out here as well so that a regenerated fixture
    /// cannot silently drop it.
    func testQuirkTableOfTheSpecification() throws {
        let normalizer = ReferenceNumberNormalizer()
        let table: [(String, String)] = [
            ("I have 0 apples", "I have apples"),
            ("0.5", " point five"),
            ("1,234,567", "one thousand two hundred and thirty four,five hundred and sixty seven"),
            ("3.14159", "three.fourteen thousand one hundred and fifty nine"),
            ("$5.50", "five point five zero dollars"),
            ("-$3", "minus three dollars"),
            ("007", "seven"),
            ("12th", "12th"), ("A4", "A4"), ("1e5", "1e5"), ("abc123", "abc123"),
            ("50%", "fifty percent"),
        ]
        for (input, expected) in table {
            XCTAssertEqual(try normalizer(input), expected, input)
        }
    }

    func testFailuresOfTheReferenceAreClearErrors() {
        let normalizer = ReferenceNumberNormalizer()
        for input in ["$€5", "1" + String(repeating: "0", count: 36)] {
            XCTAssertThrowsError(try normalizer(input)) { error in
                guard case SpeechT5Error.invalidText(let reason) = error else {
                    return XCTFail("unexpected error \(error)")
                }
                XCTAssertTrue(reason.contains("transformers"), reason)
            }
        }
    }

    func testLongTextIsLinear() throws {
        let sentence = "In 1999, 25% of 300 people paid $12.50 each; 1,234,567 is -3.5. "
        let text = String(repeating: sentence, count: 1_500)  // about 100k characters
        let start = Date()
        let output = try ReferenceNumberNormalizer()(text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(output.hasPrefix("In one thousand nine hundred and ninety nine, twenty five percent"))
    }
}
