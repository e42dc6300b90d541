import Foundation
import XCTest

@testable import SpeechT5

/// Builds NPY and WAV byte streams at test time, valid or deliberately broken.
private enum AudioFixture {
    /// An NPY file with a literal header dictionary (padded like numpy) and raw data.
    static func npy(header: String, data: [UInt8], major: UInt8 = 1, pad: Bool = true) -> [UInt8] {
        let prefix = major == 1 ? 10 : 12
        var text = header
        if pad {
            let unpadded = prefix + text.utf8.count + 1
            text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        }
        let headerBytes = Array(text.utf8)
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
        if major == 1 {
            bytes += loaderLEBytes(UInt16(headerBytes.count))
        } else {
            bytes += loaderLEBytes(UInt32(headerBytes.count))
        }
        return bytes + headerBytes + data
    }

    static func npyHeader(descr: String = "<f4", fortran: String = "False", shape: String) -> String {
        "{'descr': '\(descr)', 'fortran_order': \(fortran), 'shape': \(shape), }"
    }

    static func f32(_ values: [Float]) -> [UInt8] { values.flatMap { loaderLEBytes($0.bitPattern) } }
    static func f64(_ values: [Double]) -> [UInt8] { values.flatMap { loaderLEBytes($0.bitPattern) } }

    /// A RIFF chunk with its padding byte.
    static func chunk(_ id: String, _ body: [UInt8], declaredSize: UInt32? = nil) -> [UInt8] {
        var bytes = Array(id.utf8) + loaderLEBytes(declaredSize ?? UInt32(body.count)) + body
        if body.count % 2 == 1 { bytes.append(0) }
        return bytes
    }

    static func fmt(tag: UInt16, channels: UInt16, rate: UInt32, bits: UInt16, blockAlign: UInt16? = nil, extra: [UInt8] = []) -> [UInt8] {
        let align = blockAlign ?? channels &* (bits / 8)
        return loaderLEBytes(tag) + loaderLEBytes(channels) + loaderLEBytes(rate) + loaderLEBytes(rate &* UInt32(align))
            + loaderLEBytes(align) + loaderLEBytes(bits) + extra
    }

    static func extensibleExtra(subformat: UInt16, validBits: UInt16) -> [UInt8] {
        loaderLEBytes(UInt16(22)) + loaderLEBytes(validBits) + loaderLEBytes(UInt32(0x4))
            + loaderLEBytes(subformat) + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
    }

    static func wav(_ chunks: [[UInt8]]) -> [UInt8] {
        let body = Array("WAVE".utf8) + chunks.flatMap { $0 }
        return Array("RIFF".utf8) + loaderLEBytes(UInt32(body.count)) + body
    }
}

final class AudioFileTests: XCTestCase {
    private var scratch: LoaderScratchDirectory!

    override func setUpWithError() throws {
        scratch = try LoaderScratchDirectory()
    }

    override func tearDown() {
        scratch = nil
    }

    /// Asserts `body` throws `.invalidFile` for `path` with a reason containing every mention.
    private func assertInvalidFile<T>(_ path: String, _ mentions: [String], file: StaticString = #filePath, line: UInt = #line,
                                      _ body: () throws -> T) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case SpeechT5Error.invalidFile(let errorPath, let reason) = error else {
                return XCTFail("expected invalidFile, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(errorPath, path, file: file, line: line)
            for mention in mentions {
                XCTAssertTrue(reason.lowercased().contains(mention.lowercased()), "'\(reason)' should mention '\(mention)'", file: file, line: line)
            }
        }
    }

