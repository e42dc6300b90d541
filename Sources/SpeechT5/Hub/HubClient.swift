import Foundation

/// The kind of a hub repository; it decides the URL prefix and the cache folder prefix.
public enum HubRepoType: String, Sendable, Hashable {
    /// A model repository (`{endpoint}/org/name`, cached as `models--org--name`).
    case model
    /// A dataset repository (`{endpoint}/datasets/org/name`, cached as `datasets--org--name`).
    case dataset
}

/// A repository on the Hugging Face hub: an id such as `microsoft/speecht5_tts` and its type.
public struct HubRepo: Sendable, Hashable, CustomStringConvertible {
    /// The repository id, `org/name`.
    public let id: String
    /// Model or dataset.
    public let type: HubRepoType

    /// Names a repository. The id is checked when the repository is used.
    public init(id: String, type: HubRepoType = .model) {
        self.id = id
        self.type = type
    }

    /// The dataset holding the CMU ARCTIC x-vectors (`spkrec-xvect.zip`) that SpeechT5 demos use as voices.
    public static let cmuArcticXVectors = HubRepo(id: "Matthijs/cmu-arctic-xvectors", type: .dataset)

    /// "model 'org/name'" or "dataset 'org/name'".
    public var description: String { "\(type.rawValue) '\(id)'" }

    /// The repository's path below the endpoint (`org/name` or `datasets/org/name`).
    var urlPath: String { type == .model ? id : "datasets/\(id)" }

    /// The cache folder name, as `huggingface_hub.file_download.repo_folder_name` makes it.
    var cacheFolderName: String { (["\(type.rawValue)s"] + id.split(separator: "/").map(String.init)).joined(separator: "--") }
}

/// Where the hub is, who the user is, and where files are cached. ``fromEnvironment(_:)`` reads the same
/// variables as Python's `huggingface_hub`, so both share one cache.
public struct HubConfiguration: Sendable, Equatable {
    /// The hub's base URL, without a trailing slash (`HF_ENDPOINT`, default `https://huggingface.co`).
    public var endpoint: String
    /// Sent as `Authorization: Bearer <token>` to the hub's own origin only (`HF_TOKEN`, or the token file).
    public var token: String?
    /// The cache root (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    public var cacheDirectory: String
    /// When true, no request is made and files come from the cache only (`HF_HUB_OFFLINE=1`).
    public var offline: Bool
    /// When to draw a progress bar on standard error (`HF_HUB_DISABLE_PROGRESS_BARS=1` turns it off).
    public var progress: HubProgressMode
    /// Seconds to wait for the answer to a metadata request (`HF_HUB_ETAG_TIMEOUT`, default 10).
    public var metadataTimeout: TimeInterval
    /// Seconds a download may stall before it is retried (`HF_HUB_DOWNLOAD_TIMEOUT`, default 10).
    public var downloadTimeout: TimeInterval

    /// A configuration with explicit values; unspecified ones take the hub's defaults.
    public init(endpoint: String = HubConfiguration.defaultEndpoint, token: String? = nil, cacheDirectory: String,
                offline: Bool = false, progress: HubProgressMode = .automatic,
                metadataTimeout: TimeInterval = 10, downloadTimeout: TimeInterval = 10) {
        var trimmed = endpoint
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.endpoint = trimmed
        self.token = token
        self.cacheDirectory = cacheDirectory
        self.offline = offline
        self.progress = progress
        self.metadataTimeout = metadataTimeout
        self.downloadTimeout = downloadTimeout
    }

    /// `https://huggingface.co`.
    public static let defaultEndpoint = "https://huggingface.co"

