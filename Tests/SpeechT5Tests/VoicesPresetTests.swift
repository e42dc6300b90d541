import Foundation
import XCTest

@testable import SpeechT5

/// Presets, `spkrec-xvect.zip` reading and `--voice` / `--speaker` resolution (library level).
final class VoicesPresetTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("speecht5-voices-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// `vectors-dim<N>.json`: stem → values, as the fixture script wrote them.
    static func expectedVectors(dimension: Int) throws -> [String: [Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: ZipFixtures.path("vectors-dim\(dimension).json")))
        return try JSONDecoder().decode([String: [Float]].self, from: data)
    }

    func testPresetTable() {
        let table = Dictionary(uniqueKeysWithValues: VoicePresets.all.map { ($0.name, $0.utterance) })
        XCTAssertEqual(table, ["slt": "a0508", "clb": "a0144", "bdl": "a0009", "rms": "b0353", "ksp": "b0087",
                               "awb": "b0002", "jmk": "a0002"])
        XCTAssertEqual(VoicePresets.defaultPreset.name, "slt")
        XCTAssertEqual(VoicePresets.defaultPreset.entryName, "spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy")
        XCTAssertEqual(Set(VoicePresets.speakers), ["bdl", "slt", "jmk", "awb", "rms", "clb", "ksp"])
        XCTAssertEqual(VoicePresets.preset(named: "BDL")?.utterance, "a0009")
        XCTAssertNil(VoicePresets.preset(named: "xyz"))
    }

    func testUtteranceNames() {
        for text in ["bdl_b0001", "bdl:b0001", "BDL_B0001", "cmu_us_bdl_arctic-wav-arctic_b0001", "cmu_us_bdl_arctic-wav-arctic_b0001.npy"] {
            let voice = VoicePresets.utterance(named: text)
            XCTAssertEqual(voice?.name, "bdl_b0001", text)
            XCTAssertEqual(voice?.entryName, "spkrec-xvect/cmu_us_bdl_arctic-wav-arctic_b0001.npy", text)
        }
        for text in ["bdl", "xyz_a0001", "bdl_c0001", "bdl_a001", "bdl_a00011", "bdl_a0001_x", "../bdl_a0001", "cmu_us_bdl_a0001", ""] {
            XCTAssertNil(VoicePresets.utterance(named: text), text)
        }
    }

    func testArchiveVectorsMatchWhatTheScriptWrote() throws {
        let archive = try XVectorArchive(path: ZipFixtures.path("spkrec-xvect-dim32.zip"))
        let expected = try Self.expectedVectors(dimension: 32)
        XCTAssertEqual(archive.stems, expected.keys.sorted())
        for preset in VoicePresets.all {
            XCTAssertTrue(archive.contains(preset), preset.name)
            XCTAssertEqual(try archive.vector(for: preset, expectedDimension: 32), expected[preset.stem], preset.name)
        }
        let extra = try XCTUnwrap(VoicePresets.utterance(named: "slt_a0001"))
        XCTAssertEqual(try archive.vector(for: extra, expectedDimension: 32), expected[extra.stem])
    }

    func testArchiveErrors() throws {
        let archive = try XVectorArchive(path: ZipFixtures.path("spkrec-xvect-dim32.zip"))
        // Wrong dimension.
        XCTAssertThrowsError(try archive.vector(for: VoicePresets.defaultPreset, expectedDimension: 512)) { error in
            guard case .invalidSpeaker(let reason)? = error as? SpeechT5Error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("voice 'slt'"), reason)
            XCTAssertTrue(reason.contains("has 32 values, the model expects 512"), reason)
        }
        let wide = try XVectorArchive(path: ZipFixtures.path("spkrec-xvect-dim512.zip"))
        XCTAssertEqual(try wide.vector(for: VoicePresets.defaultPreset, expectedDimension: 512).count, 512)
        XCTAssertThrowsError(try wide.vector(for: VoicePresets.defaultPreset, expectedDimension: 32)) { error in
            XCTAssertTrue("\(error)".contains("has 512 values, the model expects 32"), "\(error)")
        }
        // A voice the archive lacks.
        let absent = try XCTUnwrap(VoicePresets.utterance(named: "awb_a0003"))
        XCTAssertFalse(archive.contains(absent))
        XCTAssertThrowsError(try archive.vector(for: absent, expectedDimension: 32)) { error in
            XCTAssertTrue("\(error)".contains("has no entry spkrec-xvect/cmu_us_awb_arctic-wav-arctic_a0003.npy"), "\(error)")
        }
        // An entry that is not an NPY array.
        let corpus = try XVectorArchive(path: ZipFixtures.path("deflate-corpus.zip"))
        XCTAssertEqual(corpus.stems, [])
    }

    func testEntryInAnotherFolderIsFound() throws {
        // A re-zipped archive without the spkrec-xvect/ folder.
        var bytes = try ZipFixtures.bytes("spkrec-xvect-dim32.zip")
        let entry = ZipFixtures.layout(bytes)[10]
        for (i, byte) in "other-folder/".utf8.enumerated() {
            bytes[entry.centralName + i] = byte
            bytes[entry.localName + i] = byte
        }
        let archive = try XVectorArchive(path: try temporaryFile(bytes))
        XCTAssertEqual(archive.entryName(for: VoicePresets.defaultPreset), "other-folder/cmu_us_slt_arctic-wav-arctic_a0508.npy")
        XCTAssertEqual(try archive.vector(for: VoicePresets.defaultPreset, expectedDimension: 32),
                       try Self.expectedVectors(dimension: 32)[VoicePresets.defaultPreset.stem])
    }

    func testResolverOrderAndErrors() throws {
        let store = VoiceStore(directory: directory.path)
        let resolver = VoiceResolver(store: store)
        XCTAssertEqual(try resolver.source(voice: nil, speaker: nil), .archive(VoicePresets.defaultPreset))
        XCTAssertEqual(try resolver.source(voice: nil, speaker: "x.npy"), .file("x.npy"))
        XCTAssertEqual(try resolver.source(voice: "bdl", speaker: nil), .archive(try XCTUnwrap(VoicePresets.preset(named: "bdl"))))
        XCTAssertEqual(try resolver.source(voice: "rms_a0001", speaker: nil), .archive(try XCTUnwrap(VoicePresets.utterance(named: "rms_a0001"))))
        XCTAssertThrowsError(try resolver.source(voice: "bdl", speaker: "x.npy"))

        // Unknown names list the presets and the user's voices.
        try store.save([Float](repeating: 0.1, count: 32), as: "alice")
        try store.save([Float](repeating: 0.2, count: 32), as: "slt")
        for name in ["nobody", "../../etc/passwd", "bdl_c0001", "", "a\u{1b}[2Jb"] {
            XCTAssertThrowsError(try resolver.source(voice: name, speaker: nil), name) { error in
                guard case .invalidArgument(let argument, let reason)? = error as? SpeechT5Error else { return XCTFail("\(error)") }
                XCTAssertEqual(argument, "voice")
                XCTAssertTrue(reason.contains("unknown voice"), reason)
                XCTAssertTrue(reason.contains("slt (default), clb, bdl, rms, awb, jmk, ksp"), reason)
                XCTAssertTrue(reason.contains("your voices: alice, slt"), reason)
                XCTAssertFalse(reason.contains("\n") || reason.contains("\u{1b}"), reason)
            }
        }

        // A user voice named like a preset takes precedence.
        XCTAssertEqual(try resolver.source(voice: "slt", speaker: nil), .stored(name: "slt", path: try store.path(for: "slt")))
        XCTAssertEqual(try resolver.source(voice: "alice", speaker: nil), .stored(name: "alice", path: try store.path(for: "alice")))
        let loaded = try resolver.load(.stored(name: "alice", path: ""), expectedDimension: 32) { XCTFail("no archive needed"); return "" }
        XCTAssertEqual(loaded, [Float](repeating: 0.1, count: 32))

        // A user voice of the wrong dimension.
        XCTAssertThrowsError(try resolver.load(.stored(name: "alice", path: ""), expectedDimension: 512) { "" }) { error in
            guard case .invalidSpeaker(let reason)? = error as? SpeechT5Error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("has 32 values, the model expects 512"), reason)
        }
        // Archive voices ask for the archive.
        let vector = try resolver.load(.archive(VoicePresets.defaultPreset), expectedDimension: 32) {
            ZipFixtures.path("spkrec-xvect-dim32.zip")
        }
        XCTAssertEqual(vector, try Self.expectedVectors(dimension: 32)[VoicePresets.defaultPreset.stem])
    }
}
