import Foundation
import XCTest

@testable import SpeechT5

/// The cache is shared with Python's `huggingface_hub` in both directions. `Fixtures/hub/hf_cache.tar` (made by
/// scripts/hub/make_hf_cache_fixture.sh) holds a cache that the real `huggingface_hub` wrote while downloading
/// from the fake hub, the repo tree it was served from, and a manifest. The tar keeps the snapshot symlinks
/// exactly (SwiftPM's resource copy and some checkouts would not); it is unpacked at test time.
final class HubCacheCompatTests: HubTestCase {
    struct Manifest: Decodable {
        struct Download: Decodable {
            let repo_type: String
            let repo_id: String
            let revision: String
            let filename: String
            let commit: String
            let sha256: String
            let size: Int
            let path: String
            let link: String

            var repo: HubRepo { HubRepo(id: repo_id, type: repo_type == "dataset" ? .dataset : .model) }
        }

        struct Missing: Decodable {
            let repo_type: String
            let repo_id: String
            let revision: String
            let filename: String

            var repo: HubRepo { HubRepo(id: repo_id, type: repo_type == "dataset" ? .dataset : .model) }
        }

        let huggingface_hub_version: String
        let downloads: [Download]
        let missing: [Missing]
    }

    var fixture: URL!
    var manifest: Manifest!
    var pythonCache: String { fixture.appendingPathComponent("hf_cache").path }

