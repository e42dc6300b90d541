import Foundation
import XCTest

@testable import SpeechT5

// MARK: - Running the command-line tool

/// The result of one run of the `speecht5` binary.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String

    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// A test case that runs the `speecht5` binary (built next to the test bundle) against the fake hub, with
/// its own cache, voices folder and home directory.
class CLITestCase: HubTestCase {
    var runDirectory: URL!
    var voicesDirectory: URL!
    var home: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        runDirectory = workDirectory.appendingPathComponent("run")
        voicesDirectory = workDirectory.appendingPathComponent("voices")
        home = workDirectory.appendingPathComponent("home")
        for directory in [runDirectory!, home!] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
    }

    /// The `speecht5` executable built with the tests.
    static let binary: String? = {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Fixtures.root.deletingLastPathComponent().deletingLastPathComponent())
        for directory in candidates {
            let path = directory.appendingPathComponent("speecht5").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()

    /// The environment of a run: nothing inherited but PATH, so no token or cache of the machine leaks in.
    func environment(_ hub: FakeHub?, _ extra: [String: String] = [:]) -> [String: String] {
        var environment: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": home.path,
            "HF_HUB_CACHE": cacheDirectory,
            "SPEECHT5_VOICES": voicesDirectory.path,
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_ETAG_TIMEOUT": "5",
            "HF_HUB_DOWNLOAD_TIMEOUT": "5",
        ]
        environment["HF_ENDPOINT"] = hub?.endpoint ?? "http://127.0.0.1:\(HubTestPaths.closedPort())"
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// Runs `speecht5 arguments…` in `runDirectory` (optionally under `ulimit -f fileSizeBlocks`).
    func run(_ arguments: [String], hub: FakeHub?, environment extra: [String: String] = [:],
             directory: URL? = nil, fileSizeBlocks: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        guard let binary = Self.binary else {
            XCTFail("the speecht5 binary was not found next to the test bundle (build it with 'swift build')", file: file, line: line)
            throw XCTSkip("no speecht5 binary")
        }
        let process = Process()
        if let blocks = fileSizeBlocks {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -f \(blocks) && exec \"$0\" \"$@\"", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.environment = environment(hub, extra)
        process.currentDirectoryURL = directory ?? runDirectory
        let outputs = workDirectory.appendingPathComponent("outputs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outputs) }
        let stdoutURL = outputs.appendingPathComponent("stdout"), stderrURL = outputs.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdout = try FileHandle(forWritingTo: stdoutURL), stderr = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try stdout.close()
        try stderr.close()
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: try Data(contentsOf: stdoutURL), as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self))
    }

    // MARK: Repositories

    static func fixtureFiles(_ relative: String) throws -> [String: [UInt8]] {
        let directory = Fixtures.path(relative)
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where !name.hasPrefix(".") {
            files[name] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name)))
        }
        return files
    }

    /// The r2p0 fixture model (speaker dimension 32) as `microsoft/speecht5_tts` and `microsoft/speecht5_hifigan`,
    /// and `archive` (a fixture under voices/) as the x-vector dataset's `spkrec-xvect.zip`.
    func addDefaultRepos(archive: String = "spkrec-xvect-dim32.zip", archiveBytes: [UInt8]? = nil) throws {
        try tree.add("microsoft/speecht5_tts", files: try Self.fixtureFiles("models/r2p0/model"))
        try tree.add("microsoft/speecht5_hifigan", files: try Self.fixtureFiles("models/r2p0/vocoder"))
        try addArchive(archiveBytes ?? ZipFixtures.bytes(archive))
    }

    func addArchive(_ bytes: [UInt8]) throws {
        try tree.add(HubRepo.cmuArcticXVectors.id, type: .dataset, files: [VoicePresets.archiveFileName: bytes])
    }

    /// Writes the fixture vector of `stem` (from vectors-dim<N>.json) as an .npy file and returns its path.
    func vectorFile(_ stem: String, dimension: Int = 32) throws -> String {
        let values = try XCTUnwrap(try VoicesPresetTests.expectedVectors(dimension: dimension)[stem])
        let path = workDirectory.appendingPathComponent("\(stem)-\(dimension).npy").path
        try NPYFile.write(values, shape: [values.count], to: path)
        return path
    }

    func fileBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Everything under `directory` (relative paths).
    func contents(_ directory: URL) -> [String] {
        listing(directory.path)
    }

    /// Expects a failed run: status 1, one line on stderr that starts with "speecht5: error:" and holds every
    /// fragment, and nothing written in the run directory.
    func expectFailure(_ result: CLIResult, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 1, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderrLines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("speecht5: error: "), result.stderr, file: file, line: line)
        for fragment in fragments where !result.stderr.contains(fragment) {
            XCTFail("stderr '\(result.stderr)' does not contain '\(fragment)'", file: file, line: line)
        }
        XCTAssertEqual(contents(runDirectory), [], "nothing is left in the working directory", file: file, line: line)
    }

    /// No `.incomplete` or temporary files anywhere in the cache.
    func assertNoPartialFilesInCache(file: StaticString = #filePath, line: UInt = #line) {
        let partial = listing(cacheDirectory).filter { $0.hasSuffix(".incomplete") || $0.hasSuffix(".tmp") }
        XCTAssertEqual(partial, [], file: file, line: line)
    }
}

