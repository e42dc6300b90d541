import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The status line and headers of one HTTP response (header names lower-cased).
struct HTTPResponseHead: Sendable {
    let status: Int
    let headers: [String: String]
    let url: URL

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    var isRedirect: Bool { [301, 302, 303, 307, 308].contains(status) && header("location") != nil }
}

/// Why a request did not complete.
enum HTTPTransportError: Error {
    /// No usable answer: connection refused, unknown host, timeout, TLS failure, or the connection broke
    /// (`responseReceived` tells whether the status line had arrived, i.e. the body was cut).
    case transport(reason: String, responseReceived: Bool)
    /// The body handler threw (a local write failed, say); the transfer was cancelled.
    case handler(Error)
    /// The task was cancelled.
    case cancelled
}

/// A minimal HTTP client over URLSession that never follows redirects itself (the caller decides, so that a
/// token is never forwarded to another origin) and streams the body of a 2xx answer to a handler.
struct HTTPTransport: Sendable {
    /// Sends one request. `onResponse` sees the head before any body byte and may throw to abort; `onData` gets
    /// the body of 2xx answers chunk by chunk, in order, on one thread at a time.
    func send(
        method: String,
        url: URL,
        headers: [String: String],
        timeout: TimeInterval,
        onResponse: (@Sendable (HTTPResponseHead) throws -> Void)? = nil,
        onData: (@Sendable (Data) throws -> Void)? = nil
    ) async throws -> HTTPResponseHead {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.cachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        request.timeoutInterval = timeout
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }

        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.urlCache = nil
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData

        let delegate = TransferDelegate(onResponse: onResponse, onData: onData)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponseHead, Error>) in
                delegate.start(task: task, continuation: continuation)
            }
        } onCancel: {
            task.cancel()
        }
    }
}

/// Bridges URLSession's delegate callbacks to one continuation.
private final class TransferDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let onResponse: (@Sendable (HTTPResponseHead) throws -> Void)?
    private let onData: (@Sendable (Data) throws -> Void)?
    private var continuation: CheckedContinuation<HTTPResponseHead, Error>?
    private var head: HTTPResponseHead?
    private var handlerError: Error?

    init(onResponse: (@Sendable (HTTPResponseHead) throws -> Void)?, onData: (@Sendable (Data) throws -> Void)?) {
        self.onResponse = onResponse
        self.onData = onData
    }

    func start(task: URLSessionDataTask, continuation: CheckedContinuation<HTTPResponseHead, Error>) {
        lock.withLock { self.continuation = continuation }
        task.resume()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)  // the caller follows redirects itself
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        accept(response, task: dataTask)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let (head, failed) = lock.withLock { (self.head, self.handlerError != nil) }
        guard !failed, let head, (200 ..< 300).contains(head.status), let onData else { return }
        do {
            try onData(data)
        } catch {
            lock.withLock { if self.handlerError == nil { self.handlerError = error } }
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let response = task.response { accept(response, task: task) }
        let (continuation, head, handlerError) = lock.withLock { () -> (CheckedContinuation<HTTPResponseHead, Error>?, HTTPResponseHead?, Error?) in
            let result = (self.continuation, self.head, self.handlerError)
            self.continuation = nil
            return result
        }
        guard let continuation else { return }
        if let handlerError {
            continuation.resume(throwing: HTTPTransportError.handler(handlerError))
        } else if let error {
            let nsError = error as NSError
            if nsError.domain == NSURLErrorDomain && nsError.code == NSURLErrorCancelled {
                continuation.resume(throwing: HTTPTransportError.cancelled)
            } else {
                continuation.resume(throwing: HTTPTransportError.transport(
                    reason: HTTPTransport.describe(nsError), responseReceived: head != nil))
            }
        } else if let head {
            continuation.resume(returning: head)
        } else {
            continuation.resume(throwing: HTTPTransportError.transport(reason: "no response", responseReceived: false))
        }
    }

    /// Records the first response head and lets `onResponse` veto the body.
    private func accept(_ response: URLResponse, task: URLSessionTask) {
        guard let http = response as? HTTPURLResponse else { return }
        let isNew = lock.withLock { () -> Bool in
            if self.head != nil { return false }
            var headers: [String: String] = [:]
            for (key, value) in http.allHeaderFields {
                if let name = key as? String, let text = value as? String { headers[name.lowercased()] = text }
            }
            self.head = HTTPResponseHead(status: http.statusCode, headers: headers,
                                         url: http.url ?? task.originalRequest?.url ?? URL(fileURLWithPath: "/"))
            return true
        }
        guard isNew, let onResponse, let head = lock.withLock({ self.head }) else { return }
        do {
            try onResponse(head)
        } catch {
            lock.withLock { if self.handlerError == nil { self.handlerError = error } }
            task.cancel()
        }
    }
}

extension HTTPTransport {
    /// A short human reason for a URLSession failure ("connection refused", "host not found", ...).
    static func describe(_ error: NSError) -> String {
        switch error.code {
        case NSURLErrorCannotConnectToHost: return "connection refused"
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: return "host not found"
        case NSURLErrorTimedOut: return "timed out"
        case NSURLErrorNetworkConnectionLost: return "connection lost"
        case NSURLErrorNotConnectedToInternet: return "not connected to the internet"
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted,
             NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateNotYetValid,
             NSURLErrorServerCertificateHasUnknownRoot, NSURLErrorClientCertificateRejected:
            return "TLS failure"
        case NSURLErrorBadServerResponse: return "bad server response"
        case NSURLErrorHTTPTooManyRedirects: return "too many redirects"
        case NSURLErrorUnsupportedURL, NSURLErrorBadURL: return "unsupported URL"
        default:
            return "\(error.domain) error \(error.code)"
        }
    }
}

/// Scheme, host and port of a URL (the unit a token is scoped to).
struct URLOrigin: Hashable, Sendable {
    let scheme: String
    let host: String
    let port: Int

    init?(_ url: URL) {
        guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
    }
}
