import Foundation
import XCTest

@testable import SpeechT5

/// A temporary directory removed at the end of the test.
final class VoiceScratch {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("speecht5-voice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    @discardableResult
    func write(_ name: String, text: String) throws -> String {
        try write(name, Array(text.utf8))
    }
}

/// Little-endian bytes of an integer.
func voiceLE<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// A canonical 44-byte-header WAV with the given fmt fields and raw data.
func voiceWAV(tag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16_000, bits: UInt16 = 16, data: [UInt8]) -> [UInt8] {
    let align = channels * (bits / 8)
    let fmt = voiceLE(tag) + voiceLE(channels) + voiceLE(rate) + voiceLE(rate * UInt32(align)) + voiceLE(align) + voiceLE(bits)
    var body = Array("WAVE".utf8) + Array("fmt ".utf8) + voiceLE(UInt32(fmt.count)) + fmt
    body += Array("data".utf8) + voiceLE(UInt32(data.count)) + data
    if data.count % 2 == 1 { body.append(0) }
    return Array("RIFF".utf8) + voiceLE(UInt32(body.count)) + body
}

func voicePCM16(_ samples: [Float]) -> [UInt8] {
    samples.flatMap { voiceLE(Int16((max(-1, min(1, $0)) * 32767).rounded())) }
}

/// A deterministic voiced-speech-like test signal: harmonics with vibrato, and either syllable envelopes
/// (silent half of the time) or a continuous, slowly modulated level.
func voiceTestSignal(seconds: Double, rate: Int, f0: Double = 120, syllables: Bool = true, silenceAfter: Double? = nil) -> [Float] {
    let count = Int(seconds * Double(rate))
    return (0..<count).map { n in
        let t = Double(n) / Double(rate)
        if let silenceAfter, t >= silenceAfter { return 0 }
        let pitch = f0 * (1 + 0.04 * sin(2 * Double.pi * 5 * t))
        var value = 0.0
        for k in 1...12 {
            value += sin(2 * Double.pi * Double(k) * pitch * t + Double(k)) / Double(k)
        }
        let envelope = syllables ? max(0, sin(2 * Double.pi * 2 * t)).squareRoot() : 0.6 + 0.4 * sin(2 * Double.pi * 3 * t)
        return Float(0.25 * value * envelope + 0.002 * sin(Double(n) * 12.9898).truncatingRemainder(dividingBy: 1))
    }
}

final class VoiceEncoderTests: XCTestCase {
    private static let encoder = Result { try SpeakerEncoder(directory: VoiceFixtures.encoderDirectory) }

    private func encoder() throws -> SpeakerEncoder { try Self.encoder.get() }

    private func fixtureSamples(_ index: Int = 0) throws -> (samples: [Float], sampleRate: Int) {
        let c = try VoiceFixtures.manifest().cases[index]
        return try WAVFile.read(path: VoiceFixtures.wavPath(c))
    }

    // MARK: - Behaviour

    func testChunkingDoesNotChangeTheResult() throws {
        let encoder = try encoder()
        let (samples, rate) = try fixtureSamples()
        let (features, frames) = try encoder.normalizedFeatures(samples: samples, sampleRate: rate)
        XCTAssertGreaterThan(frames, 100)
        let whole = encoder.model.pooledStatistics(features: features, frames: frames)
        for chunk in [1, 2, 7, 8, 50, frames - 1, frames, 4096] {
            var model = encoder.model
            model.chunkFrames = chunk
            let pooled = model.pooledStatistics(features: features, frames: frames)
            let difference = zip(whole, pooled).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(difference, 1e-5, "chunks of \(chunk) frames")
        }
    }

    func testSamplesAndWAVFileAgree() throws {
        let encoder = try encoder()
        let c = try VoiceFixtures.manifest().cases[1]
        let (samples, rate) = try WAVFile.read(path: VoiceFixtures.wavPath(c))
        let fromSamples = try encoder.embedding(samples: samples, sampleRate: rate)
        let (fromFile, _) = try encoder.embedding(wavFile: VoiceFixtures.wavPath(c))
        XCTAssertEqual(fromSamples, fromFile)
        XCTAssertEqual(fromSamples.count, encoder.dimension)
        XCTAssertEqual(try encoder.embedding(samples: samples, sampleRate: rate), fromSamples, "deterministic")
    }

    func testGainDoesNotChangeTheVoice() throws {
        // Log-mel features with per-utterance mean normalization remove the overall level.
        let encoder = try encoder()
        let (samples, rate) = try fixtureSamples()
        let reference = try encoder.embedding(samples: samples, sampleRate: rate)
        let quieter = try encoder.embedding(samples: samples.map { $0 * 0.25 }, sampleRate: rate)
        XCTAssertGreaterThan(pearson(reference, quieter), 0.99999)
    }

