import Foundation
import XCTest
@testable import SpeechT5

/// Streaming, batching, long text and the scheduler must all give the audio of the plain one-shot
/// synthesis of each text (which the parity tests tie to the reference).
final class StreamingAndBatchingTests: XCTestCase {
    func synthesizer(_ name: String, precision: Precision = .fp32) throws -> (SpeechSynthesizer, [Float]) {
        let synthesizer = try SpeechSynthesizer(modelDirectory: Fixtures.path("models/\(name)/model"),
                                                vocoderDirectory: Fixtures.path("models/\(name)/vocoder"), precision: precision)
        let speaker = try SpeakerEmbeddingFile.load(path: Fixtures.path("models/\(name)/speaker.npy"),
                                                    expectedDimension: synthesizer.speakerDimension)
        return (synthesizer, speaker)
    }

    /// Forced lengths keep the comparisons away from stop-token knife edges.
    func options(seed: UInt64 = 7, steps: Double = 4) -> SynthesisOptions {
        SynthesisOptions(generation: GenerationOptions(threshold: .infinity, maxLengthRatio: steps, seed: seed),
                         normalization: .off, splitSentences: false)
    }

    func assertSameAudio(_ actual: [Float], _ expected: [Float], _ label: String,
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "\(label): sample count", file: file, line: line)
        guard actual.count == expected.count, !actual.isEmpty else { return }
        XCTAssertGreaterThanOrEqual(pearson(actual, expected), 0.9999, "\(label): Pearson", file: file, line: line)
        XCTAssertLessThanOrEqual(maxAbsDifference(actual, expected), 1e-4, "\(label): max |Δ|", file: file, line: line)
    }

    /// In every precision: the int8 vocoder quantizes each position on its own, so a streamed window's samples
    /// are those of the whole waveform too.
    func testStreamedChunksJoinIntoTheOneShotWaveform() throws {
        for name in Fixtures.modelNames {
            for precision in Precision.allCases {
                let (synthesizer, speaker) = try synthesizer(name, precision: precision)
                for text in ["many people come and go.", "a fine day for a walk by the sea, she said"] {
                    let oneShot = try synthesizer.synthesize(text, speaker: speaker, options: options()).samples
                    for (first, rest) in [(1, 1), (3, 5), (8, 64)] {
                        var chunks: [[Float]] = []
                        try synthesizer.generateStreaming(text, speaker: speaker, options: options(),
                                                          firstChunkFrames: first, chunkFrames: rest) { chunks.append($0) }
                        XCTAssertGreaterThan(chunks.count, first == 1 ? 2 : 0, "\(name): streamed in several chunks")
                        assertSameAudio(chunks.flatMap { $0 }, oneShot, "\(name) \(precision) '\(text)' chunks \(first)/\(rest)")
                    }
                }
            }
        }
    }

    /// After the first chunk each one holds at least as many frames as all before it (up to the largest
    /// size), so a player started on the first chunk is not starved by the next one's context wait.
    func testStreamedChunksGrowUpToTheLargestSize() throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let hop = try XCTUnwrap(synthesizer.vocoder).hopLength, r = synthesizer.model.config.reductionFactor
        var frames: [Int] = []
        try synthesizer.generateStreaming("a fine day for a walk by the sea, she said", speaker: speaker, options: options(steps: 6),
                                          firstChunkFrames: 2, chunkFrames: 16) { frames.append($0.count / hop) }
        XCTAssertGreaterThanOrEqual(frames.count, 5)
        var before = 0
        for (i, count) in frames.enumerated() {
            if i > 0 && i < frames.count - 1 {
                // A chunk goes out at the first step that makes enough frames final (a step adds r frames).
                let minimum = min(16, max(2, before))
                XCTAssertGreaterThanOrEqual(count, minimum, "chunk \(i) of \(frames)")
                XCTAssertLessThan(count, minimum + r, "chunk \(i) of \(frames)")
            }
            before += count
        }
        XCTAssertGreaterThanOrEqual(frames.first ?? 0, 2)
        XCTAssertTrue(frames.dropLast().contains { $0 >= 16 }, "reaches the largest size: \(frames)")
    }

    func testAsyncStreamYieldsTheSameAudio() async throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let text = "the long road home"
        let oneShot = try synthesizer.synthesize(text, speaker: speaker, options: options()).samples
        var streamed: [Float] = []
        for try await chunk in synthesizer.stream(text, speaker: speaker, options: options(), firstChunkFrames: 2, chunkFrames: 4) {
            XCTAssertEqual(chunk.sampleRate, synthesizer.sampleRate)
            streamed += chunk.samples
        }
        assertSameAudio(streamed, oneShot, "async stream")
    }

    /// Ten rows (the kernels take eight rows at a time, then the rest), in every precision: a row's numbers
    /// do not depend on the rows it shares a step with.
    func testEachBatchRowEqualsItsUnbatchedSynthesis() throws {
        for name in Fixtures.modelNames {
            for precision in Precision.allCases {
                let synthesizer = try SpeechSynthesizer(modelDirectory: Fixtures.path("models/\(name)/model"),
                                                        vocoderDirectory: Fixtures.path("models/\(name)/vocoder"), precision: precision)
                let speaker = try SpeakerEmbeddingFile.load(path: Fixtures.path("models/\(name)/speaker.npy"),
                                                            expectedDimension: synthesizer.speakerDimension)
                let other = speaker.enumerated().map { i, v in v * (i % 2 == 0 ? -1.5 : 0.5) }
                // Different lengths, so rows stop at different steps and leave the batch early.
                let texts = ["a short one", "a much longer sentence than the first one was", "mid sized text", "go", "the sea",
                             "we walked along the river for an hour or so", "seven", "lights out", "one more line of text", "end"]
                let requests = texts.enumerated().map { i, text in (text: text, speaker: i % 2 == 0 ? speaker : other) }
                let batched = synthesizer.synthesize(batch: requests, options: options(seed: 3, steps: 3))
                for (request, result) in zip(requests, batched) {
                    let alone = try synthesizer.synthesize(request.text, speaker: request.speaker, options: options(seed: 3, steps: 3))
                    let together = try result.get()
                    let label = "\(name) \(precision) batch row '\(request.text)'"
                    XCTAssertEqual(together.spectrogram.frames, alone.spectrogram.frames, "\(label): frames")
                    assertSameAudio(together.samples, alone.samples, label)
                }
            }
        }
    }

    func testBatchRowThatFailsDoesNotSinkTheOthers() throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let results = synthesizer.synthesize(batch: [("hello there", speaker), ("   ", speaker), ("fine", [1, 2, 3])],
                                             options: options())
        XCTAssertNoThrow(try results[0].get())
        XCTAssertThrowsError(try results[1].get()) { error in
            XCTAssertTrue("\(error)".contains("whitespace"), "\(error)")
        }
        XCTAssertThrowsError(try results[2].get()) { error in
            XCTAssertEqual(error as? SpeechT5Error, .invalidSpeaker(reason: "has 3 values, the model expects \(synthesizer.speakerDimension)"))
        }
    }

    func testLongTextIsSplitIntoPiecesThatFitAndJoinedWithPauses() throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let sentence = "The cat sat on the mat and looked at the bird in the tree"
        let text = Array(repeating: sentence + ".", count: 6).joined(separator: " ")
        XCTAssertGreaterThan(synthesizer.tokenizer.encode(text).count, synthesizer.model.config.maxTextPositions)
        var opts = options(steps: 0.5)
        opts.splitSentences = nil
        let speech = try synthesizer.synthesize(text, speaker: speaker, options: opts)
        XCTAssertEqual(speech.pieces.count, 6)
        for piece in speech.pieces {
            XCTAssertLessThanOrEqual(piece.tokenIds.count, synthesizer.model.config.maxTextPositions)
        }
        XCTAssertEqual(speech.pieces.map(\.text), Array(repeating: sentence + ".", count: 6))
        let pause = Int((0.3 * Double(synthesizer.sampleRate)).rounded())
        let voiced = speech.pieces.reduce(0) { $0 + synthesizer.vocoder!.sampleCount(frames: $1.spectrogram.frames) }
        XCTAssertEqual(speech.samples.count, voiced + 5 * pause, "five sentence pauses")
        // The streamed version equals it as well.
        var streamed: [Float] = []
        try synthesizer.generateStreaming(text, speaker: speaker, options: opts) { streamed += $0 }
        assertSameAudio(streamed, speech.samples, "long text streamed")
    }

    func testOneWordLongerThanTheModelLimitIsAClearError() throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let word = String(repeating: "a", count: synthesizer.model.config.maxTextPositions + 5)
        XCTAssertThrowsError(try synthesizer.synthesize("hello " + word, speaker: speaker, options: options())) { error in
            XCTAssertTrue("\(error)".contains("word"), "\(error)")
        }
    }

    func testDecoderStopsAtMaxSpeechPositionsInsteadOfCrashing() throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let limit = synthesizer.model.config.maxSpeechPositions
        let speech = try synthesizer.synthesize("a long text that would run far past the position table", speaker: speaker,
                                                options: options(steps: 1000))
        XCTAssertEqual(speech.spectrogram.steps, limit)
        XCTAssertEqual(speech.spectrogram.stopReason, .speechPositionLimit)
    }

    func testBadTextAndSpeakerInputsAreClearErrors() throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        for text in ["", "   \n\t ", "\u{1}\u{2}\u{7F}"] {
            XCTAssertThrowsError(try synthesizer.synthesize(text, speaker: speaker)) { error in
                guard case SpeechT5Error.invalidText = error else { return XCTFail("\(error)") }
            }
        }
        var bad = speaker
        bad[0] = .nan
        XCTAssertThrowsError(try synthesizer.synthesize("hello", speaker: bad)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .invalidSpeaker(reason: "contains NaN or infinite values"))
        }
    }

    func testSchedulerServesConcurrentRequestsWithTheirOwnAudio() async throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let scheduler = SynthesisScheduler(synthesizer: synthesizer, maxBatch: 4, maxQueue: 8, firstChunkFrames: 2, chunkFrames: 4)
        defer { scheduler.shutDown() }
        let texts = ["one voice here", "and another, somewhat longer, voice there", "third"]
        let expected = try texts.map { try synthesizer.synthesize($0, speaker: speaker, options: options()).samples }
        let streams = try texts.map { try scheduler.submit($0, speaker: speaker, options: options()) }
        var received: [[Float]] = Array(repeating: [], count: texts.count)
        try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, stream) in streams.enumerated() {
                group.addTask {
                    var samples: [Float] = []
                    for try await chunk in stream { samples += chunk.samples }
                    return (i, samples)
                }
            }
            for try await (i, samples) in group { received[i] = samples }
        }
        for i in texts.indices { assertSameAudio(received[i], expected[i], "scheduled '\(texts[i])'") }
        XCTAssertGreaterThan(scheduler.currentStatistics.audioSeconds, 0)
    }

    func testSchedulerRefusesWhenTheQueueIsFullAndDropsCancelledRequests() async throws {
        let (synthesizer, speaker) = try synthesizer("odd")
        let scheduler = SynthesisScheduler(synthesizer: synthesizer, maxBatch: 1, maxQueue: 1)
        defer { scheduler.shutDown() }
        var streams: [AsyncThrowingStream<AudioChunk, Error>] = []
        var refused = false
        for _ in 0..<20 {
            do { streams.append(try scheduler.submit("a fairly long text to keep the worker busy for a while", speaker: speaker, options: options(steps: 1000))) }
            catch let refusal as SynthesisScheduler.Refusal {
                XCTAssertEqual(refusal, .queueFull(limit: 1))
                refused = true
            }
        }
        XCTAssertTrue(refused)
        // Dropping the streams cancels the requests: the worker drains and goes idle.
        streams.removeAll()
        let deadline = Date().addingTimeInterval(30)
        while (scheduler.currentStatistics.active > 0 || scheduler.currentStatistics.queueDepth > 0) && Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertEqual(scheduler.currentStatistics.active, 0)
        XCTAssertEqual(scheduler.currentStatistics.queueDepth, 0)
    }
}
