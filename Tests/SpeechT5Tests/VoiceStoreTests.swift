import Foundation
import XCTest

@testable import SpeechT5

final class VoiceStoreTests: XCTestCase {
    func testDefaultDirectory() {
        XCTAssertEqual(VoiceStore.defaultDirectory(environment: ["SPEECHT5_VOICES": "/data/voices", "HOME": "/home/u"]), "/data/voices")
        XCTAssertEqual(VoiceStore.defaultDirectory(environment: ["HOME": "/home/u"]), "/home/u/.local/share/speecht5/voices")
        XCTAssertEqual(VoiceStore.defaultDirectory(environment: ["HOME": "/home/u", "XDG_DATA_HOME": "/xdg"]), "/xdg/speecht5/voices")
        XCTAssertEqual(VoiceStore.defaultDirectory(environment: ["HOME": "/home/u", "XDG_DATA_HOME": "relative"]),
                       "/home/u/.local/share/speecht5/voices", "a relative XDG_DATA_HOME is ignored, as the spec says")
        XCTAssertEqual(VoiceStore.defaultDirectory(environment: ["SPEECHT5_VOICES": "", "HOME": "/home/u"]),
                       "/home/u/.local/share/speecht5/voices")
        XCTAssertTrue(VoiceStore.defaultDirectory(environment: [:]).hasSuffix("/.local/share/speecht5/voices"))
    }

