import Foundation
import XCTest

@testable import SpeechT5

/// Parity of the tokenizer with transformers' SpeechT5Tokenizer, and robustness against malformed files.
///
/// The reference ids come from scripts/fixtures/make_tokenizer_cases.py (transformers 5.24.0,
/// sentencepiece 0.2.3) over models trained by scripts/fixtures/train_spm.py.
final class TokenizerTests: XCTestCase {
    // MARK: - Fixtures

    private struct CaseFile: Decodable {
        struct Case: Decodable {
            let text: String
            let ids: [Int]
            let tokens: [String]
            let normalized: String
        }
        struct Set: Decodable {
            let model: String
            let config_dir: String
            let vocab_size: Int
            let cases: [Case]
        }
        let sets: [String: Set]
    }

    private static var directory: URL {
        get throws {
            let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            return root.appendingPathComponent("tokenizer")
        }
    }

    private static func path(_ name: String) throws -> String {
        try directory.appendingPathComponent(name).path
    }

    private static func caseFile() throws -> CaseFile {
        let data = try Data(contentsOf: directory.appendingPathComponent("cases.json"))
        return try JSONDecoder().decode(CaseFile.self, from: data)
    }

    /// The text with everything outside printable ASCII written as \u{…}, so mismatches are readable.
    private static func escaped(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20, scalar.value < 0x7F, scalar != "\\", scalar != "\"" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
        }
        return out + "\""
    }

    private func checkSet(_ name: String, tokenizer makeTokenizer: ((CaseFile.Set) throws -> SpeechT5Tokenizer)? = nil)
        throws
    {
        let file = try Self.caseFile()
        let set = try XCTUnwrap(file.sets[name], "no set \(name) in cases.json")
        let tokenizer = try makeTokenizer?(set)
            ?? SpeechT5Tokenizer(
                modelPath: Self.path(set.model),
                configurationDirectory: Self.directory.appendingPathComponent(set.config_dir).path)
        XCTAssertGreaterThanOrEqual(set.cases.count, 250)
        XCTAssertEqual(tokenizer.vocabularySize, set.vocab_size, "\(name): vocabulary size")

        var failures: [String] = []
        for testCase in set.cases {
            let ids = tokenizer.encode(testCase.text)
            if ids != testCase.ids {
                let pieces = ids.map { tokenizer.piece(for: $0) ?? "?" }
                failures.append(
                    "\(Self.escaped(testCase.text))\n    expected \(testCase.ids) \(testCase.tokens)\n    actual   \(ids) \(pieces)")
            }
        }
        if !failures.isEmpty {
            XCTFail("\(name): \(failures.count) of \(set.cases.count) cases differ from transformers; first ones:\n"
                + failures.prefix(12).joined(separator: "\n"))
        }
    }

    // MARK: - Parity with transformers

    func testHubLayoutMatchesTransformers() throws {
        try checkSet("main")
    }

    func testVariantNormalizerFlagsAndAddedTokenFlagsMatchTransformers() throws {
        try checkSet("variant")
    }

    func testIdentityNormalizerAndLegacyFalseMatchTransformers() throws {
        try checkSet("identity")
    }

    /// Without any JSON file the tokenizer assumes the hub's added tokens, which gives the same ids.
    func testDefaultsWithoutJSONFilesMatchHubFiles() throws {
        try checkSet("main") { set in
            try SpeechT5Tokenizer(modelPath: Self.path(set.model), configurationDirectory: nil)
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-empty-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try checkSet("main") { set in
            try SpeechT5Tokenizer(modelPath: Self.path(set.model), configurationDirectory: empty.path)
        }
    }

    /// sentencepiece's own `normalize` of every case text, for each model: the normalizer alone.
    func testNormalizerMatchesSentencePiece() throws {
        let file = try Self.caseFile()
        for name in file.sets.keys.sorted() {
            let set = try XCTUnwrap(file.sets[name])
            let model = try SentencePieceModel(contentsOf: Self.path(set.model))
            let normalizer = try CharsmapNormalizer(model: model, path: set.model)
            var failures: [String] = []
            for testCase in set.cases {
                let normalized = normalizer.normalize(testCase.text)
                // Compare scalars: Swift String equality would accept canonically equivalent strings.
                if Array(normalized.unicodeScalars) != Array(testCase.normalized.unicodeScalars) {
                    failures.append("\(Self.escaped(testCase.text)): expected \(Self.escaped(testCase.normalized)), "
                        + "got \(Self.escaped(normalized))")
                }
            }
            if !failures.isEmpty {
                XCTFail("\(name): \(failures.count) normalizations differ:\n" + failures.prefix(12).joined(separator: "\n"))
            }
        }
    }

    func testHubLayoutProperties() throws {
        let tokenizer = try SpeechT5Tokenizer(directory: Self.directory.path)
        XCTAssertEqual(tokenizer.vocabularySize, 81)
        XCTAssertEqual(tokenizer.padTokenId, 1)
        XCTAssertEqual(tokenizer.eosTokenId, 2)
        XCTAssertEqual(tokenizer.unknownTokenId, 3)
        XCTAssertEqual(tokenizer.piece(for: 0), "<s>")
        XCTAssertEqual(tokenizer.piece(for: 4), "\u{2581}")
        XCTAssertEqual(tokenizer.piece(for: 79), "<mask>")
        XCTAssertEqual(tokenizer.piece(for: 80), "<ctc_blank>")
        XCTAssertNil(tokenizer.piece(for: 81))
        XCTAssertNil(tokenizer.piece(for: -1))
        XCTAssertFalse(tokenizer.requestsNumberNormalization)
        XCTAssertEqual(tokenizer.encode(""), [2])
        XCTAssertEqual(tokenizer.encode("a</s>b"), [4, 8, 2, 4, 23, 2])

        let model = tokenizer.model
        XCTAssertEqual(model.pieces.count, 79)
        XCTAssertEqual(model.trainerSpec.modelType, .char)
        XCTAssertEqual(model.trainerSpec.unkId, 3)
        XCTAssertEqual(model.trainerSpec.padId, 1)
        XCTAssertEqual(model.normalizerSpec.name, "nmt_nfkc")
        XCTAssertTrue(model.normalizerSpec.addDummyPrefix)
        XCTAssertTrue(model.normalizerSpec.removeExtraWhitespaces)
        XCTAssertTrue(model.normalizerSpec.escapeWhitespaces)
        XCTAssertFalse(model.normalizerSpec.precompiledCharsmap.isEmpty)
        XCTAssertEqual(model.pieces[3].type, .unknown)
        XCTAssertEqual(model.pieces[0].type, .control)
        XCTAssertEqual(model.pieces[5].type, .normal)

        let variant = try SentencePieceModel(contentsOf: Self.path("spm_char_variant.model"))
        XCTAssertEqual(variant.normalizerSpec.name, "nmt_nfkc_cf")
        XCTAssertFalse(variant.normalizerSpec.addDummyPrefix)
        XCTAssertFalse(variant.normalizerSpec.removeExtraWhitespaces)
        let identity = try SentencePieceModel(contentsOf: Self.path("spm_char_identity.model"))
        XCTAssertEqual(identity.normalizerSpec.name, "identity")
        XCTAssertTrue(identity.normalizerSpec.precompiledCharsmap.isEmpty)
        XCTAssertFalse(identity.normalizerSpec.escapeWhitespaces)
        XCTAssertEqual(identity.unknownId, 0)
    }

    // MARK: - Malformed files

    /// Asserts that loading throws a SpeechT5Error (and returns it).
    @discardableResult
    private func assertThrowsSpeechT5Error(
        _ body: @autoclosure () throws -> Any, _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) -> SpeechT5Error? {
        do {
            _ = try body()
            XCTFail("\(message): no error", file: file, line: line)
        } catch let error as SpeechT5Error {
            return error
        } catch {
            XCTFail("\(message): unexpected error type \(error)", file: file, line: line)
        }
        return nil
    }

    private func assertInvalidFile(
        _ body: @autoclosure () throws -> Any, _ message: String, containing needle: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error = assertThrowsSpeechT5Error(try body(), message, file: file, line: line) else { return }
        guard case .invalidFile(_, let reason) = error else {
            XCTFail("\(message): expected invalidFile, got \(error)", file: file, line: line)
            return
        }
        if let needle {
            XCTAssertTrue(reason.contains(needle), "\(message): '\(reason)' does not mention '\(needle)'", file: file, line: line)
        }
    }

    func testMissingFilesThrowFileNotFound() throws {
        let missing = "/nonexistent-\(UUID())/spm_char.model"
        XCTAssertEqual(
            assertThrowsSpeechT5Error(try SentencePieceModel(contentsOf: missing), "missing model"),
            .fileNotFound(path: missing))
        let directory = "/nonexistent-\(UUID())"
        XCTAssertEqual(
            assertThrowsSpeechT5Error(try SpeechT5Tokenizer(directory: directory), "missing directory"),
            .fileNotFound(path: directory + "/spm_char.model"))
        assertInvalidFile(try SentencePieceModel(contentsOf: Self.directory.path), "a directory as the model")
    }

    func testTruncatedModelsThrow() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("spm_char.model")))
        // Cuts inside a piece, inside the trainer spec, inside the charsmap, and one byte short.
        for length in [0, 1, 2, 3, 5, 17, 100, 1000, bytes.count / 2, bytes.count - 1000, bytes.count - 1] {
            assertInvalidFile(
                try SentencePieceModel(bytes: Array(bytes[..<length]), path: "cut-\(length)"), "truncated at \(length)")
        }
        // Every cut of the small model: an error or (at a field boundary) a smaller valid model, never a crash.
        let small = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("spm_char_identity.model")))
        var loaded = 0
        for length in 0..<small.count {
            if let model = try? SentencePieceModel(bytes: Array(small[..<length]), path: "cut") {
                loaded += 1
                let processor = try SentencePieceProcessor(model: model, path: "cut")
                _ = processor.encodeAsPieces(Array("Hello world".utf8))
            }
        }
        XCTAssertLessThan(loaded, 5, "almost every truncation must be rejected")
    }

    func testRandomBytesThrow() throws {
        var generator = SplitMix64(seed: 7)
        for trial in 0..<200 {
            let count = Int(generator.next() % 4096)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            assertInvalidFile(try SentencePieceModel(bytes: bytes, path: "random-\(trial)"), "random bytes \(trial)")
        }
    }

    /// Random byte flips in a small model: loading either fails cleanly or gives a model that encodes.
    func testMutatedModelsNeverCrash() throws {
        let original = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("spm_char_identity.model")))
        var generator = SplitMix64(seed: 11)
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            guard let model = try? SentencePieceModel(bytes: bytes, path: "mutated"),
                let processor = try? SentencePieceProcessor(model: model, path: "mutated")
            else { continue }
            _ = processor.encodeAsPieces(Array("Hello, wörld \u{200B} ﬁ <s>".utf8))
        }
    }

    func testStructurallyInvalidModelsThrowClearErrors() throws {
        let unk = ModelWriter.piece("<unk>", type: 2)
        let a = ModelWriter.piece("a")
        let char = ModelWriter.trainerSpec(modelType: 4)
        let normalizer = ModelWriter.normalizerSpec(name: "identity", charsmap: [])

        // Sanity: the writer's minimal model loads and encodes.
        let minimal = try SentencePieceModel(bytes: ModelWriter.model([unk, a], char, normalizer), path: "minimal")
        // "▁a▁b": "▁" and "b" are not pieces, so the unknown "▁b" run is one piece.
        XCTAssertEqual(try SentencePieceProcessor(model: minimal, path: "m").encodeAsPieces(Array("a b".utf8)),
                       [Array("\u{2581}".utf8), Array("a".utf8), Array("\u{2581}b".utf8)])

        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, a], ModelWriter.trainerSpec(modelType: 1), normalizer), path: "u"),
                          "unigram model", containing: "UNIGRAM is not supported")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, a], ModelWriter.trainerSpec(modelType: 2), normalizer), path: "b"),
                          "BPE model", containing: "BPE is not supported")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, a], [], normalizer), path: "d"),
                          "model type absent (proto2 default UNIGRAM)", containing: "UNIGRAM")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([a], char, normalizer), path: "x"),
                          "no unknown piece", containing: "UNKNOWN")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, a, unk], char, normalizer), path: "x"),
                          "duplicate piece", containing: "twice")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, ModelWriter.piece("")], char, normalizer), path: "x"),
                          "empty piece", containing: "empty")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, ModelWriter.piece("a\0")], char, normalizer), path: "x"),
                          "NUL in a piece", containing: "NUL")
        assertInvalidFile(try SentencePieceModel(bytes: ModelWriter.model([unk, ModelWriter.piece("<0x41>", type: 6)], char, normalizer), path: "x"),
                          "byte piece without byte_fallback", containing: "byte_fallback")
        // Wire-level damage.
        assertInvalidFile(try SentencePieceModel(bytes: [0x0A, 0x05, 0x01], path: "x"), "length past the end", containing: "past the end")
        assertInvalidFile(try SentencePieceModel(bytes: [0x0F], path: "x"), "wire type 7", containing: "wire type")
        assertInvalidFile(try SentencePieceModel(bytes: [0x08] + [UInt8](repeating: 0xFF, count: 11), path: "x"),
                          "overlong varint", containing: "varint")
        assertInvalidFile(try SentencePieceModel(bytes: [0x00, 0x00], path: "x"), "field number 0", containing: "field number")
        assertInvalidFile(try SentencePieceModel(bytes: [0x0B, 0x08, 0x01], path: "x"), "unterminated group", containing: "group")
        var deep: [UInt8] = [0x08, 0x01]
        for _ in 0..<200 { deep = [0x0B] + deep + [0x0C] }
        assertInvalidFile(try SentencePieceModel(bytes: deep, path: "x"), "deeply nested groups", containing: "nested")
    }

    func testHostileCharsmapsThrowOrStaySafe() throws {
        let unk = ModelWriter.piece("<unk>", type: 2)
        let a = ModelWriter.piece("a")
        let char = ModelWriter.trainerSpec(modelType: 4)
        func load(_ blob: [UInt8]) throws -> SentencePieceProcessor {
            let model = try SentencePieceModel(
                bytes: ModelWriter.model([unk, a], char, ModelWriter.normalizerSpec(name: "hostile", charsmap: blob)),
                path: "hostile")
            return try SentencePieceProcessor(model: model, path: "hostile")
        }

        // The real nmt_nfkc blob, re-wrapped by the writer, loads and maps "ﬁ" to "fi".
        let real = try SentencePieceModel(contentsOf: Self.path("spm_char.model")).normalizerSpec.precompiledCharsmap
        XCTAssertEqual(try load(real).normalizer.normalize("\u{FB01}"), "\u{2581}fi")

        let trieSize = Int(real[0]) | Int(real[1]) << 8 | Int(real[2]) << 16 | Int(real[3]) << 24
        func withUnit(_ index: Int, _ value: UInt32, in blob: [UInt8] = real) -> [UInt8] {
            var blob = blob
            for k in 0..<4 { blob[4 + 4 * index + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
            return blob
        }
        func unit(_ index: Int, in blob: [UInt8] = real) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(blob[4 + 4 * index + $1]) << (8 * UInt32($1)) }
        }

        assertInvalidFile(try load([1, 2, 3]), "3-byte blob", containing: "too short")
        assertInvalidFile(try load([0xFF, 0xFF, 0, 0, 1, 2, 3, 4]), "trie larger than blob", containing: "exceeds")
        assertInvalidFile(try load([0, 0, 0, 0, 0]), "empty trie", containing: "empty trie")
        assertInvalidFile(try load([2, 0, 0, 0, 0, 0, 0]), "trie of half a unit", containing: "empty trie")
        // Root offset far outside the array.
        assertInvalidFile(try load(withUnit(0, 0x7FFF_FC00)), "root offset out of range", containing: "out of range")
        // An offset in the middle of the array pushed out of range (large-offset encoding, bit 9).
        assertInvalidFile(try load(withUnit(trieSize / 8, unit(trieSize / 8) & 0xFF | 0x3FF_FE00)),
                          "inner offset out of range", containing: "out of range")
        // A value that points past the replacement strings.
        let valueIndex = try XCTUnwrap((0..<(trieSize / 4)).first { unit($0) & 0x8000_0000 != 0 })
        assertInvalidFile(try load(withUnit(valueIndex, 0x8000_0000 | 0x7FFF_FFFF)), "value out of range",
                          containing: "replacement")
        // A replacement table without a terminating NUL.
        var unterminated = real
        unterminated[unterminated.count - 1] = 0x41
        if let lastNul = unterminated.lastIndex(of: 0), lastNul > 4 + trieSize {
            for i in (lastNul)..<unterminated.count { unterminated[i] = 0x41 }
        }
        XCTAssertThrowsError(try load(unterminated), "values past the last NUL")

        // A blob that passes validation but is nonsense (all-zero units): normalizing anything stays safe.
        let zeros = [0, 4, 0, 0] + [UInt8](repeating: 0, count: 1024) + [0x41, 0]
        let processor = try load(zeros)
        var generator = SplitMix64(seed: 3)
        for _ in 0..<200 {
            let bytes = (0..<Int(generator.next() % 32)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            _ = processor.normalizer.normalize(bytes: bytes)
            _ = processor.encodeAsPieces(bytes)
        }
        // Random tries that validate (every offset inside the 256 units, leaf flags pointing at value units)
        // but are otherwise arbitrary: lookups wander through them without ever trapping.
        var accepted = 0
        for _ in 0..<300 {
            let valueUnits = (0..<8).map { _ in Int(generator.next() % 256) }
            var units = [UInt32](repeating: 0, count: 256)
            for i in 0..<256 {
                if valueUnits.contains(i) {
                    units[i] = 0x8000_0000 | UInt32(generator.next() % 3) * 2
                } else if generator.next() % 3 == 0, let target = valueUnits.first(where: { $0 != i }) {
                    units[i] = UInt32(i ^ target) << 10 | 1 << 8 | UInt32(generator.next() % 4)
                } else {
                    units[i] = UInt32(generator.next() % 256) << 10 | UInt32(generator.next() % 4)
                }
            }
            var blob: [UInt8] = [0, 4, 0, 0]
            for u in units { for k in 0..<4 { blob.append(UInt8(truncatingIfNeeded: u >> (8 * UInt32(k)))) } }
            blob += [0x41, 0, 0x42, 0, 0x43, 0x44, 0]
            guard let processor = try? load(blob) else { continue }
            accepted += 1
            for _ in 0..<20 {
                let bytes = (0..<Int(generator.next() % 16)).map { _ in UInt8(truncatingIfNeeded: generator.next() & 0x3) }
                _ = processor.normalizer.normalize(bytes: bytes)
                _ = processor.encodeAsPieces(bytes)
            }
        }
        XCTAssertEqual(accepted, 300)
    }

    func testMalformedJSONFilesThrow() throws {
        let model = try Self.path("spm_char.model")
        func directory(_ files: [String: String]) throws -> String {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-json-\(UUID())")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for (name, text) in files { try Data(text.utf8).write(to: url.appendingPathComponent(name)) }
            addTeardownBlock { try? FileManager.default.removeItem(at: url) }
            return url.path
        }
        assertInvalidFile(try SpeechT5Tokenizer(modelPath: model, configurationDirectory: directory(["tokenizer_config.json": "{"])),
                          "truncated JSON", containing: "invalid JSON")
        assertInvalidFile(try SpeechT5Tokenizer(modelPath: model, configurationDirectory: directory(["added_tokens.json": "[1]"])),
                          "JSON array", containing: "not an object")
        XCTAssertThrowsError(try SpeechT5Tokenizer(modelPath: model, configurationDirectory: directory(["added_tokens.json": #"{"<mask>": "x"}"#])))
        XCTAssertThrowsError(try SpeechT5Tokenizer(modelPath: model, configurationDirectory: directory(["added_tokens.json": #"{"<mask>": -1}"#])))
        XCTAssertThrowsError(try SpeechT5Tokenizer(
            modelPath: model, configurationDirectory: directory(["tokenizer_config.json": #"{"added_tokens_decoder": {"x": {"content": "a"}}}"#])))
        XCTAssertThrowsError(try SpeechT5Tokenizer(
            modelPath: model, configurationDirectory: directory(["tokenizer_config.json": #"{"eos_token": 5}"#])))
        XCTAssertThrowsError(try SpeechT5Tokenizer(
            modelPath: model, configurationDirectory: directory(["tokenizer_config.json": #"{"eos_token": null}"#])))
        // A config naming tokens of its own still loads, and the new tokens get ids after the pieces.
        let custom = try SpeechT5Tokenizer(
            modelPath: model,
            configurationDirectory: directory(["tokenizer_config.json": #"{"mask_token": "<m>", "additional_special_tokens": ["<x>"]}"#]))
        XCTAssertEqual(custom.vocabularySize, 81)
        XCTAssertEqual(custom.encode("a<m><x>"), [4, 8, 79, 80, 2])
    }
}

// MARK: - Helpers

/// A tiny deterministic generator so that fuzz inputs are reproducible.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes minimal ModelProto bytes, to build malformed models field by field.
private enum ModelWriter {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            let byte = UInt8(value & 0x7F)
            value >>= 7
            out.append(value == 0 ? byte : byte | 0x80)
        } while value != 0
        return out
    }

    static func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
    }

    static func varintField(_ number: Int, _ value: UInt64) -> [UInt8] {
        varint(UInt64(number << 3)) + varint(value)
    }

    static func piece(_ text: String, type: Int = 1) -> [UInt8] {
        field(1, Array(text.utf8)) + [0x15, 0, 0, 0, 0] + varintField(3, UInt64(type))
    }

    static func trainerSpec(modelType: Int) -> [UInt8] { varintField(3, UInt64(modelType)) }

    static func normalizerSpec(name: String, charsmap: [UInt8]) -> [UInt8] {
        field(1, Array(name.utf8)) + field(2, charsmap)
    }

    static func model(_ pieces: [[UInt8]], _ trainer: [UInt8], _ normalizer: [UInt8]) -> [UInt8] {
        pieces.flatMap { field(1, $0) } + field(2, trainer) + field(3, normalizer)
    }
}
