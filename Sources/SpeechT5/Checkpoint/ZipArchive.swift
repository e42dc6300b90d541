import Foundation

/// A zip archive with stored or deflated entries (such as `spkrec-xvect.zip` of
/// `Matthijs/cmu-arctic-xvectors`), read defensively.
///
/// Opening reads the file and validates its structure: the end record and central directory must lie
/// inside the file, every entry's local header must agree with the directory, entries may not overlap or be
/// encrypted, and entry names must be plain relative paths (no `..`, no leading `/`, no backslashes, no
/// control characters). Reading an entry checks its compression method, refuses sizes and compression
/// ratios beyond ``Limits``, inflates with a hard output cap (a stream that produces more or fewer bytes
/// than the directory declares is refused) and checks the CRC-32. Every failure is an
/// ``SpeechT5Error/invalidFile(path:reason:)`` naming the archive and the problem.
public final class ZipArchive {
    /// Bounds that keep a hostile archive from exhausting memory.
    public struct Limits: Sendable, Equatable {
        /// Largest archive file read (the file is held in memory while open).
        public var maxArchiveBytes: Int
        /// Largest uncompressed entry ``ZipArchive/contents(of:maxBytes:)`` returns (it may pass a lower bound).
        public var maxEntryBytes: Int
        /// Largest sum of declared uncompressed sizes over all entries.
        public var maxTotalBytes: Int
        /// Largest ratio of uncompressed to compressed size of a deflated entry. Deflate cannot exceed about
        /// 1032:1, so a higher declared ratio is a lie or a bomb.
        public var maxCompressionRatio: Int
        /// Most entries.
        public var maxEntries: Int

        public init(maxArchiveBytes: Int = 1 << 30, maxEntryBytes: Int = 64 << 20, maxTotalBytes: Int = 4 << 30,
                    maxCompressionRatio: Int = 1100, maxEntries: Int = 200_000) {
            self.maxArchiveBytes = maxArchiveBytes
            self.maxEntryBytes = maxEntryBytes
            self.maxTotalBytes = maxTotalBytes
            self.maxCompressionRatio = maxCompressionRatio
            self.maxEntries = maxEntries
        }
    }

    /// One entry of the archive.
    public struct Entry: Sendable, Equatable {
        /// The entry's name (a relative path; directories end with `/`).
        public let name: String
        /// 0 = stored, 8 = deflate (others are listed but cannot be read).
        public let method: Int
        /// Size in the archive.
        public let compressedSize: Int
        /// Size once extracted, as the directory declares it.
        public let uncompressedSize: Int
        /// CRC-32 of the extracted bytes, as the directory declares it.
        public let crc32: UInt32

        /// Whether the entry is a directory.
        public var isDirectory: Bool { name.hasSuffix("/") }
    }

    /// The archive's path.
    public let path: String
    /// The limits in force.
    public let limits: Limits
    /// The entries by name.
    private let records: [String: ZipRecord]
    /// The file's bytes (owned; freed in deinit).
    private let storage: UnsafeMutableRawBufferPointer
    private let directory: ZipDirectory

