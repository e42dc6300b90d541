import Foundation
import XCTest

@testable import SpeechT5

/// Pieces of the hub client that need no server: hashing, configuration, URL and header rules, errors.
final class HubUnitTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(sha256Hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256IsIndependentOfChunking() {
        let bytes = hubTestBytes(10_000, seed: 9)
        let whole = sha256Hex(bytes)
        for chunk in [1, 3, 63, 64, 65, 1000] {
            var hasher = SHA256Hasher()
            var index = 0
            while index < bytes.count {
                hasher.update(bytes[index ..< min(bytes.count, index + chunk)])
                index += chunk
            }
            XCTAssertEqual(hexString(hasher.finalize()), whole, "chunk \(chunk)")
        }
    }

    func testSHA1AndGitBlobIDs() {
        var hasher = SHA1Hasher()
        hasher.update(Array("abc".utf8))
        XCTAssertEqual(hexString(hasher.finalize()), "a9993e364706816aba3e25717850c26c9cd0d89d")
        // `git hash-object` of an empty file and of "hello\n".
        XCTAssertEqual(gitBlobID([]), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        XCTAssertEqual(gitBlobID(Array("hello\n".utf8)), "ce013625030ba8dba906f756967f9e9ca394464a")
    }

    func testFileDigestMatchesInMemoryHashes() throws {
        let bytes = hubTestBytes(3_000_000, seed: 4)
        let directory = try HubTestPaths.temporaryDirectory("digest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("blob").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let digests = try FileDigest.compute(path: path, wantSHA256: true, wantGitSHA1: true)
        XCTAssertEqual(digests.sha256, sha256Hex(bytes))
        XCTAssertEqual(digests.gitSHA1, gitBlobID(bytes))
    }

    func testCacheRootFollowsHuggingFaceHubPrecedence() {
        let home = ["HOME": "/home/u"]
        XCTAssertEqual(HubConfiguration.fromEnvironment(home).cacheDirectory, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(HubConfiguration.fromEnvironment(home.merging(["XDG_CACHE_HOME": "/xdg"]) { $1 }).cacheDirectory,
                       "/xdg/huggingface/hub")
        XCTAssertEqual(HubConfiguration.fromEnvironment(home.merging(["HF_HOME": "/hf"]) { $1 }).cacheDirectory, "/hf/hub")
        XCTAssertEqual(HubConfiguration.fromEnvironment(home.merging(["HF_HOME": "~/hf"]) { $1 }).cacheDirectory, "/home/u/hf/hub")
        XCTAssertEqual(HubConfiguration.fromEnvironment(home.merging(["HF_HOME": "/hf", "HF_HUB_CACHE": "/c"]) { $1 }).cacheDirectory, "/c")
        XCTAssertEqual(HubConfiguration.fromEnvironment(home.merging(["HUGGINGFACE_HUB_CACHE": "/legacy"]) { $1 }).cacheDirectory, "/legacy")
    }

    func testEnvironmentEndpointTokenOfflineAndProgress() throws {
        var configuration = HubConfiguration.fromEnvironment(["HOME": "/nonexistent-home"])
        XCTAssertEqual(configuration.endpoint, "https://huggingface.co")
        XCTAssertNil(configuration.token)
        XCTAssertFalse(configuration.offline)
        XCTAssertEqual(configuration.progress, .automatic)

        configuration = HubConfiguration.fromEnvironment([
            "HOME": "/nonexistent-home", "HF_ENDPOINT": "http://127.0.0.1:8080/", "HF_TOKEN": " hf_abc \n",
            "HF_HUB_OFFLINE": "yes", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_ETAG_TIMEOUT": "3",
        ])
        XCTAssertEqual(configuration.endpoint, "http://127.0.0.1:8080")
        XCTAssertEqual(configuration.token, "hf_abc")
        XCTAssertTrue(configuration.offline)
        XCTAssertEqual(configuration.progress, .never)
        XCTAssertEqual(configuration.metadataTimeout, 3)
        XCTAssertFalse(HubConfiguration.fromEnvironment(["HF_HUB_OFFLINE": "0", "HOME": "/x"]).offline)
        XCTAssertTrue(HubConfiguration.fromEnvironment(["TRANSFORMERS_OFFLINE": "1", "HOME": "/x"]).offline)

        // The token file that `hf auth login` writes.
        let directory = try HubTestPaths.temporaryDirectory("token")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("hf_from_file\n".utf8).write(to: directory.appendingPathComponent("token"))
        XCTAssertEqual(HubConfiguration.fromEnvironment(["HF_HOME": directory.path]).token, "hf_from_file")
        XCTAssertEqual(HubConfiguration.fromEnvironment(["HF_HOME": directory.path, "HF_TOKEN": "hf_env"]).token, "hf_env")
    }

    func testResolveURLsEncodeLikeHuggingFaceHub() throws {
        let client = HubClient(configuration: HubConfiguration(cacheDirectory: "/tmp/unused"))
        XCTAssertEqual(try client.resolveURL("config.json", in: HubRepo(id: "microsoft/speecht5_tts"), revision: "main").absoluteString,
                       "https://huggingface.co/microsoft/speecht5_tts/resolve/main/config.json")
        XCTAssertEqual(try client.resolveURL("spkrec-xvect.zip", in: .cmuArcticXVectors, revision: "main").absoluteString,
                       "https://huggingface.co/datasets/Matthijs/cmu-arctic-xvectors/resolve/main/spkrec-xvect.zip")
        XCTAssertEqual(try client.resolveURL("a b/c#d.txt", in: HubRepo(id: "o/n"), revision: "refs/pr/1").absoluteString,
                       "https://huggingface.co/o/n/resolve/refs%2Fpr%2F1/a%20b/c%23d.txt")
        let bad = HubClient(configuration: HubConfiguration(endpoint: "ftp://x", cacheDirectory: "/tmp/unused"))
        XCTAssertThrowsError(try bad.resolveURL("config.json", in: HubRepo(id: "o/n"), revision: "main"))
    }

    func testTokenOnlyForTheHubsOwnOrigins() throws {
        let client = HubClient(configuration: HubConfiguration(endpoint: "http://127.0.0.1:8000", token: "t", cacheDirectory: "/tmp/unused"))
        let url = { (text: String) in URL(string: text)! }
        XCTAssertTrue(client.mayReceiveToken(url("http://127.0.0.1:8000/a")))
        XCTAssertTrue(client.mayReceiveToken(url("https://huggingface.co/a")))
        XCTAssertTrue(client.mayReceiveToken(url("https://hf.co/a")))
        XCTAssertFalse(client.mayReceiveToken(url("http://127.0.0.1:8001/a")), "another port is another origin")
        XCTAssertFalse(client.mayReceiveToken(url("https://cdn-lfs.hf.co/a")))
        XCTAssertFalse(client.mayReceiveToken(url("http://huggingface.co/a")), "scheme matters")
        XCTAssertEqual(client.headers(for: url("https://cdn-lfs.hf.co/x"))["Authorization"], nil)
        XCTAssertEqual(client.headers(for: url("http://127.0.0.1:8000/x"), range: 10)["Range"], "bytes=10-")
        XCTAssertEqual(client.headers(for: url("http://127.0.0.1:8000/x"))["Authorization"], "Bearer t")
    }

    func testEtagNormalizationAndContentRange() {
        XCTAssertEqual(HubClient.normalizeEtag("W/\"abc\""), "abc")
        XCTAssertEqual(HubClient.normalizeEtag("\"abc\""), "abc")
        XCTAssertEqual(HubClient.normalizeEtag("abc"), "abc")
        XCTAssertEqual(BlobWriter.parseContentRange("bytes 100-199/1000")?.start, 100)
        XCTAssertEqual(BlobWriter.parseContentRange("bytes 100-199/1000")?.total, 1000)
        XCTAssertNil(BlobWriter.parseContentRange("bytes */1000"))
        XCTAssertNil(BlobWriter.parseContentRange("items 1-2/3"))
    }

    func testCacheFolderNames() {
        XCTAssertEqual(HubRepo(id: "microsoft/speecht5_tts").cacheFolderName, "models--microsoft--speecht5_tts")
        XCTAssertEqual(HubRepo.cmuArcticXVectors.cacheFolderName, "datasets--Matthijs--cmu-arctic-xvectors")
        XCTAssertEqual(HubRepo(id: "gpt2").cacheFolderName, "models--gpt2")
    }

    func testErrorDescriptionsAreSingleLines() {
        let repo = HubRepo(id: "org/name")
        let errors: [HubError] = [
            .invalidArgument(name: "revision", value: "a\nb", reason: "bad"),
            .repositoryNotFound(repo: repo, endpoint: "https://huggingface.co", tokenSent: false),
            .repositoryNotFound(repo: repo, endpoint: "https://huggingface.co", tokenSent: true),
            .authenticationRequired(repo: repo, endpoint: "https://huggingface.co"),
            .tokenRejected(repo: repo, endpoint: "https://huggingface.co"),
            .gatedRepository(repo: repo, endpoint: "https://huggingface.co"),
            .revisionNotFound(repo: repo, revision: "v1"),
            .entryNotFound(repo: repo, revision: "main", filename: "x"),
            .httpStatus(url: "https://huggingface.co/x", status: 503, message: "down\nfor maintenance"),
            .network(url: "https://huggingface.co", reason: "host not found", repo: repo, filename: "x", cacheDirectory: "/c"),
            .offlineNotCached(repo: repo, revision: "main", filename: "x", cacheDirectory: "/c"),
            .invalidResponse(url: "http://x", reason: "no X-Repo-Commit header"),
            .integrityCheckFailed(repo: repo, filename: "x", reason: "sha256 a but the hub says b"),
            .interrupted(repo: repo, filename: "x", received: 10, expected: 20, reason: "connection lost"),
        ]
        for error in errors {
            XCTAssertFalse(error.description.contains("\n"), error.description)
            XCTAssertFalse(error.description.isEmpty)
            XCTAssertEqual(error.errorDescription, error.description)
        }
        XCTAssertTrue(HubError.tokenRejected(repo: repo, endpoint: "e").description.contains("HF_TOKEN"))
        XCTAssertTrue(HubError.authenticationRequired(repo: repo, endpoint: "e").description.contains("HF_TOKEN"))
        XCTAssertEqual(HubError.gatedRepository(repo: HubRepo(id: "o/n", type: .dataset), endpoint: "https://huggingface.co").description,
                       "dataset 'o/n' is gated: accept its conditions at https://huggingface.co/datasets/o/n and set HF_TOKEN to a token of that account")
    }

    func testResolveModelDirectoryReturnsLocalDirectoriesAndRejectsBadArguments() async throws {
        let directory = try HubTestPaths.temporaryDirectory("local-model")
        defer { try? FileManager.default.removeItem(at: directory) }
        let client = HubClient(configuration: HubConfiguration(endpoint: "http://127.0.0.1:9", cacheDirectory: directory.path + "/cache", offline: true))
        let local = try await client.resolveModelDirectory(directory.path, revision: "ignored")
        XCTAssertEqual(local, directory.path)

        let file = directory.appendingPathComponent("config.json")
        try Data("{}".utf8).write(to: file)
        do {
            _ = try await client.resolveModelDirectory(file.path, revision: nil)
            XCTFail("a file is not a model directory")
        } catch let error as SpeechT5Error {
            guard case .invalidFile = error else { return XCTFail("\(error)") }
        }
        for path in ["./missing-dir", "/no/such/dir", "../x", "a/b/c"] {
            do {
                _ = try await client.resolveModelDirectory(path, revision: nil)
                XCTFail(path)
            } catch let error as SpeechT5Error {
                XCTAssertEqual(error, .fileNotFound(path: path))
            }
        }
        do {
            _ = try await client.resolveModelDirectory("speecht5_tts", revision: nil)
            XCTFail("a bare name is neither")
        } catch let error as HubError {
            guard case .invalidArgument(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "model")
        }
        do {
            _ = try await client.resolveModelDirectory("microsoft/speecht5_tts", revision: nil)
            XCTFail("offline with an empty cache")
        } catch let error as HubError {
            XCTAssertEqual(error, .offlineNotCached(repo: HubRepo(id: "microsoft/speecht5_tts"), revision: "main",
                                                    filename: "config.json", cacheDirectory: directory.path + "/cache"))
        }
    }
}
