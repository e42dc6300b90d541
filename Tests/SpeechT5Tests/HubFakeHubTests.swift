import Foundation
import XCTest

@testable import SpeechT5

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Support shared by the Hub*Tests files

/// Paths inside the package.
enum HubTestPaths {
    /// The package root, from this file's location (Tests/SpeechT5Tests/<file>).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var fakeHubScript: String { packageRoot.appendingPathComponent("scripts/hub/fake_hub.py").path }

    /// `python3` on PATH, or nil.
    static var python3: String? { executable(named: "python3") }

    static func executable(named name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A port on 127.0.0.1 that nothing listens on (bound, read and closed again).
    static func closedPort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return 9 }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic -> Bool in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : 9
    }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("speecht5-hub-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A tree of repositories for `fake_hub.py`: `root/{models,datasets}/org/name/<revision>/<files>`.
struct FakeRepoTree {
    let root: URL

    /// Writes `files` (path → bytes) into a revision directory of a repo.
    @discardableResult
    func add(_ id: String, type: HubRepoType = .model, revision: String = "main", files: [String: [UInt8]]) throws -> URL {
        let directory = repoDirectory(id, type: type).appendingPathComponent(revision)
        for (name, bytes) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        return directory
    }

    /// Adds a marker file (`.private`, `.gated`, `.moved-to`) to a repo.
    func mark(_ id: String, type: HubRepoType = .model, _ marker: String, content: String = "") throws {
        let directory = repoDirectory(id, type: type)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(content.utf8).write(to: directory.appendingPathComponent(marker))
    }

    func repoDirectory(_ id: String, type: HubRepoType) -> URL {
        root.appendingPathComponent(type == .model ? "models" : "datasets").appendingPathComponent(id)
    }
}

/// Deterministic pseudo-random bytes.
func hubTestBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0 ..< count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    var hasher = SHA256Hasher()
    hasher.update(bytes)
    return hexString(hasher.finalize())
}

func gitBlobID(_ bytes: [UInt8]) -> String {
    var hasher = SHA1Hasher()
    hasher.update(Array("blob \(bytes.count)\0".utf8))
    hasher.update(bytes)
    return hexString(hasher.finalize())
}

/// `scripts/hub/fake_hub.py` as a subprocess on 127.0.0.1. It exits when its stdin closes, so a crashed test
/// run leaves no server behind.
final class FakeHub {
    let process = Process()
    let port: Int
    private let stdinPipe = Pipe()
    private var stopped = false

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts the server on `root`; throws XCTSkip when python3 is not installed.
    init(root: URL, arguments: [String] = []) throws {
        guard let python = HubTestPaths.python3 else {
            throw XCTSkip("python3 is not on PATH: the fake hub (scripts/hub/fake_hub.py) cannot run")
        }
        let stdoutPipe = Pipe()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [HubTestPaths.fakeHubScript, "--root", root.path, "--exit-on-stdin-eof"] + arguments
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let reader = stdoutPipe.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8)?.split(separator: "\n").first,
              let port = Int(text.trimmingCharacters(in: .whitespaces)) else {
            process.terminate()
            throw NSError(domain: "FakeHub", code: 1, userInfo: [NSLocalizedDescriptionKey: "fake hub did not print a port"])
        }
        self.port = port
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        try? stdinPipe.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// One logged request.
    struct LoggedRequest: Decodable {
        let server: String
        let method: String
        let path: String
        let range: String?
        let authorization: String?
    }

    /// The requests both origins have seen so far.
    func requests() async throws -> [LoggedRequest] {
        let url = try XCTUnwrap(URL(string: "\(endpoint)/_fake/requests"))
        let data = try await Self.get(url)
        return try JSONDecoder().decode([LoggedRequest].self, from: data).filter { !$0.path.hasPrefix("/_fake/") }
    }

    static func get(_ url: URL) async throws -> Data {
        let box = DataBox()
        _ = try await HTTPTransport().send(method: "GET", url: url, headers: [:], timeout: 10,
                                           onData: { box.append($0) })
        return box.value
    }

    /// Plain HEAD without following redirects.
    func head(_ path: String, headers: [String: String] = [:]) async throws -> HTTPResponseHead {
        let url = try XCTUnwrap(URL(string: endpoint + path))
        return try await HTTPTransport().send(method: "HEAD", url: url, headers: headers, timeout: 10)
    }
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var value: Data { lock.withLock { data } }
}