// MARK: - speecht5 say / synthesize

final class SayCommandTests: CLITestCase {
    func testSayWithNoOptionsFetchesEverythingAndWritesSpeechWav() throws {
        try addDefaultRepos()
        let hub = try startHub()

        let result = try run(["say", "Hello there."], hub: hub)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("wrote speech.wav: "), result.stderr)
        XCTAssertEqual(contents(runDirectory), ["speech.wav"])
        let wav = try WAVFile.read(path: runDirectory.appendingPathComponent("speech.wav").path)
        let vocoderConfig = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/r2p0/vocoder/config.json")))) as? [String: Any])
        XCTAssertEqual(wav.sampleRate, vocoderConfig["sampling_rate"] as? Int)

        // The cache has the Python huggingface_hub layout for all three repos.
        let top = (try FileManager.default.contentsOfDirectory(atPath: cacheDirectory)).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(top, ["CACHEDIR.TAG", "datasets--Matthijs--cmu-arctic-xvectors", "models--microsoft--speecht5_hifigan",
                             "models--microsoft--speecht5_tts"])
        XCTAssertTrue(listing(cacheDirectory + "/datasets--Matthijs--cmu-arctic-xvectors").contains { $0.hasSuffix("/spkrec-xvect.zip") })
        assertNoPartialFilesInCache()

        // The default voice is slt_a0508 from the archive, and the model and vocoder are the repos' files:
        // the same WAV as a run on the local directories with that vector as a file.
        let slt = try vectorFile("cmu_us_slt_arctic-wav-arctic_a0508")
        let speak = ["Hello there, how are you?", "--min-len-ratio", "3"]
        XCTAssertEqual(try run(["say"] + speak + ["-o", "hub.wav"], hub: hub).status, 0)
        let local = try run(["synthesize"] + speak + ["--model", Fixtures.path("models/r2p0/model"),
                                                      "--vocoder", Fixtures.path("models/r2p0/vocoder"),
                                                      "--speaker", slt, "-o", "local.wav"], hub: nil)
        XCTAssertEqual(local.status, 0, local.stderr)
        let hubWAV = try fileBytes(runDirectory.appendingPathComponent("hub.wav").path)
        XCTAssertGreaterThan(hubWAV.count, 1000)
        XCTAssertEqual(hubWAV, try fileBytes(runDirectory.appendingPathComponent("local.wav").path))