    /// Reads `HF_ENDPOINT`, `HF_TOKEN` (else `HUGGING_FACE_HUB_TOKEN`, else the file at `HF_TOKEN_PATH` or
    /// `$HF_HOME/token`), `HF_HUB_CACHE` (else `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub` with `HF_HOME`
    /// defaulting to `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`), `HF_HUB_OFFLINE` (or
    /// `TRANSFORMERS_OFFLINE`), `HF_HUB_DISABLE_PROGRESS_BARS`, `HF_HUB_ETAG_TIMEOUT`, `HF_HUB_DOWNLOAD_TIMEOUT`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> HubConfiguration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                return nil
            }
            return text
        }
        func isTrue(_ name: String) -> Bool {
            guard let text = value(name) else { return false }
            return ["1", "ON", "YES", "TRUE"].contains(text.uppercased())
        }
        let home = value("HOME") ?? NSHomeDirectory()
        func expand(_ path: String) -> String {
            if path == "~" { return home }
            if path.hasPrefix("~/") { return (home as NSString).appendingPathComponent(String(path.dropFirst(2))) }
            return path
        }
        let cacheHome = expand(value("XDG_CACHE_HOME") ?? (home as NSString).appendingPathComponent(".cache"))
        let hfHome = expand(value("HF_HOME") ?? (cacheHome as NSString).appendingPathComponent("huggingface"))
        let cache = expand(value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE")
            ?? (hfHome as NSString).appendingPathComponent("hub"))

        var token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN")
        if token == nil {
            let tokenPath = expand(value("HF_TOKEN_PATH") ?? (hfHome as NSString).appendingPathComponent("token"))
            if let data = FileManager.default.contents(atPath: tokenPath), let text = String(data: data, encoding: .utf8) {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                token = trimmed.isEmpty ? nil : trimmed
            }
        }
        return HubConfiguration(
            endpoint: value("HF_ENDPOINT") ?? defaultEndpoint,
            token: token,
            cacheDirectory: cache,
            offline: isTrue("HF_HUB_OFFLINE") || isTrue("TRANSFORMERS_OFFLINE"),
            progress: isTrue("HF_HUB_DISABLE_PROGRESS_BARS") ? .never : .automatic,
            metadataTimeout: value("HF_HUB_ETAG_TIMEOUT").flatMap(TimeInterval.init) ?? 10,
            downloadTimeout: value("HF_HUB_DOWNLOAD_TIMEOUT").flatMap(TimeInterval.init) ?? 10)
    }
}

/// Fault injection and output redirection for tests.
struct HubTestHooks: Sendable {
    /// Called before each write of downloaded bytes with the file and its offset; a non-nil errno makes the
    /// write fail with that code (ENOSPC simulates a full disk).
    var writeFailure: (@Sendable (_ path: String, _ offset: Int64) -> Int32?)?
    /// Where the progress bar goes (standard error by default).
    var progressDescriptor: Int32 = 2
    /// Pause before retrying an interrupted transfer.
    var retryDelay: TimeInterval = 0.25
}

/// Downloads files from the Hugging Face hub into the cache that Python's `huggingface_hub` uses, and finds
/// them there again (also offline). Downloads are resumable, verified against the hub's size and hash
/// (SHA-256 for LFS files, git's blob id for the others) and atomic: a file appears under `blobs/` only once
/// complete and verified, so a half file is never used.
///
///     let client = HubClient()                                    // configured from the environment
///     let directory = try await client.resolveModelDirectory("microsoft/speecht5_tts", revision: nil)
public struct HubClient: Sendable {
    /// The endpoint, token, cache and modes in use.
    public let configuration: HubConfiguration
    var hooks = HubTestHooks()
    let transport = HTTPTransport()

    /// A client for `configuration` (by default read from the environment, see ``HubConfiguration/fromEnvironment(_:)``).
    public init(configuration: HubConfiguration = .fromEnvironment()) {
        self.configuration = configuration
    }

    var cache: HubCacheLayout { HubCacheLayout(root: configuration.cacheDirectory) }

    // MARK: Public API

