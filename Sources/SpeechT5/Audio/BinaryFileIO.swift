import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small, defensive file helpers shared by the loaders that parse untrusted bytes (NPY, WAV, speaker
/// files, shard indexes). Nothing here trusts a size from a header: reads are bounded by the real file size
/// and by an explicit limit.
enum BinaryFileIO {
    /// The message of the current `errno`.
    static func errnoMessage(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Opens `path` read-only without blocking (a FIFO must not hang us), and checks that it is a regular
    /// file. Returns the descriptor and the file size. The caller closes the descriptor.
    static func openRegularFile(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw SpeechT5Error.fileNotFound(path: path)
            }
            throw SpeechT5Error.invalidFile(path: path, reason: "cannot open: \(errnoMessage(code))")
        }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let message = errnoMessage()
            close(fd)
            throw SpeechT5Error.invalidFile(path: path, reason: "cannot stat: \(message)")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            close(fd)
            throw SpeechT5Error.invalidFile(path: path, reason: "is a directory, not a file")
        }
        if kind != S_IFREG {
            close(fd)
            throw SpeechT5Error.invalidFile(path: path, reason: "is not a regular file")
        }
        guard info.st_size >= 0, let size = Int(exactly: info.st_size) else {
            close(fd)
            throw SpeechT5Error.invalidFile(path: path, reason: "has an invalid size")
        }
        return (fd, size)
    }

    /// Whether `path` names an existing regular file (following symlinks).
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFREG
    }

    /// Whether `path` names an existing directory (following symlinks).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    /// Reads the whole regular file at `path`, refusing files larger than `maxBytes`.
    /// `what` names the kind of file in the size error ("NPY file", "WAV file").
    static func readFile(_ path: String, maxBytes: Int, what: String) throws -> [UInt8] {
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        if size > maxBytes {
            throw SpeechT5Error.invalidFile(
                path: path, reason: "\(what) is \(size) bytes, more than the \(maxBytes)-byte limit")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + filled, size - filled)
            }
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SpeechT5Error.invalidFile(path: path, reason: "read failed: \(errnoMessage(code))")
            }
            if got == 0 { break }  // the file shrank while we read it
            filled += got
        }
        if filled < size { bytes.removeSubrange(filled...) }
        return bytes
    }

    /// Writes `data` to `path` atomically: a temporary file in the same directory, flushed, then renamed
    /// over `path`. Any failure → `.writeFailed`, and the temporary file is removed.
    static func writeAtomically(_ data: Data, to path: String) throws {
        guard !path.isEmpty else {
            throw SpeechT5Error.writeFailed(path: path, reason: "empty path")
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        if isDirectory(path) {
            throw SpeechT5Error.writeFailed(path: path, reason: "is a directory")
        }
        guard isDirectory(directory) else {
            throw SpeechT5Error.writeFailed(path: path, reason: "directory \(directory) does not exist")
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = (directory as NSString).appendingPathComponent(".\(name).\(getpid()).\(suffix).tmp")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw SpeechT5Error.writeFailed(path: path, reason: errnoMessage())
        }
        var failure: String?
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var written = 0
            while written < buffer.count {
                let n = write(fd, base + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errnoMessage()
                    return
                }
                written += n
            }
        }
        if failure == nil, fsync(fd) != 0, errno != EINVAL, errno != EROFS {
            failure = errnoMessage()
        }
        if close(fd) != 0, failure == nil {
            failure = errnoMessage()
        }
        if failure == nil, rename(temporary, path) != 0 {
            failure = errnoMessage()
        }
        if let failure {
            unlink(temporary)
            throw SpeechT5Error.writeFailed(path: path, reason: failure)
        }
    }
}

/// Little-endian loads from a byte array with bounds checks. Every accessor returns nil instead of reading
/// outside the array.
struct LittleEndianBytes {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var count: Int { bytes.count }

    /// Whether `[offset, offset + length)` lies inside the bytes (overflow-safe).
    func contains(_ offset: Int, _ length: Int) -> Bool {
        guard offset >= 0, length >= 0 else { return false }
        let (end, overflow) = offset.addingReportingOverflow(length)
        return !overflow && end <= bytes.count
    }

    func u8(_ offset: Int) -> UInt8? {
        contains(offset, 1) ? bytes[offset] : nil
    }

    func u16(_ offset: Int) -> UInt16? {
        guard contains(offset, 2) else { return nil }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    func u32(_ offset: Int) -> UInt32? {
        guard contains(offset, 4) else { return nil }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        return value
    }

    func u64(_ offset: Int) -> UInt64? {
        guard contains(offset, 8) else { return nil }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return value
    }

    /// The 4 bytes at `offset` as an ASCII tag ("RIFF"), or nil when out of range.
    func tag(_ offset: Int) -> String? {
        guard contains(offset, 4) else { return nil }
        return String(decoding: bytes[offset..<(offset + 4)].map { $0 >= 0x20 && $0 < 0x7f ? $0 : 0x3f },
                      as: UTF8.self)
    }
}

/// Little-endian appenders for the writers.
extension BinaryFileIO {
    static func append(_ value: UInt16, to data: inout Data) {
        data.append(UInt8(value & 0xff))
        data.append(UInt8(value >> 8))
    }

    static func append(_ value: UInt32, to data: inout Data) {
        for i in 0..<4 { data.append(UInt8((value >> (8 * UInt32(i))) & 0xff)) }
    }

    static func append(ascii text: String, to data: inout Data) {
        data.append(contentsOf: Array(text.utf8))
    }
}