        // `synthesize` has the same defaults.
        let synthesized = try run(["synthesize"] + speak + ["-o", "synth.wav"], hub: hub)
        XCTAssertEqual(synthesized.status, 0, synthesized.stderr)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("synth.wav").path), hubWAV)

        // Another preset gives other audio; the explicit default gives the same.
        XCTAssertEqual(try run(["say"] + speak + ["--voice", "bdl", "-o", "bdl.wav"], hub: hub).status, 0)
        XCTAssertNotEqual(try fileBytes(runDirectory.appendingPathComponent("bdl.wav").path), hubWAV)
        XCTAssertEqual(try run(["say"] + speak + ["--voice", "SLT", "-o", "slt.wav"], hub: hub).status, 0)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("slt.wav").path), hubWAV)

        // Offline, and with the hub gone, the cache answers.
        hub.stop()
        let offline = try run(["say"] + speak + ["-o", "offline.wav"], hub: nil, environment: ["HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(offline.status, 0, offline.stderr)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("offline.wav").path), hubWAV)
        let unreachable = try run(["say"] + speak + ["-o", "unreachable.wav"], hub: nil)
        XCTAssertEqual(unreachable.status, 0, unreachable.stderr)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("unreachable.wav").path), hubWAV)
    }

    func testHubLikeReposWithOnlyPytorchBin() throws {
        // As on the real hub's main branches: config.json + pytorch_model.bin (written by torch), no safetensors.
        var tts = try Self.fixtureFiles("torch/tts")
        tts["reference.safetensors"] = nil
        for name in ["spm_char.model", "added_tokens.json", "tokenizer_config.json"] {
            tts[name] = try fileBytes(Fixtures.path("models/r2p0/model/\(name)"))
        }
        try tree.add("microsoft/speecht5_tts", files: tts)
        try tree.add("microsoft/speecht5_hifigan", files: try Self.fixtureFiles("torch/hifigan/legacy"))
        try addArchive(try ZipFixtures.bytes("spkrec-xvect-dim4.zip"))
        let hub = try startHub()

        let result = try run(["say", "Hello there.", "--min-len-ratio", "2", "--voice", "ksp"], hub: hub)
        XCTAssertEqual(result.status, 0, result.stderr)
        let snapshot = try XCTUnwrap(listing(cacheDirectory + "/models--microsoft--speecht5_tts/snapshots").first { !$0.contains("/") })
        XCTAssertEqual(listing(cacheDirectory + "/models--microsoft--speecht5_tts/snapshots/\(snapshot)"),
                       ["added_tokens.json", "config.json", "pytorch_model.bin", "spm_char.model", "tokenizer_config.json"])

        let ksp = try vectorFile("cmu_us_ksp_arctic-wav-arctic_b0087", dimension: 4)
        let local = try run(["synthesize", "Hello there.", "--min-len-ratio", "2", "--model",
                             cacheDirectory + "/models--microsoft--speecht5_tts/snapshots/\(snapshot)",
                             "--vocoder", Fixtures.path("torch/hifigan/legacy"), "--speaker", ksp, "-o", "local.wav"], hub: nil)
        XCTAssertEqual(local.status, 0, local.stderr)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("speech.wav").path),
                       try fileBytes(runDirectory.appendingPathComponent("local.wav").path))
    }

    func testRevisionsAndLocalDirectoriesMix() throws {
        try addDefaultRepos()
        // Branch v1 of both repos holds the odd fixture (speaker dimension 24).
        try tree.add("microsoft/speecht5_tts", revision: "v1", files: try Self.fixtureFiles("models/odd/model"))
        try tree.add("microsoft/speecht5_hifigan", revision: "v1", files: try Self.fixtureFiles("models/odd/vocoder"))
        let hub = try startHub()
        let speaker = Fixtures.path("models/odd/speaker.npy")

        let v1 = try run(["say", "Hi.", "--revision", "v1", "--vocoder-revision", "v1", "--speaker", speaker, "-o", "v1.wav"], hub: hub)
        XCTAssertEqual(v1.status, 0, v1.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheDirectory + "/models--microsoft--speecht5_tts/refs/v1"))
        let local = try run(["say", "Hi.", "--model", Fixtures.path("models/odd/model"), "--vocoder", Fixtures.path("models/odd/vocoder"),
                             "--speaker", speaker, "-o", "local.wav"], hub: nil)
        XCTAssertEqual(local.status, 0, local.stderr)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("v1.wav").path),
                       try fileBytes(runDirectory.appendingPathComponent("local.wav").path))

        // main has the other model: that speaker file does not fit it.
        let main = try run(["say", "Hi.", "--speaker", speaker, "-o", "main.wav"], hub: hub)
        XCTAssertEqual(main.status, 1)
        XCTAssertTrue(main.stderr.contains("has 24 values, the model expects 32"), main.stderr)
    }

    func testUserVoicesByName() throws {
        try addDefaultRepos()
        let hub = try startHub()
        let store = VoiceStore(directory: voicesDirectory.path)
        let bdl = try VoicesPresetTests.expectedVectors(dimension: 32)["cmu_us_bdl_arctic-wav-arctic_a0009"] ?? []
        try store.save(bdl, as: "alice")
        try store.save(bdl, as: "slt")  // shadows the preset
        let speak = ["Hello there, how are you?", "--min-len-ratio", "3"]

        XCTAssertEqual(try run(["say"] + speak + ["--voice", "bdl", "-o", "bdl.wav"], hub: hub).status, 0)
        XCTAssertEqual(try run(["say"] + speak + ["--voice", "alice", "-o", "alice.wav"], hub: hub).status, 0)
        XCTAssertEqual(try run(["say"] + speak + ["--voice", "slt", "-o", "slt.wav"], hub: hub).status, 0)
        let reference = try fileBytes(runDirectory.appendingPathComponent("bdl.wav").path)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("alice.wav").path), reference)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("slt.wav").path), reference)

        // Utterances beyond the presets, by SPEAKER_UTTERANCE or full name.
        XCTAssertEqual(try run(["say"] + speak + ["--voice", "bdl_b0001", "-o", "b1.wav"], hub: hub).status, 0)
        XCTAssertEqual(try run(["say"] + speak + ["--voice", "cmu_us_bdl_arctic-wav-arctic_b0001", "-o", "b2.wav"], hub: hub).status, 0)
        XCTAssertEqual(try fileBytes(runDirectory.appendingPathComponent("b1.wav").path),
                       try fileBytes(runDirectory.appendingPathComponent("b2.wav").path))

        // Standard input and standard output.
        let piped = try run(["say", "Hello there, how are you?", "--min-len-ratio", "3", "--voice", "bdl", "-o", "-"], hub: hub)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(Array(piped.stdout.utf8.prefix(4)), Array("RIFF".utf8))
        let devStdout = try run(["say", "Hello there, how are you?", "--min-len-ratio", "3", "--voice", "bdl", "-o", "/dev/stdout"], hub: hub)
        XCTAssertEqual(devStdout.status, 0, devStdout.stderr)
        XCTAssertEqual(devStdout.stdout, piped.stdout)

        // A named pipe is written through, not replaced.
        let fifo = workDirectory.appendingPathComponent("audio.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let received = DataBox()
        let reader = Thread {
            if let handle = FileHandle(forReadingAtPath: fifo) { received.append(handle.readDataToEndOfFile()) }
        }
        reader.start()
        let toFifo = try run(["say", "Hello there, how are you?", "--min-len-ratio", "3", "--voice", "bdl", "-o", fifo], hub: hub)
        XCTAssertEqual(toFifo.status, 0, toFifo.stderr)
        for _ in 0 ..< 100 where received.value.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual([UInt8](received.value), reference)
        var info = stat()
        XCTAssertEqual(stat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "still a FIFO")
    }
}

