import Foundation
import SpeechT5

/// Settings of the speech server.
public struct SpeechServerConfiguration: Sendable {
    /// Address to bind.
    public var host = "127.0.0.1"
    /// Port to bind (0 picks a free one).
    public var port = 8080
    /// When set, every route but `/health` needs `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// Longest `input` accepted, in characters (OpenAI's limit is 4096).
    public var maxInputCharacters = 4096
    /// Longest a speech request may take, queueing included; `nil` for none. A request that has not
    /// started streaming by then answers 503; a stream that runs past it is cut off (and its work stopped).
    public var timeout: Duration? = .seconds(300)
    /// `Retry-After` of a 429 (queue full), in seconds.
    public var retryAfterSeconds = 1
    /// Largest request body read, in bytes.
    public var maxBodyBytes = 1 << 20
    /// Front end and generation settings of every request (`seed` is replaced by the request's, when given).
    public var synthesisOptions = SynthesisOptions()
    /// The model id reported by `/v1/models`.
    public var modelName = "speecht5"
    /// Model ids accepted in `model` besides `modelName`: OpenAI's, so that its clients work unchanged.
    public var modelAliases = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]
    /// Seconds an idle keep-alive connection is kept open; `nil` for no limit.
    public var idleTimeout: Duration? = .seconds(60)

    public init() {}

    /// Every id accepted in a request's `model`.
    public var modelIdentifiers: [String] { [modelName] + modelAliases.filter { $0 != modelName } }
}