    func testNames() {
        for good in ["alice", "Bob-2", "my voice", "v1.2", "émilie", "narrator_01", "a+b", "me@home", String(repeating: "x", count: 100)] {
            XCTAssertNil(VoiceStore.nameProblem(good), good)
        }
        let bad: [(String, String)] = [
            ("", "empty"), ("a/b", "path separator"), ("../x", "path separator"), ("a\\b", "path separator"),
            ("..", "starts with"), (".hidden", "starts with"), ("-rf", "starts with"), (" lead", "starts with"),
            ("trail ", "ends with a space"), ("voice.npy", ".npy"), ("tab\tname", "U+0009"), ("nul\u{0}", "U+0000"),
            ("new\nline", "U+000A"), ("star*", "'*'"), ("colon:", "':'"), (String(repeating: "x", count: 101), "longer"),
        ]
        for (name, reason) in bad {
            let problem = VoiceStore.nameProblem(name)
            XCTAssertNotNil(problem, name.debugDescription)
            XCTAssertTrue(problem?.contains(reason) ?? false, "\(name.debugDescription): '\(problem ?? "")' should mention '\(reason)'")
        }
        XCTAssertThrowsError(try VoiceStore.validate(name: "a/b")) { error in
            guard case SpeechT5Error.invalidArgument(let argument, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(argument, "name")
        }
    }

    func testSaveLoadListRemove() throws {
        let scratch = try VoiceScratch()
        let store = VoiceStore(directory: scratch.file("nested/voices"))
        XCTAssertEqual(try store.names(), [], "a missing folder has no voices")
        XCTAssertFalse(store.contains("alice"))

        let alice = (0..<512).map { Float(sin(Double($0))) }
        let path = try store.save(alice, as: "alice")
        XCTAssertEqual(path, scratch.file("nested/voices/alice.npy"))
        XCTAssertTrue(store.contains("alice"))
        XCTAssertEqual(try store.load("alice"), alice)
        XCTAssertEqual(try SpeakerEmbeddingFile.load(path: path, expectedDimension: 512), alice, "readable as a speaker file")
        let (shape, _) = try NPYFile.read(path: path)
        XCTAssertEqual(shape, [512])

        XCTAssertThrowsError(try store.save(alice, as: "alice"), "no silent overwrite") { error in
            guard case SpeechT5Error.invalidArgument(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("already exists"), reason)
        }
        let replaced = alice.map { -$0 }
        try store.save(replaced, as: "alice", overwrite: true)
        XCTAssertEqual(try store.load("alice"), replaced)

        try store.save(alice, as: "Bob 2")
        try store.save(alice, as: "bob 10")
        // Things in the folder that are not voices are skipped.
        try scratch.write("nested/voices/readme.txt", text: "hello")
        try scratch.write("nested/voices/.hidden.npy", text: "x")
        try FileManager.default.createDirectory(atPath: scratch.file("nested/voices/dir.npy"), withIntermediateDirectories: true)
        XCTAssertEqual(try store.names(), ["alice", "Bob 2", "bob 10"])

        try store.remove("Bob 2")
        XCTAssertEqual(try store.names(), ["alice", "bob 10"])
        XCTAssertThrowsError(try store.remove("Bob 2"))
    }

    func testLoadErrors() throws {
        let scratch = try VoiceScratch()
        let store = VoiceStore(directory: scratch.path)
        XCTAssertThrowsError(try store.load("nobody")) { error in
            guard case SpeechT5Error.invalidArgument(let argument, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(argument, "voice")
            XCTAssertTrue(reason.contains("no voices yet"), reason)
        }
        try store.save([Float](repeating: 0.1, count: 512), as: "alice")
        XCTAssertThrowsError(try store.load("nobody")) { error in
            guard case SpeechT5Error.invalidArgument(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("available: alice"), reason)
        }
        XCTAssertThrowsError(try store.load("../etc/passwd"))
        XCTAssertThrowsError(try store.load("alice", expectedDimension: 256)) { error in
            guard case SpeechT5Error.invalidSpeaker = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try store.save([1, .nan], as: "broken"))
        XCTAssertThrowsError(try store.save([], as: "empty"))
        XCTAssertFalse(store.contains("broken"))
    }

    func testFolderThatIsAFile() throws {
        let scratch = try VoiceScratch()
        let file = try scratch.write("voices", text: "not a folder")
        let store = VoiceStore(directory: file)
        XCTAssertThrowsError(try store.names())
        XCTAssertThrowsError(try store.save([0.5], as: "x"))
    }
}

final class VoiceAnalysisTests: XCTestCase {
    private func tone(seconds: Double, rate: Int = 16_000, amplitude: Double = 0.5) -> [Float] {
        (0..<Int(seconds * Double(rate))).map { Float(amplitude * sin(2 * Double.pi * 220 * Double($0) / Double(rate))) }
    }

    func testSpeechDuration() {
        let speech = voiceTestSignal(seconds: 3, rate: 16_000, syllables: false)
        let analysis = RecordingAnalysis(samples: speech + [Float](repeating: 0, count: 32_000), sampleRate: 16_000)
        XCTAssertEqual(analysis.duration, 5, accuracy: 1e-9)
        // The 3 s of sound count, the 2 s of silence do not.
        XCTAssertEqual(analysis.speechDuration, 3, accuracy: 0.05)
        XCTAssertTrue(analysis.warnings.isEmpty, "\(analysis.warnings)")

        // Syllables: sound half of the time.
        let syllables = RecordingAnalysis(samples: voiceTestSignal(seconds: 4, rate: 16_000), sampleRate: 16_000)
        XCTAssertEqual(syllables.speechDuration, 2, accuracy: 0.4)

        let short = RecordingAnalysis(samples: voiceTestSignal(seconds: 1.5, rate: 22_050, syllables: false)
                                          + [Float](repeating: 0, count: 66_150), sampleRate: 22_050)
        XCTAssertEqual(short.speechDuration, 1.5, accuracy: 0.05)
        XCTAssertEqual(short.warnings.count, 1)
        XCTAssertTrue(short.warnings[0].contains("speech"), short.warnings[0])
    }

    func testClipping() {
        let clean = RecordingAnalysis(samples: tone(seconds: 3, amplitude: 0.9), sampleRate: 16_000)
        XCTAssertFalse(clean.isClipped)
        XCTAssertEqual(clean.clippedSamples, 0)

        // Peak-normalized audio touches full scale briefly: not clipping.
        var normalized = tone(seconds: 3, amplitude: 0.8)
        normalized[1000] = 1
        normalized[1001] = 1
        XCTAssertFalse(RecordingAnalysis(samples: normalized, sampleRate: 16_000).isClipped)

        let clipped = RecordingAnalysis(samples: tone(seconds: 3, amplitude: 1.5).map { max(-1, min(1, $0)) }, sampleRate: 16_000)
        XCTAssertTrue(clipped.isClipped)
        XCTAssertGreaterThan(clipped.clippedSamples, 10_000)
        XCTAssertTrue(clipped.warnings.contains { $0.contains("clipped") }, "\(clipped.warnings)")
        XCTAssertEqual(clipped.peak, 1)
    }

    func testNearSilenceIsNotSpeech() {
        // ±1 LSB of 16-bit noise: not digital silence, but nothing to hear.
        let hiss = (0..<48_000).map { Float(($0 * 7_919 % 3) - 1) / 32_768 }
        let analysis = RecordingAnalysis(samples: hiss, sampleRate: 16_000)
        XCTAssertEqual(analysis.speechDuration, 0)
        XCTAssertLessThan(analysis.loudestLevel, -85)
        XCTAssertEqual(analysis.warnings.count, 1)
        XCTAssertTrue(analysis.warnings[0].contains("no speech"), analysis.warnings[0])
    }

    func testQuietRecordingIsStillSpeech() {
        // The detector is relative to the loudest frame: a quiet but clean recording counts.
        let quiet = voiceTestSignal(seconds: 3, rate: 16_000, syllables: false).map { $0 * 0.01 }
        XCTAssertEqual(RecordingAnalysis(samples: quiet, sampleRate: 16_000).speechDuration, 3, accuracy: 0.05)
    }
}