// MARK: - Errors

/// Every failure is one line on stderr, exit status 1, and nothing half-written where it would be used.
final class SayCommandErrorTests: CLITestCase {
    func testUnknownRepoMissingFileAndUnknownRevision() throws {
        try addDefaultRepos()
        var incomplete = try Self.fixtureFiles("models/r2p0/model")
        incomplete["spm_char.model"] = nil
        try tree.add("fakeorg/no-tokenizer", files: incomplete)
        let hub = try startHub()
        expectFailure(try run(["say", "Hi.", "--model", "fakeorg/nothing"], hub: hub),
                      ["model 'fakeorg/nothing' not found on \(hub.endpoint)", "HF_TOKEN"])
        expectFailure(try run(["say", "Hi.", "--vocoder", "fakeorg/nothing"], hub: hub), ["model 'fakeorg/nothing' not found"])
        expectFailure(try run(["say", "Hi.", "--model", "fakeorg/no-tokenizer"], hub: hub),
                      ["file 'spm_char.model' not found in model 'fakeorg/no-tokenizer'"])
        expectFailure(try run(["say", "Hi.", "--revision", "nope"], hub: hub),
                      ["revision 'nope' not found in model 'microsoft/speecht5_tts'"])
        expectFailure(try run(["say", "Hi.", "--model", "./no/such/dir"], hub: hub), ["file not found: ./no/such/dir"])
        expectFailure(try run(["say", "Hi.", "--vocoder", "just-a-name"], hub: hub),
                      ["invalid vocoder 'just-a-name'", "not a hub repo id"])
        assertNoPartialFilesInCache()
    }

