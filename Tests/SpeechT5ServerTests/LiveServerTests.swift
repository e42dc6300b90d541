import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpeechT5
@testable import SpeechT5Server
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bare HTTP/1.1 client on a socket, to hang up in the middle of a response.
final class RawHTTPConnection {
    let fd: Int32

    init(port: Int) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            sent += n
        }
    }

    func postSpeech(_ body: [String: Any]) throws {
        let data = String(decoding: (try? JSONSerialization.data(withJSONObject: body)) ?? Data(), as: UTF8.self)
        try send("POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 + "Content-Length: \(data.utf8.count)\r\n\r\n" + data)
    }

    /// Reads until at least `count` bytes arrived in all; returns them.
    func read(atLeast count: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw POSIXError(.ECONNRESET) }
            received += buffer[0..<n]
        }
        return received
    }

    func hangUp() { close(fd) }
}

/// Tests over real connections: streaming, keep-alive, and clients that hang up mid-stream.
final class LiveServerTests: XCTestCase {
    func testStreamingOverARealConnectionAndKeepAlive() async throws {
        let server = try ServerFixtures.server()
        try await server.makeApplication().test(.live) { client in
            // Two requests on the client's one connection: the disconnect watcher leaves keep-alive alone.
            for seed in [1, 2] {
                let response = try await post(client, ["model": "tts-1", "input": "Hello there, over a socket.", "voice": "alloy", "seed": seed])
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(Array(response.body.readableBytesView.prefix(4)), Array("RIFF".utf8))
                XCTAssertGreaterThan(response.body.readableBytes, 44)
            }
            let health = try await client.execute(uri: "/health", method: .get)
            XCTAssertEqual(health.status, .ok)
        }
    }

    func testClientHangingUpMidStreamCancelsItsRequest() async throws {
        let server = try ServerFixtures.server { $0.synthesisOptions.generation.threshold = .infinity }
        let text = SpeechServerTests.longText
        let full = try ServerFixtures.synthesizer().synthesize(
            text, speaker: ServerFixtures.speaker(), options: server.configuration.synthesisOptions).duration
        let before = server.scheduler.currentStatistics.audioSeconds
        try await server.makeApplication().test(.live) { client in
            guard let port = client.port else { return XCTFail("no port") }
            let connection = try RawHTTPConnection(port: port)
            try connection.postSpeech(["model": "tts-1", "input": text, "voice": "alloy"])
            let head = try connection.read(atLeast: 600)  // headers and the first audio
            XCTAssertTrue(String(decoding: head.prefix(15), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            XCTAssertEqual(server.scheduler.currentStatistics.active, 1)
            connection.hangUp()

            let stopped = await eventually(within: 5) { server.scheduler.currentStatistics.active == 0 }
            XCTAssertTrue(stopped, "the request left the batch")
            let generated = server.scheduler.currentStatistics.audioSeconds - before
            XCTAssertLessThan(generated, full * 0.5, "work stopped soon after the hang-up (\(generated) of \(full) s made)")
            let counted = await eventually(within: 5) {
                server.metrics.render(scheduler: server.scheduler.currentStatistics, maxBatch: 1, maxQueue: 1)
                    .contains("speecht5_speech_streams_aborted_total{reason=\"client_disconnected\"} 1")
            }
            XCTAssertTrue(counted, "the hang-up is counted")

            // The server goes on serving.
            let response = try await post(client, ["model": "tts-1", "input": "Still here.", "voice": "alloy"])
            XCTAssertEqual(response.status, .ok)
        }
    }

    func testClientHangingUpWhileQueuedLeavesTheQueue() async throws {
        let server = try ServerFixtures.server(maxBatch: 1) { $0.synthesisOptions.generation.threshold = .infinity }
        let occupier = try server.scheduler.submit(SpeechServerTests.longText, speaker: ServerFixtures.speaker(),
                                                   options: server.configuration.synthesisOptions)
        let occupying = Task { for try await _ in occupier {} }
        defer { occupying.cancel() }
        let started = await eventually(within: 5) { server.scheduler.currentStatistics.active == 1 }
        XCTAssertTrue(started)
        try await server.makeApplication().test(.live) { client in
            guard let port = client.port else { return XCTFail("no port") }
            let connection = try RawHTTPConnection(port: port)
            try connection.postSpeech(["model": "tts-1", "input": "I will not wait.", "voice": "alloy"])
            let queued = await eventually(within: 5) { server.scheduler.currentStatistics.queueDepth == 1 }
            XCTAssertTrue(queued)
            connection.hangUp()
            let left = await eventually(within: 5) { server.scheduler.currentStatistics.queueDepth == 0 }
            XCTAssertTrue(left, "the abandoned request left the queue while the batch was still busy")
            XCTAssertEqual(server.scheduler.currentStatistics.active, 1, "the occupier still runs")
            let counted = await eventually(within: 5) { server.metrics.requestCount(route: speechPath, status: 499) == 1 }
            XCTAssertTrue(counted, "recorded as 499 (client closed request)")
        }
    }
}
