import Foundation

/// Every way fetching from the Hugging Face hub (or its cache) can fail. Each description is one line that
/// says what went wrong and what to do about it. Local write failures (a full disk, say) are reported as
/// ``SpeechT5Error/writeFailed(path:reason:)`` instead; a malformed local path as
/// ``SpeechT5Error/fileNotFound(path:)``.
public enum HubError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A repo id, revision or file name that the hub cannot hold (or that would escape the cache).
    case invalidArgument(name: String, value: String, reason: String)
    /// The hub does not know the repository (HTTP 404 `RepoNotFound`).
    case repositoryNotFound(repo: HubRepo, endpoint: String, tokenSent: Bool)
    /// The hub wants a token and none was sent (HTTP 401): the repo is private, gated, or does not exist.
    case authenticationRequired(repo: HubRepo, endpoint: String)
    /// The hub refused the token that was sent (HTTP 401 with a token).
    case tokenRejected(repo: HubRepo, endpoint: String)
    /// The repository is gated and the token's account has not been granted access (HTTP 403 `GatedRepo`).
    case gatedRepository(repo: HubRepo, endpoint: String)
    /// The repository exists but the branch, tag or commit does not (HTTP 404 `RevisionNotFound`).
    case revisionNotFound(repo: HubRepo, revision: String)
    /// The repository and revision exist but the file does not (HTTP 404 `EntryNotFound`).
    case entryNotFound(repo: HubRepo, revision: String, filename: String)
    /// Any other HTTP failure status (5xx, 403, 429, ...).
    case httpStatus(url: String, status: Int, message: String)
    /// The hub could not be reached (connection refused, unknown host, timeout, TLS) and the file is not cached.
    case network(url: String, reason: String, repo: HubRepo, filename: String, cacheDirectory: String)
    /// `HF_HUB_OFFLINE` is set and the file is not in the cache.
    case offlineNotCached(repo: HubRepo, revision: String, filename: String, cacheDirectory: String)
    /// The server answered, but not like a hub (no `X-Repo-Commit`, no `ETag`, a malformed value).
    case invalidResponse(url: String, reason: String)
    /// A downloaded file does not match the hub's size or hash; the damaged file was deleted.
    case integrityCheckFailed(repo: HubRepo, filename: String, reason: String)
    /// The transfer kept failing; what arrived is kept as `blobs/<etag>.incomplete` and is resumed next time.
    case interrupted(repo: HubRepo, filename: String, received: Int64, expected: Int64?, reason: String)

    /// One line: what failed, and what to do about it.
    public var description: String {
        switch self {
        case .invalidArgument(let name, let value, let reason):
            return "invalid \(name) '\(HubError.oneLine(value))': \(reason)"
        case .repositoryNotFound(let repo, let endpoint, let tokenSent):
            let tokenHint = tokenSent
                ? "check the id and that the token in HF_TOKEN can read it"
                : "check the id; if it is private or gated, set HF_TOKEN to a token that can read it"
            return "\(repo) not found on \(endpoint): \(tokenHint)"
        case .authenticationRequired(let repo, let endpoint):
            return "\(repo) needs authentication on \(endpoint) (HTTP 401: it is private or gated, or does not "
                + "exist): set HF_TOKEN to a token with read access"
        case .tokenRejected(let repo, let endpoint):
            return "\(endpoint) rejected the token sent for \(repo) (HTTP 401): set HF_TOKEN to a valid token "
                + "with read access"
        case .gatedRepository(let repo, let endpoint):
            return "\(repo) is gated: accept its conditions at \(endpoint)/\(repo.urlPath) and set HF_TOKEN to a "
                + "token of that account"
        case .revisionNotFound(let repo, let revision):
            return "revision '\(HubError.oneLine(revision))' not found in \(repo)"
        case .entryNotFound(let repo, let revision, let filename):
            return "file '\(HubError.oneLine(filename))' not found in \(repo) at revision "
                + "'\(HubError.oneLine(revision))'"
        case .httpStatus(let url, let status, let message):
            let detail = message.isEmpty ? "" : ": \(HubError.oneLine(message))"
            return "the hub answered HTTP \(status) for \(url)\(detail)"
        case .network(let url, let reason, let repo, let filename, let cacheDirectory):
            return "cannot reach \(url) (\(HubError.oneLine(reason))) and '\(filename)' of \(repo) is not in the "
                + "cache at \(cacheDirectory): check the network (or HF_ENDPOINT); with HF_HUB_OFFLINE=1 only "
                + "cached files are used"
        case .offlineNotCached(let repo, let revision, let filename, let cacheDirectory):
            return "HF_HUB_OFFLINE is set and '\(filename)' of \(repo) at revision '\(revision)' is not in the "
                + "cache at \(cacheDirectory): unset HF_HUB_OFFLINE to download it, or point HF_HUB_CACHE at a "
                + "cache that has it"
        case .invalidResponse(let url, let reason):
            return "unexpected answer from \(url): \(HubError.oneLine(reason)) (is HF_ENDPOINT a Hugging Face hub?)"
        case .integrityCheckFailed(let repo, let filename, let reason):
            return "download of '\(filename)' from \(repo) failed verification (\(HubError.oneLine(reason))); the "
                + "damaged file was deleted: run again"
        case .interrupted(let repo, let filename, let received, let expected, let reason):
            let total = expected.map { " of \($0)" } ?? ""
            return "download of '\(filename)' from \(repo) stopped after \(received)\(total) bytes "
                + "(\(HubError.oneLine(reason))): run again to resume"
        }
    }

    /// The same line as ``description``.
    public var errorDescription: String? { description }

    /// Whether a cached copy may stand in for the answer (the hub was unreachable or refused, but did not say
    /// that the repo, revision or file is gone).
    var allowsCacheFallback: Bool {
        switch self {
        case .network, .authenticationRequired, .tokenRejected, .gatedRepository, .httpStatus, .invalidResponse:
            return true
        default:
            return false
        }
    }

    /// Collapses server-provided text to one short line.
    static func oneLine(_ text: String, limit: Int = 200) -> String {
        let flat = text.map { $0.isNewline || $0 == "\t" ? " " : $0 }
        let string = String(flat)
        return string.count > limit ? String(string.prefix(limit)) + "…" : string
    }
}
