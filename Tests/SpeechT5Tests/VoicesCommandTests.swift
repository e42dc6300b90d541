import Foundation
import XCTest

@testable import SpeechT5

/// `speecht5 voices`: presets with their cache status, and the user's voices.
final class VoicesCommandTests: CLITestCase {
    func presetLines(_ output: String) -> [String: String] {
        var lines: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 4, let name = fields.first, VoicePresets.preset(named: String(name)) != nil, line.hasPrefix("  ") {
                lines[String(name)] = String(line)
            }
        }
        return lines
    }

    func testListsPresetsBeforeAndAfterDownloadAndUserVoices() throws {
        try addDefaultRepos()
        let hub = try startHub()

        // Nothing cached: every preset is listed as not downloaded, and no request is made.
        var result = try run(["voices"], hub: hub)
        XCTAssertEqual(result.status, 0, result.stderr)
        var presets = presetLines(result.stdout)
        XCTAssertEqual(Set(presets.keys), ["slt", "clb", "bdl", "rms", "awb", "jmk", "ksp"])
        for (name, line) in presets {
            XCTAssertTrue(line.contains("not downloaded"), line)
            XCTAssertTrue(line.contains(try XCTUnwrap(VoicePresets.preset(named: name)).stem), line)
        }
        XCTAssertTrue(presets["slt"]?.contains("(default)") ?? false)
        XCTAssertTrue(presets["awb"]?.contains("Scottish English, male") ?? false)
        XCTAssertTrue(result.stdout.contains("spkrec-xvect.zip is not in the cache at \(cacheDirectory!)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("speecht5 voices --download"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Your voices (\(voicesDirectory.path)):\n  none yet"), result.stdout)
        XCTAssertEqual(try hub.requestsSync().count, 0)

        // --download fetches the archive; then every preset is cached.
        result = try run(["voices", "--download"], hub: hub)
        XCTAssertEqual(result.status, 0, result.stderr)
        presets = presetLines(result.stdout)
        for line in presets.values { XCTAssertTrue(line.contains("cached"), line) }
        XCTAssertTrue(result.stdout.contains("archive: \(cacheDirectory!)/datasets--Matthijs--cmu-arctic-xvectors/snapshots/"), result.stdout)

        // Offline, from the cache; with user voices, one of which shadows a preset.
        hub.stop()
        let store = VoiceStore(directory: voicesDirectory.path)
        try store.save([Float](repeating: 0.1, count: 32), as: "alice")
        try store.save([Float](repeating: 0.1, count: 32), as: "slt")
        result = try run(["voices", "--utterances"], hub: nil, environment: ["HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        presets = presetLines(result.stdout)
        XCTAssertTrue(presets["slt"]?.contains("your voice 'slt' takes precedence") ?? false, result.stdout)
        XCTAssertTrue(presets["bdl"]?.contains("cached") ?? false, result.stdout)
        XCTAssertTrue(result.stdout.contains("Utterances in the archive (10):\n  awb_a0001\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("  slt_a0508\n"), result.stdout)
        XCTAssertTrue(result.stdout.hasSuffix("Your voices (\(voicesDirectory.path)):\n  alice\n  slt\n"), result.stdout)

        // The voice-cloning commands are registered too.
        let list = try run(["voice", "list"], hub: nil)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout, "alice\nslt\n")
    }

    func testAPresetMissingFromTheArchiveIsMarked() throws {
        try addArchive(try ZipFixtures.bytes("spkrec-xvect-dim512.zip"))  // only slt_a0508
        let hub = try startHub()
        let result = try run(["voices", "--download"], hub: hub)
        XCTAssertEqual(result.status, 0, result.stderr)
        let presets = presetLines(result.stdout)
        XCTAssertTrue(presets["slt"]?.contains("cached") ?? false, result.stdout)
        XCTAssertTrue(presets["bdl"]?.contains("missing from the archive") ?? false, result.stdout)
    }

    func testErrors() throws {
        // Download with no network.
        expectFailure(try run(["voices", "--download"], hub: nil), ["cannot reach", "'spkrec-xvect.zip' of dataset 'Matthijs/cmu-arctic-xvectors'"])
        // Offline: listing works, and says why nothing can be fetched.
        let offline = try run(["voices"], hub: nil, environment: ["HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(offline.status, 0, offline.stderr)
        XCTAssertTrue(offline.stdout.contains("HF_HUB_OFFLINE is set, so it cannot be fetched"), offline.stdout)
        // A hostile archive in the cache.
        var bytes = try ZipFixtures.bytes("spkrec-xvect-dim32.zip")
        let entry = ZipFixtures.layout(bytes)[2]
        bytes[entry.centralName] = UInt8(ascii: "/")
        bytes[entry.localName] = UInt8(ascii: "/")
        try addArchive(bytes)
        let hub = try startHub()
        expectFailure(try run(["voices", "--download"], hub: hub), ["is an absolute path", "spkrec-xvect.zip"])
        // The voices folder is a file.
        try Data().write(to: voicesDirectory)
        expectFailure(try run(["voices"], hub: nil, environment: ["HF_HUB_OFFLINE": "1"]), ["the voices folder is not a directory"])
    }
}
