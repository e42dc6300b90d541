import Foundation
import XCTest

@testable import SpeechT5

/// The committed voice fixtures (scripts/fixtures/make_voice_fixtures.py): speechbrain's own outputs for a
/// random-weight x-vector model with the published model's structure.
enum VoiceFixtures {
    struct Case: Decodable {
        let name: String
        let wav: String
        let sample_rate: Int
        let channels: Int
        let samples: Int
        let frames: Int
        let resampled_samples: Int
    }

    struct Manifest: Decodable {
        let audio: String
        let resample_rates: [Int]
        let cases: [Case]
    }

    static var encoderDirectory: String { Fixtures.path("voice/encoder") }

    static func manifest() throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("voice/cases.json")))
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    static func reference() throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("voice/reference.safetensors"))
    }

    static func wavPath(_ c: Case) -> String { Fixtures.path("voice/\(c.wav)") }
}

final class VoiceParityTests: XCTestCase {
    private static let encoder = Result { try SpeakerEncoder(directory: VoiceFixtures.encoderDirectory) }

    private func encoder() throws -> SpeakerEncoder { try Self.encoder.get() }

    func testFixtureConfiguration() throws {
        let config = try encoder().configuration
        XCTAssertEqual(config.melCount, 24)
        XCTAssertEqual(config.sampleRate, 16_000)
        XCTAssertEqual(config.windowSamples, 400)
        XCTAssertEqual(config.hopSamples, 160)
        XCTAssertFalse(config.stdNorm)
        XCTAssertEqual(config.channels, [32, 32, 32, 32, 64])
        XCTAssertEqual(config.kernelSizes, [5, 3, 3, 1, 1])
        XCTAssertEqual(config.dilations, [1, 2, 3, 1, 1])
        XCTAssertEqual(config.embeddingDimension, 48)
        XCTAssertEqual(config.activation, .leakyReLU)
    }

    func testFilterbankMatchesSpeechbrain() throws {
        let encoder = try encoder()
        let reference = try VoiceFixtures.reference()
        for c in try VoiceFixtures.manifest().cases {
            let (samples, rate) = try WAVFile.read(path: VoiceFixtures.wavPath(c))
            XCTAssertEqual(rate, c.sample_rate, c.name)
            XCTAssertEqual(samples.count, c.samples, c.name)
            let (fbank, frames) = try encoder.filterbank(samples: samples, sampleRate: rate)
            XCTAssertEqual(frames, c.frames, c.name)
            let expected = try reference.floats("\(c.name).fbank")
            let difference = maxAbsDifference(fbank, expected)
            XCTAssertLessThanOrEqual(difference, 1e-4, "\(c.name): fbank max |Δ| \(difference) dB")

            let (normalized, _) = try encoder.normalizedFeatures(samples: samples, sampleRate: rate)
            let expectedNormalized = try reference.floats("\(c.name).normalized")
            let normalizedDifference = maxAbsDifference(normalized, expectedNormalized)
            XCTAssertLessThanOrEqual(normalizedDifference, 1e-4, "\(c.name): normalized max |Δ| \(normalizedDifference)")
            print("voice parity \(c.name): fbank max |Δ| \(difference), normalized max |Δ| \(normalizedDifference)")
        }
    }

    func testPooledStatisticsMatchSpeechbrain() throws {
        let encoder = try encoder()
        let reference = try VoiceFixtures.reference()
        for c in try VoiceFixtures.manifest().cases {
            let (samples, rate) = try WAVFile.read(path: VoiceFixtures.wavPath(c))
            let (features, frames) = try encoder.normalizedFeatures(samples: samples, sampleRate: rate)
            let pooled = encoder.model.pooledStatistics(features: features, frames: frames).map { Float($0) }
            let expected = try reference.floats("\(c.name).pooled")
            // The reference mean carries speechbrain's random pooling noise (1e-5 … 9e-5); this port adds 5e-5.
            let difference = maxAbsDifference(pooled, expected)
            XCTAssertLessThanOrEqual(difference, 1e-4, "\(c.name): pooled max |Δ| \(difference)")
        }
    }

    func testEmbeddingMatchesSpeechbrain() throws {
        let encoder = try encoder()
        let reference = try VoiceFixtures.reference()
        for c in try VoiceFixtures.manifest().cases {
            let (samples, rate) = try WAVFile.read(path: VoiceFixtures.wavPath(c))
            let raw = try encoder.rawEmbedding(samples: samples, sampleRate: rate)
            let expectedRaw = try reference.floats("\(c.name).embedding_raw")
            let rawPearson = pearson(raw, expectedRaw)
            XCTAssertGreaterThanOrEqual(rawPearson, 0.9999, "\(c.name): raw embedding Pearson")

            let (embedding, analysis) = try encoder.embedding(wavFile: VoiceFixtures.wavPath(c))
            let expected = try reference.floats("\(c.name).embedding")
            let r = pearson(embedding, expected)
            XCTAssertGreaterThanOrEqual(r, 0.9999, "\(c.name): embedding Pearson")
            let difference = maxAbsDifference(embedding, expected)
            XCTAssertLessThanOrEqual(difference, 1e-3, "\(c.name): embedding max |Δ|")
            let norm = embedding.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
            XCTAssertEqual(analysis.duration, Double(c.samples) / Double(c.sample_rate), accuracy: 1e-9)
            print("voice parity \(c.name): embedding Pearson \(r), max |Δ| \(difference), raw Pearson \(rawPearson)")
        }
    }
}
