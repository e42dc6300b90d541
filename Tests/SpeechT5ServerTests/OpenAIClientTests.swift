import Foundation
import HummingbirdTesting
import SpeechT5Server
import XCTest

/// Runs `Tests/python/openai_client_check.py` (the official `openai` Python client) against a live
/// in-process server. Skipped when no Python with `openai` is found: CI does not install it.
///
/// The interpreter is `$SPEECHT5_OPENAI_PYTHON`, else `.venv-openai/bin/python` at the package root
/// (git-ignored; `python3 -m venv .venv-openai && .venv-openai/bin/pip install openai`), else `python3`.
final class OpenAIClientTests: XCTestCase {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func python() -> String? {
        var candidates: [String] = []
        if let configured = ProcessInfo.processInfo.environment["SPEECHT5_OPENAI_PYTHON"] { candidates.append(configured) }
        candidates.append(Self.packageRoot.appendingPathComponent(".venv-openai/bin/python").path)
        candidates.append("/usr/bin/env")
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let arguments = candidate == "/usr/bin/env" ? ["python3", "-c", "import openai"] : ["-c", "import openai"]
            if (try? runProcess(candidate, arguments).status) == 0 { return candidate }
        }
        return nil
    }

    func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try speechServerTestRun(executable, arguments)
    }
}

/// Runs a program to its end; returns its status and its merged output.
func speechServerTestRun(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    do {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension OpenAIClientTests {

    func testOfficialOpenAIPythonClient() async throws {
        guard let python = python() else {
            throw XCTSkip("no Python with the openai package (set SPEECHT5_OPENAI_PYTHON or create .venv-openai)")
        }
        let script = Self.packageRoot.appendingPathComponent("Tests/python/openai_client_check.py").path
        let server = try ServerFixtures.server { $0.apiKey = "test-key" }
        try await server.makeApplication().test(.live) { client in
            guard let port = client.port else { return XCTFail("no port") }
            let arguments = (python == "/usr/bin/env" ? ["python3"] : [])
                + [script, "--base-url", "http://127.0.0.1:\(port)/v1", "--api-key", "test-key"]
            // The client blocks; run it off the cooperative pool.
            let (status, output) = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try speechServerTestRun(python, arguments) })
                }
            }
            print(output)
            if status == 77 { throw XCTSkip("openai not importable") }
            XCTAssertEqual(status, 0, output)
        }
    }
}