    private func assertInvalidSpeaker(_ path: String, expectedDimension: Int = 4, _ mentions: [String],
                                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SpeakerEmbeddingFile.load(path: path, expectedDimension: expectedDimension), file: file, line: line) { error in
            guard case SpeechT5Error.invalidSpeaker(let reason) = error else {
                return XCTFail("expected invalidSpeaker, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(reason.contains(path), "'\(reason)' should name the file", file: file, line: line)
            for mention in mentions {
                XCTAssertTrue(reason.contains(mention), "'\(reason)' should mention '\(mention)'", file: file, line: line)
            }
        }
    }

    // MARK: - NPY

    func testNPYWriteReadRoundTrip() throws {
        let cases: [([Int], [Float])] = [
            ([3], [1, -2.5, 3e-8]), ([2, 3], [1, 2, 3, 4, 5, 6]), ([], [42]), ([0], []), ([1, 2, 1], [7, 8]),
            ([512], (0..<512).map { Float($0) / 7 }),
        ]
        for (shape, values) in cases {
            let path = scratch.file("a.npy")
            try NPYFile.write(values, shape: shape, to: path)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            XCTAssertEqual((10 + headerLength) % 64, 0, "header padded to 64 bytes")
            XCTAssertEqual(bytes.count, 10 + headerLength + 4 * values.count)
            let result = try NPYFile.read(path: path)
            XCTAssertEqual(result.shape, shape)
            XCTAssertEqual(result.values, values)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["a.npy"], "no temporary files left")
    }

    func testNPYWriteMatchesNumpyBytes() throws {
        // Bytes of np.save(path, np.array([1.0, 2.0], dtype=np.float32)) (numpy 1.x and 2.x).
        let path = scratch.file("ref.npy")
        try NPYFile.write([1, 2], shape: [2], to: path)
        let expected = AudioFixture.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: AudioFixture.f32([1, 2]))
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), expected)
        XCTAssertEqual(expected.count, 128 + 8)

        XCTAssertThrowsError(try NPYFile.write([1, 2, 3], shape: [2], to: scratch.file("bad.npy"))) { error in
            guard case SpeechT5Error.writeFailed = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try NPYFile.write([], shape: [-1], to: scratch.file("bad.npy")))
        XCTAssertThrowsError(try NPYFile.write([1], shape: [1], to: scratch.file("no/such/dir/x.npy"))) { error in
            guard case SpeechT5Error.writeFailed = error else { return XCTFail("\(error)") }
        }
    }

    func testNPYReadsVersionsAndDTypes() throws {
        let v2 = AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(2,)"), data: AudioFixture.f32([0.5, 4]), major: 2)
        XCTAssertEqual(try NPYFile.read(path: scratch.write(v2, to: "v2.npy")).values, [0.5, 4])
        let v3 = AudioFixture.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 'é'}", data: AudioFixture.f32([1]), major: 3)
        // v3 allows UTF-8, but the extra key is still rejected.
        let v3Path = try scratch.write(v3, to: "v3bad.npy")
        assertInvalidFile(v3Path, ["keys"]) { try NPYFile.read(path: v3Path) }
        let v3ok = AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(1,)"), data: AudioFixture.f32([9]), major: 3)
        XCTAssertEqual(try NPYFile.read(path: scratch.write(v3ok, to: "v3.npy")).values, [9])

        let f64 = AudioFixture.npy(header: AudioFixture.npyHeader(descr: "<f8", shape: "(1, 3)"), data: AudioFixture.f64([0.25, -1, 1e40]))
        let r64 = try NPYFile.read(path: scratch.write(f64, to: "f64.npy"))
        XCTAssertEqual(r64.shape, [1, 3])
        XCTAssertEqual(r64.values, [0.25, -1, .infinity])
        let i16 = AudioFixture.npy(header: AudioFixture.npyHeader(descr: "<i2", shape: "(2,)"), data: loaderLEBytes(Int16(-300)) + loaderLEBytes(Int16(7)))
        XCTAssertEqual(try NPYFile.read(path: scratch.write(i16, to: "i16.npy")).values, [-300, 7])
        let i32 = AudioFixture.npy(header: AudioFixture.npyHeader(descr: "<i4", shape: "(1,)"), data: loaderLEBytes(Int32(-70000)))
        XCTAssertEqual(try NPYFile.read(path: scratch.write(i32, to: "i32.npy")).values, [-70000])
        // Python 2 era headers: long suffixes, double quotes, no trailing comma, extra spaces, unpadded.
        let old = AudioFixture.npy(header: #"{"descr":"<f4","fortran_order":False,"shape":(1L, 2L)}"#, data: AudioFixture.f32([1, 2]), pad: false)
        XCTAssertEqual(try NPYFile.read(path: scratch.write(old, to: "old.npy")).shape, [1, 2])
        let native = AudioFixture.npy(header: AudioFixture.npyHeader(descr: "=f4", shape: "()"), data: AudioFixture.f32([3]))
        XCTAssertEqual(try NPYFile.read(path: scratch.write(native, to: "native.npy")).values, [3])
    }

    func testNPYHostileHeaders() throws {
        let good = AudioFixture.npyHeader(shape: "(2,)")
        let data = AudioFixture.f32([1, 2])
        let cases: [(String, [UInt8], [String])] = [
            ("empty", [], ["not an NPY file"]),
            ("magic", Array("NUMPY header".utf8), ["magic"]),
            ("pickle", [0x80, 0x04, 0x95, 0x00], ["pickle"]),
            ("zip", [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0], ["zip"]),
            ("version", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 4, 0, 0, 0], ["version 4.0"]),
            ("minor", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 1, 0, 0], ["version 1.1"]),
            ("short length", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 1], ["truncated"]),
            ("length past end", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0xFF, 0x7F] + Array("{}".utf8), ["past the end"]),
            ("length huge", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF], ["limit"]),
            ("fortran", AudioFixture.npy(header: AudioFixture.npyHeader(fortran: "True", shape: "(2,)"), data: data), ["Fortran"]),
            ("big-endian", AudioFixture.npy(header: AudioFixture.npyHeader(descr: ">f4", shape: "(2,)"), data: data), ["big-endian"]),
            ("object", AudioFixture.npy(header: AudioFixture.npyHeader(descr: "|O", shape: "(2,)"), data: data), ["object", "pickle"]),
            ("structured", AudioFixture.npy(header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data: data), ["structured"]),
            ("unsupported dtype", AudioFixture.npy(header: AudioFixture.npyHeader(descr: "<c8", shape: "(2,)"), data: data), ["'<c8'"]),
            ("missing key", AudioFixture.npy(header: "{'descr': '<f4', 'shape': (2,), }", data: data), ["keys"]),
            ("extra key", AudioFixture.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data: data), ["keys"]),
            ("duplicate key", AudioFixture.npy(header: "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", data: data), ["twice"]),
            ("negative dim", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(-2,)"), data: data), ["shape"]),
            ("float dim", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(2.0,)"), data: data), ["non-integer"]),
            ("string dim", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "('2',)"), data: data), ["shape"]),
            ("list shape", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "[2]"), data: data), ["tuple"]),
            ("bool fortran", AudioFixture.npy(header: AudioFixture.npyHeader(fortran: "0", shape: "(2,)"), data: data), ["fortran_order"]),
            ("huge dim", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(99999999999999999999999,)"), data: data), ["too large"]),
            ("overflow", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(4294967296, 4294967296)"), data: data), ["too many elements"]),
            ("itemsize overflow", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(4611686018427387904,)"), data: data), ["needs more"]),
            ("truncated data", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(3,)"), data: data), ["needs 12", "truncated"]),
            ("trailing data", AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(1,)"), data: data), ["4 bytes after"]),
            ("unterminated", AudioFixture.npy(header: "{'descr': '<f4", data: data), ["unterminated"]),
            ("not a dict", AudioFixture.npy(header: "[1, 2]", data: data), ["expected '{'"]),
            ("code", AudioFixture.npy(header: "__import__('os').system('true')", data: data), ["malformed"]),
            ("nested", AudioFixture.npy(header: "{'descr': " + String(repeating: "(", count: 5000) + "}", data: data), ["deeply"]),
            ("non-ascii v1", AudioFixture.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'é': 1}", data: data), ["ASCII"]),
            ("invalid utf8", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 3, 0, 2, 0, 0, 0, 0xC3, 0x28], ["UTF-8"]),
        ]
        for (name, bytes, mentions) in cases {
            let path = try scratch.write(bytes, to: "\(name).npy")
            assertInvalidFile(path, mentions) { try NPYFile.read(path: path) }
        }
        let ok = try scratch.write(AudioFixture.npy(header: good, data: data), to: "ok.npy")
        XCTAssertEqual(try NPYFile.read(path: ok).values, [1, 2])
        let missing = scratch.file("missing.npy")
        XCTAssertThrowsError(try NPYFile.read(path: missing)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: missing))
        }
    }

    func testNPYTruncationAndCorruptionNeverCrash() throws {
        try NPYFile.write((0..<6).map(Float.init), shape: [2, 3], to: scratch.file("full.npy"))
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.file("full.npy"))))
        let path = scratch.file("cut.npy")
        for length in 0..<full.count {
            try Data(full[0..<length]).write(to: URL(fileURLWithPath: path))
            assertInvalidFile(path, []) { try NPYFile.read(path: path) }
        }
        var random = LoaderFuzzRandom(seed: 0xA0D10)
        for _ in 0..<500 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let i = Int.random(in: 0..<min(bytes.count, 80), using: &random)
                bytes[i] = Int.random(in: 0..<2, using: &random) == 0
                    ? UInt8.random(in: 0...255, using: &random)
                    : (Array("0123456789(),:'{} -TrueFalse".utf8).randomElement(using: &random) ?? 0)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            if let result = try? NPYFile.read(path: path) {
                XCTAssertEqual(result.values.count, result.shape.reduce(1, *))
            }
        }
    }

    // MARK: - Speaker embeddings

    func testSpeakerEmbeddingFormats() throws {
        let values: [Float] = [0.1, -0.2, 0.3, 0.4]
        let flat = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(4,)"), data: AudioFixture.f32(values)), to: "a.npy")
        XCTAssertEqual(try SpeakerEmbeddingFile.load(path: flat, expectedDimension: 4), values)
        let batched = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(1, 4)"), data: AudioFixture.f32(values)), to: "b.NPY")
        XCTAssertEqual(try SpeakerEmbeddingFile.load(path: batched, expectedDimension: 4), values)
        let double = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(descr: "<f8", shape: "(4,)"),
                                                        data: AudioFixture.f64(values.map(Double.init))), to: "c.npy")
        XCTAssertEqual(try SpeakerEmbeddingFile.load(path: double, expectedDimension: 4), values)
        let raw = try scratch.write(AudioFixture.f32(values), to: "d.bin")
        XCTAssertEqual(try SpeakerEmbeddingFile.load(path: raw, expectedDimension: 4), values)
        // The 512-dim x-vector written by our own writer.
        let xvector = (0..<512).map { Float(sin(Double($0))) / 16 }
        try NPYFile.write(xvector, shape: [512], to: scratch.file("slt.npy"))
        XCTAssertEqual(try SpeakerEmbeddingFile.load(path: scratch.file("slt.npy"), expectedDimension: 512), xvector)
    }

    func testSpeakerEmbeddingWrongLength() throws {
        let short = (0..<511).map { Float($0) / 511 }
        try NPYFile.write(short, shape: [511], to: scratch.file("short.npy"))
        assertInvalidSpeaker(scratch.file("short.npy"), expectedDimension: 512, ["has 511 values, the model expects 512"])
        let shortBin = try scratch.write(AudioFixture.f32(short), to: "short.bin")
        assertInvalidSpeaker(shortBin, expectedDimension: 512, ["has 511 values, the model expects 512"])
        let ragged = try scratch.write([1, 2, 3, 4, 5, 6], to: "ragged.bin")
        assertInvalidSpeaker(ragged, ["6 bytes", "whole number"])
        let huge = try scratch.write([UInt8](repeating: 0, count: 1 << 20), to: "huge.bin")
        assertInvalidSpeaker(huge, ["has 262144 values, the model expects 4"])
        let wrongShape = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(2, 2)"), data: AudioFixture.f32([1, 2, 3, 4])), to: "shape.npy")
        assertInvalidSpeaker(wrongShape, ["shape [2, 2]", "[4] or [1, 4]"])
        let scalar = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(shape: "()"), data: AudioFixture.f32([1])), to: "scalar.npy")
        assertInvalidSpeaker(scalar, ["shape []"])
        let ints = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(descr: "<i4", shape: "(4,)"), data: [UInt8](repeating: 0, count: 16)), to: "ints.npy")
        assertInvalidSpeaker(ints, ["<i4"])
        // A big .npy is refused by size before it is read.
        let bigNPY = try scratch.write(AudioFixture.npy(header: AudioFixture.npyHeader(shape: "(1000000,)"), data: [UInt8](repeating: 0, count: 4_000_000)), to: "big.npy")
        assertInvalidSpeaker(bigNPY, ["limit"])
    }

    func testSpeakerEmbeddingNonFiniteAndBadFiles() throws {
        for (name, bad) in [("nan", Float.nan), ("inf", Float.infinity), ("ninf", -Float.infinity)] {
            let path = scratch.file("\(name).npy")
            try NPYFile.write([0, 1, bad, 3], shape: [4], to: path)
            assertInvalidSpeaker(path, ["value 2 is \(bad.isNaN ? "NaN" : "infinite")"])
            let bin = try scratch.write(AudioFixture.f32([bad, 0, 0, 0]), to: "\(name).bin")
            assertInvalidSpeaker(bin, ["value 0"])
        }
        for name in ["speaker.txt", "speaker.pt", "speaker", "speaker.npz"] {
            let path = try scratch.write(AudioFixture.f32([0, 0, 0, 0]), to: name)
            assertInvalidSpeaker(path, [".npy", ".bin"])
        }
        let corrupt = try scratch.write(Array("not numpy".utf8), to: "corrupt.npy")
        assertInvalidSpeaker(corrupt, ["magic"])
        let missing = scratch.file("missing.npy")
        XCTAssertThrowsError(try SpeakerEmbeddingFile.load(path: missing, expectedDimension: 4)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: missing))
        }
        XCTAssertThrowsError(try SpeakerEmbeddingFile.load(path: scratch.file("x.bin"), expectedDimension: 4)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("x.bin")))
        }
        XCTAssertThrowsError(try SpeakerEmbeddingFile.load(path: corrupt, expectedDimension: 0))
    }

    // MARK: - WAV writing

    func testWAVEncodeS16Header() throws {
        let data = [UInt8](WAVFile.encode([0, 0.5, -0.5, 1, -1, 2, -2, .nan], sampleRate: 16000, format: .s16))
        XCTAssertEqual(data.count, 44 + 16)
        let reader = LittleEndianBytes(data)
        XCTAssertEqual(reader.tag(0), "RIFF")
        XCTAssertEqual(reader.u32(4), 36 + 16)
        XCTAssertEqual(reader.tag(8), "WAVE")
        XCTAssertEqual(reader.tag(12), "fmt ")
        XCTAssertEqual(reader.u32(16), 16)
        XCTAssertEqual(reader.u16(20), 1)
        XCTAssertEqual(reader.u16(22), 1)
        XCTAssertEqual(reader.u32(24), 16000)
        XCTAssertEqual(reader.u32(28), 32000)
        XCTAssertEqual(reader.u16(32), 2)
        XCTAssertEqual(reader.u16(34), 16)
        XCTAssertEqual(reader.tag(36), "data")
        XCTAssertEqual(reader.u32(40), 16)
        let samples = (0..<8).map { Int16(bitPattern: reader.u16(44 + 2 * $0) ?? 0) }
        XCTAssertEqual(samples, [0, 16384, -16384, 32767, -32767, 32767, -32767, 0])
    }

    func testWAVEncodeF32HeaderHasFactChunk() throws {
        let samples: [Float] = [0.25, -1, 0.125]
        let data = [UInt8](WAVFile.encode(samples, sampleRate: 22050, format: .f32))
        XCTAssertEqual(data.count, 58 + 12)
        let reader = LittleEndianBytes(data)
        XCTAssertEqual(reader.u32(4), UInt32(data.count - 8))
        XCTAssertEqual(reader.u32(16), 18)
        XCTAssertEqual(reader.u16(20), 3)
        XCTAssertEqual(reader.u32(28), 88200)
        XCTAssertEqual(reader.u16(32), 4)
        XCTAssertEqual(reader.u16(34), 32)
        XCTAssertEqual(reader.u16(36), 0)
        XCTAssertEqual(reader.tag(38), "fact")
        XCTAssertEqual(reader.u32(42), 4)
        XCTAssertEqual(reader.u32(46), 3)
        XCTAssertEqual(reader.tag(50), "data")
        XCTAssertEqual(reader.u32(54), 12)
        XCTAssertEqual([UInt8](WAVFile.encodeSamples(samples, format: .f32)), Array(data[58...]))
    }

    func testWAVRoundTripS16AndF32() throws {
        let samples = (0..<1000).map { Float(sin(Double($0) * 0.05)) * 0.9 }
        for format in SampleFormat.allCases {
            let path = scratch.file("out-\(format.rawValue).wav")
            try WAVFile.write(samples, sampleRate: 16000, format: format, to: path)
            let result = try WAVFile.read(path: path)
            XCTAssertEqual(result.sampleRate, 16000)
            XCTAssertEqual(result.samples.count, samples.count)
            switch format {
            case .f32:
                XCTAssertEqual(result.samples, samples)
            case .s16:
                // Written as round(x · 32767), read as n / 32768 (as libsndfile does): at most half a step of
                // rounding plus the 32767/32768 scale difference.
                for (a, b) in zip(result.samples, samples) {
                    XCTAssertEqual(a, b, accuracy: 0.5 / 32767 + abs(b) / 32768 + 1e-7)
                }
            }
        }
        let empty = scratch.file("empty.wav")
        try WAVFile.write([], sampleRate: 16000, format: .s16, to: empty)
        XCTAssertEqual(try WAVFile.read(path: empty).samples, [])
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: scratch.path)),
                       ["out-s16.wav", "out-f32.wav", "empty.wav"], "no temporary files left")
    }

    func testWAVWriteOverwritesAtomicallyAndReportsFailures() throws {
        let path = scratch.file("x.wav")
        try WAVFile.write([0.5], sampleRate: 8000, format: .s16, to: path)
        try WAVFile.write([0.5, 0.25], sampleRate: 8000, format: .f32, to: path)
        XCTAssertEqual(try WAVFile.read(path: path).samples, [0.5, 0.25])
        for bad in [scratch.file("missing-dir/x.wav"), scratch.path, ""] {
            XCTAssertThrowsError(try WAVFile.write([0], sampleRate: 16000, format: .s16, to: bad)) { error in
                guard case SpeechT5Error.writeFailed(let errorPath, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(errorPath, bad)
            }
        }
        XCTAssertThrowsError(try WAVFile.write([0], sampleRate: 0, format: .s16, to: path))
    }

    func testStreamingHeaderReadsToEndOfFile() throws {
        let samples: [Float] = [0.5, -0.25, 0.125, 0]
        for format in SampleFormat.allCases {
            let header = [UInt8](WAVFile.streamingHeader(sampleRate: 16000, format: format))
            XCTAssertEqual(header.count, format == .s16 ? 44 : 58)
            let reader = LittleEndianBytes(header)
            XCTAssertEqual(reader.u32(4), 0xFFFF_FFFF)
            XCTAssertEqual(reader.u32(header.count - 4), 0xFFFF_FFFF)
            XCTAssertEqual(Array(header[0..<36]), Array([UInt8](WAVFile.encode(samples, sampleRate: 16000, format: format))[0..<36].enumerated()
                .map { $0.offset >= 4 && $0.offset < 8 ? 0xFF : $0.element }))
            let stream = header + [UInt8](WAVFile.encodeSamples(samples, format: format))
            let path = try scratch.write(stream, to: "stream-\(format.rawValue).wav")
            let result = try WAVFile.read(path: path)
            XCTAssertEqual(result.sampleRate, 16000)
            XCTAssertEqual(result.samples.count, samples.count)
            for (a, b) in zip(result.samples, samples) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
    }

    // MARK: - WAV reading

    func testWAVReadsPCMVariantsAndMixesDown() throws {
        // Stereo 16-bit: (L + R) / 2.
        let stereo = AudioFixture.wav([
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 1, channels: 2, rate: 44100, bits: 16)),
            AudioFixture.chunk("data", loaderLEBytes(Int16(16384)) + loaderLEBytes(Int16(0)) + loaderLEBytes(Int16(-32768)) + loaderLEBytes(Int16(-32768))),
        ])
        let s = try WAVFile.read(path: scratch.write(stereo, to: "stereo.wav"))
        XCTAssertEqual(s.sampleRate, 44100)
        XCTAssertEqual(s.samples, [0.25, -1])

        // 8-bit unsigned.
        let u8 = AudioFixture.wav([
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 1, channels: 1, rate: 8000, bits: 8)),
            AudioFixture.chunk("data", [128, 0, 255]),
        ])
        XCTAssertEqual(try WAVFile.read(path: scratch.write(u8, to: "u8.wav")).samples, [0, -1, 127.0 / 128])

        // 24-bit, with an odd-sized unknown chunk (and its pad byte) before the data.
        let s24: [UInt8] = [0x00, 0x00, 0x40, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80]
        let pcm24 = AudioFixture.wav([
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 1, channels: 1, rate: 48000, bits: 24)),
            AudioFixture.chunk("LIST", Array("INFOISFT\u{5}\u{0}\u{0}\u{0}abcd".utf8) + [0]),
            AudioFixture.chunk("data", s24),
        ])
        XCTAssertEqual(try WAVFile.read(path: scratch.write(pcm24, to: "s24.wav")).samples, [0.5, -1.0 / 8_388_608, -1])

        // 32-bit integer.
        let pcm32 = AudioFixture.wav([
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 1, channels: 1, rate: 16000, bits: 32)),
            AudioFixture.chunk("data", loaderLEBytes(Int32.min) + loaderLEBytes(Int32(1 << 30))),
        ])
        XCTAssertEqual(try WAVFile.read(path: scratch.write(pcm32, to: "s32.wav")).samples, [-1, 0.5])

        // 64-bit float, clamped; NaN → 0.
        let f64 = AudioFixture.wav([
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 3, channels: 1, rate: 16000, bits: 64, extra: [0, 0])),
            AudioFixture.chunk("fact", loaderLEBytes(UInt32(3))),
            AudioFixture.chunk("data", AudioFixture.f64([0.75, 3, .nan])),
        ])
        XCTAssertEqual(try WAVFile.read(path: scratch.write(f64, to: "f64.wav")).samples, [0.75, 1, 0])

        // WAVE_FORMAT_EXTENSIBLE float, 3 channels, with fmt after a JUNK chunk.
        let ext = AudioFixture.wav([
            AudioFixture.chunk("JUNK", [UInt8](repeating: 0, count: 28)),
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 0xFFFE, channels: 3, rate: 96000, bits: 32,
                                                        extra: AudioFixture.extensibleExtra(subformat: 3, validBits: 32))),
            AudioFixture.chunk("data", AudioFixture.f32([0.3, 0.6, 0.9, -0.3, -0.6, -0.9])),
        ])
        let e = try WAVFile.read(path: scratch.write(ext, to: "ext.wav"))
        XCTAssertEqual(e.sampleRate, 96000)
        XCTAssertEqual(e.samples.count, 2)
        XCTAssertEqual(e.samples[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(e.samples[1], -0.6, accuracy: 1e-6)

        // Extensible PCM 24-in-32, data chunk before fmt, trailing partial frame ignored.
        let ext24 = AudioFixture.wav([
            AudioFixture.chunk("data", loaderLEBytes(Int32(1 << 30)) + [1, 2]),
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 0xFFFE, channels: 1, rate: 16000, bits: 32,
                                                        extra: AudioFixture.extensibleExtra(subformat: 1, validBits: 24))),
        ])
        XCTAssertEqual(try WAVFile.read(path: scratch.write(ext24, to: "ext24.wav")).samples, [0.5])
    }

    func testWAVHostileHeaders() throws {
        let goodFmt = AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 1, channels: 1, rate: 16000, bits: 16))
        let goodData = AudioFixture.chunk("data", [0, 0, 0, 0])
        func fmtChunk(tag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16000, bits: UInt16 = 16, blockAlign: UInt16? = nil) -> [UInt8] {
            AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: tag, channels: channels, rate: rate, bits: bits, blockAlign: blockAlign))
        }
        let cases: [(String, [UInt8], [String])] = [
            ("empty", [], ["too short"]),
            ("short", Array("RIFF".utf8), ["too short"]),
            ("not riff", Array("OggS\u{0}\u{0}\u{0}\u{0}WAVE".utf8), ["not a WAV"]),
            ("rifx", Array("RIFX\u{0}\u{0}\u{0}\u{0}WAVE".utf8), ["big-endian"]),
            ("rf64", Array("RF64\u{0}\u{0}\u{0}\u{0}WAVE".utf8), ["RF64"]),
            ("avi", Array("RIFF\u{4}\u{0}\u{0}\u{0}AVI ".utf8), ["not WAVE"]),
            ("no chunks", AudioFixture.wav([]), ["no fmt"]),
            ("no data", AudioFixture.wav([goodFmt]), ["no data"]),
            ("no fmt", AudioFixture.wav([goodData]), ["no fmt"]),
            ("zero channels", AudioFixture.wav([fmtChunk(channels: 0, blockAlign: 2), goodData]), ["0 channels"]),
            ("many channels", AudioFixture.wav([fmtChunk(channels: 60000), goodData]), ["60000 channels"]),
            ("zero rate", AudioFixture.wav([fmtChunk(rate: 0), goodData]), ["sample rate 0"]),
            ("absurd rate", AudioFixture.wav([fmtChunk(rate: 4_000_000_000), goodData]), ["sample rate 4000000000"]),
            ("adpcm", AudioFixture.wav([fmtChunk(tag: 2, bits: 4, blockAlign: 256), goodData]), ["format tag 2", "ADPCM"]),
            ("mulaw", AudioFixture.wav([fmtChunk(tag: 7, bits: 8), goodData]), ["mu-law"]),
            ("pcm 12-bit", AudioFixture.wav([fmtChunk(bits: 12, blockAlign: 2), goodData]), ["12 bits"]),
            ("float 16-bit", AudioFixture.wav([fmtChunk(tag: 3, bits: 16), goodData]), ["16 bits"]),
            ("zero bits", AudioFixture.wav([fmtChunk(bits: 0, blockAlign: 0), goodData]), ["0 bits"]),
            ("block align", AudioFixture.wav([fmtChunk(blockAlign: 3), goodData]), ["block align 3"]),
            ("block align zero", AudioFixture.wav([fmtChunk(blockAlign: 0), goodData]), ["block align 0"]),
            ("short fmt", AudioFixture.wav([AudioFixture.chunk("fmt ", [1, 0, 1, 0]), goodData]), ["shorter than the 16"]),
            ("short extensible", AudioFixture.wav([AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 0xFFFE, channels: 1, rate: 16000, bits: 16, extra: [0, 0])), goodData]), ["shorter than 40"]),
            ("bad guid", AudioFixture.wav([AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 0xFFFE, channels: 1, rate: 16000, bits: 16,
                                                                                       extra: Array(AudioFixture.extensibleExtra(subformat: 1, validBits: 16).dropLast()) + [0])), goodData]), ["GUID"]),
            ("data past eof", AudioFixture.wav([goodFmt, AudioFixture.chunk("data", [0, 0], declaredSize: 1_000_000)]), ["data chunk of 1000000 bytes", "past the end"]),
            ("data size 0xFFFFFFFE", AudioFixture.wav([goodFmt, AudioFixture.chunk("data", [0, 0], declaredSize: 0xFFFF_FFFE)]), ["past the end"]),
            ("fmt past eof", AudioFixture.wav([AudioFixture.chunk("fmt ", AudioFixture.fmt(tag: 1, channels: 1, rate: 16000, bits: 16), declaredSize: 0xFFFF_FFF0), goodData]), ["fmt chunk", "past the end"]),
            ("junk past eof", AudioFixture.wav([goodFmt, AudioFixture.chunk("LIST", [1, 2], declaredSize: 0x7FFF_FFFF), goodData]), ["'LIST' chunk", "past the end"]),
            ("two fmt", AudioFixture.wav([goodFmt, goodFmt, goodData]), ["more than one fmt"]),
        ]
        for (name, bytes, mentions) in cases {
            let path = try scratch.write(bytes, to: "\(name).wav")
            assertInvalidFile(path, mentions) { try WAVFile.read(path: path) }
        }
        // Junk after the data chunk is ignored (readers stop once they have fmt and data).
        let trailing = AudioFixture.wav([goodFmt, goodData, AudioFixture.chunk("LIST", [1, 2], declaredSize: 0x7FFF_FFFF)])
        XCTAssertEqual(try WAVFile.read(path: scratch.write(trailing, to: "trailing.wav")).samples, [0, 0])
        let missing = scratch.file("missing.wav")
        XCTAssertThrowsError(try WAVFile.read(path: missing)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: missing))
        }
        assertInvalidFile(scratch.path, ["directory"]) { try WAVFile.read(path: scratch.path) }
    }

    func testWAVTruncationAndCorruptionNeverCrash() throws {
        let full = [UInt8](WAVFile.encode([0.1, 0.2, -0.3, 0.4], sampleRate: 16000, format: .f32))
        let path = scratch.file("cut.wav")
        for length in 0..<full.count {
            try Data(full[0..<length]).write(to: URL(fileURLWithPath: path))
            if length < 58 {
                assertInvalidFile(path, []) { try WAVFile.read(path: path) }
            } else {
                // Cut inside the data: the declared size runs past the end.
                assertInvalidFile(path, ["past the end"]) { try WAVFile.read(path: path) }
            }
        }
        var random = LoaderFuzzRandom(seed: 0x3A7)
        for _ in 0..<500 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let i = Int.random(in: 0..<bytes.count, using: &random)
                bytes[i] = UInt8.random(in: 0...255, using: &random)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            if let result = try? WAVFile.read(path: path) {
                XCTAssertTrue(result.samples.allSatisfy { $0 >= -1 && $0 <= 1 })
                XCTAssertGreaterThan(result.sampleRate, 0)
            }
        }
    }
}
