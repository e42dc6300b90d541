import Foundation
import Hummingbird
import HummingbirdTesting
import SpeechT5
import SpeechT5Server
import XCTest

/// The tiny random-weight fixture model of the engine's tests (its audio is noise, which is fine here).
enum ServerFixtures {
    static var modelRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SpeechT5Tests/Fixtures/models/odd").path
    }

    static let shared: Result<SpeechSynthesizer, any Error> = Result {
        try SpeechSynthesizer(modelDirectory: modelRoot + "/model", vocoderDirectory: modelRoot + "/vocoder")
    }

    static func synthesizer() throws -> SpeechSynthesizer { try shared.get() }

    static func speaker() throws -> [Float] {
        try SpeakerEmbeddingFile.load(path: modelRoot + "/speaker.npy", expectedDimension: synthesizer().speakerDimension)
    }

    /// A server on the fixture model with the voice `default` (and OpenAI's names as aliases).
    static func server(maxBatch: Int = 8, maxQueue: Int = 16,
                       configure: (inout SpeechServerConfiguration) -> Void = { _ in }) throws -> SpeechServer {
        let synthesizer = try synthesizer()
        let scheduler = SynthesisScheduler(synthesizer: synthesizer, maxBatch: maxBatch, maxQueue: maxQueue,
                                           firstChunkFrames: 4, chunkFrames: 16)
        var configuration = SpeechServerConfiguration()
        configuration.port = 0
        configure(&configuration)
        let voices = VoiceLibrary(voices: [VoiceLibrary.defaultName: try speaker()])
        return SpeechServer(scheduler: scheduler, voices: voices, configuration: configuration)
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
    var string: String { String(decoding: readableBytesView, as: UTF8.self) }
}

/// A decoded OpenAI-style error body.
struct ErrorBody: Decodable {
    struct Detail: Decodable {
        let message: String
        let type: String
        let param: String?
        let code: String?
    }
    let error: Detail
}

func decodeError(_ response: TestResponse, file: StaticString = #filePath, line: UInt = #line) -> ErrorBody.Detail? {
    XCTAssertEqual(response.headers[.contentType], "application/json", "error content type", file: file, line: line)
    do {
        let detail = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView)).error
        // The four keys are always present (null when unset), as OpenAI sends them.
        let raw = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        let keys = Set((raw?["error"] as? [String: Any])?.keys.map { $0 } ?? [])
        XCTAssertEqual(keys, ["message", "type", "param", "code"], file: file, line: line)
        return detail
    } catch {
        XCTFail("not an OpenAI error body: \(response.body.string) (\(error))", file: file, line: line)
        return nil
    }
}

let speechPath = "/v1/audio/speech"

/// POSTs a JSON body to the speech route.
func post(_ client: some TestClientProtocol, _ body: [String: Any], headers: HTTPFields = [:]) async throws -> TestResponse {
    try await client.execute(uri: speechPath, method: .post, headers: headers, body: jsonBody(body))
}

func jsonBody(_ object: [String: Any]) -> ByteBuffer {
    // Test bodies are plain dictionaries of JSON values.
    let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
    return ByteBuffer(bytes: data)
}

/// Little-endian s16 samples → floats in [-1, 1].
func decodePCM16(_ bytes: ArraySlice<UInt8>) -> [Float] {
    var samples: [Float] = []
    samples.reserveCapacity(bytes.count / 2)
    var index = bytes.startIndex
    while index + 1 < bytes.endIndex {
        let value = Int16(bitPattern: UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
        samples.append(Float(value) / 32767)
        index += 2
    }
    return samples
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A thread-safe flag for callbacks in tests.
final class ServerTestFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
