import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The on-disk layout shared with Python's `huggingface_hub`:
///
///     <root>/models--org--name/refs/<revision>            the commit the revision pointed to last time
///     <root>/models--org--name/blobs/<etag>               file contents, named by the hub's etag
///     <root>/models--org--name/snapshots/<commit>/<file>  relative symlink to ../../blobs/<etag>
///     <root>/models--org--name/.no_exist/<commit>/<file>  empty marker: the file does not exist at that commit
///     <root>/.locks/models--org--name/<etag>.lock         flock(2) lock held while the blob is written
///
/// Datasets use `datasets--org--name`.
struct HubCacheLayout: Sendable {
    let root: String

    func storageFolder(_ repo: HubRepo) -> String {
        (root as NSString).appendingPathComponent(repo.cacheFolderName)
    }

    func refPath(_ repo: HubRepo, revision: String) -> String {
        join(storageFolder(repo), "refs", revision)
    }

    func snapshotDirectory(_ repo: HubRepo, commit: String) -> String {
        join(storageFolder(repo), "snapshots", commit)
    }

    func pointerPath(_ repo: HubRepo, commit: String, filename: String) -> String {
        join(snapshotDirectory(repo, commit: commit), filename)
    }

    func blobPath(_ repo: HubRepo, etag: String) -> String {
        join(storageFolder(repo), "blobs", etag)
    }

    func noExistPath(_ repo: HubRepo, commit: String, filename: String) -> String {
        join(storageFolder(repo), ".no_exist", commit, filename)
    }

    func lockPath(_ repo: HubRepo, etag: String) -> String {
        join(root, ".locks", repo.cacheFolderName, etag + ".lock")
    }

    /// The commit a revision resolves to without the network: the revision itself when it is a commit id,
    /// else the content of `refs/<revision>`.
    func cachedCommit(_ repo: HubRepo, revision: String) -> String? {
        if HubValidation.isCommitHash(revision) { return revision }
        guard let data = FileManager.default.contents(atPath: refPath(repo, revision: revision)),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return HubValidation.isCommitHash(commit) ? commit : nil
    }

    /// The snapshot path of a cached file, if both the pointer and what it points to exist.
    func cachedFile(_ repo: HubRepo, commit: String, filename: String) -> String? {
        let pointer = pointerPath(repo, commit: commit, filename: filename)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: pointer, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return nil
        }
        return pointer
    }

    /// Whether an earlier lookup recorded that the file does not exist at that commit.
    func knownMissing(_ repo: HubRepo, commit: String, filename: String) -> Bool {
        FileManager.default.fileExists(atPath: noExistPath(repo, commit: commit, filename: filename))
    }

    // MARK: Writing

    /// Records `revision -> commit` atomically (temporary file + rename), unless the revision is the commit.
    func writeRef(_ repo: HubRepo, revision: String, commit: String) throws {
        guard revision != commit else { return }
        let path = refPath(repo, revision: revision)
        if let data = FileManager.default.contents(atPath: path), String(data: data, encoding: .utf8) == commit {
            return
        }
        try HubFileSystem.makeDirectory((path as NSString).deletingLastPathComponent)
        try HubFileSystem.writeAtomically(Data(commit.utf8), to: path)
    }

    /// Writes the empty `.no_exist` marker (best effort, as `huggingface_hub` does).
    func markMissing(_ repo: HubRepo, commit: String, filename: String) {
        let path = noExistPath(repo, commit: commit, filename: filename)
        try? HubFileSystem.makeDirectory((path as NSString).deletingLastPathComponent)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: Data())
        }
    }

    /// Points `snapshots/<commit>/<filename>` at `blobs/<etag>` with a relative symlink, replacing any older
    /// entry atomically. Where symlinks are not possible the blob is copied instead.
    func linkPointer(_ repo: HubRepo, commit: String, filename: String, etag: String) throws {
        let pointer = pointerPath(repo, commit: commit, filename: filename)
        let pointerDirectory = (pointer as NSString).deletingLastPathComponent
        try HubFileSystem.makeDirectory(pointerDirectory)
        let depth = filename.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        let temporary = pointer + ".tmp-" + UUID().uuidString.prefix(8)
        if symlink(target, temporary) == 0 {
            if rename(temporary, pointer) == 0 { return }
            let code = errno
            unlink(temporary)
            throw SpeechT5Error.writeFailed(path: pointer, reason: HubFileSystem.describe(errno: code))
        }
        // No symlinks on this file system: copy the blob (as huggingface_hub does).
        let blob = blobPath(repo, etag: etag)
        do {
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: blob, toPath: temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw SpeechT5Error.writeFailed(path: pointer, reason: "\(error)")
        }
        if rename(temporary, pointer) != 0 {
            let code = errno
            unlink(temporary)
            throw SpeechT5Error.writeFailed(path: pointer, reason: HubFileSystem.describe(errno: code))
        }
    }

    /// Creates `CACHEDIR.TAG` at the root (best effort), like `huggingface_hub`, so backup tools skip the cache.
    func tagCacheDirectory() {
        let path = (root as NSString).appendingPathComponent("CACHEDIR.TAG")
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let content = "Signature: 8a477f597d28d172789f06886806bc55\n"
            + "# This file is a cache directory tag created by huggingface_hub.\n"
            + "# For information about cache directory tags, see:\n"
            + "#\thttps://bford.info/cachedir/\n"
        try? HubFileSystem.writeAtomically(Data(content.utf8), to: path)
    }

    private func join(_ base: String, _ parts: String...) -> String {
        var path = base
        for part in parts {
            for component in part.split(separator: "/") { path = (path as NSString).appendingPathComponent(String(component)) }
        }
        return path
    }
}