    override func setUpWithError() throws {
        try super.setUpWithError()
        let tarball = HubTestPaths.packageRoot.appendingPathComponent("Tests/SpeechT5Tests/Fixtures/hub/hf_cache.tar").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: tarball), "missing fixture \(tarball)")
        guard let tar = HubTestPaths.executable(named: "tar") else { throw XCTSkip("tar is not on PATH") }
        fixture = workDirectory.appendingPathComponent("fixture")
        try FileManager.default.createDirectory(at: fixture, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tar)
        process.arguments = ["-xf", tarball, "-C", fixture.path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "tar -xf failed")
        let data = try Data(contentsOf: fixture.appendingPathComponent("manifest.json"))
        manifest = try JSONDecoder().decode(Manifest.self, from: data)
        XCTAssertFalse(manifest.downloads.isEmpty)
    }

    // MARK: Python wrote it, Swift reads it

    func testReadsACacheWrittenByHuggingFaceHubOffline() async throws {
        let client = client(nil, offline: true, cache: pythonCache)
        for entry in manifest.downloads {
            let path = try await client.file(entry.filename, in: entry.repo, revision: entry.revision)
            XCTAssertEqual(path, pythonCache + "/" + entry.path, entry.filename)
            let content = try bytes(at: path)
            XCTAssertEqual(content.count, entry.size)
            XCTAssertEqual(sha256Hex(content), entry.sha256, "\(entry.repo_id)/\(entry.filename)@\(entry.revision)")
            let byCommit = try await client.file(entry.filename, in: entry.repo, revision: entry.commit)
            XCTAssertEqual(byCommit, path)
        }
        for entry in manifest.missing {
            let error = await expectError { _ = try await client.file(entry.filename, in: entry.repo, revision: entry.revision) }
            XCTAssertEqual(error as? HubError, .entryNotFound(repo: entry.repo, revision: entry.revision, filename: entry.filename),
                           "huggingface_hub's .no_exist marker is honoured")
        }
    }

    func testModelSnapshotAndVoiceArchiveFromAPythonCacheOffline() async throws {
        let client = client(nil, offline: true, cache: pythonCache)
        let directory = try await client.modelSnapshot(HubRepo(id: "fakeorg/tiny-speecht5"))
        let commit = try XCTUnwrap(manifest.downloads.first { $0.repo_id == "fakeorg/tiny-speecht5" && $0.revision == "main" }?.commit)
        XCTAssertEqual(directory, pythonCache + "/models--fakeorg--tiny-speecht5/snapshots/" + commit)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/model.safetensors"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/spm_char.model"))

        let zip = try await client.file("spkrec-xvect.zip", in: HubRepo(id: "fakeorg/tiny-xvectors", type: .dataset))
        XCTAssertTrue(zip.hasPrefix(pythonCache + "/datasets--fakeorg--tiny-xvectors/snapshots/"))
        XCTAssertEqual(Array(try bytes(at: zip).prefix(4)), [0x50, 0x4B, 0x03, 0x04], "a zip archive")
    }

    // MARK: Swift writes it the way Python does

    func testCacheWrittenByHubClientHasTheSameLayoutAsHuggingFaceHubs() async throws {
        let hub = try FakeHub(root: fixture.appendingPathComponent("repos"))
        hubs.append(hub)
        let ours = workDirectory.appendingPathComponent("swift_cache").path
        let client = client(hub, cache: ours)
        for entry in manifest.downloads {
            let path = try await client.file(entry.filename, in: entry.repo, revision: entry.revision)
            XCTAssertEqual(path, ours + "/" + entry.path)
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path), entry.link, "relative symlink target")
        }
        for entry in manifest.missing {
            _ = await expectError { _ = try await client.file(entry.filename, in: entry.repo, revision: entry.revision) }
        }

        // Same files, symlinks, refs and markers, entry for entry (lock files included: both lock blobs by etag).
        let pythonEntries = listing(pythonCache)
        let swiftEntries = listing(ours)
        XCTAssertEqual(swiftEntries, pythonEntries)
        for relative in pythonEntries {
            let python = pythonCache + "/" + relative, swift = ours + "/" + relative
            let pythonLink = try? FileManager.default.destinationOfSymbolicLink(atPath: python)
            let swiftLink = try? FileManager.default.destinationOfSymbolicLink(atPath: swift)
            XCTAssertEqual(swiftLink, pythonLink, relative)
            var isDirectory: ObjCBool = false
            if pythonLink == nil, FileManager.default.fileExists(atPath: python, isDirectory: &isDirectory), !isDirectory.boolValue {
                XCTAssertEqual(FileManager.default.contents(atPath: swift), FileManager.default.contents(atPath: python),
                               "content of \(relative)")
            }
        }
    }

    /// The real `huggingface_hub` reads a cache that HubClient wrote, offline. Needs a Python that can import
    /// huggingface_hub (the reference venv); CI has none, so there it is skipped.
    func testHuggingFaceHubReadsACacheWrittenByHubClient() async throws {
        guard let python = pythonWithHuggingFaceHub() else {
            throw XCTSkip("no Python with huggingface_hub (.venv-reference or python3): cross-check skipped")
        }
        let hub = try FakeHub(root: fixture.appendingPathComponent("repos"))
        hubs.append(hub)
        let ours = workDirectory.appendingPathComponent("swift_cache").path
        let client = client(hub, cache: ours)
        var expected: [String] = []
        for entry in manifest.downloads {
            let path = try await client.file(entry.filename, in: entry.repo, revision: entry.revision)
            expected.append(path)
        }
        hub.stop()

        let requests = manifest.downloads.map { [$0.repo_id, $0.filename, $0.repo_type, $0.revision] }
        let script = """
        import json, sys
        from huggingface_hub import hf_hub_download, scan_cache_dir
        paths = [hf_hub_download(r, f, repo_type=t, revision=v) for r, f, t, v in json.loads(sys.argv[1])]
        info = scan_cache_dir()
        print(json.dumps({"paths": paths, "warnings": [str(w) for w in info.warnings], "repos": len(info.repos)}))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, String(decoding: try JSONSerialization.data(withJSONObject: requests), as: UTF8.self)]
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        environment["HF_HUB_CACHE"] = ours
        environment["HF_HOME"] = workDirectory.appendingPathComponent("hf_home").path
        environment["HF_HUB_DISABLE_TELEMETRY"] = "1"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: data, as: UTF8.self))
        struct Report: Decodable { let paths: [String]; let warnings: [String]; let repos: Int }
        let report = try JSONDecoder().decode(Report.self, from: data)
        XCTAssertEqual(report.paths, expected)
        XCTAssertEqual(report.warnings, [])
        XCTAssertEqual(report.repos, 2)
    }

    private func pythonWithHuggingFaceHub() -> String? {
        let candidates = [HubTestPaths.packageRoot.appendingPathComponent(".venv-reference/bin/python").path] + [HubTestPaths.python3].compactMap { $0 }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: candidate)
            process.arguments = ["-c", "import huggingface_hub"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { continue }
            process.waitUntilExit()
            if process.terminationStatus == 0 { return candidate }
        }
        return nil
    }
}