    func testDifferentRecordingsGiveDifferentVectors() throws {
        let encoder = try encoder()
        let a = try encoder.embedding(wavFile: VoiceFixtures.wavPath(VoiceFixtures.manifest().cases[0])).embedding
        let b = try encoder.embedding(wavFile: VoiceFixtures.wavPath(VoiceFixtures.manifest().cases[1])).embedding
        XCTAssertLessThan(pearson(a, b), 0.999)
    }

    func testL2Normalization() {
        let unit = SpeakerEncoder.l2Normalized([3, 4])
        XCTAssertEqual(unit[0], 0.6, accuracy: 1e-7)
        XCTAssertEqual(unit[1], 0.8, accuracy: 1e-7)
        XCTAssertEqual(SpeakerEncoder.l2Normalized([0, 0, 0]), [0, 0, 0], "a zero vector stays zero, as F.normalize")
    }

    func testAverageRenormalizes() throws {
        let average = try SpeakerEncoder.average([[1, 0], [0, 1]])
        XCTAssertEqual(average[0], Float(0.5.squareRoot()), accuracy: 1e-6)
        XCTAssertEqual(average[1], Float(0.5.squareRoot()), accuracy: 1e-6)
        XCTAssertEqual(try SpeakerEncoder.average([[0.6, 0.8]]), [0.6, 0.8])
        XCTAssertThrowsError(try SpeakerEncoder.average([]))
        XCTAssertThrowsError(try SpeakerEncoder.average([[1, 0], [1, 0, 0]]))
        XCTAssertThrowsError(try SpeakerEncoder.average([[1, .nan]]))
    }

    func testAveragingRecordingsOfOneSpeaker() throws {
        let encoder = try encoder()
        let cases = try VoiceFixtures.manifest().cases
        let vectors = try cases.map { try encoder.embedding(wavFile: VoiceFixtures.wavPath($0)).embedding }
        let voice = try SpeakerEncoder.average(vectors)
        let norm = voice.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(norm, 1, accuracy: 1e-5)
        let mean = (0..<encoder.dimension).map { j in vectors.reduce(Float(0)) { $0 + $1[j] } / Float(vectors.count) }
        XCTAssertLessThan(maxAbsDifference(voice, SpeakerEncoder.l2Normalized(mean)), 1e-6)
    }

    // MARK: - Input errors

    private func assertInvalidArgument(_ expression: @autoclosure () throws -> some Any, containing text: String,
                                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard case SpeechT5Error.invalidArgument(_, let reason) = error else {
                return XCTFail("unexpected error \(error)", file: file, line: line)
            }
            XCTAssertTrue(reason.contains(text), "'\(reason)' should mention '\(text)'", file: file, line: line)
        }
    }

    func testRejectsUnusableAudio() throws {
        let encoder = try encoder()
        assertInvalidArgument(try encoder.embedding(samples: [], sampleRate: 16_000), containing: "empty")
        assertInvalidArgument(try encoder.embedding(samples: [Float](repeating: 0, count: 32_000), sampleRate: 16_000),
                              containing: "silent")
        assertInvalidArgument(try encoder.embedding(samples: [Float](repeating: 1e-6, count: 32_000), sampleRate: 16_000),
                              containing: "silent")
        assertInvalidArgument(try encoder.embedding(samples: voiceTestSignal(seconds: 0.05, rate: 16_000), sampleRate: 16_000),
                              containing: "too short")
        var withNaN = voiceTestSignal(seconds: 1, rate: 16_000)
        withNaN[100] = .nan
        assertInvalidArgument(try encoder.embedding(samples: withNaN, sampleRate: 16_000), containing: "non-finite")
        assertInvalidArgument(try encoder.embedding(samples: [0.1, 0.2], sampleRate: 0), containing: "sample rate")
        // More than an hour (at 100 Hz, to keep the test light).
        let long = [Float](repeating: 0.1, count: 100 * 3601)
        assertInvalidArgument(try encoder.embedding(samples: long, sampleRate: 100), containing: "1 hour")
    }