    /// Opens and validates the archive at `path`. Missing file → `.fileNotFound`; anything malformed or
    /// hostile → `.invalidFile`.
    public init(path: String, limits: Limits = Limits()) throws {
        func invalid(_ reason: String) -> SpeechT5Error { .invalidFile(path: path, reason: reason) }
        let (fd, size) = try BinaryFileIO.openRegularFile(path)
        close(fd)
        guard size <= limits.maxArchiveBytes else {
            throw invalid("zip archive is \(size) bytes, more than the \(limits.maxArchiveBytes)-byte limit")
        }
        let bytes = try BinaryFileIO.readFile(path, maxBytes: limits.maxArchiveBytes, what: "zip archive")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, let target = buffer.baseAddress {
                target.copyMemory(from: base, byteCount: source.count)
            }
        }
        do {
            guard let base = buffer.baseAddress else { throw invalid("cannot allocate memory for the archive") }
            if bytes.count >= 4, bytes[0] != 0x50 || bytes[1] != 0x4b {
                throw invalid("not a zip archive (it does not start with 'PK')")
            }
            let parsed = try ZipDirectory(RawBytes(base: UnsafeRawPointer(base), count: bytes.count), path: path)
            guard parsed.entries.count <= limits.maxEntries else {
                throw invalid("zip archive has \(parsed.entries.count) entries, more than the \(limits.maxEntries) accepted")
            }
            var total = 0
            for record in parsed.entries.values {
                if let problem = Self.nameProblem(record.name) {
                    throw invalid("zip entry '\(TorchCheckpoint.describe(record.name))' \(problem): refusing a hostile or corrupt archive")
                }
                let (sum, overflow) = total.addingReportingOverflow(record.uncompressedSize)
                guard !overflow, sum <= limits.maxTotalBytes else {
                    throw invalid("zip entries declare more than \(limits.maxTotalBytes) bytes in all (a zip bomb?)")
                }
                total = sum
            }
            self.directory = parsed
            self.records = parsed.entries
        } catch {
            buffer.deallocate()
            throw error
        }
        self.path = path
        self.limits = limits
        self.storage = buffer
    }

    deinit {
        storage.deallocate()
    }

    /// Why `name` is not a safe relative path, or nil.
    static func nameProblem(_ name: String) -> String? {
        if name.hasPrefix("/") { return "is an absolute path" }
        if name.contains("\\") { return "contains a backslash" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "contains control characters" }
        if name.count >= 2, name.dropFirst().first == ":" { return "starts with a drive letter" }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        // A trailing empty component is a directory's slash; empty ones elsewhere are `//`.
        for (index, component) in components.enumerated() {
            if component == ".." { return "climbs out of the archive ('..')" }
            if component == "." { return "contains a '.' component" }
            if component.isEmpty && index != components.count - 1 { return "contains an empty path component" }
        }
        return nil
    }

    /// All entry names, sorted (byte order, like Python's `sorted`).
    public var entryNames: [String] {
        records.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The entry called `name`, or nil.
    public func entry(named name: String) -> Entry? {
        records[name].map(Self.entry)
    }

    static func entry(_ record: ZipRecord) -> Entry {
        Entry(name: record.name, method: Int(record.method), compressedSize: record.compressedSize,
              uncompressedSize: record.uncompressedSize, crc32: record.crc32)
    }

    /// The extracted bytes of entry `name`, checked (method, sizes, ratio, CRC-32). At most `maxBytes`
    /// (and never more than ``Limits/maxEntryBytes``). A missing entry → `.invalidFile` saying so.
    public func contents(of name: String, maxBytes: Int? = nil) throws -> [UInt8] {
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: "zip entry '\(TorchCheckpoint.describe(name))': \(reason)")
        }
        guard let record = records[name] else { throw invalid("not in the archive") }
        let limit = min(maxBytes ?? limits.maxEntryBytes, limits.maxEntryBytes)
        guard record.uncompressedSize <= limit else {
            throw invalid("declares \(record.uncompressedSize) bytes, more than the \(limit)-byte limit")
        }
        let range = record.dataRange
        guard range.lowerBound >= 0, range.upperBound <= storage.count, let base = storage.baseAddress else {
            throw invalid("data lies outside the archive")
        }
        let data = UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
        let bytes: [UInt8]
        switch record.method {
        case 0:
            guard record.compressedSize == record.uncompressedSize else {
                throw invalid("is stored but its sizes differ (\(record.compressedSize) vs \(record.uncompressedSize) bytes): the sizes lie")
            }
            bytes = Array(data)
        case 8:
            if record.uncompressedSize > 0 {
                let compressed = max(1, record.compressedSize)
                let ratio = record.uncompressedSize / compressed
                guard ratio <= limits.maxCompressionRatio else {
                    throw invalid("declares a compression ratio of \(ratio):1, more than the \(limits.maxCompressionRatio):1 deflate allows (a zip bomb or lying sizes)")
                }
            }
            do {
                bytes = try Inflate.decompress(data, maxOutput: record.uncompressedSize)
            } catch let failure as Inflate.Failure {
                switch failure.kind {
                case .outputLimit:
                    throw invalid("inflates to more than its declared \(record.uncompressedSize) bytes: the sizes lie (a zip bomb?)")
                case .corrupt:
                    throw invalid("corrupt deflate data: \(failure.reason)")
                }
            }
            guard bytes.count == record.uncompressedSize else {
                throw invalid("inflates to \(bytes.count) bytes but declares \(record.uncompressedSize): the sizes lie or the data is truncated")
            }
        default:
            throw invalid("uses compression method \(record.method) (\(Self.methodName(Int(record.method)))); only stored (0) and deflate (8) are supported")
        }
        let crc = bytes.withUnsafeBytes { buffer -> UInt32 in
            guard let base = buffer.baseAddress else { return 0 }
            return CRC32.checksum(base, buffer.count)
        }
        guard crc == record.crc32 else {
            throw invalid("CRC-32 is 0x\(String(crc, radix: 16)) but the directory says 0x\(String(record.crc32, radix: 16)): the archive is corrupt")
        }
        return bytes
    }

    static func methodName(_ method: Int) -> String {
        switch method {
        case 1: return "shrink"
        case 6: return "implode"
        case 9: return "deflate64"
        case 12: return "bzip2"
        case 14: return "LZMA"
        case 93: return "zstd"
        case 95: return "xz"
        case 99: return "AES encryption"
        default: return "unknown"
        }
    }
}
