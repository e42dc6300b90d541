import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import SpeechT5

/// The request context of the speech server: Hummingbird's core storage, the connection (to watch for a
/// client that goes away) and when the request arrived.
public struct SpeechServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection; the in-process router test framework gives a stand-in without a watcher.
    let channel: (any Channel)?
    /// When the request arrived (the context is made when its head is read).
    let receivedAt: ContinuousClock.Instant

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        receivedAt = .now
    }

    /// The connection's disconnect watcher, if the server installed one.
    func disconnectWatcher() async -> DisconnectWatcher? {
        guard let channel else { return nil }
        return try? await channel.pipeline.handler(type: DisconnectWatcher.self).get()
    }
}

/// An OpenAI-compatible speech server around a `SynthesisScheduler`: routes, API-key check, JSON
/// errors, metrics. `makeApplication()` gives the Hummingbird application; `speecht5 serve` runs it.
///
/// Routes: `POST /v1/audio/speech`, `GET /v1/models`, `GET /v1/models/{id}`, `GET /v1/voices`,
/// `GET /health` (never needs the key), `GET /metrics`.
public final class SpeechServer: Sendable {
    public let scheduler: SynthesisScheduler
    public let voices: VoiceLibrary
    public let configuration: SpeechServerConfiguration
    public let metrics = ServerMetrics()
    let deadlines = DeadlineTimer()

    public init(scheduler: SynthesisScheduler, voices: VoiceLibrary, configuration: SpeechServerConfiguration = .init()) {
        self.scheduler = scheduler
        self.voices = voices
        self.configuration = configuration
    }

    var synthesizer: SpeechSynthesizer { scheduler.synthesizer }

    // MARK: Application

    /// The router with every route and the middleware (metrics, errors, API key).
    public func makeRouter() -> Router<SpeechServerContext> {
        let router = Router(context: SpeechServerContext.self)
        router.add(middleware: APIMiddleware(server: self))
        router.get("/health") { _, _ in self.health() }
        router.get("/metrics") { _, _ in self.metricsResponse() }
        router.get("/v1/models") { _, _ in self.models() }
        router.get("/v1/models/{id}") { _, context in try self.model(id: context.parameters.get("id") ?? "") }
        router.get("/v1/voices") { _, _ in self.voiceList() }
        router.post("/v1/audio/speech") { request, context in try await self.speech(request, context: context) }
        return router
    }

