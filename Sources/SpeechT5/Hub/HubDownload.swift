import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a `HEAD .../resolve/<revision>/<file>` says about a file.
struct HubFileMetadata: Sendable {
    /// The commit the revision is at (`X-Repo-Commit`).
    let commit: String
    /// The blob name: `X-Linked-Etag` (SHA-256 of an LFS file) or `ETag` (git blob id), unquoted.
    let etag: String
    /// `X-Linked-Size`, else the `Content-Length` of a non-redirect answer.
    let size: Int64?
    /// Where the content is fetched from (after same-origin redirects; an LFS file's CDN address).
    let downloadURL: URL
}

extension HubClient {
    static let userAgent = "speecht5-swift/1.0; hf_hub-compatible"
    static let maxRedirects = 10
    static let maxAttemptsWithoutProgress = 5

    // MARK: URLs and headers

    func resolveURL(_ filename: String, in repo: HubRepo, revision: String) throws -> URL {
        let text = configuration.endpoint + "/" + repo.urlPath + "/resolve/"
            + HubClient.percentEncode(revision, keepSlash: false) + "/" + HubClient.percentEncode(filename, keepSlash: true)
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw HubError.invalidArgument(name: "hub endpoint (HF_ENDPOINT)", value: configuration.endpoint,
                                           reason: "expected an http(s) URL such as https://huggingface.co")
        }
        return url
    }

    /// Percent-encodes like Python's `urllib.parse.quote` (letters, digits and `_.-~` kept; `/` kept if asked).
    static func percentEncode(_ text: String, keepSlash: Bool) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~")
        if keepSlash { allowed.insert("/") }
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Whether a token may be sent to `url`: only to the endpoint's own origin or to huggingface.co / hf.co.
    func mayReceiveToken(_ url: URL) -> Bool {
        guard let origin = URLOrigin(url) else { return false }
        var trusted: Set<URLOrigin> = []
        for text in [configuration.endpoint, HubConfiguration.defaultEndpoint, "https://hf.co"] {
            if let url = URL(string: text), let origin = URLOrigin(url) { trusted.insert(origin) }
        }
        return trusted.contains(origin)
    }

    func headers(for url: URL, range start: Int64? = nil) -> [String: String] {
        var headers = ["User-Agent": HubClient.userAgent, "Accept-Encoding": "identity"]
        if let token = configuration.token, mayReceiveToken(url) { headers["Authorization"] = "Bearer \(token)" }
        if let start, start > 0 { headers["Range"] = "bytes=\(start)-" }
        return headers
    }

    static func origin(of url: URL) -> String {
        var text = (url.scheme ?? "http") + "://" + (url.host ?? "?")
        if let port = url.port { text += ":\(port)" }
        return text
    }

    // MARK: Metadata

    /// `HEAD` the resolve URL, following redirects that stay on the hub; a redirect elsewhere (an LFS file's CDN)
    /// carries the metadata itself.
    func fetchMetadata(_ filename: String, in repo: HubRepo, revision: String, displayRevision: String) async throws -> HubFileMetadata {
        var url = try resolveURL(filename, in: repo, revision: revision)
        // Hub headers seen on redirects of the chain, for a final answer that lacks them (a mirror serving LFS
        // content from its own origin, say).
        var inherited = HubHeaders()
        for _ in 0 ... HubClient.maxRedirects {
            let head: HTTPResponseHead
            do {
                head = try await transport.send(method: "HEAD", url: url, headers: headers(for: url),
                                                timeout: configuration.metadataTimeout)
            } catch let error as HTTPTransportError {
                throw networkError(error, url: url, repo: repo, filename: filename)
            }
            if head.isRedirect, let location = head.header("location"),
               let target = URL(string: location, relativeTo: url)?.absoluteURL {
                inherited.absorb(head)
                if URLOrigin(target) == URLOrigin(url) || mayReceiveToken(target) {
                    url = target
                    continue
                }
                return try metadata(from: head, inherited: inherited, downloadURL: target, redirected: true)
            }
            guard (200 ..< 300).contains(head.status) else {
                if head.header("x-error-code") == "EntryNotFound", let commit = head.header("x-repo-commit"),
                   HubValidation.isCommitHash(commit) {
                    // As huggingface_hub does: remember the commit and that the file is absent there.
                    try? cache.writeRef(repo, revision: revision, commit: commit)
                    cache.markMissing(repo, commit: commit, filename: filename)
                }
                throw statusError(head, repo: repo, revision: displayRevision, filename: filename, url: url)
            }
            return try metadata(from: head, inherited: inherited, downloadURL: url, redirected: false)
        }
        throw HubError.invalidResponse(url: url.absoluteString, reason: "more than \(HubClient.maxRedirects) redirects")
    }

    /// The first `X-Repo-Commit`, `X-Linked-Etag` and `X-Linked-Size` met along a redirect chain.
    struct HubHeaders {
        var commit: String?
        var linkedEtag: String?
        var linkedSize: String?

        mutating func absorb(_ head: HTTPResponseHead) {
            commit = commit ?? head.header("x-repo-commit")
            linkedEtag = linkedEtag ?? head.header("x-linked-etag")
            linkedSize = linkedSize ?? head.header("x-linked-size")
        }
    }

    private func metadata(from head: HTTPResponseHead, inherited: HubHeaders, downloadURL: URL,
                          redirected: Bool) throws -> HubFileMetadata {
        let url = head.url.absoluteString
        guard let commit = (head.header("x-repo-commit") ?? inherited.commit)?.trimmingCharacters(in: .whitespaces) else {
            throw HubError.invalidResponse(url: url, reason: "no X-Repo-Commit header")
        }
        guard HubValidation.isCommitHash(commit) else {
            throw HubError.invalidResponse(url: url, reason: "X-Repo-Commit '\(commit)' is not a commit id")
        }
        guard let rawEtag = head.header("x-linked-etag") ?? inherited.linkedEtag ?? head.header("etag") else {
            throw HubError.invalidResponse(url: url, reason: "no ETag header")
        }
        let etag = HubClient.normalizeEtag(rawEtag)
        let etagCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !etag.isEmpty, etag.count <= 255, !etag.hasPrefix("."), etag.allSatisfy({ etagCharacters.contains($0) }) else {
            throw HubError.invalidResponse(url: url, reason: "ETag '\(rawEtag)' cannot name a cache file")
        }
        let sizeText = head.header("x-linked-size") ?? inherited.linkedSize
            ?? (redirected ? nil : head.header("content-length"))
        let size = sizeText.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0 >= 0 ? $0 : nil }
        return HubFileMetadata(commit: commit, etag: etag, size: size, downloadURL: downloadURL)
    }

    /// `W/"abc"` and `"abc"` become `abc`, as `huggingface_hub._normalize_etag` does.
    static func normalizeEtag(_ raw: String) -> String {
        var text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        return text.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    func networkError(_ error: HTTPTransportError, url: URL, repo: HubRepo, filename: String) -> Error {
        switch error {
        case .transport(let reason, _):
            return HubError.network(url: HubClient.origin(of: url), reason: reason, repo: repo, filename: filename,
                                    cacheDirectory: configuration.cacheDirectory)
        case .handler(let inner):
            return inner
        case .cancelled:
            return CancellationError()
        }
    }

    /// Maps an error status and the hub's `X-Error-Code` to a ``HubError``.
    func statusError(_ head: HTTPResponseHead, repo: HubRepo, revision: String, filename: String, url: URL) -> HubError {
        let code = head.header("x-error-code")
        let message = head.header("x-error-message") ?? ""
        let tokenSent = configuration.token != nil && mayReceiveToken(url)
        switch (head.status, code) {
        case (_, "RevisionNotFound"):
            return .revisionNotFound(repo: repo, revision: revision)
        case (_, "EntryNotFound"):
            return .entryNotFound(repo: repo, revision: revision, filename: filename)
        case (_, "GatedRepo"):
            return .gatedRepository(repo: repo, endpoint: configuration.endpoint)
        case (401, _):
            return tokenSent ? .tokenRejected(repo: repo, endpoint: configuration.endpoint)
                : .authenticationRequired(repo: repo, endpoint: configuration.endpoint)
        case (_, "RepoNotFound"):
            return .repositoryNotFound(repo: repo, endpoint: configuration.endpoint, tokenSent: tokenSent)
        case (404, _) where mayReceiveToken(url):
            return .entryNotFound(repo: repo, revision: revision, filename: filename)
        default:
            return .httpStatus(url: url.absoluteString, status: head.status, message: message)
        }
    }

    // MARK: Download

    /// Downloads a blob to `<blob>.incomplete` (resuming what an earlier attempt left there), verifies size
    /// and hash, then renames it to `<blob>`. The caller holds the blob's lock.
    func download(_ metadata: HubFileMetadata, filename: String, repo: HubRepo, to blob: String) async throws {
        let incomplete = blob + ".incomplete"
        let writer = try BlobWriter(path: incomplete, reportedPath: blob, failure: hooks.writeFailure)
        var closed = false
        defer { if !closed { writer.close() } }
        if let expected = metadata.size, writer.offset > expected { try writer.restart() }
        let progress = ProgressBar.make(mode: configuration.progress, descriptor: hooks.progressDescriptor,
                                        label: filename, total: metadata.size, done: writer.offset)
        writer.progress = progress
        defer { progress?.finish() }

        var url = metadata.downloadURL
        var expected = metadata.size
        var redirects = 0
        var failures = 0
        var lastReason = ""
        transfer: while true {
            if let expected, writer.offset == expected { break }
            if failures >= HubClient.maxAttemptsWithoutProgress {
                throw HubError.interrupted(repo: repo, filename: filename, received: writer.offset, expected: expected,
                                           reason: lastReason)
            }
            let start = writer.offset
            do {
                let head = try await transport.send(
                    method: "GET", url: url, headers: headers(for: url, range: start),
                    timeout: configuration.downloadTimeout,
                    onResponse: { head in try writer.accept(head, requestedFrom: start) },
                    onData: { data in try writer.append(data) })
                if head.isRedirect, let location = head.header("location"),
                   let target = URL(string: location, relativeTo: url)?.absoluteURL {
                    redirects += 1
                    if redirects > HubClient.maxRedirects {
                        throw HubError.invalidResponse(url: url.absoluteString, reason: "more than \(HubClient.maxRedirects) redirects")
                    }
                    url = target
                    continue transfer
                }
                if head.status == 416 {
                    try writer.restart()
                    failures += 1
                    lastReason = "the server refused to resume (HTTP 416)"
                    continue transfer
                }
                guard (200 ..< 300).contains(head.status) else {
                    throw statusError(head, repo: repo, revision: metadata.commit, filename: filename, url: url)
                }
                if expected == nil, let total = writer.announcedTotal { expected = total }
                guard let expectedSize = expected else { break transfer }  // the transport checked Content-Length
                if writer.offset < expectedSize {
                    failures += writer.offset > start ? 0 : 1
                    lastReason = "the server closed the connection early"
                    continue transfer
                }
                break transfer
            } catch let error as HTTPTransportError {
                switch error {
                case .transport(let reason, let responseReceived):
                    if !responseReceived && writer.offset == 0 && failures + 1 >= HubClient.maxAttemptsWithoutProgress {
                        throw networkError(error, url: url, repo: repo, filename: filename)
                    }
                    failures = writer.offset > start ? 1 : failures + 1
                    lastReason = reason
                    try await Task.sleep(nanoseconds: UInt64(hooks.retryDelay * Double(min(failures, 4)) * 1e9))
                case .handler(let inner):
                    if inner is RangeMismatch {
                        try writer.restart()
                        failures += 1
                        lastReason = "the server answered another byte range"
                        continue transfer
                    }
                    writer.close()
                    closed = true
                    unlink(incomplete)  // a failed write (full disk): free the space, leave nothing behind
                    throw inner
                case .cancelled:
                    throw CancellationError()
                }
            }
        }
        try writer.sync()
        writer.close()
        closed = true

        let received = HubFileSystem.fileSize(incomplete) ?? -1
        if let expected, received != expected {
            unlink(incomplete)
            throw HubError.integrityCheckFailed(repo: repo, filename: filename,
                                                reason: "received \(received) bytes, the hub says \(expected)")
        }
        try verifyHash(path: incomplete, etag: metadata.etag, size: received, repo: repo, filename: filename)
        if rename(incomplete, blob) != 0 {
            let code = errno
            unlink(incomplete)
            throw SpeechT5Error.writeFailed(path: blob, reason: HubFileSystem.describe(errno: code))
        }
    }

    /// Checks the content against the etag: a 64-hex etag is the SHA-256 (LFS), a 40-hex etag git's blob id
    /// (or, from a server that only gives the LFS pointer's id, the id of the pointer this content implies).
    /// Other etags (some mirrors) are not hashes, and only the size is checked.
    func verifyHash(path: String, etag: String, size: Int64, repo: HubRepo, filename: String) throws {
        let lowered = etag.lowercased()
        let isHex = lowered.allSatisfy { $0.isHexDigit }
        guard isHex, lowered.count == 64 || lowered.count == 40 else { return }
        let digests = try FileDigest.compute(path: path, wantSHA256: true, wantGitSHA1: lowered.count == 40)
        if lowered.count == 64 {
            if digests.sha256 != lowered {
                unlink(path)
                throw HubError.integrityCheckFailed(repo: repo, filename: filename,
                                                    reason: "sha256 \(digests.sha256 ?? "?") but the hub says \(lowered)")
            }
            return
        }
        if digests.gitSHA1 == lowered { return }
        if let sha256 = digests.sha256 {
            let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:\(sha256)\nsize \(size)\n"
            var sha1 = SHA1Hasher()
            sha1.update(Array("blob \(pointer.utf8.count)\0".utf8))
            sha1.update(Array(pointer.utf8))
            if hexString(sha1.finalize()) == lowered { return }
        }
        unlink(path)
        throw HubError.integrityCheckFailed(repo: repo, filename: filename,
                                            reason: "git blob id \(digests.gitSHA1 ?? "?") but the hub says \(lowered)")
    }
}

