import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpeechT5
@testable import SpeechT5Server
import XCTest

/// In-process tests of every route and every error of the speech server (Hummingbird's router test
/// framework; the live framework where a real connection matters).
final class SpeechServerTests: XCTestCase {


    /// A text whose synthesis takes seconds on the fixture model when every piece runs to its length limit.
    static let longText = Array(repeating: "The cat sat on the mat and looked at the bird in the tree.", count: 60)
        .joined(separator: " ")

    static func forcedLength(_ configuration: inout SpeechServerConfiguration) {
        configuration.synthesisOptions.generation.threshold = .infinity
    }

    // MARK: Small routes

    func testHealthModelsAndVoices() async throws {
        let server = try ServerFixtures.server()
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let health = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                XCTAssertEqual(health?["status"] as? String, "ok")
                XCTAssertEqual(health?["sample_rate"] as? Int, 12000)
            }
            try await client.execute(uri: "/v1/models", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let list = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                XCTAssertEqual(list?["object"] as? String, "list")
                let ids = (list?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                XCTAssertEqual(ids, ["speecht5", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"])
            }
            try await client.execute(uri: "/v1/models/tts-1", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(response.body.string.contains("\"id\":\"tts-1\""), response.body.string)
            }
            try await client.execute(uri: "/v1/models/whisper-1", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
                XCTAssertEqual(decodeError(response)?.code, "model_not_found")
            }
            try await client.execute(uri: "/v1/voices", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let list = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                let voices = list?["data"] as? [[String: Any]] ?? []
                XCTAssertEqual(voices.first?["id"] as? String, "default")
                XCTAssertTrue(voices.first?["alias_of"] is NSNull)
                let alloy = voices.first { $0["id"] as? String == "alloy" }
                XCTAssertEqual(alloy?["alias_of"] as? String, "default")
                XCTAssertEqual(voices.count, 1 + VoiceLibrary.openAIPresetNames.count)
            }
        }
    }

    func testUnknownRouteIsAJSONNotFound() async throws {
        let server = try ServerFixtures.server()
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/audio/transcriptions", method: .post) { response in
                XCTAssertEqual(response.status, .notFound)
                XCTAssertEqual(decodeError(response)?.code, "not_found")
            }
        }
    }

    func testVoicesDirectoryAndDefault() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voices-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let speaker = ServerFixtures.modelRoot + "/speaker.npy"
        try FileManager.default.copyItem(atPath: speaker, toPath: directory.appendingPathComponent("slt.npy").path)
        try FileManager.default.copyItem(atPath: speaker, toPath: directory.appendingPathComponent("nova.npy").path)
        try Data("not a voice".utf8).write(to: directory.appendingPathComponent("README.txt"))
        let dimension = try ServerFixtures.synthesizer().speakerDimension
        let library = try VoiceLibrary.load(speaker: speaker, directory: directory.path, dimension: dimension)
        XCTAssertEqual(library.names, ["default", "nova", "slt"])
        XCTAssertEqual(library.resolve("alloy")?.name, "default")
        XCTAssertEqual(library.resolve("nova")?.name, "nova", "a file named like a preset is its own voice")
        XCTAssertEqual(library.resolve("slt")?.name, "slt")
        XCTAssertNil(library.resolve("nobody"))
        // Without --speaker there is no default, and the preset names are not aliases.
        let bare = try VoiceLibrary.load(speaker: nil, directory: directory.path, dimension: dimension)
        XCTAssertNil(bare.resolve("alloy"))
        XCTAssertThrowsError(try VoiceLibrary.load(speaker: nil, directory: nil, dimension: dimension))
        XCTAssertThrowsError(try VoiceLibrary.load(speaker: speaker, directory: directory.path, dimension: dimension + 1))
    }

    // MARK: Speech

    func testSpeechStreamsTheSynthesizedAudioAsWAVAndPCM() async throws {
        let server = try ServerFixtures.server()
        let text = "Hello there. How are you today?"
        let synthesizer = try ServerFixtures.synthesizer()
        var options = server.configuration.synthesisOptions
        options.generation.seed = 5
        let expected = try synthesizer.synthesize(text, speaker: ServerFixtures.speaker(), options: options).samples
        XCTAssertFalse(expected.isEmpty)
        try await server.makeApplication().test(.router) { client in
            let wav = try await post(client, ["model": "tts-1", "input": text, "voice": "alloy", "seed": 5])
            XCTAssertEqual(wav.status, .ok)
            XCTAssertEqual(wav.headers[.contentType], "audio/wav")
            XCTAssertEqual(wav.headers[HTTPField.Name("X-Sample-Rate")!], "12000")
            XCTAssertEqual(wav.headers[HTTPField.Name("X-Voice")!], "default")
            let bytes = wav.body.bytes
            XCTAssertEqual(Array(bytes.prefix(4)), Array("RIFF".utf8))
            XCTAssertEqual(Array(bytes[36..<40]), Array("data".utf8))
            let samples = decodePCM16(bytes[44...])
            XCTAssertEqual(samples.count, expected.count)
            let worst = zip(samples, expected).map { abs($0 - max(-1, min(1, $1))) }.max() ?? 1
            XCTAssertLessThanOrEqual(worst, 2.0 / 32767, "streamed audio equals the one-shot synthesis")

            let pcm = try await post(client, ["model": "speecht5", "input": text, "voice": "default", "seed": 5,
                                                   "response_format": "pcm", "speed": 1.0])
            XCTAssertEqual(pcm.status, .ok)
            XCTAssertEqual(pcm.headers[.contentType], "audio/pcm")
            XCTAssertEqual(pcm.body.bytes, Array(bytes[44...]), "pcm is the wav body without its header")

            // The voice as an object, as newer OpenAI clients may send it.
            let object = try await post(client, ["model": "tts-1", "input": text, "voice": ["id": "default"], "seed": 5])
            XCTAssertEqual(object.status, .ok)
            XCTAssertEqual(object.body.bytes, bytes)

            // Another seed, other audio (the pre-net dropout masks differ).
            let other = try await post(client, ["model": "tts-1", "input": text, "voice": "alloy", "seed": 6])
            XCTAssertEqual(other.status, .ok)
            XCTAssertNotEqual(other.body.bytes, bytes)
        }
        XCTAssertEqual(server.metrics.requestCount(route: speechPath, status: 200), 4)
    }

    func testConcurrentRequestsShareDecoderSteps() async throws {
        let server = try ServerFixtures.server(maxBatch: 8) { Self.forcedLength(&$0) }
        let texts = ["one two three four five", "a longer sentence for the second request", "short", "the fourth one here"]
        try await server.makeApplication().test(.router) { client in
            try await withThrowingTaskGroup(of: (Int, TestResponse).self) { group in
                for (index, text) in texts.enumerated() {
                    group.addTask { (index, try await post(client, ["model": "tts-1", "input": text, "voice": "alloy"])) }
                }
                for try await (index, response) in group {
                    XCTAssertEqual(response.status, .ok, "request \(index)")
                    XCTAssertGreaterThan(response.body.readableBytes, 44)
                }
            }
        }
        // Some steps decoded more than one request.
        let steps = server.scheduler.currentStatistics.stepsByBatchSize
        XCTAssertGreaterThan(steps.dropFirst(2).reduce(0, +), 0, "batched steps: \(steps)")
    }

    // MARK: Errors

    func testMalformedAndInvalidBodiesAreOpenAIErrors() async throws {
        let server = try ServerFixtures.server { $0.maxInputCharacters = 50 }
        let good: [String: Any] = ["model": "tts-1", "input": "Hello.", "voice": "alloy"]
        func with(_ changes: [String: Any?]) -> [String: Any] {
            var body = good
            for (key, value) in changes { body[key] = value ?? nil }
            return body
        }
        func without(_ key: String) -> [String: Any] {
            var body = good
            body[key] = nil
            return body
        }
        // (body, param, code, message fragment)
        let cases: [(ByteBuffer, String?, String, String)] = [
            (ByteBuffer(string: "{\"model\": \"tts-1\", "), nil, "invalid_json", "not valid JSON"),
            (ByteBuffer(string: ""), nil, "invalid_json", "not valid JSON"),
            (ByteBuffer(string: "[1, 2]"), nil, "invalid_json", "must be a JSON object"),
            (jsonBody(without("model")), "model", "missing_required_parameter", "'model'"),
            (jsonBody(without("input")), "input", "missing_required_parameter", "'input'"),
            (jsonBody(without("voice")), "voice", "missing_required_parameter", "'voice'"),
            (jsonBody(with(["input": 42])), "input", "invalid_type", "must be a string, got a number"),
            (jsonBody(with(["input": ["a"]])), "input", "invalid_type", "got an array"),
            (jsonBody(with(["model": true])), "model", "invalid_type", "got a boolean"),
            (jsonBody(with(["voice": 3])), "voice", "invalid_type", "got a number"),
            (jsonBody(with(["voice": ["name": "x"]])), "voice", "invalid_type", "'id'"),
            (jsonBody(with(["voice": "nobody"])), "voice", "voice_not_found", "unknown voice 'nobody'"),
            (jsonBody(with(["model": "whisper-1"])), "model", "model_not_found", "tts-1"),
            (jsonBody(with(["input": ""])), "input", "empty_input", "empty"),
            (jsonBody(with(["input": "  \n\t "])), "input", "empty_input", "empty"),
            (jsonBody(with(["input": String(repeating: "a", count: 51)])), "input", "string_above_max_length", "limit is 50"),
            (jsonBody(with(["response_format": "mp3"])), "response_format", "unsupported_response_format", "wav, pcm"),
            (jsonBody(with(["response_format": 1])), "response_format", "invalid_type", "must be a string"),
            (jsonBody(with(["speed": 1.5])), "speed", "unsupported_speed", "1.0"),
            (jsonBody(with(["speed": "fast"])), "speed", "invalid_type", "must be a number"),
            (jsonBody(with(["seed": -1])), "seed", "invalid_value", "non-negative"),
            (jsonBody(with(["seed": 1.5])), "seed", "invalid_type", "non-negative integer"),
            (jsonBody(with(["seed": "7"])), "seed", "invalid_type", "non-negative integer"),
            (jsonBody(with(["stream_format": "sse"])), "stream_format", "unsupported_stream_format", "audio"),
        ]
        let edgeBody = jsonBody(with(["input": String(repeating: "a", count: 50), "instructions": "calm"]))
        try await server.makeApplication().test(.router) { client in
            for (body, param, code, fragment) in cases {
                let label = body.string
                let response = try await client.execute(uri: speechPath, method: .post, body: body)
                XCTAssertEqual(response.status, .badRequest, label)
                guard let error = decodeError(response) else { continue }
                XCTAssertEqual(error.type, "invalid_request_error", label)
                XCTAssertEqual(error.param, param, label)
                XCTAssertEqual(error.code, code, label)
                XCTAssertTrue(error.message.contains(fragment), "\(label): \(error.message)")
            }
            // Exactly 50 characters is fine; so are unknown extra fields (OpenAI's "instructions").
            let edge = try await client.execute(uri: speechPath, method: .post, body: edgeBody)
            XCTAssertEqual(edge.status, .ok)
        }
        XCTAssertEqual(server.metrics.requestCount(route: speechPath, status: 400), UInt64(cases.count))
    }

    func testOversizedBodyIs413() async throws {
        let server = try ServerFixtures.server { $0.maxBodyBytes = 1000 }
        try await server.makeApplication().test(.router) { client in
            let response = try await post(client, ["model": "tts-1", "input": String(repeating: "a", count: 2000), "voice": "alloy"])
            XCTAssertEqual(response.status, .contentTooLarge)
            XCTAssertEqual(decodeError(response)?.code, "request_too_large")
        }
    }

    func testTextTheModelCannotSpeakIsA400() async throws {
        let server = try ServerFixtures.server()
        let word = String(repeating: "a", count: 200)  // one word longer than the model's text limit
        try await server.makeApplication().test(.router) { client in
            let response = try await post(client, ["model": "tts-1", "input": "hello " + word, "voice": "alloy"])
            XCTAssertEqual(response.status, .badRequest)
            let error = decodeError(response)
            XCTAssertEqual(error?.param, "input")
            XCTAssertEqual(error?.code, "invalid_input")
        }
    }

    func testAPIKeyIsCheckedOnEveryRouteButHealth() async throws {
        let server = try ServerFixtures.server { $0.apiKey = "s3cret" }
        let body = jsonBody(["model": "tts-1", "input": "Hi.", "voice": "alloy"])

        try await server.makeApplication().test(.router) { client in
            let routes: [(String, HTTPRequest.Method, ByteBuffer?)] = [
                ("/v1/models", .get, nil), ("/v1/voices", .get, nil), ("/metrics", .get, nil), (speechPath, .post, body),
                ("/v1/models/tts-1", .get, nil), ("/nowhere", .get, nil),
            ]
            for (uri, method, body) in routes {
                for headers: HTTPFields in [[:], [.authorization: "Bearer wrong"], [.authorization: "s3cret"],
                                            [.authorization: "Bearer s3cret2"], [.authorization: "Bearer s3cre"]] {
                    let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
                    XCTAssertEqual(response.status, .unauthorized, "\(uri) \(headers)")
                    XCTAssertEqual(response.headers[.wwwAuthenticate], "Bearer")
                    XCTAssertEqual(decodeError(response)?.code, "invalid_api_key")
                }
                let allowed = try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer s3cret"], body: body)
                XCTAssertEqual(allowed.status, uri == "/nowhere" ? .notFound : .ok, uri)
            }
            let health = try await client.execute(uri: "/health", method: .get)
            XCTAssertEqual(health.status, .ok)
        }
    }

    func testFullQueueIs429WithRetryAfter() async throws {
        let server = try ServerFixtures.server(maxQueue: 0) { $0.retryAfterSeconds = 2 }
        try await server.makeApplication().test(.router) { client in
            let response = try await post(client, ["model": "tts-1", "input": "Hello.", "voice": "alloy"])
            XCTAssertEqual(response.status, .tooManyRequests)
            XCTAssertEqual(response.headers[.retryAfter], "2")
            let error = decodeError(response)
            XCTAssertEqual(error?.type, "rate_limit_error")
            XCTAssertEqual(error?.code, "queue_full")
        }
    }

    func testQueueFullUnderLoadWithARealQueue() async throws {
        // One row at a time and one waiting place: of three simultaneous long requests, one is refused.
        let server = try ServerFixtures.server(maxBatch: 1, maxQueue: 1) { Self.forcedLength(&$0) }
        let occupier = try server.scheduler.submit(Self.longText, speaker: ServerFixtures.speaker(), options: server.configuration.synthesisOptions)
        let occupying = Task { for try await _ in occupier {} }
        let started = await eventually(within: 5) { server.scheduler.currentStatistics.active == 1 }
        XCTAssertTrue(started)
        try await server.makeApplication().test(.router) { client in
            async let first = post(client, ["model": "tts-1", "input": "waits in the queue", "voice": "alloy"])
            let queued = await eventually(within: 5) { server.scheduler.currentStatistics.queueDepth == 1 }
            XCTAssertTrue(queued)
            let refused = try await post(client, ["model": "tts-1", "input": "no room", "voice": "alloy"])
            XCTAssertEqual(refused.status, .tooManyRequests)
            XCTAssertEqual(refused.headers[.retryAfter], "1")
            occupying.cancel()  // cancelling the occupier lets the first request have its turn
            let answered = try await first
            XCTAssertEqual(answered.status, .ok)
        }
    }

    func testTimeoutWhileQueuedIs503AndTheRequestLeavesTheQueue() async throws {
        let server = try ServerFixtures.server(maxBatch: 1) {
            Self.forcedLength(&$0)
            $0.timeout = .milliseconds(200)
        }
        var occupier: AsyncThrowingStream<AudioChunk, any Error>? =
            try server.scheduler.submit(Self.longText, speaker: ServerFixtures.speaker(), options: server.configuration.synthesisOptions)
        let started = await eventually(within: 5) { server.scheduler.currentStatistics.active == 1 }
        XCTAssertTrue(started)
        try await server.makeApplication().test(.router) { client in
            let response = try await post(client, ["model": "tts-1", "input": "never starts", "voice": "alloy"])
            XCTAssertEqual(response.status, .serviceUnavailable)
            XCTAssertNotNil(response.headers[.retryAfter])
            let error = decodeError(response)
            XCTAssertEqual(error?.code, "timeout")
            XCTAssertEqual(error?.type, "server_error")
        }
        XCTAssertNotNil(occupier)
        occupier = nil
        let drained = await eventually(within: 5) {
            let statistics = server.scheduler.currentStatistics
            return statistics.active == 0 && statistics.queueDepth == 0
        }
        XCTAssertTrue(drained, "the timed-out request was dropped, not synthesized")
    }

    func testTimeoutMidStreamCutsTheStreamAndStopsTheWork() async throws {
        let server = try ServerFixtures.server { configuration in
            Self.forcedLength(&configuration)
            configuration.timeout = .milliseconds(300)
        }
        let fullSeconds = try await fullDuration(of: Self.longText, server: server)
        let before = server.scheduler.currentStatistics.audioSeconds
        try await server.makeApplication().test(.router) { client in
            do {
                let response = try await post(client, ["model": "tts-1", "input": Self.longText, "voice": "alloy"])
                XCTFail("the stream should have been cut off, got \(response.status) with \(response.body.readableBytes) bytes")
            } catch {
                XCTAssertEqual(error as? StreamEnd, .timeout)
            }
        }
        let stopped = await eventually(within: 5) { server.scheduler.currentStatistics.active == 0 }
        XCTAssertTrue(stopped)
        let generated = server.scheduler.currentStatistics.audioSeconds - before
        XCTAssertLessThan(generated, fullSeconds * 0.8, "work stopped at the timeout (\(generated) of \(fullSeconds) s)")
        XCTAssertTrue(server.metrics.render(scheduler: server.scheduler.currentStatistics, maxBatch: 8, maxQueue: 16)
            .contains("speecht5_speech_streams_aborted_total{reason=\"timeout\"} 1"))
    }

    /// Seconds of audio the server's options make for `text` (one-shot).
    func fullDuration(of text: String, server: SpeechServer) async throws -> Double {
        try ServerFixtures.synthesizer().synthesize(text, speaker: ServerFixtures.speaker(), options: server.configuration.synthesisOptions).duration
    }

    // MARK: Metrics

    func testMetricsAreValidPrometheusText() async throws {
        let server = try ServerFixtures.server()
        try await server.makeApplication().test(.router) { client in
            _ = try await post(client, ["model": "tts-1", "input": "Hello there.", "voice": "alloy"])
            _ = try await post(client, ["model": "tts-1", "input": "", "voice": "alloy"])
            _ = try await client.execute(uri: "/health", method: .get)
            let response = try await client.execute(uri: "/metrics", method: .get)
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "text/plain; version=0.0.4; charset=utf-8")
            let text = response.body.string
            let sample = try NSRegularExpression(pattern: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.e+\-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \+Inf$"#)
            var families: [String: String] = [:]
            for line in text.split(separator: "\n").map(String.init) {
                if line.hasPrefix("# TYPE ") {
                    let parts = line.split(separator: " ")
                    families[String(parts[2])] = String(parts[3])
                    continue
                }
                if line.hasPrefix("# HELP ") { continue }
                XCTAssertEqual(sample.numberOfMatches(in: line, range: NSRange(line.startIndex..., in: line)), 1, "bad line: \(line)")
            }
            XCTAssertEqual(families["speecht5_http_requests_total"], "counter")
            XCTAssertEqual(families["speecht5_http_request_duration_seconds"], "histogram")
            XCTAssertEqual(families["speecht5_speech_time_to_first_byte_seconds"], "histogram")
            XCTAssertEqual(families["speecht5_audio_seconds_generated_total"], "counter")
            XCTAssertEqual(families["speecht5_audio_seconds_sent_total"], "counter")
            XCTAssertEqual(families["speecht5_queue_depth"], "gauge")
            XCTAssertEqual(families["speecht5_active_requests"], "gauge")
            XCTAssertEqual(families["speecht5_batch_size"], "histogram")
            XCTAssertTrue(text.contains("speecht5_http_requests_total{route=\"/v1/audio/speech\",method=\"POST\",status=\"200\"} 1"), text)
            XCTAssertTrue(text.contains("speecht5_http_requests_total{route=\"/v1/audio/speech\",method=\"POST\",status=\"400\"} 1"), text)
            XCTAssertTrue(text.contains("speecht5_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1"), text)
            XCTAssertTrue(text.contains("speecht5_speech_time_to_first_byte_seconds_count 1"), text)
            XCTAssertTrue(text.contains("speecht5_queue_depth 0"), text)
            XCTAssertTrue(text.contains("speecht5_active_requests 0"), text)
            XCTAssertTrue(text.contains("speecht5_batch_size_bucket{le=\"+Inf\"}"), text)
        }
    }

    func testBatchSizesAreCounted() async throws {
        let server = try ServerFixtures.server()
        try await server.makeApplication().test(.router) { client in
            let response = try await post(client, ["model": "tts-1", "input": "Hello there.", "voice": "alloy"])
            XCTAssertEqual(response.status, .ok)
        }
        // The worker updates its counters just after the step that finished the request.
        let counted = await eventually(within: 5) { (server.scheduler.currentStatistics.stepsByBatchSize.dropFirst().first ?? 0) > 0 }
        XCTAssertTrue(counted)
        let text = server.metrics.render(scheduler: server.scheduler.currentStatistics, maxBatch: 8, maxQueue: 16)
        let steps = server.scheduler.currentStatistics.stepsByBatchSize[1]
        XCTAssertTrue(text.contains("speecht5_batch_size_bucket{le=\"1\"} \(steps)\n"), text)
        XCTAssertTrue(text.contains("speecht5_batch_size_count \(steps)\n"), text)
    }

    func testDeadlineTimerFiresOnTimeAndForgetsCancelledEntries() async throws {
        let timer = DeadlineTimer()
        let fired = ServerTestFlag()
        let cancelledFired = ServerTestFlag()
        let start = ContinuousClock.now
        _ = timer.schedule(at: start + .milliseconds(50)) { fired.set() }
        let cancelled = timer.schedule(at: start + .milliseconds(60)) { cancelledFired.set() }
        timer.cancel(cancelled)
        let done = await eventually(within: 5) { fired.isSet }
        XCTAssertTrue(done)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(50))
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertFalse(cancelledFired.isSet)
        XCTAssertEqual(timer.pendingCount, 0)
    }

    func testFinishedRequestsLeaveNoTimerBehind() async throws {
        // Every request's deadline entry goes when the request ends (a per-request sleeping task would
        // hold memory until its deadline, which made the RSS grow with the request rate).
        let server = try ServerFixtures.server()
        try await server.makeApplication().test(.router) { client in
            for _ in 0..<5 {
                let response = try await post(client, ["model": "tts-1", "input": "Hello there.", "voice": "alloy"])
                XCTAssertEqual(response.status, .ok)
            }
            let bad = try await post(client, ["model": "tts-1", "input": "hello " + String(repeating: "a", count: 200), "voice": "alloy"])
            XCTAssertEqual(bad.status, .badRequest)
        }
        XCTAssertEqual(server.deadlines.pendingCount, 0)
    }

    func testHistogramIsCumulative() {
        var histogram = Histogram(bounds: [1, 2, 4])
        for value in [0.5, 1, 1.5, 3, 9] { histogram.observe(value) }
        var text = ""
        histogram.render(name: "h", labels: "", into: &text)
        XCTAssertEqual(text, """
            h_bucket{le="1"} 2
            h_bucket{le="2"} 3
            h_bucket{le="4"} 4
            h_bucket{le="+Inf"} 5
            h_sum 15
            h_count 5

            """)
    }
}