    /// Returns the local path of `filename` from `repo` at `revision` (a branch, tag or commit id; default
    /// `main`), downloading it into the cache first if needed. The path is inside
    /// `snapshots/<commit>/` and is a symlink to the blob, as with `huggingface_hub`.
    ///
    /// A commit id that is already cached needs no network. Otherwise the hub is asked which commit the
    /// revision is at; if it cannot be reached (or refuses), the cached copy recorded for that revision is used.
    public func file(_ filename: String, in repo: HubRepo, revision: String = "main") async throws -> String {
        try await resolve(filename, in: repo, revision: revision).path
    }

    /// Fetches what a SpeechT5 model or vocoder directory needs and returns the snapshot directory:
    /// `config.json`; the weights, preferring `model.safetensors` (or its sharded `model.safetensors.index.json`)
    /// over `pytorch_model.bin` (or `pytorch_model.bin.index.json`), with every shard an index names;
    /// `spm_char.model` (required when `config.json` says `"model_type": "speecht5"`); and, when present,
    /// `added_tokens.json`, `special_tokens_map.json`, `tokenizer_config.json`, `generation_config.json`.
    /// All files come from the one commit that `revision` names when `config.json` is resolved.
    public func modelSnapshot(_ repo: HubRepo, revision: String = "main") async throws -> String {
        let config = try await resolve("config.json", in: repo, revision: revision)
        let commit = config.commit
        // If the hub was unreachable for config.json, the rest must come from the cache too.
        let offline = config.fallbackError != nil
        func fetch(_ name: String) async throws -> String {
            try await resolve(name, in: repo, revision: commit, cacheOnly: offline, fallbackError: config.fallbackError,
                              displayRevision: revision).path
        }
        func fetchIfPresent(_ name: String) async throws -> String? {
            do {
                return try await fetch(name)
            } catch let error as HubError {
                switch error {
                case .entryNotFound: return nil
                case .offlineNotCached where offline || configuration.offline: return nil
                case .network where offline: return nil
                default: throw error
                }
            }
        }

        var weightsFound = false
        for candidate in ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"] {
            guard let path = try await fetchIfPresent(candidate) else { continue }
            if candidate.hasSuffix(".index.json") {
                for shard in try HubClient.shardNames(indexPath: path) { _ = try await fetch(shard) }
            }
            weightsFound = true
            break
        }
        if !weightsFound {
            let names = "model.safetensors or pytorch_model.bin"
            if let fallbackError = config.fallbackError { throw HubClient.retarget(fallbackError, filename: names) }
            if configuration.offline {
                throw HubError.offlineNotCached(repo: repo, revision: revision, filename: names,
                                                cacheDirectory: configuration.cacheDirectory)
            }
            throw HubError.entryNotFound(repo: repo, revision: revision, filename: names)
        }
        if HubClient.modelType(configPath: config.path) == "speecht5" {
            _ = try await fetch("spm_char.model")
        }
        for optional in ["added_tokens.json", "special_tokens_map.json", "tokenizer_config.json", "generation_config.json"] {
            _ = try await fetchIfPresent(optional)
        }
        return cache.snapshotDirectory(repo, commit: commit)
    }

    /// Turns a `--model`/`--vocoder` argument into a directory: an existing local directory is returned as
    /// is (and `revision` is ignored); otherwise the argument must be a hub repo id (`org/name`), whose
    /// ``modelSnapshot(_:revision:)`` at `revision` (default `main`) is returned.
    public func resolveModelDirectory(_ argument: String, revision: String?) async throws -> String {
        let expanded = argument.hasPrefix("~/") ? (argument as NSString).expandingTildeInPath : argument
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return expanded }
            throw SpeechT5Error.invalidFile(path: expanded, reason: "is a file; expected a model directory or a hub repo id (org/name)")
        }
        let looksLikePath = argument.hasPrefix("/") || argument.hasPrefix(".") || argument.hasPrefix("~")
            || argument.contains("\\") || argument.split(separator: "/", omittingEmptySubsequences: false).count > 2
        if looksLikePath { throw SpeechT5Error.fileNotFound(path: expanded) }
        guard argument.contains("/") else {
            throw HubError.invalidArgument(name: "model", value: argument,
                                           reason: "no such directory, and not a hub repo id of the form org/name")
        }
        return try await modelSnapshot(HubRepo(id: argument, type: .model), revision: revision ?? "main")
    }

    /// The path of `spkrec-xvect.zip` from ``HubRepo/cmuArcticXVectors`` (downloaded into the cache if needed):
    /// a zip of `spkrec-xvect/cmu_us_<speaker>_arctic-wav-arctic_<utterance>.npy` files, 512 float32 each.
    public func speakerEmbeddingArchive(revision: String = "main") async throws -> String {
        try await file("spkrec-xvect.zip", in: .cmuArcticXVectors, revision: revision)
    }

    // MARK: Resolution

    struct ResolvedFile: Sendable {
        let path: String
        let commit: String
        /// Set when the hub could not be asked and the cache answered instead.
        let fallbackError: HubError?
    }

    /// Finds or downloads one file. With `cacheOnly`, never touches the network; a miss then throws
    /// `fallbackError` (retargeted to the file) or ``HubError/offlineNotCached(repo:revision:filename:cacheDirectory:)``.
    func resolve(_ filename: String, in repo: HubRepo, revision: String, cacheOnly: Bool = false,
                 fallbackError: HubError? = nil, displayRevision: String? = nil) async throws -> ResolvedFile {
        try HubValidation.check(repo: repo)
        try HubValidation.check(revision: revision)
        try HubValidation.check(filename: filename)
        let cache = self.cache
        let shownRevision = displayRevision ?? revision

        if configuration.offline || cacheOnly {
            if let commit = cache.cachedCommit(repo, revision: revision) {
                if let path = cache.cachedFile(repo, commit: commit, filename: filename) {
                    return ResolvedFile(path: path, commit: commit, fallbackError: fallbackError)
                }
                if cache.knownMissing(repo, commit: commit, filename: filename) {
                    throw HubError.entryNotFound(repo: repo, revision: shownRevision, filename: filename)
                }
            }
            if let fallbackError { throw HubClient.retarget(fallbackError, filename: filename) }
            throw HubError.offlineNotCached(repo: repo, revision: shownRevision, filename: filename,
                                            cacheDirectory: configuration.cacheDirectory)
        }

        if HubValidation.isCommitHash(revision) {
            if let path = cache.cachedFile(repo, commit: revision, filename: filename) {
                return ResolvedFile(path: path, commit: revision, fallbackError: nil)
            }
            if cache.knownMissing(repo, commit: revision, filename: filename) {
                throw HubError.entryNotFound(repo: repo, revision: shownRevision, filename: filename)
            }
        }

        let metadata: HubFileMetadata
        do {
            metadata = try await fetchMetadata(filename, in: repo, revision: revision, displayRevision: shownRevision)
        } catch let error as HubError where error.allowsCacheFallback {
            if let commit = cache.cachedCommit(repo, revision: revision),
               let path = cache.cachedFile(repo, commit: commit, filename: filename) {
                return ResolvedFile(path: path, commit: commit, fallbackError: error)
            }
            throw error
        }

        if let path = cache.cachedFile(repo, commit: metadata.commit, filename: filename) {
            try? cache.writeRef(repo, revision: revision, commit: metadata.commit)  // best effort: the cache may be read-only
            return ResolvedFile(path: path, commit: metadata.commit, fallbackError: nil)
        }
        cache.tagCacheDirectory()
        try cache.writeRef(repo, revision: revision, commit: metadata.commit)

        let blob = cache.blobPath(repo, etag: metadata.etag)
        try HubFileSystem.makeDirectory((blob as NSString).deletingLastPathComponent)
        let lock = try await HubFileLock.acquire(path: cache.lockPath(repo, etag: metadata.etag))
        defer { lock.release() }
        if !HubFileSystem.exists(blob) {
            try await download(metadata, filename: filename, repo: repo, to: blob)
        }
        try cache.linkPointer(repo, commit: metadata.commit, filename: filename, etag: metadata.etag)
        return ResolvedFile(path: cache.pointerPath(repo, commit: metadata.commit, filename: filename),
                            commit: metadata.commit, fallbackError: nil)
    }

    /// A cache-fallback error re-addressed to another file (same cause).
    static func retarget(_ error: HubError, filename: String) -> HubError {
        if case .network(let url, let reason, let repo, _, let cacheDirectory) = error {
            return .network(url: url, reason: reason, repo: repo, filename: filename, cacheDirectory: cacheDirectory)
        }
        return error
    }

    static func shardNames(indexPath: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: indexPath),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let weightMap = object["weight_map"] as? [String: Any] else {
            throw SpeechT5Error.invalidFile(path: indexPath, reason: "not a sharded-checkpoint index (no weight_map object)")
        }
        var names: [String] = []
        for value in weightMap.values {
            guard let name = value as? String else {
                throw SpeechT5Error.invalidFile(path: indexPath, reason: "weight_map values must be file names")
            }
            if !names.contains(name) { names.append(name) }
        }
        for name in names {
            do { try HubValidation.check(filename: name) } catch {
                throw SpeechT5Error.invalidFile(path: indexPath, reason: "shard name '\(HubError.oneLine(name))' is not a plain relative path")
            }
        }
        return names.sorted()
    }

    static func modelType(configPath: String) -> String? {
        guard let data = FileManager.default.contents(atPath: configPath),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["model_type"] as? String
    }
}