private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}

/// Thrown by ``BlobWriter/accept(_:requestedFrom:)`` when a 206 does not start where the file ends.
struct RangeMismatch: Error {}

/// Appends downloaded bytes to `<blob>.incomplete`; called from the transport's delegate thread.
final class BlobWriter: @unchecked Sendable {
    private let lock = NSLock()
    private var descriptor: Int32
    private let path: String
    private let reportedPath: String
    private let failure: (@Sendable (String, Int64) -> Int32?)?
    private(set) var offset: Int64 = 0
    /// The full size from a `Content-Range: bytes a-b/total` or a 200's `Content-Length`.
    private(set) var announcedTotal: Int64?
    var progress: ProgressBar?

    init(path: String, reportedPath: String, failure: (@Sendable (String, Int64) -> Int32?)?) throws {
        self.path = path
        self.reportedPath = reportedPath
        self.failure = failure
        descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SpeechT5Error.writeFailed(path: reportedPath, reason: HubFileSystem.describe(errno: errno))
        }
        let end = lseek(descriptor, 0, SEEK_END)
        offset = end > 0 ? Int64(end) : 0
    }

    /// Checks a response before its body is written: a 200 to a ranged request restarts the file; a 206
    /// must start at the current end.
    func accept(_ head: HTTPResponseHead, requestedFrom start: Int64) throws {
        if head.status == 200 {
            if let length = head.header("content-length").flatMap({ Int64($0) }) { lock.withLock { announcedTotal = length } }
            if lock.withLock({ offset }) > 0 { try restart() }
        } else if head.status == 206 {
            guard let range = head.header("content-range"), let parsed = BlobWriter.parseContentRange(range),
                  parsed.start == start else {
                throw RangeMismatch()
            }
            if let total = parsed.total { lock.withLock { announcedTotal = total } }
        }
    }

    /// `bytes 100-199/1000` → (100, 1000).
    static func parseContentRange(_ text: String) -> (start: Int64, total: Int64?)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("bytes ") else { return nil }
        let spec = trimmed.dropFirst(6)
        let halves = spec.split(separator: "/", maxSplits: 1)
        guard let range = halves.first, let dash = range.firstIndex(of: "-"),
              let start = Int64(range[range.startIndex ..< dash]) else { return nil }
        let total = halves.count > 1 ? Int64(halves[1]) : nil
        return (start, total)
    }

    func append(_ data: Data) throws {
        try lock.withLock {
            if let failure, let code = failure(path, offset) {
                throw SpeechT5Error.writeFailed(path: reportedPath, reason: HubFileSystem.describe(errno: code))
            }
            try data.withUnsafeBytes { buffer in
                var written = 0
                while written < buffer.count, let base = buffer.baseAddress {
                    let result = write(descriptor, base + written, buffer.count - written)
                    if result < 0 {
                        if errno == EINTR { continue }
                        throw SpeechT5Error.writeFailed(path: reportedPath, reason: HubFileSystem.describe(errno: errno))
                    }
                    written += result
                }
            }
            offset += Int64(data.count)
        }
        progress?.advance(by: data.count)
    }

    /// Empties the file to start over.
    func restart() throws {
        try lock.withLock {
            if ftruncate(descriptor, 0) != 0 || lseek(descriptor, 0, SEEK_SET) < 0 {
                throw SpeechT5Error.writeFailed(path: reportedPath, reason: HubFileSystem.describe(errno: errno))
            }
            offset = 0
        }
        progress?.update(done: 0)
    }

    func sync() throws {
        try lock.withLock {
            if fsync(descriptor) != 0 && errno != EINVAL {
                throw SpeechT5Error.writeFailed(path: reportedPath, reason: HubFileSystem.describe(errno: errno))
            }
        }
    }

    func close() {
        lock.withLock {
            if descriptor >= 0 {
                closeDescriptor(descriptor)
                descriptor = -1
            }
        }
    }
}