    func testNoNetworkAndOfflineWithAnEmptyCache() throws {
        expectFailure(try run(["say", "Hi."], hub: nil), ["cannot reach http://127.0.0.1:", "connection refused",
                                                          "'config.json' of model 'microsoft/speecht5_tts' is not in the cache"])
        expectFailure(try run(["say", "Hi."], hub: nil, environment: ["HF_HUB_OFFLINE": "1"]),
                      ["HF_HUB_OFFLINE is set", "is not in the cache at \(cacheDirectory!)"])
        // With the models cached but not the voices, offline still names what is missing.
        try addDefaultRepos()
        let hub = try startHub()
        XCTAssertEqual(try run(["say", "Hi.", "--speaker", try vectorFile("cmu_us_slt_arctic-wav-arctic_a0508"), "-o", "x.wav"], hub: hub).status, 0)
        try FileManager.default.removeItem(at: runDirectory.appendingPathComponent("x.wav"))
        hub.stop()
        expectFailure(try run(["say", "Hi."], hub: nil, environment: ["HF_HUB_OFFLINE": "1"]),
                      ["'spkrec-xvect.zip' of dataset 'Matthijs/cmu-arctic-xvectors'"])
    }

    func testPrivateRepoNeedsAToken() throws {
        try addDefaultRepos()
        try tree.add("fakeorg/private-tts", files: try Self.fixtureFiles("models/r2p0/model"))
        try tree.mark("fakeorg/private-tts", ".private")
        let hub = try startHub()
        expectFailure(try run(["say", "Hi.", "--model", "fakeorg/private-tts"], hub: hub), ["set HF_TOKEN"])
        expectFailure(try run(["say", "Hi.", "--model", "fakeorg/private-tts"], hub: hub, environment: ["HF_TOKEN": "hf_wrong"]),
                      ["HF_TOKEN"])
        let ok = try run(["say", "Hi.", "--model", "fakeorg/private-tts"], hub: hub, environment: ["HF_TOKEN": "hf_fake_token"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        // The token file under HF_HOME works too.
        try FileManager.default.removeItem(atPath: cacheDirectory)
        let hfHome = home.appendingPathComponent(".cache/huggingface")
        try FileManager.default.createDirectory(at: hfHome, withIntermediateDirectories: true)
        try Data("hf_fake_token\n".utf8).write(to: hfHome.appendingPathComponent("token"))
        let viaFile = try run(["say", "Hi.", "--model", "fakeorg/private-tts", "-o", "file.wav"], hub: hub)
        XCTAssertEqual(viaFile.status, 0, viaFile.stderr)
    }

    func testFullDiskDuringDownloadAndWhileWritingTheWAV() throws {
        try addDefaultRepos()
        let hub = try startHub()
        // `ulimit -f` makes writes past the limit fail with EFBIG, as a full disk fails them with ENOSPC.
        expectFailure(try run(["say", "Hi."], hub: hub, fileSizeBlocks: 100), ["cannot write", "File too large"])
        assertNoPartialFilesInCache()
        let blobs = listing(cacheDirectory + "/models--microsoft--speecht5_tts/blobs")
        XCTAssertFalse(blobs.contains { $0.count == 64 }, "no LFS blob (the large files) was kept: \(blobs)")

        // With everything cached, the WAV itself does not fit.
        XCTAssertEqual(try run(["say", "Hi.", "-o", "warm.wav"], hub: hub).status, 0)
        try FileManager.default.removeItem(at: runDirectory.appendingPathComponent("warm.wav"))
        expectFailure(try run(["say", "Hi.", "--min-len-ratio", "10"], hub: hub, fileSizeBlocks: 1),
                      ["cannot write speech.wav", "File too large"])
        // An output directory that does not exist.
        expectFailure(try run(["say", "Hi.", "-o", "missing/dir/out.wav"], hub: hub), ["cannot write missing/dir/out.wav"])
    }

    func testHostileAndCorruptVoiceArchives() throws {
        try tree.add("microsoft/speecht5_tts", files: try Self.fixtureFiles("models/r2p0/model"))
        try tree.add("microsoft/speecht5_hifigan", files: try Self.fixtureFiles("models/r2p0/vocoder"))
        var cases: [(String, [UInt8], [String])] = []
        // Path traversal in an entry name.
        var traversal = try ZipFixtures.bytes("spkrec-xvect-dim32.zip")
        let entry = ZipFixtures.layout(traversal)[3]
        for (i, byte) in "../".utf8.enumerated() {
            traversal[entry.centralName + i] = byte
            traversal[entry.localName + i] = byte
        }
        cases.append(("traversal", traversal, ["climbs out of the archive", "refusing a hostile or corrupt archive"]))
        // A zip bomb in the default voice's place.
        cases.append(("bomb", try ZipFixtures.bytes("bomb.zip"), ["declares 8388608 bytes, more than the 1048576-byte limit"]))
        // A truncated archive.
        let good = try ZipFixtures.bytes("spkrec-xvect-dim32.zip")
        cases.append(("truncated", Array(good.prefix(good.count - 30)), ["end-of-central-directory record not found"]))
        // Not a zip at all.
        cases.append(("text", Array("<html>rate limited</html>".utf8), ["not a zip archive"]))
        // 512-value vectors for a model that takes 32.
        cases.append(("dim512", try ZipFixtures.bytes("spkrec-xvect-dim512.zip"), ["voice 'slt'", "has 512 values, the model expects 32"]))

        for (label, bytes, fragments) in cases {
            try? FileManager.default.removeItem(atPath: cacheDirectory)
            try addArchive(bytes)
            let hub = try startHub()
            let result = try run(["say", "Hi."], hub: hub)
            expectFailure(result, fragments)
            XCTAssertTrue(result.stderr.contains("spkrec-xvect.zip"), "\(label): \(result.stderr)")
            hub.stop()
        }
    }

    func testUnknownVoiceIsRefusedBeforeAnyDownload() throws {
        try addDefaultRepos()
        let hub = try startHub()
        try VoiceStore(directory: voicesDirectory.path).save([Float](repeating: 0.5, count: 16), as: "tiny")
        expectFailure(try run(["say", "Hi.", "--voice", "nobody"], hub: hub),
                      ["argument 'voice': unknown voice 'nobody'", "presets are slt (default), clb, bdl, rms, awb, jmk, ksp",
                       "your voices: tiny", "--speaker FILE"])
        XCTAssertEqual(try hub.requestsSync().count, 0, "nothing was asked of the hub")
        // A user voice of the wrong dimension.
        expectFailure(try run(["say", "Hi.", "--voice", "tiny"], hub: hub), ["tiny.npy", "has 16 values, the model expects 32"])
        // An utterance the archive does not have.
        expectFailure(try run(["say", "Hi.", "--voice", "awb_a0003"], hub: hub),
                      ["has no entry spkrec-xvect/cmu_us_awb_arctic-wav-arctic_a0003.npy"])
        // A speaker file that is not there.
        expectFailure(try run(["say", "Hi.", "--speaker", "nothing.npy"], hub: hub), ["file not found: nothing.npy"])
        // Both --voice and --speaker: a usage error.
        let both = try run(["say", "Hi.", "--voice", "slt", "--speaker", "x.npy"], hub: hub)
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("give either --voice or --speaker, not both"), both.stderr)
        // Empty text, before anything is fetched.
        expectFailure(try run(["say", "  "], hub: nil), ["text: the text contains only whitespace"])
        expectFailure(try run(["synthesize", ""], hub: nil), ["text: the text is empty"])
    }
}

extension FakeHub {
    /// ``requests()`` from synchronous test code.
    func requestsSync() throws -> [LoggedRequest] {
        let hub = UncheckedSendable(self)
        return try blockingTestWait { try await hub.value.requests() }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

private final class TestResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// Waits for an async operation from synchronous test code.
func blockingTestWait<T>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let box = TestResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.result = .success(try await operation()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try XCTUnwrap(box.result).get()
}
