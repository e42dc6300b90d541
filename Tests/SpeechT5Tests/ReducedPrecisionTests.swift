import Foundation
import XCTest
@testable import SpeechT5

/// `--precision bf16` and `--precision int8` against the fp32 engine on the same seed and frame count, and
/// against the reference: mel Pearson ≥ 0.999 and waveform Pearson ≥ 0.995 (issue 5's tolerance).
final class ReducedPrecisionTests: XCTestCase {
    struct Run { let mel: [Float]; let waveform: [Float] }

    func run(_ name: String, _ c: Fixtures.Case, precision: Precision) throws -> Run {
        let model = try SpeechT5Model(directory: Fixtures.path("models/\(name)/model"), precision: precision)
        let vocoder = try HiFiGAN(directory: Fixtures.path("models/\(name)/vocoder"), precision: precision)
        let speaker = try SpeakerEmbeddingFile.load(path: Fixtures.path("models/\(name)/speaker.npy"),
                                                    expectedDimension: model.config.speakerEmbeddingDim)
        // The reference's own step count, forced, so that the two precisions make the same number of frames.
        let options = GenerationOptions(threshold: .infinity, minLengthRatio: 0,
                                        maxLengthRatio: Double(c.steps) * Double(model.config.reductionFactor) / Double(c.input_ids.count) + 1e-9,
                                        seed: c.seed)
        let spectrogram = try model.generate(ids: c.input_ids, speaker: speaker, options: options)
        XCTAssertEqual(spectrogram.frames, c.frames)
        return Run(mel: spectrogram.mel, waveform: vocoder(spectrogram.mel, frames: spectrogram.frames))
    }

    func testBF16MatchesFP32AndTheReference() throws { try checkAgainstFP32AndTheReference(.bf16) }

    func testInt8MatchesFP32AndTheReference() throws { try checkAgainstFP32AndTheReference(.int8) }

    func checkAgainstFP32AndTheReference(_ precision: Precision) throws {
        for name in Fixtures.modelNames {
            for c in try Fixtures.cases(model: name) {
                let label = "\(name)/\(c.name)"
                let fp32 = try run(name, c, precision: .fp32)
                let reduced = try run(name, c, precision: precision)
                let reference = try Fixtures.reference(model: name, case: c.name)
                let melVsFP32 = pearson(reduced.mel, fp32.mel), waveVsFP32 = pearson(reduced.waveform, fp32.waveform)
                print("\(precision) \(label): mel Pearson vs fp32 \(melVsFP32), waveform \(waveVsFP32)")
                XCTAssertGreaterThanOrEqual(melVsFP32, 0.999, "\(label): \(precision) mel vs fp32")
                XCTAssertGreaterThanOrEqual(waveVsFP32, 0.995, "\(label): \(precision) waveform vs fp32")
                let referenceMel = try reference.floats("mel")
                if referenceMel.count == reduced.mel.count {
                    let melVsReference = pearson(reduced.mel, referenceMel)
                    let waveVsReference = pearson(reduced.waveform, try reference.floats("waveform"))
                    print("\(precision) \(label): mel Pearson vs reference \(melVsReference), waveform \(waveVsReference)")
                    XCTAssertGreaterThanOrEqual(melVsReference, 0.999, "\(label): \(precision) mel vs reference")
                    XCTAssertGreaterThanOrEqual(waveVsReference, 0.995, "\(label): \(precision) waveform vs reference")
                }
            }
        }
    }

    /// The vocoder alone on the reference mel, bf16 and int8 (int8 residual blocks) vs the reference waveform.
    func testReducedPrecisionVocodersOnTheReferenceMel() throws {
        for precision in [Precision.bf16, .int8] {
            for name in Fixtures.modelNames {
                let vocoder = try HiFiGAN(directory: Fixtures.path("models/\(name)/vocoder"), precision: precision)
                for c in try Fixtures.cases(model: name) {
                    let reference = try Fixtures.reference(model: name, case: c.name)
                    let waveform = vocoder(try reference.floats("mel"), frames: c.frames)
                    let correlation = pearson(waveform, try reference.floats("waveform"))
                    print("\(precision) vocoder \(name)/\(c.name): waveform Pearson vs reference \(correlation)")
                    XCTAssertGreaterThanOrEqual(correlation, 0.995, "\(precision) \(name)/\(c.name)")
                }
            }
        }
    }
}