    func testWAVFileErrorsNameTheFile() throws {
        let encoder = try encoder()
        let scratch = try VoiceScratch()
        func expectInvalidFile(_ path: String, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try encoder.embedding(wavFile: path), line: line) { error in
                guard case SpeechT5Error.invalidFile(let errorPath, let reason) = error else {
                    return XCTFail("unexpected error \(error)", line: line)
                }
                XCTAssertEqual(errorPath, path, line: line)
                XCTAssertTrue(reason.contains(text), "'\(reason)' should mention '\(text)'", line: line)
            }
        }
        expectInvalidFile(try scratch.write("text.wav", text: "this is not audio at all, just text"), "not a WAV")
        expectInvalidFile(try scratch.write("mulaw.wav", voiceWAV(tag: 7, bits: 8, data: [UInt8](repeating: 0xFF, count: 16_000))),
                          "mu-law")
        expectInvalidFile(try scratch.write("silent.wav", voiceWAV(data: [UInt8](repeating: 0, count: 64_000))), "silent")
        expectInvalidFile(try scratch.write("empty.wav", voiceWAV(data: [])), "empty")
        expectInvalidFile(try scratch.write("short.wav", voiceWAV(data: voicePCM16(voiceTestSignal(seconds: 0.02, rate: 16_000)))),
                          "too short")
        XCTAssertThrowsError(try encoder.embedding(wavFile: scratch.file("missing.wav"))) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("missing.wav")))
        }
        // A good file in the same form works, and its analysis warns about its length.
        let good = try scratch.write("good.wav", voiceWAV(data: voicePCM16(voiceTestSignal(seconds: 1, rate: 16_000))))
        let (vector, analysis) = try encoder.embedding(wavFile: good)
        XCTAssertEqual(vector.count, encoder.dimension)
        XCTAssertEqual(analysis.warnings.count, 1)
        XCTAssertTrue(analysis.warnings[0].contains("speech"))
    }

    // MARK: - Loading

    func testMissingModelFiles() throws {
        let scratch = try VoiceScratch()
        XCTAssertThrowsError(try SpeakerEncoder(directory: scratch.file("nowhere"))) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("nowhere")))
        }
        XCTAssertThrowsError(try SpeakerEncoder(directory: scratch.path)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("hyperparams.yaml")))
        }
        let yaml = try String(contentsOfFile: (VoiceFixtures.encoderDirectory as NSString).appendingPathComponent("hyperparams.yaml"), encoding: .utf8)
        try scratch.write("hyperparams.yaml", text: yaml)
        XCTAssertThrowsError(try SpeakerEncoder(directory: scratch.path)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("embedding_model.ckpt")))
        }
        let plainFile = try scratch.write("file", text: "x")
        XCTAssertThrowsError(try SpeakerEncoder(directory: plainFile)) { error in
            guard case SpeechT5Error.invalidFile = error else { return XCTFail("\(error)") }
        }
    }

    func testCheckpointMustMatchTheHyperparameters() throws {
        let scratch = try VoiceScratch()
        let yaml = try String(contentsOfFile: (VoiceFixtures.encoderDirectory as NSString).appendingPathComponent("hyperparams.yaml"), encoding: .utf8)
        try FileManager.default.copyItem(atPath: (VoiceFixtures.encoderDirectory as NSString).appendingPathComponent("embedding_model.ckpt"),
                                         toPath: scratch.file("embedding_model.ckpt"))
        // The published sizes (512 … 1500) against the small fixture checkpoint.
        try scratch.write("hyperparams.yaml", text: yaml.replacingOccurrences(of: "tdnn_channels: [32, 32, 32, 32, 64]",
                                                                             with: "tdnn_channels: [512, 512, 512, 512, 1500]"))
        XCTAssertThrowsError(try SpeakerEncoder(directory: scratch.path)) { error in
            guard case SpeechT5Error.shapeMismatch(let key, let expected, let actual, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "blocks.0.conv.weight")
            XCTAssertEqual(expected, [512, 24, 5])
            XCTAssertEqual(actual, [32, 24, 5])
        }
        try scratch.write("hyperparams.yaml", text: yaml.replacingOccurrences(of: "lin_neurons: 48\n\nclassifier", with: "lin_neurons: 512\n\nclassifier"))
        XCTAssertThrowsError(try SpeakerEncoder(directory: scratch.path)) { error in
            guard case SpeechT5Error.shapeMismatch(let key, _, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "blocks.16.w.weight")
        }
    }

    func testInconsistentConfigurationInCode() throws {
        let weights = try WeightStore(checkpointFile: (VoiceFixtures.encoderDirectory as NSString).appendingPathComponent("embedding_model.ckpt"))
        var config = try encoder().configuration
        config.kernelSizes = [5, 3]
        XCTAssertThrowsError(try SpeakerEncoder(configuration: config, weights: weights)) { error in
            guard case SpeechT5Error.invalidConfig(_, let field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "embedding_model.tdnn_blocks")
        }
        config = try encoder().configuration
        config.melCount = 40
        XCTAssertThrowsError(try SpeakerEncoder(configuration: config, weights: weights))
        config = try encoder().configuration
        XCTAssertNoThrow(try SpeakerEncoder(configuration: config, weights: weights))
    }

    func testCorruptCheckpointIsAClearError() throws {
        let scratch = try VoiceScratch()
        let yaml = try String(contentsOfFile: (VoiceFixtures.encoderDirectory as NSString).appendingPathComponent("hyperparams.yaml"), encoding: .utf8)
        try scratch.write("hyperparams.yaml", text: yaml)
        try scratch.write("embedding_model.ckpt", text: "not a checkpoint")
        XCTAssertThrowsError(try SpeakerEncoder(directory: scratch.path)) { error in
            guard case SpeechT5Error.invalidFile(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, scratch.file("embedding_model.ckpt"))
        }
    }
}
