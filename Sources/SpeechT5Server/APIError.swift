import Foundation
import Hummingbird

/// An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's error type: `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`, ….
    public var type: String
    /// The request field at fault, if any.
    public var param: String?
    /// A machine-readable code, if any.
    public var code: String?
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil,
                headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers
    }

    public var description: String { "\(status.code) \(type)\(code.map { " (\($0))" } ?? ""): \(message)" }

    /// The JSON body.
    public var body: ByteBuffer {
        struct Envelope: Encodable {
            struct Detail: Encodable {
                let message: String
                let type: String
                let param: String?
                let code: String?

                // Explicit nulls, as OpenAI sends them.
                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(message, forKey: .message)
                    try container.encode(type, forKey: .type)
                    try container.encode(param, forKey: .param)
                    try container.encode(code, forKey: .code)
                }

                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            let error: Detail
        }
        let envelope = Envelope(error: .init(message: message, type: type, param: param, code: code))
        return jsonBuffer(envelope)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The full response: status, JSON body and extra headers.
    public func response() -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
    }

    // MARK: The errors the server answers

    static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static func missing(_ param: String) -> APIError {
        invalidRequest("you must provide a '\(param)' parameter", param: param, code: "missing_required_parameter")
    }

    static func wrongType(_ param: String, expected: String, got value: JSONValue) -> APIError {
        invalidRequest("'\(param)' must be \(expected), got \(value.typeName)", param: param, code: "invalid_type")
    }

    static let unauthorized = APIError(
        status: .unauthorized,
        message: "missing or incorrect API key: send 'Authorization: Bearer <key>'",
        type: "invalid_request_error", code: "invalid_api_key", headers: [.wwwAuthenticate: "Bearer"])

    static func queueFull(limit: Int, retryAfter: Int) -> APIError {
        APIError(status: .tooManyRequests,
                 message: "the server is busy: \(limit) requests are already waiting; retry after \(retryAfter) s",
                 type: "rate_limit_error", code: "queue_full", headers: [.retryAfter: String(retryAfter)])
    }

    static func timeout(seconds: Double) -> APIError {
        APIError(status: .serviceUnavailable,
                 message: "the request did not start within the server's \(formatSeconds(seconds)) s timeout",
                 type: "server_error", code: "timeout", headers: [.retryAfter: "1"])
    }

    static let shuttingDown = APIError(status: .serviceUnavailable, message: "the server is shutting down",
                                       type: "server_error", code: "shutting_down")

    static func notFound(_ path: String) -> APIError {
        APIError(status: .notFound, message: "no route for \(path)", type: "invalid_request_error", code: "not_found")
    }

    static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error")
    }
}

/// Why a streamed response was ended early (after its headers were sent).
enum StreamEnd: Error, Sendable, Equatable {
    case timeout
    case clientDisconnected
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.3g", seconds)
}

/// Encodes a value as compact, key-sorted JSON.
func jsonBuffer(_ value: some Encodable) -> ByteBuffer {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // Encoding plain structs of strings and numbers cannot fail; fall back to an empty object if it does.
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return ByteBuffer(bytes: data)
}

/// A JSON response with status 200 (or another).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: jsonBuffer(value)))
}
