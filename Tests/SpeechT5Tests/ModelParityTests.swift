import Foundation
import XCTest
@testable import SpeechT5

/// Parity of every model part and of the whole path against outputs that transformers produced
/// (`scripts/fixtures/make_model_fixtures.py`), on small random-weight checkpoints with odd shapes.
final class ModelParityTests: XCTestCase {
    struct Loaded {
        let model: SpeechT5Model
        let vocoder: HiFiGAN
        let tokenizer: SpeechT5Tokenizer
        let speaker: [Float]
    }

    func load(_ name: String) throws -> Loaded {
        let model = try SpeechT5Model(directory: Fixtures.path("models/\(name)/model"))
        return Loaded(
            model: model,
            vocoder: try HiFiGAN(directory: Fixtures.path("models/\(name)/vocoder")),
            tokenizer: try SpeechT5Tokenizer(directory: Fixtures.path("models/\(name)/model")),
            speaker: try SpeakerEmbeddingFile.load(path: Fixtures.path("models/\(name)/speaker.npy"),
                                                   expectedDimension: model.config.speakerEmbeddingDim))
    }

    func options(_ c: Fixtures.Case) -> GenerationOptions {
        GenerationOptions(threshold: c.threshold, minLengthRatio: c.minlenratio, maxLengthRatio: c.maxlenratio, seed: c.seed)
    }

    func testFixturesExist() {
        XCTAssertGreaterThanOrEqual(Fixtures.modelNames.count, 2, "model fixtures missing: run scripts/make_fixtures.sh")
    }

    func testEveryCheckpointWeightIsUsed() throws {
        for name in Fixtures.modelNames {
            let model = try SpeechT5Model(directory: Fixtures.path("models/\(name)/model"))
            XCTAssertEqual(model.unusedWeights, [], "\(name): weights the engine ignored")
        }
    }

    func testTokenizerGivesTheReferenceIdsForEveryCase() throws {
        for name in Fixtures.modelNames {
            let loaded = try load(name)
            for c in try Fixtures.cases(model: name) {
                XCTAssertEqual(loaded.tokenizer.encode(c.text), c.input_ids, "\(name)/\(c.name): \(c.text)")
            }
        }
    }

    /// Encoder output, pre-net output, decoder output and stop probabilities at every step, the frames
    /// before and after the post-net, and the frame count, all against the reference.
    func testGenerationMatchesReferenceStepByStep() throws {
        for name in Fixtures.modelNames {
            let loaded = try load(name)
            for c in try Fixtures.cases(model: name) {
                let label = "\(name)/\(c.name)"
                let reference = try Fixtures.reference(model: name, case: c.name)
                var trace: GenerationTrace? = GenerationTrace()
                let spectrogram = try loaded.model.generate(ids: c.input_ids, speaker: loaded.speaker,
                                                            options: options(c), trace: &trace)
                XCTAssertEqual(spectrogram.steps, c.steps, "\(label): steps")
                XCTAssertEqual(spectrogram.frames, c.frames, "\(label): frames")
                let expectedReason: StopReason = c.stopped_by == "stop_token" ? .stopToken : .maxLength
                if c.stopped_by != "minlen" { XCTAssertEqual(spectrogram.stopReason, expectedReason, label) }
                guard let trace else { continue }
                assertComponentParity(trace.encoderOutput, try reference.floats("encoder_output"), "\(label) encoder")
                // Per-step values are compared over the steps both runs took, so a wrong stop still shows
                // which part diverged first.
                let steps = min(spectrogram.steps, c.steps)
                func firstSteps(_ key: String, _ width: Int) throws -> [Float] { Array(try reference.floats(key).prefix(steps * width)) }
                let hidden = loaded.model.config.hiddenSize, r = loaded.model.config.reductionFactor
                assertComponentParity(trace.prenetOutputs.prefix(steps).flatMap { $0 }, try firstSteps("prenet_output", hidden), "\(label) pre-net")
                assertComponentParity(trace.decoderOutputs.prefix(steps).flatMap { $0 }, try firstSteps("decoder_hidden", hidden), "\(label) decoder")
                assertComponentParity(trace.stopProbabilities.prefix(steps).flatMap { $0 }, try firstSteps("stop_probabilities", r), "\(label) stop")
                guard spectrogram.steps == c.steps else { continue }
                assertComponentParity(spectrogram.melBeforePostnet, try reference.floats("mel_before_postnet"), "\(label) frames")
                assertComponentParity(spectrogram.mel, try reference.floats("mel"), "\(label) mel")
            }
        }
    }