/// A convenience for command-line tools: ``HubClient/resolveModelDirectory(_:revision:)`` with a client
/// configured from the environment.
public func resolveModelDirectory(_ argument: String, revision: String?) async throws -> String {
    try await HubClient().resolveModelDirectory(argument, revision: revision)
}

/// Checks on names that become URL parts and cache paths.
enum HubValidation {
    static func isCommitHash(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48 ... 57).contains($0) || (97 ... 102).contains($0) }
    }

    /// Same rules as `huggingface_hub.utils.validate_repo_id`: `name` or `org/name`, letters, digits, `-_.`,
    /// no `--` or `..`, no leading or trailing `-`/`.`, at most 96 characters per part.
    static func check(repo: HubRepo) throws {
        let parts = repo.id.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        let valid = (1 ... 2).contains(parts.count) && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 96 && part.allSatisfy { allowed.contains($0) }
                && !part.hasPrefix("-") && !part.hasPrefix(".") && !part.hasSuffix("-") && !part.hasSuffix(".")
        } && !repo.id.contains("--") && !repo.id.contains("..") && !repo.id.hasSuffix(".git")
        if !valid {
            throw HubError.invalidArgument(name: "repo id", value: repo.id,
                                           reason: "expected org/name made of letters, digits, '-', '_' and '.'")
        }
    }

    /// A branch, tag or commit; slashes are allowed (`refs/pr/1`), but nothing that escapes `refs/`.
    static func check(revision: String) throws {
        let components = revision.split(separator: "/", omittingEmptySubsequences: false)
        let bad = revision.isEmpty || revision.hasPrefix("/") || revision.contains("\\")
            || components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
            || revision.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        if bad {
            throw HubError.invalidArgument(name: "revision", value: revision, reason: "expected a branch, tag or commit id")
        }
    }

    /// A relative path inside the repository, without `.`/`..` components.
    static func check(filename: String) throws {
        let components = filename.split(separator: "/", omittingEmptySubsequences: false)
        let bad = filename.isEmpty || filename.hasPrefix("/") || filename.contains("\\")
            || components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
            || filename.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        if bad {
            throw HubError.invalidArgument(name: "file name", value: filename, reason: "expected a relative path inside the repository")
        }
    }
}
