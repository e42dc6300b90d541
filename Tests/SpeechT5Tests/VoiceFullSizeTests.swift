import Foundation
import XCTest

@testable import SpeechT5

/// Opt-in check on a full-size random x-vector model (512, 512, 512, 512, 1500 → 512), written by
/// `make_voice_fixtures.py --full-size DIR` (not committed: 17 MB). Run with
/// `SPEECHT5_VOICE_FULLSIZE_DIR=DIR swift test --filter VoiceFullSize`.
final class VoiceFullSizeTests: XCTestCase {
    private func directory() throws -> String {
        guard let directory = ProcessInfo.processInfo.environment["SPEECHT5_VOICE_FULLSIZE_DIR"], !directory.isEmpty else {
            throw XCTSkip("set SPEECHT5_VOICE_FULLSIZE_DIR to a directory written by make_voice_fixtures.py --full-size")
        }
        return directory
    }

    func testFullSizeParity() throws {
        let directory = try directory()
        let encoder = try SpeakerEncoder(directory: directory)
        XCTAssertEqual(encoder.dimension, 512)
        XCTAssertEqual(encoder.configuration.channels, [512, 512, 512, 512, 1500])
        struct Reference: Decodable { let embeddings: [String: [Float]] }
        let data = try Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("reference_embeddings.json")))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        for c in try VoiceFixtures.manifest().cases {
            let expected = try XCTUnwrap(reference.embeddings[c.name])
            let (embedding, _) = try encoder.embedding(wavFile: VoiceFixtures.wavPath(c))
            let r = pearson(embedding, expected)
            print("full-size \(c.name): Pearson \(r), max |Δ| \(maxAbsDifference(embedding, expected))")
            XCTAssertGreaterThanOrEqual(r, 0.9999, c.name)
        }
    }

    func testFullSizeSpeed() throws {
        let encoder = try SpeakerEncoder(directory: directory())
        let seconds = Double(ProcessInfo.processInfo.environment["SPEECHT5_VOICE_SPEED_SECONDS"] ?? "60") ?? 60
        let rate = 44_100
        var generator = SystemRandomNumberGenerator()
        let samples = (0..<Int(seconds * Double(rate))).map { n -> Float in
            Float(0.3 * sin(Double(n) * 0.05) * sin(Double(n) * 0.0003)) + Float.random(in: -0.01...0.01, using: &generator)
        }
        let start = Date()
        let embedding = try encoder.embedding(samples: samples, sampleRate: rate)
        let elapsed = Date().timeIntervalSince(start)
        print(String(format: "full-size: %.0f s of 44.1 kHz audio encoded in %.2f s", seconds, elapsed))
        XCTAssertEqual(embedding.count, 512)
    }
}