/// A test case with a temporary repo tree, a temporary cache and helpers to start the fake hub.
class HubTestCase: XCTestCase {
    var workDirectory: URL!
    var tree: FakeRepoTree!
    var cacheDirectory: String!
    var hubs: [FakeHub] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        workDirectory = try HubTestPaths.temporaryDirectory(String(describing: type(of: self)))
        tree = FakeRepoTree(root: workDirectory.appendingPathComponent("repos"))
        try FileManager.default.createDirectory(at: tree.root, withIntermediateDirectories: true)
        cacheDirectory = workDirectory.appendingPathComponent("cache/hub").path
    }

    override func tearDownWithError() throws {
        for hub in hubs { hub.stop() }
        hubs.removeAll()
        if let workDirectory { try? FileManager.default.removeItem(at: workDirectory) }
        try super.tearDownWithError()
    }

    /// Starts a fake hub on the test's tree (stopped in tearDown).
    func startHub(_ arguments: [String] = []) throws -> FakeHub {
        let hub = try FakeHub(root: tree.root, arguments: arguments)
        hubs.append(hub)
        return hub
    }

    /// A client on `hub` with the test's cache, no progress bar and quick retries.
    func client(_ hub: FakeHub?, token: String? = nil, offline: Bool = false, cache: String? = nil,
                endpoint: String? = nil) -> HubClient {
        let configuration = HubConfiguration(endpoint: endpoint ?? hub?.endpoint ?? "http://127.0.0.1:9",
                                             token: token, cacheDirectory: cache ?? cacheDirectory,
                                             offline: offline, progress: .never, metadataTimeout: 10, downloadTimeout: 10)
        var client = HubClient(configuration: configuration)
        client.hooks.retryDelay = 0.05
        return client
    }

    func bytes(at path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Runs `body`, expecting it to throw; returns the error.
    func expectError(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async -> Error? {
        do {
            try await body()
            XCTFail("expected an error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Files (recursively, relative) under a directory, symlinks included, sorted.
    func listing(_ directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        return (enumerator.allObjects as? [String] ?? []).sorted()
    }
}

// MARK: - The fake hub answers like the real one

final class HubFakeHubTests: HubTestCase {
    func testRegularFileHeadCarriesCommitGitEtagAndLength() async throws {
        let config = Array(#"{"model_type": "speecht5"}"#.utf8)
        try tree.add("fakeorg/tiny", files: ["config.json": config])
        let hub = try startHub()
        let head = try await hub.head("/fakeorg/tiny/resolve/main/config.json")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("etag"), "\"\(gitBlobID(config))\"")
        XCTAssertEqual(head.header("content-length"), "\(config.count)")
        XCTAssertTrue(HubValidation.isCommitHash(head.header("x-repo-commit") ?? ""))
    }

    func testLFSFileRedirectsToAnotherOriginWithLinkedHeaders() async throws {
        let weights = hubTestBytes(3000, seed: 1)
        try tree.add("fakeorg/tiny", files: ["model.safetensors": weights])
        let hub = try startHub()
        let head = try await hub.head("/fakeorg/tiny/resolve/main/model.safetensors")
        XCTAssertEqual(head.status, 302)
        XCTAssertEqual(head.header("x-linked-etag"), "\"\(sha256Hex(weights))\"")
        XCTAssertEqual(head.header("x-linked-size"), "3000")
        let location = try XCTUnwrap(head.header("location").flatMap(URL.init(string:)))
        XCTAssertNotEqual(location.port, hub.port, "the LFS store must be another origin")
        XCTAssertTrue(location.path.hasPrefix("/lfs-store/"))
    }

    func testErrorCodes() async throws {
        try tree.add("fakeorg/tiny", files: ["config.json": [1]])
        try tree.add("fakeorg/secret", files: ["config.json": [1]])
        try tree.mark("fakeorg/secret", ".private")
        let hub = try startHub()
        var head = try await hub.head("/fakeorg/nothing/resolve/main/config.json")
        XCTAssertEqual(head.status, 404)
        XCTAssertEqual(head.header("x-error-code"), "RepoNotFound")
        head = try await hub.head("/fakeorg/tiny/resolve/main/absent.json")
        XCTAssertEqual(head.status, 404)
        XCTAssertEqual(head.header("x-error-code"), "EntryNotFound")
        head = try await hub.head("/fakeorg/tiny/resolve/nobranch/config.json")
        XCTAssertEqual(head.header("x-error-code"), "RevisionNotFound")
        head = try await hub.head("/fakeorg/secret/resolve/main/config.json")
        XCTAssertEqual(head.status, 401)
        head = try await hub.head("/fakeorg/secret/resolve/main/config.json", headers: ["Authorization": "Bearer hf_fake_token"])
        XCTAssertEqual(head.status, 200)
        head = try await hub.head("/fakeorg/secret/resolve/main/config.json", headers: ["Authorization": "Bearer wrong"])
        XCTAssertEqual(head.status, 401)
        XCTAssertEqual(head.header("x-error-message"), "Invalid credentials in Authorization header")
    }

    func testRangeRequestsGet206() async throws {
        let bytes = hubTestBytes(100, seed: 2)
        try tree.add("fakeorg/tiny", files: ["notes.txt": bytes])
        let hub = try startHub()
        let url = try XCTUnwrap(URL(string: "\(hub.endpoint)/fakeorg/tiny/resolve/main/notes.txt"))
        let box = DataBox()
        let head = try await HTTPTransport().send(method: "GET", url: url, headers: ["Range": "bytes=40-"], timeout: 10,
                                                  onData: { box.append($0) })
        XCTAssertEqual(head.status, 206)
        XCTAssertEqual(head.header("content-range"), "bytes 40-99/100")
        XCTAssertEqual([UInt8](box.value), Array(bytes[40...]))
    }
}