    /// The Hummingbird application, bound to `configuration.host:port`, with a disconnect watcher on
    /// every connection. `onListening` receives the bound port once the server accepts connections.
    public func makeApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in })
        -> Application<RouterResponder<SpeechServerContext>> {
        let idle = configuration.idleTimeout.map { TimeAmount.nanoseconds(Int64($0.seconds * 1e9)) }
        return Application(
            router: makeRouter(),
            server: .http1(configuration: .init(additionalChannelHandlers: [DisconnectWatcher()], idleTimeout: idle)),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "speecht5"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
    }

    // MARK: Small routes

    func health() -> Response {
        struct Health: Encodable {
            let status: String
            let model: String
            let sample_rate: Int
            let voices: Int
            let queue_depth: Int
            let active: Int
        }
        let statistics = scheduler.currentStatistics
        return jsonResponse(Health(status: "ok", model: configuration.modelName, sample_rate: synthesizer.sampleRate,
                                   voices: voices.voices.count, queue_depth: statistics.queueDepth, active: statistics.active))
    }

    func metricsResponse() -> Response {
        let text = metrics.render(scheduler: scheduler.currentStatistics, maxBatch: scheduler.maxBatch, maxQueue: scheduler.maxQueue)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    struct ModelObject: Encodable {
        let id: String
        let object = "model"
        let created = 0
        let owned_by = "speecht5-swift"
        let root: String
    }

    struct ListObject<Item: Encodable>: Encodable {
        let object = "list"
        let data: [Item]
    }

    func models() -> Response {
        jsonResponse(ListObject(data: configuration.modelIdentifiers.map { ModelObject(id: $0, root: configuration.modelName) }))
    }

    func model(id: String) throws -> Response {
        guard configuration.modelIdentifiers.contains(id) else {
            throw APIError(status: .notFound, message: "the model '\(id)' does not exist; this server serves \(configuration.modelIdentifiers.joined(separator: ", "))",
                           type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        return jsonResponse(ModelObject(id: id, root: configuration.modelName))
    }

    func voiceList() -> Response {
        struct VoiceObject: Encodable {
            let id: String
            let object = "voice"
            let alias_of: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(id, forKey: .id)
                try container.encode(object, forKey: .object)
                try container.encode(alias_of, forKey: .alias_of)
            }

            enum CodingKeys: String, CodingKey { case id, object, alias_of }
        }
        let own = voices.names.map { VoiceObject(id: $0, alias_of: nil) }
        let aliases = voices.aliases.keys.sorted().map { VoiceObject(id: $0, alias_of: voices.aliases[$0]) }
        return jsonResponse(ListObject(data: own + aliases))
    }

    // MARK: Speech

    func speech(_ request: Request, context: SpeechServerContext) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(status: .contentTooLarge, message: "the request body is larger than \(configuration.maxBodyBytes) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        }
        let parsed = try SpeechRequest.parse(body, configuration: configuration)
        guard let voice = voices.resolve(parsed.voice) else {
            let known = (voices.names + voices.aliases.keys.sorted()).prefix(40).joined(separator: ", ")
            throw APIError.invalidRequest("unknown voice '\(parsed.voice)'; available voices: \(known) (see GET /v1/voices)",
                                          param: "voice", code: "voice_not_found")
        }
        var options = configuration.synthesisOptions
        if let seed = parsed.seed { options.generation.seed = seed }

        let source: AsyncThrowingStream<AudioChunk, any Error>
        do {
            source = try scheduler.submit(parsed.input, speaker: voice.vector, options: options)
        } catch SynthesisScheduler.Refusal.queueFull(let limit) {
            throw APIError.queueFull(limit: limit, retryAfter: configuration.retryAfterSeconds)
        } catch {
            throw mapSynthesisError(error)
        }
        let relay = AudioRelay(source: source, deadline: configuration.timeout.map { context.receivedAt + $0 }, timer: deadlines)
        let watcher = await context.disconnectWatcher()
        let token = watcher?.onDisconnect { relay.end(.clientDisconnected) }

        // Wait for the first audio, so that text the model cannot speak is still a 400 and not a broken stream.
        let first: AudioChunk?
        do {
            first = try await relay.next()
        } catch {
            watcher?.remove(token)
            relay.close()
            throw mapSynthesisError(error)
        }

        let format = parsed.responseFormat
        let sampleRate = synthesizer.sampleRate
        let metrics = self.metrics
        let receivedAt = context.receivedAt
        var headers: HTTPFields = [.contentType: format.contentType]
        headers.set("X-Sample-Rate", String(sampleRate))
        headers.set("X-Sample-Format", "s16le")
        headers.set("X-Channels", "1")
        headers.set("X-Voice", voice.name)
        headers.set("X-Seed", String(options.generation.seed))
        let logger = context.logger
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer {
                watcher?.remove(token)
                relay.close()
            }
            var buffer = format == .wav ? ByteBuffer(bytes: WAVFile.streamingHeader(sampleRate: sampleRate, format: .s16)) : ByteBuffer()
            var chunk = first
            var wroteAudio = false
            do {
                while let current = chunk {
                    buffer.writeBytes(WAVFile.encodeSamples(current.samples, format: .s16))
                    try await writer.write(buffer)
                    buffer.clear()
                    if !wroteAudio {
                        wroteAudio = true
                        metrics.firstAudioByte(after: (ContinuousClock.now - receivedAt).seconds)
                    }
                    metrics.audioSent(seconds: Double(current.samples.count) / Double(max(1, sampleRate)))
                    chunk = try await relay.next()
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
                try await writer.finish(nil)
            } catch {
                // Headers are out: the only way to tell the client is to cut the connection.
                let reason: String
                switch error {
                case StreamEnd.timeout: reason = "timeout"
                case StreamEnd.clientDisconnected: reason = "client_disconnected"
                default: reason = watcher?.isDisconnected == true ? "client_disconnected" : "error"
                }
                metrics.streamAborted(reason: reason)
                logger.info("speech stream cut off (\(reason)): \(error)")
                throw error
            }
        })
    }

    /// The answer for a request that failed before its audio started.
    func mapSynthesisError(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case StreamEnd.timeout:
            return APIError.timeout(seconds: configuration.timeout?.seconds ?? 0)
        case StreamEnd.clientDisconnected, is CancellationError:
            return APIError(status: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"),
                            message: "the client closed the connection", type: "invalid_request_error", code: "client_closed_request")
        case SynthesisScheduler.Refusal.shutDown:
            return APIError.shuttingDown
        case SynthesisScheduler.Refusal.queueFull(let limit):
            return APIError.queueFull(limit: limit, retryAfter: configuration.retryAfterSeconds)
        case SpeechT5Error.invalidText(let reason):
            return APIError.invalidRequest("'input' cannot be spoken: \(reason)", param: "input", code: "invalid_input")
        default:
            return APIError.internalError("synthesis failed: \(error)")
        }
    }
}

extension HTTPFields {
    /// Sets a field by name (names here are constants, always valid).
    mutating func set(_ name: String, _ value: String) {
        if let field = HTTPField.Name(name) { self[field] = value }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}

/// Outermost middleware: counts and times every request, checks the API key, and answers every error in
/// OpenAI's JSON shape (including Hummingbird's own 404s and 413s).
struct APIMiddleware: RouterMiddleware {
    typealias Context = SpeechServerContext
    let server: SpeechServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let metrics = server.metrics
        metrics.requestStarted()
        let route = context.endpointPath ?? "unmatched"
        let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        let method = knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "OTHER"
        let started = context.receivedAt
        var response: Response
        do {
            try authorize(request)
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, path: request.uri.path).response()
        }
        let status = response.status.code
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
                metrics.requestFinished(route: route, method: method, status: status, seconds: (ContinuousClock.now - started).seconds)
            } catch {
                metrics.requestFinished(route: route, method: method, status: status, seconds: (ContinuousClock.now - started).seconds)
                throw error
            }
        }
        return response
    }

    func authorize(_ request: Request) throws {
        guard let key = server.configuration.apiKey, request.uri.path != "/health" else { return }
        let expected = Array("Bearer \(key)".utf8)
        let given = Array((request.headers[.authorization] ?? "").utf8)
        // Compare in time independent of where the strings differ.
        var difference = UInt8(expected.count == given.count ? 0 : 1)
        for index in expected.indices { difference |= expected[index] ^ (index < given.count ? given[index] : 0) }
        if difference != 0 { throw APIError.unauthorized }
    }

    func errorResponse(_ error: any Error, path: String) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as any HTTPResponseError:
            if error.status == .notFound { return .notFound(path) }
            let type = error.status.code >= 500 ? "server_error" : "invalid_request_error"
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return APIError(status: error.status, message: message, type: type)
        default:
            return APIError.internalError("internal error: \(error)")
        }
    }
}
