import Foundation
import XCTest

@testable import SpeechT5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HubClient against the fake hub: downloads, redirects, resume, verification, errors, offline use, locking.
final class HubClientTests: HubTestCase {
    let config = Array(#"{"model_type": "speecht5", "hidden_size": 8}"#.utf8)
    let weights = hubTestBytes(200_000, seed: 7)

    // MARK: HEAD / GET / redirects

    func testDownloadsRegularAndLFSFilesIntoHubLayout() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config, "model.safetensors": weights])
        let hub = try startHub()
        let client = client(hub)
        let configPath = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        let weightsPath = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: configPath), config)
        XCTAssertEqual(try bytes(at: weightsPath), weights)

        let storage = cacheDirectory + "/models--fakeorg--tiny"
        let commit = try String(contentsOfFile: storage + "/refs/main", encoding: .utf8)
        XCTAssertTrue(HubValidation.isCommitHash(commit), "refs/main holds the bare commit id: '\(commit)'")
        XCTAssertEqual(configPath, "\(storage)/snapshots/\(commit)/config.json")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: configPath), "../../blobs/\(gitBlobID(config))")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: weightsPath), "../../blobs/\(sha256Hex(weights))")
        XCTAssertEqual(listing(storage + "/blobs"), [gitBlobID(config), sha256Hex(weights)].sorted())
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheDirectory + "/.locks/models--fakeorg--tiny/\(sha256Hex(weights)).lock"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheDirectory + "/CACHEDIR.TAG"))

        let requests = try await hub.requests()
        XCTAssertEqual(requests.filter { $0.method == "GET" && $0.server == "cdn" }.count, 1, "LFS content comes from the CDN origin")
        XCTAssertEqual(requests.filter { $0.method == "HEAD" }.count, 2)
    }

    func testSecondCallUsesCacheAfterOneHead() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub()
        let client = client(hub)
        let first = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        let second = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(first, second)
        let requests = try await hub.requests()
        XCTAssertEqual(requests.filter { $0.method == "GET" }.count, 1)
        XCTAssertEqual(requests.filter { $0.method == "HEAD" }.count, 2, "a branch is re-checked, the content is not re-fetched")
    }

    func testFollowsSameOriginRedirectsOfResolveCacheAndRenamedRepos() async throws {
        try tree.add("fakeorg/new-name", files: ["config.json": config, "model.safetensors": weights])
        try tree.mark("fakeorg/old-name", ".moved-to", content: "fakeorg/new-name")
        let hub = try startHub(["--resolve-cache"])
        let client = client(hub, token: "hf_fake_token")
        let path = try await client.file("config.json", in: HubRepo(id: "fakeorg/old-name"))
        XCTAssertEqual(try bytes(at: path), config)
        XCTAssertTrue(path.contains("models--fakeorg--old-name"), "cached under the name that was asked for, as huggingface_hub does")
        let weightsPath = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/old-name"))
        XCTAssertEqual(try bytes(at: weightsPath), weights)
        let requests = try await hub.requests()
        XCTAssertTrue(requests.contains { $0.path.hasPrefix("/api/resolve-cache/models/fakeorg/new-name/") })
        XCTAssertTrue(requests.contains { $0.path.hasPrefix("/fakeorg/new-name/resolve/main/") })
    }

    func testTokenGoesToTheHubButNotToTheLFSStore() async throws {
        try tree.add("fakeorg/secret", files: ["config.json": config, "model.safetensors": weights])
        try tree.mark("fakeorg/secret", ".private")
        let hub = try startHub()
        let path = try await client(hub, token: "hf_fake_token").file("model.safetensors", in: HubRepo(id: "fakeorg/secret"))
        XCTAssertEqual(try bytes(at: path), weights)
        let requests = try await hub.requests()
        XCTAssertTrue(requests.filter { $0.server == "hub" }.allSatisfy { $0.authorization == "Bearer hf_fake_token" })
        let cdn = requests.filter { $0.server == "cdn" }
        XCTAssertFalse(cdn.isEmpty)
        XCTAssertTrue(cdn.allSatisfy { $0.authorization == nil }, "the token must not leave the hub's origin")
    }

    func testTokenIsKeptForAnLFSStoreOnTheSameOrigin() async throws {
        try tree.add("fakeorg/secret", files: ["model.safetensors": weights])
        try tree.mark("fakeorg/secret", ".private")
        let hub = try startHub(["--lfs-same-origin"])
        let path = try await client(hub, token: "hf_fake_token").file("model.safetensors", in: HubRepo(id: "fakeorg/secret"))
        XCTAssertEqual(try bytes(at: path), weights)
        let store = try await hub.requests().filter { $0.path.hasPrefix("/lfs-store/") }
        XCTAssertEqual(store.first?.authorization, "Bearer hf_fake_token")
    }

    func testNestedFileNameLinksWithDeeperRelativePath() async throws {
        let nested = Array("hello".utf8)
        try tree.add("fakeorg/tiny", files: ["sub dir/notes v1.txt": nested])
        let hub = try startHub()
        let path = try await client(hub).file("sub dir/notes v1.txt", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path), nested)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path), "../../../blobs/\(gitBlobID(nested))")
    }

    func testEmptyFile() async throws {
        try tree.add("fakeorg/tiny", files: ["empty.txt": []])
        let hub = try startHub()
        let path = try await client(hub).file("empty.txt", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path), [])
    }

    // MARK: Resume and verification

    func testResumesAfterTheConnectionIsCutMidFile() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights, "config.json": config])
        let hub = try startHub(["--cut-once", "--chunk-size", "8192"])
        let client = client(hub)
        let path = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path), weights)
        let configPath = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: configPath), config)

        let gets = try await hub.requests().filter { $0.method == "GET" }
        let lfsGets = gets.filter { $0.server == "cdn" }
        XCTAssertEqual(lfsGets.count, 2, "one cut transfer, one resumed: \(lfsGets)")
        XCTAssertNil(lfsGets.first?.range)
        let resumedFrom = try XCTUnwrap(lfsGets.last?.range)
        XCTAssertTrue(resumedFrom.hasPrefix("bytes=") && resumedFrom != "bytes=0-", resumedFrom)
        XCTAssertEqual(gets.filter { $0.server == "hub" }.count, 2, "the regular file was cut and resumed too")
        XCTAssertFalse(listing(cacheDirectory).contains { $0.hasSuffix(".incomplete") })
    }

    func testResumesAnIncompleteBlobLeftByAnEarlierRun() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub()
        let blobs = cacheDirectory + "/models--fakeorg--tiny/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        try Data(weights[0 ..< 12_345]).write(to: URL(fileURLWithPath: "\(blobs)/\(sha256Hex(weights)).incomplete"))
        let path = try await client(hub).file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path), weights)
        let gets = try await hub.requests().filter { $0.method == "GET" }
        XCTAssertEqual(gets.map(\.range), ["bytes=12345-"])
        XCTAssertEqual(listing(blobs), [sha256Hex(weights)])
    }

    func testCorruptIncompletePrefixIsDetectedDeletedAndRedownloaded() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub()
        let blobs = cacheDirectory + "/models--fakeorg--tiny/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        try Data(repeating: 0xAB, count: 5000).write(to: URL(fileURLWithPath: "\(blobs)/\(sha256Hex(weights)).incomplete"))
        let client = client(hub)
        let error = await expectError { _ = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .integrityCheckFailed(_, let filename, let reason)? = error as? HubError else {
            return XCTFail("expected integrityCheckFailed, got \(String(describing: error))")
        }
        XCTAssertEqual(filename, "model.safetensors")
        XCTAssertTrue(reason.contains("sha256"), reason)
        XCTAssertEqual(listing(blobs), [], "the damaged file is deleted, nothing is left to be used")
        XCTAssertFalse(listing(cacheDirectory).contains { $0.contains("snapshots/") && $0.hasSuffix("model.safetensors") })
        let path = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path), weights)
    }

    func testSHA256MismatchFromTheServerDeletesAndFails() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub(["--corrupt", "model.safetensors"])
        let error = await expectError { _ = try await self.client(hub).file("model.safetensors", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .integrityCheckFailed(_, _, let reason)? = error as? HubError else {
            return XCTFail("expected integrityCheckFailed, got \(String(describing: error))")
        }
        XCTAssertTrue(reason.contains(sha256Hex(weights)), reason)
        XCTAssertEqual(listing(cacheDirectory + "/models--fakeorg--tiny/blobs"), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheDirectory + "/models--fakeorg--tiny/snapshots"))
        XCTAssertFalse((error as? HubError)?.description.contains("\n") ?? true)
    }

    func testGitBlobMismatchOfARegularFileFails() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub(["--corrupt", "config.json"])
        let error = await expectError { _ = try await self.client(hub).file("config.json", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .integrityCheckFailed(_, _, let reason)? = error as? HubError else {
            return XCTFail("expected integrityCheckFailed, got \(String(describing: error))")
        }
        XCTAssertTrue(reason.contains("git blob id"), reason)
        XCTAssertEqual(listing(cacheDirectory + "/models--fakeorg--tiny/blobs"), [])
    }

    func testGivesUpWithInterruptedAndKeepsThePartialFileForLater() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub()
        let client = client(hub)
        // Real metadata, but the content lives at an address that refuses every connection.
        let metadata = try await client.fetchMetadata("model.safetensors", in: HubRepo(id: "fakeorg/tiny"), revision: "main",
                                                      displayRevision: "main")
        let dead = HubFileMetadata(commit: metadata.commit, etag: metadata.etag, size: metadata.size,
                                   downloadURL: try XCTUnwrap(URL(string: "http://127.0.0.1:\(HubTestPaths.closedPort())/lfs-store/x")))
        let blob = cacheDirectory + "/blob"
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try Data(weights[0 ..< 100]).write(to: URL(fileURLWithPath: blob + ".incomplete"))
        let error = await expectError { try await client.download(dead, filename: "model.safetensors", repo: HubRepo(id: "fakeorg/tiny"), to: blob) }
        guard case .interrupted(_, _, let received, let expected, let reason)? = error as? HubError else {
            return XCTFail("expected interrupted, got \(String(describing: error))")
        }
        XCTAssertEqual(received, 100)
        XCTAssertEqual(expected, Int64(weights.count))
        XCTAssertEqual(reason, "connection refused")
        XCTAssertEqual(HubFileSystem.fileSize(blob + ".incomplete"), 100, "kept for the next run to resume")
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob))
    }

    // MARK: Errors

    func testUnknownRepoMissingFileAndUnknownRevision() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub()
        let client = client(hub)
        var error = await expectError { _ = try await client.file("config.json", in: HubRepo(id: "fakeorg/nothing")) }
        XCTAssertEqual(error as? HubError, .repositoryNotFound(repo: HubRepo(id: "fakeorg/nothing"), endpoint: hub.endpoint, tokenSent: false))
        XCTAssertTrue("\(error!)".contains("HF_TOKEN"))

        error = await expectError { _ = try await client.file("absent.json", in: HubRepo(id: "fakeorg/tiny")) }
        XCTAssertEqual(error as? HubError, .entryNotFound(repo: HubRepo(id: "fakeorg/tiny"), revision: "main", filename: "absent.json"))
        XCTAssertEqual("\(error!)", "file 'absent.json' not found in model 'fakeorg/tiny' at revision 'main'")
        // Like huggingface_hub, the miss is remembered under .no_exist/<commit>/.
        let commit = try String(contentsOfFile: cacheDirectory + "/models--fakeorg--tiny/refs/main", encoding: .utf8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(cacheDirectory!)/models--fakeorg--tiny/.no_exist/\(commit)/absent.json"))

        error = await expectError { _ = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny"), revision: "v9") }
        XCTAssertEqual(error as? HubError, .revisionNotFound(repo: HubRepo(id: "fakeorg/tiny"), revision: "v9"))
    }

    func testUnknownRepoAnswered401WithoutTokenSaysToSetHFToken() async throws {
        let hub = try startHub(["--hide-unknown-repos"])
        let error = await expectError { _ = try await self.client(hub).file("config.json", in: HubRepo(id: "fakeorg/nothing")) }
        XCTAssertEqual(error as? HubError, .authenticationRequired(repo: HubRepo(id: "fakeorg/nothing"), endpoint: hub.endpoint))
        XCTAssertTrue("\(error!)".contains("set HF_TOKEN"))
    }

    func testPrivateRepoWithoutWithBadAndWithGoodToken() async throws {
        try tree.add("fakeorg/secret", files: ["config.json": config])
        try tree.mark("fakeorg/secret", ".private")
        let hub = try startHub()
        let repo = HubRepo(id: "fakeorg/secret")
        var error = await expectError { _ = try await self.client(hub).file("config.json", in: repo) }
        XCTAssertEqual(error as? HubError, .authenticationRequired(repo: repo, endpoint: hub.endpoint))
        XCTAssertTrue("\(error!)".contains("set HF_TOKEN"), "\(error!)")

        error = await expectError { _ = try await self.client(hub, token: "hf_wrong").file("config.json", in: repo) }
        XCTAssertEqual(error as? HubError, .tokenRejected(repo: repo, endpoint: hub.endpoint))
        XCTAssertTrue("\(error!)".contains("HF_TOKEN"), "\(error!)")

        let path = try await client(hub, token: "hf_fake_token").file("config.json", in: repo)
        XCTAssertEqual(try bytes(at: path), config)
    }

    func testGatedRepo() async throws {
        try tree.add("fakeorg/gated", files: ["config.json": config])
        try tree.mark("fakeorg/gated", ".gated")
        let hub = try startHub()
        let error = await expectError { _ = try await self.client(hub).file("config.json", in: HubRepo(id: "fakeorg/gated")) }
        XCTAssertEqual(error as? HubError, .gatedRepository(repo: HubRepo(id: "fakeorg/gated"), endpoint: hub.endpoint))
    }

    func testNoNetworkConnectionRefusedAndUnknownHost() async throws {
        let refused = client(nil, endpoint: "http://127.0.0.1:\(HubTestPaths.closedPort())")
        var error = await expectError { _ = try await refused.file("config.json", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .network(_, let reason, _, _, _)? = error as? HubError else {
            return XCTFail("expected a network error, got \(String(describing: error))")
        }
        XCTAssertEqual(reason, "connection refused")
        let text = "\(error!)"
        XCTAssertTrue(text.contains("HF_HUB_OFFLINE") && text.contains(cacheDirectory), text)
        XCTAssertFalse(text.contains("\n"))

        let unknownHost = client(nil, endpoint: "http://hub.invalid")
        error = await expectError { _ = try await unknownHost.file("config.json", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .network(_, let dnsReason, _, _, _)? = error as? HubError else {
            return XCTFail("expected a network error, got \(String(describing: error))")
        }
        XCTAssertTrue(["host not found", "timed out"].contains(dnsReason), dnsReason)
    }

    func testUnreachableHubFallsBackToTheCache() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub()
        let online = try await client(hub).file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        hub.stop()
        let path = try await client(nil, endpoint: hub.endpoint).file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(path, online)
    }

    func testDiskFullLeavesNothingBehind() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub(["--chunk-size", "4096"])
        var client = client(hub)
        client.hooks.writeFailure = { _, offset in offset >= 8192 ? ENOSPC : nil }
        let error = await expectError { _ = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .writeFailed(let path, let reason)? = error as? SpeechT5Error else {
            return XCTFail("expected writeFailed, got \(String(describing: error))")
        }
        XCTAssertTrue(path.hasSuffix("/blobs/\(sha256Hex(weights))"), path)
        XCTAssertTrue(reason.contains("No space left on device"), reason)
        XCTAssertEqual(listing(cacheDirectory + "/models--fakeorg--tiny/blobs"), [], "no .incomplete, no blob")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheDirectory + "/models--fakeorg--tiny/snapshots"))

        client.hooks.writeFailure = nil
        let path2 = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path2), weights)
    }

    func testUnwritableCacheIsAWriteFailure() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub()
        // The cache root is a regular file: no directory can be made below it (whoever runs the test, root too).
        try FileManager.default.createDirectory(atPath: (cacheDirectory as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: cacheDirectory))
        let error = await expectError { _ = try await self.client(hub).file("config.json", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .writeFailed(let path, _)? = error as? SpeechT5Error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertTrue(path.hasPrefix(cacheDirectory), path)
    }

    func testCacheThatCannotTakeARefUpdateStillServesACachedFile() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub()
        let path = try await client(hub).file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        // Make refs/main unwritable in a way that holds for root too: a directory where the file should be.
        let ref = cacheDirectory + "/models--fakeorg--tiny/refs/main"
        try FileManager.default.removeItem(atPath: ref)
        try FileManager.default.createDirectory(atPath: ref + "/blocked", withIntermediateDirectories: true)
        let again = try await client(hub).file("config.json", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(again, path, "updating the ref is best effort when the file is already cached")
    }

    func testMalformedArgumentsAreRejectedBeforeAnyRequest() async throws {
        let client = client(nil)
        for id in ["", "a/b/c", "../x", "org/..", "org/na--me", "org/name.git", "-org/name"] {
            let error = await expectError { _ = try await client.file("config.json", in: HubRepo(id: id)) }
            guard case .invalidArgument(let name, _, _)? = error as? HubError else { return XCTFail("\(id): \(String(describing: error))") }
            XCTAssertEqual(name, "repo id")
        }
        for filename in ["", "/etc/passwd", "../x", "a//b", "a/./b"] {
            let error = await expectError { _ = try await client.file(filename, in: HubRepo(id: "org/name")) }
            guard case .invalidArgument(let name, _, _)? = error as? HubError else { return XCTFail("\(filename): \(String(describing: error))") }
            XCTAssertEqual(name, "file name")
        }
        for revision in ["", "../main", "refs//x", "a\nb"] {
            let error = await expectError { _ = try await client.file("config.json", in: HubRepo(id: "org/name"), revision: revision) }
            guard case .invalidArgument(let name, _, _)? = error as? HubError else { return XCTFail("\(revision): \(String(describing: error))") }
            XCTAssertEqual(name, "revision")
        }
    }

    // MARK: Offline

    func testOfflineWithEmptyCache() async throws {
        let client = client(nil, offline: true)
        let error = await expectError { _ = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny")) }
        XCTAssertEqual(error as? HubError, .offlineNotCached(repo: HubRepo(id: "fakeorg/tiny"), revision: "main",
                                                             filename: "config.json", cacheDirectory: cacheDirectory))
        XCTAssertTrue("\(error!)".contains("HF_HUB_OFFLINE"))
    }

    func testOfflineWithCacheMakesNoRequests() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config, "model.safetensors": weights])
        let hub = try startHub()
        let online = try await client(hub).file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        let before = try await hub.requests().count
        let offline = client(hub, offline: true)
        let byBranch = try await offline.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(byBranch, online)
        let commit = try String(contentsOfFile: cacheDirectory + "/models--fakeorg--tiny/refs/main", encoding: .utf8)
        let byCommit = try await offline.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"), revision: commit)
        XCTAssertEqual(byCommit, online)
        let missing = await expectError { _ = try await offline.file("config.json", in: HubRepo(id: "fakeorg/tiny")) }
        guard case .offlineNotCached? = missing as? HubError else { return XCTFail("got \(String(describing: missing))") }
        let after = try await hub.requests().count
        XCTAssertEqual(before, after, "offline mode sends nothing")
    }

    func testOfflineFromEnvironmentVariables() throws {
        let configuration = HubConfiguration.fromEnvironment(["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": "/x/cache", "HOME": "/home/u"])
        XCTAssertTrue(configuration.offline)
        XCTAssertEqual(configuration.cacheDirectory, "/x/cache")
    }

    // MARK: Revisions and repo types

    func testBranchThenCommitHashThenAnotherBranch() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let v2 = Array(#"{"model_type": "speecht5", "hidden_size": 16}"#.utf8)
        try tree.add("fakeorg/tiny", revision: "v2", files: ["config.json": v2])
        let hub = try startHub()
        let client = client(hub)
        let main = try await client.resolve("config.json", in: HubRepo(id: "fakeorg/tiny"), revision: "main")
        let other = try await client.resolve("config.json", in: HubRepo(id: "fakeorg/tiny"), revision: "v2")
        XCTAssertNotEqual(main.commit, other.commit)
        XCTAssertEqual(try bytes(at: main.path), config)
        XCTAssertEqual(try bytes(at: other.path), v2)
        XCTAssertEqual(listing(cacheDirectory + "/models--fakeorg--tiny/refs"), ["main", "v2"])

        // By commit id in a fresh cache: no ref is written (the revision is the commit).
        let freshCache = workDirectory.appendingPathComponent("cache2").path
        let byCommit = try await self.client(hub, cache: freshCache).resolve("config.json", in: HubRepo(id: "fakeorg/tiny"), revision: main.commit)
        XCTAssertEqual(try bytes(at: byCommit.path), config)
        XCTAssertEqual(byCommit.commit, main.commit)
        XCTAssertFalse(FileManager.default.fileExists(atPath: freshCache + "/models--fakeorg--tiny/refs"))

        // A cached commit is answered without the network.
        let before = try await hub.requests().count
        _ = try await client.file("config.json", in: HubRepo(id: "fakeorg/tiny"), revision: main.commit)
        let after = try await hub.requests().count
        XCTAssertEqual(before, after)
    }

    func testRevisionWithSlashIsEncodedAndStoredUnderNestedRefs() async throws {
        let safetensors = hubTestBytes(1000, seed: 5)
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        try tree.add("fakeorg/tiny", revision: "pr1", files: ["config.json": config, "model.safetensors": safetensors])
        try tree.mark("fakeorg/tiny", ".refs.json", content: #"{"refs/pr/1": "pr1"}"#)
        let hub = try startHub()
        let client = client(hub)
        let resolved = try await client.resolve("model.safetensors", in: HubRepo(id: "fakeorg/tiny"), revision: "refs/pr/1")
        XCTAssertEqual(try bytes(at: resolved.path), safetensors)
        let ref = try String(contentsOfFile: cacheDirectory + "/models--fakeorg--tiny/refs/refs/pr/1", encoding: .utf8)
        XCTAssertEqual(ref, resolved.commit)
        let logged = try await hub.requests().first?.path
        XCTAssertEqual(logged, "/fakeorg/tiny/resolve/refs%2Fpr%2F1/model.safetensors")
        let offline = try await self.client(hub, offline: true).file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"), revision: "refs/pr/1")
        XCTAssertEqual(offline, resolved.path)
    }

    func testDatasetRepoAndSpeakerArchive() async throws {
        let archive = hubTestBytes(4096, seed: 3)
        try tree.add("Matthijs/cmu-arctic-xvectors", type: .dataset, files: ["spkrec-xvect.zip": archive])
        try tree.add("fakeorg/voices", type: .dataset, files: ["readme.txt": Array("voices".utf8)])
        let hub = try startHub()
        let client = client(hub)
        let path = try await client.speakerEmbeddingArchive()
        XCTAssertEqual(try bytes(at: path), archive)
        XCTAssertTrue(path.hasPrefix(cacheDirectory + "/datasets--Matthijs--cmu-arctic-xvectors/snapshots/"), path)
        let readme = try await client.file("readme.txt", in: HubRepo(id: "fakeorg/voices", type: .dataset))
        XCTAssertEqual(try bytes(at: readme), Array("voices".utf8))
        let requests = try await hub.requests()
        XCTAssertTrue(requests.contains { $0.path == "/datasets/Matthijs/cmu-arctic-xvectors/resolve/main/spkrec-xvect.zip" })
        // A model repo of the same name does not exist.
        let error = await expectError { _ = try await client.file("readme.txt", in: HubRepo(id: "fakeorg/voices")) }
        guard case .repositoryNotFound? = error as? HubError else { return XCTFail("got \(String(describing: error))") }
    }

    // MARK: Concurrency

    func testConcurrentDownloadsOfTheSameFileShareOneTransfer() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub(["--throttle", "0.01", "--chunk-size", "8192"])
        let client = client(hub)
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0 ..< 4 {
                group.addTask { try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny")) }
            }
            var paths: [String] = []
            for try await path in group { paths.append(path) }
            return paths
        }
        XCTAssertEqual(Set(paths).count, 1)
        XCTAssertEqual(try bytes(at: paths[0]), weights)
        let gets = try await hub.requests().filter { $0.method == "GET" }
        XCTAssertEqual(gets.count, 1, "the blob lock lets one task download while the others wait")
        XCTAssertEqual(listing(cacheDirectory + "/models--fakeorg--tiny/blobs"), [sha256Hex(weights)])
    }

    func testSlowButSteadyTransferOutlastsTheStallTimeout() async throws {
        let payload = hubTestBytes(48 * 1024, seed: 11)
        try tree.add("fakeorg/tiny", files: ["model.safetensors": payload])
        let hub = try startHub(["--throttle", "0.1", "--chunk-size", "2048"])  // about 2.4 s in all
        let configuration = HubConfiguration(endpoint: hub.endpoint, cacheDirectory: cacheDirectory, progress: .never,
                                             metadataTimeout: 5, downloadTimeout: 1)
        let path = try await HubClient(configuration: configuration).file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(try bytes(at: path), payload)
        let ranges = try await hub.requests().compactMap(\.range)
        XCTAssertEqual(ranges, [], "the stall timeout is not a total timeout: no resume was needed")
    }

    // MARK: Progress

    func testProgressIsSilentWhenNotATerminal() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub()
        var descriptors: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&descriptors), 0)
        defer { close(descriptors[0]) }
        let configuration = HubConfiguration(endpoint: hub.endpoint, cacheDirectory: cacheDirectory, progress: .automatic)
        var client = HubClient(configuration: configuration)
        client.hooks.progressDescriptor = descriptors[1]
        _ = try await client.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        close(descriptors[1])
        let output = FileHandle(fileDescriptor: descriptors[0]).readDataToEndOfFile()
        XCTAssertEqual(output.count, 0, "nothing is written to a pipe")
    }

    func testProgressIsDrawnOnATerminalUnlessDisabled() async throws {
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub()
        guard let (master, name) = openPseudoTerminal() else { throw XCTSkip("no pseudo-terminal available") }
        defer { close(master) }
        let slave = open(name, O_RDWR | O_NOCTTY)
        XCTAssertGreaterThanOrEqual(slave, 0)
        defer { close(slave) }
        XCTAssertEqual(isatty(slave), 1)

        var disabled = HubClient(configuration: HubConfiguration(endpoint: hub.endpoint, cacheDirectory: cacheDirectory + "-a", progress: .never))
        disabled.hooks.progressDescriptor = slave
        _ = try await disabled.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        XCTAssertEqual(readAvailable(master), "", "progress .never draws nothing")

        var enabled = HubClient(configuration: HubConfiguration(endpoint: hub.endpoint, cacheDirectory: cacheDirectory + "-b", progress: .automatic))
        enabled.hooks.progressDescriptor = slave
        _ = try await enabled.file("model.safetensors", in: HubRepo(id: "fakeorg/tiny"))
        let drawn = readAvailable(master)
        XCTAssertTrue(drawn.contains("model.safetensors") && drawn.contains("100%"), drawn)
        XCTAssertTrue(drawn.hasSuffix("\n") || drawn.hasSuffix("\r\n"), drawn)
    }

    /// posix_openpt/grantpt/unlockpt/ptsname, looked up at run time (Glibc's module map does not export them).
    private func openPseudoTerminal() -> (Int32, String)? {
        typealias OpenPT = @convention(c) (Int32) -> Int32
        typealias OnFD = @convention(c) (Int32) -> Int32
        typealias PTSName = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        guard let openSymbol = dlsym(nil, "posix_openpt"), let grantSymbol = dlsym(nil, "grantpt"),
              let unlockSymbol = dlsym(nil, "unlockpt"), let nameSymbol = dlsym(nil, "ptsname") else { return nil }
        let master = unsafeBitCast(openSymbol, to: OpenPT.self)(O_RDWR | O_NOCTTY)
        guard master >= 0 else { return nil }
        guard unsafeBitCast(grantSymbol, to: OnFD.self)(master) == 0, unsafeBitCast(unlockSymbol, to: OnFD.self)(master) == 0,
              let name = unsafeBitCast(nameSymbol, to: PTSName.self)(master) else {
            close(master)
            return nil
        }
        return (master, String(cString: name))
    }

    private func readAvailable(_ descriptor: Int32) -> String {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        var collected = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            collected += buffer[0 ..< count]
        }
        return String(decoding: collected, as: UTF8.self)
    }
}