/// Small POSIX helpers whose failures become ``SpeechT5Error/writeFailed(path:reason:)``.
enum HubFileSystem {
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SpeechT5Error.writeFailed(path: path, reason: describe(error))
        }
    }

    /// Writes to a unique temporary file beside `path`, then renames it over `path`.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-" + UUID().uuidString.prefix(8)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SpeechT5Error.writeFailed(path: path, reason: describe(errno: errno))
        }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        close(descriptor)
        if failure == 0, rename(temporary, path) == 0 { return }
        let code = failure != 0 ? failure : errno
        unlink(temporary)
        throw SpeechT5Error.writeFailed(path: path, reason: describe(errno: code))
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func describe(errno code: Int32) -> String {
        let name: String
        switch code {
        case ENOSPC: name = " (ENOSPC)"
        case EDQUOT: name = " (EDQUOT)"
        case EACCES: name = " (EACCES)"
        case EROFS: name = " (EROFS)"
        default: name = ""
        }
        return String(cString: strerror(code)) + name
    }

    static func describe(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return describe(errno: Int32(underlying.code))
        }
        if nsError.domain == NSPOSIXErrorDomain { return describe(errno: Int32(nsError.code)) }
        return nsError.localizedDescription
    }
}

/// An advisory `flock(2)` lock on a file, compatible with the `filelock` locks `huggingface_hub` takes on the
/// same path. Waiting polls without blocking a thread.
final class HubFileLock: @unchecked Sendable {
    private var descriptor: Int32 = -1

    /// Takes the lock, creating the file if needed. If the file system does not support locks, proceeds
    /// without one (writes stay safe: blobs are renamed into place only once verified).
    static func acquire(path: String) async throws -> HubFileLock {
        try HubFileSystem.makeDirectory((path as NSString).deletingLastPathComponent)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SpeechT5Error.writeFailed(path: path, reason: HubFileSystem.describe(errno: errno))
        }
        let lock = HubFileLock()
        lock.descriptor = descriptor
        while true {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return lock }
            let code = errno
            if code != EWOULDBLOCK && code != EAGAIN && code != EINTR { return lock }  // no locking here
            do {
                try await Task.sleep(nanoseconds: 50_000_000)
            } catch {
                lock.release()
                throw error
            }
        }
    }

    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