    func testPostNetMatchesReferenceOnReferenceFrames() throws {
        for name in Fixtures.modelNames {
            let loaded = try load(name)
            for c in try Fixtures.cases(model: name) {
                let reference = try Fixtures.reference(model: name, case: c.name)
                let refined = loaded.model.postnet.refine(try reference.floats("mel_before_postnet"), frames: c.frames)
                assertComponentParity(refined, try reference.floats("mel"), "\(name)/\(c.name) post-net")
            }
        }
    }

    func testVocoderMatchesReferenceOnReferenceMel() throws {
        for name in Fixtures.modelNames {
            let loaded = try load(name)
            for c in try Fixtures.cases(model: name) {
                let reference = try Fixtures.reference(model: name, case: c.name)
                XCTAssertEqual(loaded.vocoder.sampleCount(frames: c.frames), c.samples, "\(name)/\(c.name): sample count formula")
                let waveform = loaded.vocoder(try reference.floats("mel"), frames: c.frames)
                assertComponentParity(waveform, try reference.floats("waveform"), "\(name)/\(c.name) vocoder")
            }
        }
    }

    /// The whole path, text to waveform, through the public facade.
    func testEndToEndSpeechMatchesReference() throws {
        for name in Fixtures.modelNames {
            let synthesizer = try SpeechSynthesizer(modelDirectory: Fixtures.path("models/\(name)/model"),
                                                    vocoderDirectory: Fixtures.path("models/\(name)/vocoder"))
            let speaker = try SpeakerEmbeddingFile.load(path: Fixtures.path("models/\(name)/speaker.npy"),
                                                        expectedDimension: synthesizer.speakerDimension)
            for c in try Fixtures.cases(model: name) {
                let label = "\(name)/\(c.name)"
                let reference = try Fixtures.reference(model: name, case: c.name)
                let speech = try synthesizer.synthesize(c.text, speaker: speaker,
                                                        options: SynthesisOptions(generation: options(c), normalization: .off, splitSentences: false))
                XCTAssertEqual(speech.spectrogram.frames, c.frames, "\(label): frames")
                XCTAssertEqual(speech.samples.count, c.samples, "\(label): samples")
                guard speech.spectrogram.frames == c.frames, speech.samples.count == c.samples else { continue }
                XCTAssertGreaterThanOrEqual(pearson(speech.spectrogram.mel, try reference.floats("mel")), 0.9999, "\(label) mel")
                XCTAssertGreaterThanOrEqual(pearson(speech.samples, try reference.floats("waveform")), 0.999, "\(label) waveform")
                XCTAssertEqual(speech.sampleRate, synthesizer.vocoder?.config.samplingRate)
            }
        }
    }

    /// The fixtures are sensitive to the dropout masks: another seed must visibly change the mel of a
    /// model with p > 0, otherwise the feedback path would be untested.
    func testAnotherSeedChangesTheMelWhenDropoutIsActive() throws {
        for name in Fixtures.modelNames {
            let loaded = try load(name)
            guard loaded.model.config.speechDecoderPrenetDropout > 0 else { continue }
            for c in try Fixtures.cases(model: name) where c.frames >= 6 {
                var changed = options(c)
                changed.seed &+= 1
                changed.threshold = .infinity
                changed.minLengthRatio = 0
                changed.maxLengthRatio = Double(c.steps) * Double(loaded.model.config.reductionFactor) / Double(c.input_ids.count) + 1e-9
                let other = try loaded.model.generate(ids: c.input_ids, speaker: loaded.speaker, options: changed)
                let reference = try Fixtures.reference(model: name, case: c.name).floats("mel")
                guard other.mel.count == reference.count else { continue }
                XCTAssertLessThan(pearson(other.mel, reference), 0.999, "\(name)/\(c.name): dropout masks have no visible effect")
            }
        }
    }

    func testPrenetDropoutBitsMatchTheContractVectors() throws {
        struct Vector: Decodable {
            let seed_decimal: String; let step: Int; let layer: Int; let unit: Int
            let bits: String; let keep05: Bool; let keep03: Bool
        }
        struct File: Decodable { let vectors: [Vector] }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("dropout_vectors.json")))
        let vectors = try JSONDecoder().decode(File.self, from: data).vectors
        XCTAssertFalse(vectors.isEmpty)
        for v in vectors {
            let seed = try XCTUnwrap(UInt64(v.seed_decimal))
            XCTAssertEqual(String(PrenetDropout.bits(seed: seed, step: v.step, layer: v.layer, unit: v.unit)), v.bits)
            XCTAssertEqual(PrenetDropout(probability: 0.5, seed: seed).keep(step: v.step, layer: v.layer, unit: v.unit), v.keep05)
            XCTAssertEqual(PrenetDropout(probability: 0.3, seed: seed).keep(step: v.step, layer: v.layer, unit: v.unit), v.keep03)
        }
    }
}
