import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// PyTorch checkpoints (`torch.save`, the zip format of torch >= 1.6), read without executing anything.
//
// A torch checkpoint is an uncompressed ("stored") zip archive:
//
//     <archive>/data.pkl          a pickle of the saved object (for a state dict: name -> tensor)
//     <archive>/data/<key>        raw little-endian bytes of each storage
//     <archive>/byteorder         "little" (absent in old files, which are little-endian)
//     <archive>/version, .data/version, .format_version, .storage_alignment, .data/serialization_id
//
// `<archive>` is the file name's stem at save time (`pytorch_model` for hub files, `archive` for a buffer).
//
// The pickle is interpreted by a small virtual machine that knows only the opcodes a state dict needs and
// only these globals: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
// `torch._utils._rebuild_parameter(_with_state)`, `torch._tensor._rebuild_from_type_v2` (only wrapping
// `_rebuild_tensor_v2` with type `torch.Tensor`: a tensor with Python attributes, which are ignored) and the
// storage types `torch.{Float,Half,BFloat16,Double,Long}Storage`.
// Any other global (`os.system`, `builtins.eval`, ...) or opcode (INST, OBJ, NEWOBJ, EXT*, ...) is an error
// that names it and its byte position; nothing is ever called. Every size and offset read from the file is
// checked against the real file before use, allocations are bounded by the file's own size (never by a
// count in a header), and the interpreter's stack, mark nesting, memo, container nesting and total work are
// capped, so a hostile file fails fast with an error instead of crashing, hanging or exhausting memory.
//
// The top-level object must be a dict (plain or `OrderedDict`) from string names to tensors. Any other
// value (a number, a nested dict as in `{"model": state_dict, "epoch": 3}`, a list) is rejected with an
// error naming the key: such files are training checkpoints, not state dicts, and silently skipping entries
// would hide that. The state dict's `_metadata` attribute (set through BUILD) is accepted and ignored.
//
// Storage bytes are CRC-checked against the zip directory the first time a tensor that uses them is read.

/// One tensor of a torch checkpoint: a view (offset, shape, stride) into a storage.
public struct TorchTensorEntry: Sendable, Equatable {
    /// The tensor's name (the state-dict key).
    public let name: String
    /// The element type as a safetensors dtype name: "F32", "F16", "BF16", "F64" or "I64".
    public let dtype: String
    /// Extent of each dimension, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// Stride of each dimension in elements, as stored in the checkpoint.
    public let stride: [Int]
    /// Offset of the view's first element in its storage, in elements.
    public let storageOffset: Int
    /// The storage's key (its record is `<archive>/data/<key>`).
    public let storageKey: String
    /// Whether the view is dense row-major (then it reads as one slice of the storage).
    public let isContiguous: Bool

    /// Number of elements (the product of `shape`; validated when the file was opened).
    public var elementCount: Int {
        shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
    }
}

/// A memory-mapped PyTorch zip checkpoint holding a flat state dict.
///
/// The file is mapped read-only for the object's life. Everything is validated when it is opened (zip
/// structure, pickle, storage sizes, every view's index range), so the accessors never read outside the
/// mapping.
public final class TorchCheckpoint: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Every tensor of the state dict, by name.
    public let entries: [String: TorchTensorEntry]
    /// The archive's top folder name (the file's stem at save time: `pytorch_model`, `archive`, ...).
    public let archiveName: String
    /// The `version` record (the serialization format version), when present.
    public let formatVersion: Int?

    /// Start and length of the mapping.
    private let base: UnsafeRawPointer
    /// Keeps the mapping alive as long as this object.
    private let mapping: MappedFile
    /// Each storage used by a tensor: its dtype, bytes in the file and expected CRC.
    private let storages: [String: StorageRecord]

    private let lock = NSLock()
    private var verifiedStorages: Set<String> = []

    /// Largest `data.pkl` accepted (a state dict of 10 000 tensors pickles to about 2 MB).
    public static let maxPickleBytes = 64 << 20

    struct StorageRecord {
        let key: String
        let recordName: String
        let type: TorchStorageType
        let elementCount: Int
        let byteRange: Range<Int>
        let crc32: UInt32
    }

    /// Opens and validates the torch checkpoint at `path`. Missing file → `.fileNotFound`; anything
    /// malformed, unsupported or hostile → `.invalidFile` naming the file and the problem.
    public init(path: String) throws {
        let mapping = try MappedFile(path: path, minimumSize: 4) { size in
            "file is \(size) bytes, too short for a torch checkpoint (a zip archive)"
        }
        let parsed = try Self.parse(RawBytes(base: mapping.base, count: mapping.size), path: path)
        self.path = path
        self.mapping = mapping
        self.base = mapping.base
        self.entries = parsed.entries
        self.storages = parsed.storages
        self.archiveName = parsed.archiveName
        self.formatVersion = parsed.version
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The elements of tensor `name` converted to Float, in row-major order (non-contiguous views are
    /// gathered). F32/F16/BF16 are exact, F64 is narrowed and I64 is converted by value. Missing name →
    /// `.missingWeight`; storage bytes that fail their CRC → `.invalidFile`.
    public func floats(_ name: String) throws -> [Float] {
        guard let entry = entries[name] else {
            throw SpeechT5Error.missingWeight(key: name, path: path)
        }
        let storage = try verifiedStorage(entry)
        let start = base + storage.byteRange.lowerBound
        let count = entry.elementCount
        switch storage.type {
        case .float:
            #if _endian(little)
            if entry.isContiguous {
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if count > 0, let destination = buffer.baseAddress {
                        memcpy(destination, start + entry.storageOffset * 4, count * 4)
                    }
                    initialized = count
                }
            }
            #endif
            return Self.gather(entry) { i in
                Float(bitPattern: UInt32(littleEndian: start.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .half:
            return Self.gather(entry) { i in
                SafeTensorsFile.floatFromHalfBits(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bfloat16:
            return Self.gather(entry) { i in
                SafeTensorsFile.floatFromBFloat16Bits(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .double:
            return Self.gather(entry) { i in
                Float(Double(bitPattern: UInt64(littleEndian: start.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
            }
        case .long:
            return Self.gather(entry) { i in
                Float(Int64(littleEndian: start.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
            }
        }
    }

    /// The bytes of tensor `name` in its own dtype, little-endian, dense row-major (what a safetensors file
    /// stores): `elementCount × element size` bytes.
    public func contiguousBytes(_ name: String) throws -> [UInt8] {
        guard let entry = entries[name] else {
            throw SpeechT5Error.missingWeight(key: name, path: path)
        }
        let storage = try verifiedStorage(entry)
        let size = storage.type.elementSize
        let start = base + storage.byteRange.lowerBound
        let count = entry.elementCount
        if entry.isContiguous {
            return Array(UnsafeRawBufferPointer(start: start + entry.storageOffset * size, count: count * size))
        }
        return [UInt8](unsafeUninitializedCapacity: count * size) { buffer, initialized in
            if let destination = buffer.baseAddress {
                Self.forEachStorageIndex(entry) { out, index in
                    memcpy(destination + out * size, start + index * size, size)
                }
            }
            initialized = count * size
        }
    }

    /// The absolute file range of a contiguous tensor's bytes, or nil for a non-contiguous view.
    func fileRange(_ name: String) -> Range<Int>? {
        guard let entry = entries[name], entry.isContiguous, let storage = storages[entry.storageKey] else { return nil }
        let size = storage.type.elementSize
        let lower = storage.byteRange.lowerBound + entry.storageOffset * size
        return lower..<(lower + entry.elementCount * size)
    }

    // MARK: - Reading helpers

    /// The storage of `entry`, CRC-checked once per storage.
    private func verifiedStorage(_ entry: TorchTensorEntry) throws -> StorageRecord {
        guard let storage = storages[entry.storageKey] else {
            // Unreachable: every entry's storage was validated when the file was opened.
            throw SpeechT5Error.invalidFile(path: path, reason: "tensor '\(entry.name)' has no storage")
        }
        if lock.withLock({ verifiedStorages.contains(storage.key) }) { return storage }
        let actual = CRC32.checksum(base + storage.byteRange.lowerBound, storage.byteRange.count)
        guard actual == storage.crc32 else {
            throw SpeechT5Error.invalidFile(
                path: path,
                reason: "\(storage.recordName): CRC-32 is 0x\(String(actual, radix: 16)) but the zip directory says 0x\(String(storage.crc32, radix: 16)); the file is corrupt")
        }
        lock.withLock { _ = verifiedStorages.insert(storage.key) }
        return storage
    }

    private static func gather(_ entry: TorchTensorEntry, _ element: (Int) -> Float) -> [Float] {
        let count = entry.elementCount
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            forEachStorageIndex(entry) { out, index in buffer[out] = element(index) }
            initialized = count
        }
    }

    /// Calls `body(outputIndex, storageIndex)` for every element of the view, in row-major order. The view
    /// was validated at open: every storage index is inside the storage and no step overflows.
    static func forEachStorageIndex(_ entry: TorchTensorEntry, _ body: (Int, Int) -> Void) {
        let count = entry.elementCount
        guard count > 0 else { return }
        let shape = entry.shape
        // A dimension of extent 1 never moves, whatever its stored stride (which may be anything).
        let stride = zip(entry.shape, entry.stride).map { $0 == 1 ? 0 : $1 }
        let rank = shape.count
        if rank == 0 {
            body(0, entry.storageOffset)
            return
        }
        var index = [Int](repeating: 0, count: rank)
        var storageIndex = entry.storageOffset
        for out in 0..<count {
            body(out, storageIndex)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                storageIndex += stride[d]
                if index[d] < shape[d] { break }
                storageIndex -= stride[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    // MARK: - Parsing

    private struct Parsed {
        var entries: [String: TorchTensorEntry]
        var storages: [String: StorageRecord]
        var archiveName: String
        var version: Int?
    }

    /// Views over more elements than their storage holds (stride-0 broadcasts) are capped at this many
    /// elements, so that a header cannot ask for an absurd allocation.
    static let maxOverlappingViewElements = 1 << 24
    /// Largest tensor rank accepted.
    static let maxRank = 64

    private static func parse(_ file: RawBytes, path: String) throws -> Parsed {
        func invalid(_ reason: String) -> SpeechT5Error { .invalidFile(path: path, reason: reason) }

        if file.u32(0) != 0x0403_4b50 {
            if let reason = CheckpointSniffer.unsupportedFormatReason(file) {
                throw invalid(reason)
            }
            throw invalid("not a torch checkpoint: a zip archive starts with 'PK\\x03\\x04', this file starts with \(CheckpointSniffer.hexPrefix(file))")
        }
        let archive = try ZipDirectory(file, path: path)

        // Find <archive>/data.pkl.
        let pickles = archive.entries.keys.filter { name in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }.sorted()
        guard let pickleName = pickles.first else {
            if archive.entries.keys.contains(where: { $0.hasSuffix("/constants.pkl") || $0.hasPrefix("code/") || $0.contains("/code/") }) {
                throw invalid("this is a TorchScript archive (torch.jit.save), not a state dict saved with torch.save")
            }
            throw invalid("zip archive has no '<archive>/data.pkl' record: not a torch checkpoint")
        }
        guard pickles.count == 1 else {
            throw invalid("zip archive has several data.pkl records (\(pickles.prefix(3).joined(separator: ", "))); expected one")
        }
        let archiveName = String(pickleName.dropLast("/data.pkl".count))
        let prefix = archiveName + "/"

        // Byte order: little-endian only.
        if let record = archive.entries[prefix + "byteorder"] {
            let bytes = try archive.contents(of: record, maxBytes: 64)
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" else {
                if text == "big" {
                    throw invalid("\(record.name): the checkpoint was saved on a big-endian machine; only little-endian checkpoints are supported")
                }
                throw invalid("\(record.name): unknown byte order '\(describe(text))'")
            }
        }
        var version: Int?
        if let record = archive.entries[prefix + ".data/version"] ?? archive.entries[prefix + "version"] {
            let bytes = try archive.contents(of: record, maxBytes: 64)
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let value = Int(text), value >= 0 else {
                throw invalid("\(record.name): format version '\(describe(text))' is not a number")
            }
            version = value
        }

        // The pickle.
        guard let pickleRecord = archive.entries[pickleName] else { throw invalid("missing \(pickleName)") }
        let pickle = try archive.contents(of: pickleRecord, maxBytes: maxPickleBytes)
        var machine = TorchPickleMachine(pickle, path: path, recordName: pickleName)
        let result = try machine.run()

        // The top-level object: a flat dict of name -> tensor.
        guard case .dict(let dict) = result else {
            throw invalid("\(pickleName): the saved object is \(result.kindDescription), not a state dict (a dict of name → tensor)")
        }
        var entries: [String: TorchTensorEntry] = [:]
        var storages: [String: StorageRecord] = [:]
        for (key, value) in Swift.zip(dict.keys, dict.values) {
            guard case .string(let name) = key else {
                throw invalid("\(pickleName): state-dict key \(key.description) is not a string")
            }
            let tensor: PickleTensor
            switch value {
            case .tensor(let t):
                tensor = t
            case .dict:
                throw invalid("\(pickleName): entry '\(describe(name))' is a dict, not a tensor; nested checkpoints (e.g. {\"model\": state_dict, ...}) are not supported: save model.state_dict() itself")
            default:
                throw invalid("\(pickleName): entry '\(describe(name))' is \(value.kindDescription), not a tensor; only flat state dicts (name → tensor) are supported")
            }
            // The storage record.
            let storage: StorageRecord
            if let known = storages[tensor.storage.key] {
                storage = known
            } else {
                let recordName = prefix + "data/" + tensor.storage.key
                guard let record = archive.entries[recordName] else {
                    throw invalid("tensor '\(describe(name))': storage record \(describe(recordName)) is missing from the archive")
                }
                let range = try archive.storedRange(of: record)
                let (needed, overflow) = tensor.storage.elementCount.multipliedReportingOverflow(by: tensor.storage.type.elementSize)
                guard !overflow, needed == range.count else {
                    throw invalid("storage \(describe(recordName)) holds \(range.count) bytes, but the pickle declares \(tensor.storage.elementCount) \(tensor.storage.type.dtype) elements (\(overflow ? "too many" : String(needed)) bytes): truncated or corrupt checkpoint")
                }
                storage = StorageRecord(
                    key: tensor.storage.key, recordName: recordName, type: tensor.storage.type,
                    elementCount: tensor.storage.elementCount, byteRange: range, crc32: record.crc32)
                storages[tensor.storage.key] = storage
            }
            let entry = try validateView(name: name, tensor: tensor, storage: storage, path: path)
            entries[name] = entry
        }
        return Parsed(entries: entries, storages: storages, archiveName: archiveName, version: version)
    }

    /// Checks that every element of the view lies inside its storage and returns the entry.
    private static func validateView(name: String, tensor: PickleTensor, storage: StorageRecord, path: String) throws
        -> TorchTensorEntry
    {
        func bad(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: "tensor '\(describe(name))': \(reason)")
        }
        let shape = tensor.shape, stride = tensor.stride, offset = tensor.offset
        let viewText = "view (offset \(offset), size \(shape), stride \(stride))"
        guard shape.count == stride.count else {
            throw bad("size \(shape) and stride \(stride) have different ranks")
        }
        guard shape.count <= maxRank else { throw bad("rank \(shape.count) exceeds \(maxRank)") }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
            throw bad("\(viewText) has a negative offset, size or stride")
        }
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw bad("size \(shape) has too many elements") }
            count = product
        }
        if count > 0 {
            var last = offset
            for (extent, step) in zip(shape, stride) where extent > 1 {
                let (span, o1) = (extent - 1).multipliedReportingOverflow(by: step)
                let (sum, o2) = last.addingReportingOverflow(span)
                guard !o1, !o2 else { throw bad("\(viewText) reaches past any storage") }
                last = sum
            }
            guard last < storage.elementCount else {
                throw bad("\(viewText) needs storage elements up to index \(last), but storage \(describe(storage.recordName)) holds only \(storage.elementCount) (storage shorter than its view: truncated or corrupt checkpoint)")
            }
            guard count <= storage.elementCount || count <= maxOverlappingViewElements else {
                throw bad("\(viewText) repeats storage elements to \(count) elements, more than the \(maxOverlappingViewElements) allowed for overlapping views")
            }
        }
        var contiguous = true
        var expected = 1
        for d in shape.indices.reversed() where shape[d] != 1 {
            if stride[d] != expected { contiguous = false }
            expected = expected.multipliedReportingOverflow(by: shape[d]).partialValue
        }
        return TorchTensorEntry(
            name: name, dtype: storage.type.dtype, shape: shape, stride: stride, storageOffset: offset,
            storageKey: storage.key, isContiguous: contiguous || count == 0)
    }

    /// A string for an error message: at most 100 characters, control characters replaced.
    static func describe(_ text: String) -> String {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7f ? "?" : $0
        }))
        return cleaned.count > 100 ? String(cleaned.prefix(97)) + "..." : cleaned
    }
}

// MARK: - Storage types

/// The storage types a state dict may use, by their pickled global name (`torch.FloatStorage`, ...).
enum TorchStorageType: String, CaseIterable, Sendable {
    case float = "FloatStorage"
    case half = "HalfStorage"
    case bfloat16 = "BFloat16Storage"
    case double = "DoubleStorage"
    case long = "LongStorage"

    /// The safetensors dtype name.
    var dtype: String {
        switch self {
        case .float: return "F32"
        case .half: return "F16"
        case .bfloat16: return "BF16"
        case .double: return "F64"
        case .long: return "I64"
        }
    }

    var elementSize: Int {
        switch self {
        case .float: return 4
        case .half, .bfloat16: return 2
        case .double, .long: return 8
        }
    }
}

// MARK: - Bounded byte access

/// Little-endian reads from a mapped region; every accessor returns nil instead of reading outside it.
struct RawBytes {
    let base: UnsafeRawPointer
    let count: Int

    func contains(_ offset: Int, _ length: Int) -> Bool {
        guard offset >= 0, length >= 0 else { return false }
        let (end, overflow) = offset.addingReportingOverflow(length)
        return !overflow && end <= count
    }

    func u16(_ offset: Int) -> UInt16? {
        guard contains(offset, 2) else { return nil }
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) -> UInt32? {
        guard contains(offset, 4) else { return nil }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int) -> UInt64? {
        guard contains(offset, 8) else { return nil }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    func bytes(_ offset: Int, _ length: Int) -> [UInt8]? {
        guard contains(offset, length) else { return nil }
        return Array(UnsafeRawBufferPointer(start: base + offset, count: length))
    }

    func byte(_ offset: Int) -> UInt8? {
        contains(offset, 1) ? base.load(fromByteOffset: offset, as: UInt8.self) : nil
    }
}

// MARK: - Format sniffing

/// Recognizes checkpoint formats from their first bytes.
enum CheckpointSniffer {
    enum Format: Equatable {
        case safeTensors
        case torchZip
        /// A torch format this reader does not support, with the reason.
        case unsupported(String)
        case unknown
    }

    /// The legacy (pre-1.6) torch.save magic number, pickled as LONG1: `0x1950a86a20f9469cfc6c`.
    static let legacyMagic: [UInt8] = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    static let legacyMessage = "legacy (pre-1.6) torch format is not supported; re-save with torch.save (torch >= 1.6 writes the zip format)"

    /// Why `file` is a torch format we do not read, or nil.
    static func unsupportedFormatReason(_ file: RawBytes) -> String? {
        if file.byte(0) == 0x80, let head = file.bytes(2, legacyMagic.count), head == legacyMagic {
            return legacyMessage
        }
        if let tag = file.bytes(257, 5), tag == Array("ustar".utf8) {
            return "legacy tar-based torch format (torch < 0.4) is not supported; re-save with torch.save"
        }
        return nil
    }

    static func sniff(_ file: RawBytes) -> Format {
        if file.u32(0) == 0x0403_4b50 || file.u32(0) == 0x0605_4b50 { return .torchZip }
        if let reason = unsupportedFormatReason(file) { return .unsupported(reason) }
        // safetensors: an 8-byte header length, then a JSON object.
        if let length = file.u64(0), length >= 2, let brace = file.byte(8), brace == UInt8(ascii: "{") {
            return .safeTensors
        }
        return .unknown
    }

    /// Sniffs the file at `path` from its first 512 bytes; also returns those bytes.
    static func sniff(path: String) throws -> (format: Format, head: [UInt8]) {
        let (fd, size) = try BinaryFileIO.openRegularFile(path)
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: min(size, 512))
        var filled = 0
        while filled < head.count {
            let got = head.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return pread(fd, base + filled, buffer.count - filled, off_t(filled))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw SpeechT5Error.invalidFile(path: path, reason: "read failed: \(BinaryFileIO.errnoMessage())")
            }
            if got == 0 { break }
            filled += got
        }
        head.removeSubrange(filled...)
        let format = head.withUnsafeBytes { buffer -> Format in
            guard let base = buffer.baseAddress else { return .unknown }
            return sniff(RawBytes(base: base, count: buffer.count))
        }
        return (format, head)
    }

    static func hexPrefix(_ file: RawBytes) -> String {
        let bytes = file.bytes(0, min(file.count, 8)) ?? []
        return bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}

// MARK: - Zip directory

/// One record of a zip archive.
struct ZipRecord {
    let name: String
    let flags: UInt16
    let method: UInt16
    let crc32: UInt32
    let compressedSize: Int
    let uncompressedSize: Int
    let localHeaderOffset: Int
    /// Where the record's (stored) bytes are in the file.
    let dataRange: Range<Int>
}

/// The central directory of a zip archive (zip64 included), validated against the file: every record's
/// local header matches it, every record's data lies inside the file, before the central directory, and no
/// two records overlap.
struct ZipDirectory {
    let file: RawBytes
    let path: String
    let entries: [String: ZipRecord]

    static let endSignature: UInt32 = 0x0605_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    static let centralSignature: UInt32 = 0x0201_4b50
    static let localSignature: UInt32 = 0x0403_4b50
    static let maxNameBytes = 4096
    /// Most records accepted (a state dict of 10 000 tensors has about 10 000).
    static let maxRecords = 1 << 20

    init(_ file: RawBytes, path: String) throws {
        self.file = file
        self.path = path
        func invalid(_ reason: String) -> SpeechT5Error { .invalidFile(path: path, reason: reason) }
        let truncated = "zip end-of-central-directory record not found: the file is truncated or not a zip archive (\(file.count) bytes)"

        // The end-of-central-directory record: 22 bytes plus a comment of up to 65535 bytes, at the very end.
        guard file.count >= 22 else { throw invalid(truncated) }
        var endOffset: Int?
        var candidate = file.count - 22
        let lowest = max(0, file.count - 22 - 0xffff)
        while candidate >= lowest {
            if file.u32(candidate) == Self.endSignature, let commentLength = file.u16(candidate + 20),
               candidate + 22 + Int(commentLength) == file.count
            {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let end = endOffset,
              let disk = file.u16(end + 4), let directoryDisk = file.u16(end + 6),
              let entriesOnDisk = file.u16(end + 8), let totalEntries16 = file.u16(end + 10),
              let directorySize32 = file.u32(end + 12), let directoryOffset32 = file.u32(end + 16)
        else { throw invalid(truncated) }

        var totalEntries = UInt64(totalEntries16)
        var directorySize = UInt64(directorySize32)
        var directoryOffset = UInt64(directoryOffset32)
        var directoryLimit = end  // the central directory must end before this offset
        let needsZip64 = totalEntries16 == 0xffff || entriesOnDisk == 0xffff || directorySize32 == 0xffff_ffff
            || directoryOffset32 == 0xffff_ffff || disk == 0xffff || directoryDisk == 0xffff
        let locator = end - 20
        if file.u32(locator) == Self.zip64LocatorSignature {
            guard let recordOffset64 = file.u64(locator + 8), let recordOffset = Int(exactly: recordOffset64),
                  let locatorDisks = file.u32(locator + 16),
                  recordOffset >= 0, recordOffset <= locator - 56,
                  file.u32(recordOffset) == Self.zip64EndSignature,
                  let disk64 = file.u32(recordOffset + 16), let directoryDisk64 = file.u32(recordOffset + 20),
                  let total64 = file.u64(recordOffset + 32), let size64 = file.u64(recordOffset + 40),
                  let offset64 = file.u64(recordOffset + 48)
            else {
                throw invalid("zip64 end-of-central-directory record is missing or corrupt")
            }
            guard disk64 == 0, directoryDisk64 == 0, locatorDisks <= 1 else {
                throw invalid("multi-disk zip archives are not supported")
            }
            totalEntries = total64
            directorySize = size64
            directoryOffset = offset64
            directoryLimit = recordOffset
        } else if needsZip64 {
            throw invalid("zip end record needs a zip64 record, which is missing (truncated or corrupt file)")
        } else if disk != 0 || directoryDisk != 0 || entriesOnDisk != totalEntries16 {
            throw invalid("multi-disk zip archives are not supported")
        }

        guard let start = Int(exactly: directoryOffset), let size = Int(exactly: directorySize),
              start >= 0, size >= 0, start <= directoryLimit, size <= directoryLimit - start
        else {
            throw invalid("zip central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the file (truncated or corrupt)")
        }

        // The central directory records.
        var records: [String: ZipRecord] = [:]
        var position = start
        let directoryEnd = start + size
        var count: UInt64 = 0
        guard totalEntries <= UInt64(Self.maxRecords) else {
            throw invalid("zip archive lists \(totalEntries) records, more than the \(Self.maxRecords) accepted")
        }
        while count < totalEntries {
            guard position <= directoryEnd - 46, file.u32(position) == Self.centralSignature,
                  let flags = file.u16(position + 8), let method = file.u16(position + 10),
                  let crc = file.u32(position + 16),
                  let compressed32 = file.u32(position + 20), let uncompressed32 = file.u32(position + 24),
                  let nameLength = file.u16(position + 28), let extraLength = file.u16(position + 30),
                  let commentLength = file.u16(position + 32), let diskStart = file.u16(position + 34),
                  let localOffset32 = file.u32(position + 42)
            else {
                throw invalid("zip central directory is truncated or corrupt at record \(count) of \(totalEntries)")
            }
            let nameStart = position + 46
            let extraStart = nameStart + Int(nameLength)
            let next = extraStart + Int(extraLength) + Int(commentLength)
            guard next <= directoryEnd, let nameBytes = file.bytes(nameStart, Int(nameLength)) else {
                throw invalid("zip central directory record \(count) runs past the directory")
            }
            guard let name = String(bytes: nameBytes, encoding: .utf8), !name.isEmpty, nameBytes.count <= Self.maxNameBytes else {
                throw invalid("zip record \(count) has an empty, overlong or non-UTF-8 name")
            }
            var compressed = UInt64(compressed32), uncompressed = UInt64(uncompressed32), localOffset = UInt64(localOffset32)
            var diskNumber = UInt32(diskStart)
            if compressed32 == 0xffff_ffff || uncompressed32 == 0xffff_ffff || localOffset32 == 0xffff_ffff || diskStart == 0xffff {
                guard let extra = Self.zip64Extra(
                    file, at: extraStart, length: Int(extraLength),
                    needUncompressed: uncompressed32 == 0xffff_ffff, needCompressed: compressed32 == 0xffff_ffff,
                    needOffset: localOffset32 == 0xffff_ffff, needDisk: diskStart == 0xffff)
                else {
                    throw invalid("zip record '\(TorchCheckpoint.describe(name))' needs a zip64 extra field, which is missing or short")
                }
                uncompressed = extra.uncompressed ?? uncompressed
                compressed = extra.compressed ?? compressed
                localOffset = extra.offset ?? localOffset
                diskNumber = extra.disk ?? diskNumber
            }
            guard diskNumber == 0 else { throw invalid("multi-disk zip archives are not supported") }
            guard flags & 0x1 == 0 else {
                throw invalid("zip record '\(TorchCheckpoint.describe(name))' is encrypted")
            }
            guard records[name] == nil else {
                throw invalid("zip archive has two records named '\(TorchCheckpoint.describe(name))'")
            }
            guard let compressedSize = Int(exactly: compressed), let uncompressedSize = Int(exactly: uncompressed),
                  let headerOffset = Int(exactly: localOffset)
            else {
                throw invalid("zip record '\(TorchCheckpoint.describe(name))' has sizes or offsets beyond the file")
            }
            let dataRange = try Self.localData(
                file, name: name, nameBytes: nameBytes, headerOffset: headerOffset, compressedSize: compressedSize,
                uncompressedSize: uncompressedSize, crc: crc, limit: start, path: path)
            records[name] = ZipRecord(
                name: name, flags: flags, method: method, crc32: crc, compressedSize: compressedSize,
                uncompressedSize: uncompressedSize, localHeaderOffset: headerOffset, dataRange: dataRange)
            position = next
            count += 1
        }

        // No two records may overlap (a size field that lies makes its data run into the next record).
        let ordered = records.values.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (a, b) in Swift.zip(ordered, ordered.dropFirst()) where a.dataRange.upperBound > b.localHeaderOffset {
            throw invalid("zip records '\(TorchCheckpoint.describe(a.name))' and '\(TorchCheckpoint.describe(b.name))' overlap: the size of '\(TorchCheckpoint.describe(a.name))' (\(a.compressedSize) bytes) is wrong or the file is corrupt")
        }
        self.entries = records
    }

    /// Reads the local header of a record and returns the range of its data.
    private static func localData(
        _ file: RawBytes, name: String, nameBytes: [UInt8], headerOffset: Int, compressedSize: Int,
        uncompressedSize: Int, crc: UInt32, limit: Int, path: String
    ) throws -> Range<Int> {
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: "zip record '\(TorchCheckpoint.describe(name))': \(reason)")
        }
        guard headerOffset >= 0, headerOffset <= limit - 30, file.u32(headerOffset) == localSignature,
              let flags = file.u16(headerOffset + 6), let localCRC = file.u32(headerOffset + 14),
              let localCompressed = file.u32(headerOffset + 18), let localUncompressed = file.u32(headerOffset + 22),
              let nameLength = file.u16(headerOffset + 26), let extraLength = file.u16(headerOffset + 28)
        else {
            throw invalid("local header at offset \(headerOffset) is missing or corrupt")
        }
        guard file.bytes(headerOffset + 30, Int(nameLength)) == nameBytes else {
            throw invalid("local header names a different record")
        }
        let dataStart = headerOffset + 30 + Int(nameLength) + Int(extraLength)
        guard dataStart <= limit, compressedSize <= limit - dataStart else {
            throw invalid("data (\(compressedSize) bytes at offset \(dataStart)) runs past the end of the archive data (\(limit) bytes): truncated file or a size field that lies")
        }
        // Without a data descriptor (flag bit 3) the local header repeats the sizes and CRC.
        if flags & 0x8 == 0, localCompressed != 0xffff_ffff, localUncompressed != 0xffff_ffff {
            guard Int(localCompressed) == compressedSize, Int(localUncompressed) == uncompressedSize, localCRC == crc else {
                throw invalid("local header (size \(localCompressed), CRC 0x\(String(localCRC, radix: 16))) disagrees with the central directory (size \(compressedSize), CRC 0x\(String(crc, radix: 16)))")
            }
        }
        return dataStart..<(dataStart + compressedSize)
    }

    /// The zip64 extended-information extra field (0x0001): only the fields whose 32-bit value was
    /// 0xffffffff are present, in this order.
    private static func zip64Extra(
        _ file: RawBytes, at start: Int, length: Int, needUncompressed: Bool, needCompressed: Bool,
        needOffset: Bool, needDisk: Bool
    ) -> (uncompressed: UInt64?, compressed: UInt64?, offset: UInt64?, disk: UInt32?)? {
        var position = start
        let end = start + length
        while position <= end - 4 {
            guard let id = file.u16(position), let size = file.u16(position + 2) else { return nil }
            let body = position + 4
            guard body + Int(size) <= end else { return nil }
            if id == 0x0001 {
                var cursor = body
                let bodyEnd = body + Int(size)
                func next64() -> UInt64? {
                    guard cursor <= bodyEnd - 8, let value = file.u64(cursor) else { return nil }
                    cursor += 8
                    return value
                }
                var result: (uncompressed: UInt64?, compressed: UInt64?, offset: UInt64?, disk: UInt32?) = (nil, nil, nil, nil)
                if needUncompressed { guard let v = next64() else { return nil }; result.uncompressed = v }
                if needCompressed { guard let v = next64() else { return nil }; result.compressed = v }
                if needOffset { guard let v = next64() else { return nil }; result.offset = v }
                if needDisk {
                    guard cursor <= bodyEnd - 4, let v = file.u32(cursor) else { return nil }
                    result.disk = v
                }
                return result
            }
            position = body + Int(size)
        }
        return nil
    }

    /// The stored bytes of `record`, checked: uncompressed, at most `maxBytes`, CRC-32 correct.
    func contents(of record: ZipRecord, maxBytes: Int) throws -> [UInt8] {
        let range = try storedRange(of: record)
        guard range.count <= maxBytes else {
            throw SpeechT5Error.invalidFile(path: path, reason: "\(TorchCheckpoint.describe(record.name)) is \(range.count) bytes, more than the \(maxBytes)-byte limit")
        }
        let actual = CRC32.checksum(file.base + range.lowerBound, range.count)
        guard actual == record.crc32 else {
            throw SpeechT5Error.invalidFile(
                path: path,
                reason: "\(TorchCheckpoint.describe(record.name)): CRC-32 is 0x\(String(actual, radix: 16)) but the zip directory says 0x\(String(record.crc32, radix: 16)); the file is corrupt")
        }
        return file.bytes(range.lowerBound, range.count) ?? []
    }

    /// The data range of an uncompressed record.
    func storedRange(of record: ZipRecord) throws -> Range<Int> {
        guard record.method == 0 else {
            throw SpeechT5Error.invalidFile(
                path: path,
                reason: "zip record '\(TorchCheckpoint.describe(record.name))' is compressed (method \(record.method)); torch checkpoints store their records uncompressed")
        }
        guard record.compressedSize == record.uncompressedSize else {
            throw SpeechT5Error.invalidFile(
                path: path,
                reason: "zip record '\(TorchCheckpoint.describe(record.name))' is stored but its sizes differ (\(record.compressedSize) vs \(record.uncompressedSize))")
        }
        return record.dataRange
    }
}

// MARK: - CRC-32

/// CRC-32 (IEEE 802.3, as zip uses), slicing-by-8.
enum CRC32 {
    static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
            table[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 {
                let previous = table[(k - 1) * 256 + i]
                table[k * 256 + i] = (previous >> 8) ^ table[Int(previous & 0xff)]
            }
        }
        return table
    }()

    static func checksum(_ start: UnsafeRawPointer, _ count: Int) -> UInt32 {
        table.withUnsafeBufferPointer { t -> UInt32 in
            var crc: UInt32 = 0xffff_ffff
            var p = start
            var remaining = count
            while remaining >= 8 {
                let lo = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ crc
                let hi = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                crc = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                p += 8
                remaining -= 8
            }
            while remaining > 0 {
                crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xff)] ^ (crc >> 8)
                p += 1
                remaining -= 1
            }
            return crc ^ 0xffff_ffff
        }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return checksum(base, buffer.count)
        }
    }
}

// MARK: - Restricted pickle machine

/// A storage reference from a persistent id `('storage', torch.XStorage, key, location, numel)`.
struct PickleStorage {
    let type: TorchStorageType
    let key: String
    let elementCount: Int
}

/// A tensor built by `_rebuild_tensor_v2`.
struct PickleTensor {
    let storage: PickleStorage
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// The globals a state-dict pickle may name.
enum PickleGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    /// `torch._utils._rebuild_parameter_with_state(data, requires_grad, hooks, state)`: a Parameter carrying
    /// Python attributes; the attributes are ignored.
    case rebuildParameterWithState
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`: how a tensor carrying Python
    /// attributes pickles (transformers marks buffers `_is_buffer`); accepted only around
    /// `_rebuild_tensor_v2` with type `torch.Tensor`, the attributes ignored.
    case rebuildFromTypeV2
    /// `torch.Tensor`, only as the type argument of `_rebuild_from_type_v2`.
    case tensorType
    case storageType(TorchStorageType)

    var name: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: return "torch._tensor._rebuild_from_type_v2"
        case .tensorType: return "torch.Tensor"
        case .storageType(let type): return "torch." + type.rawValue
        }
    }

    static func resolve(module: String, name: String) -> PickleGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromTypeV2
        case ("torch", "Tensor"): return .tensorType
        case ("torch", _):
            return TorchStorageType(rawValue: name).map { .storageType($0) }
        default: return nil
        }
    }
}

/// A hashable dict key (str or int: what a state dict and its `_metadata` use).
enum PickleKey: Hashable, CustomStringConvertible {
    case string(String)
    case int(Int64)

    var description: String {
        switch self {
        case .string(let s): return "'\(TorchCheckpoint.describe(s))'"
        case .int(let i): return String(i)
        }
    }
}

final class PickleTuple {
    let items: [PickleValue]
    let depth: Int
    init(_ items: [PickleValue], depth: Int) {
        self.items = items
        self.depth = depth
    }
}

/// A mutable list. Once stored inside another container it is frozen, which rules out reference cycles.
final class PickleList {
    var items: [PickleValue] = []
    var frozen = false
    var depth = 1
}

/// A mutable dict keeping insertion order (as Python's dict and OrderedDict do). Frozen like PickleList.
final class PickleDict {
    var keys: [PickleKey] = []
    var values: [PickleValue] = []
    var index: [PickleKey: Int] = [:]
    var frozen = false
    var depth = 1
}

enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(PickleStorage)
    case tensor(PickleTensor)

    var depth: Int {
        switch self {
        case .tuple(let t): return t.depth
        case .list(let l): return l.depth
        case .dict(let d): return d.depth
        default: return 0
        }
    }

    var kindDescription: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .global(let g): return "the global \(g.name)"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

/// Interprets a state-dict pickle (protocols 2 to 5) without executing anything.
struct TorchPickleMachine {
    private let bytes: [UInt8]
    private let path: String
    private let recordName: String
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    private var work = 0
    private let maxWork: Int
    private var storages: [String: PickleStorage] = [:]

    static let maxMarkDepth = 64
    static let maxStack = 1_000_000
    static let maxMemo = 1_000_000
    static let maxNesting = 32
    static let maxGlobalNameBytes = 256
    static let maxKeyBytes = 64 << 10

    init(_ bytes: [UInt8], path: String, recordName: String) {
        self.bytes = bytes
        self.path = path
        self.recordName = recordName
        // Enough for any real state dict (a few operations per input byte), small enough that no input
        // can keep the machine busy for long.
        self.maxWork = 64 * bytes.count + 1_000_000
    }

    private func fail(_ reason: String, at offset: Int) -> SpeechT5Error {
        .invalidFile(path: path, reason: "\(recordName): \(reason) (at byte \(offset))")
    }

    /// Runs to STOP and returns the pickled object.
    mutating func run() throws -> PickleValue {
        while true {
            guard position < bytes.count else {
                throw fail("pickle ends without a STOP opcode: truncated", at: position)
            }
            let at = position
            let op = bytes[position]
            position += 1
            try spend(1, at: at)
            switch op {
            case 0x80:  // PROTO
                let version = try readByte(at)
                guard (2...5).contains(version) else {
                    throw fail("unsupported pickle protocol \(version) (torch writes 2; 2 to 5 are accepted)", at: at)
                }
            case 0x95:  // FRAME: a length prefix for the next opcodes; only checked.
                let length = try readUInt64(at)
                guard length <= UInt64(bytes.count - position) else {
                    throw fail("FRAME of \(length) bytes runs past the end of the pickle (\(bytes.count - position) bytes left)", at: at)
                }
            case 0x7d:  // EMPTY_DICT
                try push(.dict(PickleDict()), at)
            case 0x5d:  // EMPTY_LIST
                try push(.list(PickleList()), at)
            case 0x29:  // EMPTY_TUPLE
                try push(.tuple(PickleTuple([], depth: 1)), at)
            case 0x28:  // MARK
                guard marks.count < Self.maxMarkDepth else {
                    throw fail("MARK nesting deeper than \(Self.maxMarkDepth)", at: at)
                }
                marks.append(stack.count)
            case 0x74:  // TUPLE
                let items = try popMark(at)
                try push(.tuple(makeTuple(items, at)), at)
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let n = Int(op - 0x84)
                guard stack.count - floor >= n else { throw fail("\(Self.opcodeName(op)) needs \(n) items on the stack", at: at) }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(.tuple(makeTuple(items, at)), at)
            case 0x4a:  // BININT
                let raw = try readUInt32(at)
                try push(.int(Int64(Int32(bitPattern: raw))), at)
            case 0x4b:  // BININT1
                try push(.int(Int64(try readByte(at))), at)
            case 0x4d:  // BININT2
                let lo = try readByte(at), hi = try readByte(at)
                try push(.int(Int64(lo) | Int64(hi) << 8), at)
            case 0x8a:  // LONG1
                let n = Int(try readByte(at))
                guard n <= 8 else {
                    throw fail("LONG1 integer of \(n) bytes does not fit in 64 bits", at: at)
                }
                let digits = Array(try read(n, at))
                var value: UInt64 = 0
                for (i, byte) in digits.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
                if let last = digits.last, n < 8, last & 0x80 != 0 {
                    value |= UInt64.max << (8 * UInt64(n))  // sign-extend
                }
                try push(.int(Int64(bitPattern: value)), at)
            case 0x58:  // BINUNICODE
                let length = try readUInt32(at)
                try push(.string(try readString(UInt64(length), at)), at)
            case 0x8c:  // SHORT_BINUNICODE
                let length = try readByte(at)
                try push(.string(try readString(UInt64(length), at)), at)
            case 0x8d:  // BINUNICODE8
                let length = try readUInt64(at)
                try push(.string(try readString(length, at)), at)
            case 0x47:  // BINFLOAT (big-endian)
                let raw = try read(8, at)
                var bits: UInt64 = 0
                for byte in raw { bits = bits << 8 | UInt64(byte) }
                try push(.float(Double(bitPattern: bits)), at)
            case 0x88:  // NEWTRUE
                try push(.bool(true), at)
            case 0x89:  // NEWFALSE
                try push(.bool(false), at)
            case 0x4e:  // NONE
                try push(.none, at)
            case 0x73:  // SETITEM
                let value = try pop(at), key = try pop(at)
                try setItems(on: try top(at), [(key, value)], at)
            case 0x75:  // SETITEMS
                let items = try popMark(at)
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items", at: at) }
                var pairs: [(PickleValue, PickleValue)] = []
                pairs.reserveCapacity(items.count / 2)
                for i in Swift.stride(from: 0, to: items.count, by: 2) { pairs.append((items[i], items[i + 1])) }
                try setItems(on: try top(at), pairs, at)
            case 0x61:  // APPEND
                let value = try pop(at)
                try append(to: try top(at), [value], at)
            case 0x65:  // APPENDS
                let items = try popMark(at)
                try append(to: try top(at), items, at)
            case 0x71:  // BINPUT
                try memoPut(UInt32(try readByte(at)), at)
            case 0x72:  // LONG_BINPUT
                try memoPut(try readUInt32(at), at)
            case 0x94:  // MEMOIZE
                guard memo.count < Int(UInt32.max) else { throw fail("memo is full", at: at) }
                try memoPut(UInt32(memo.count), at)
            case 0x68:  // BINGET
                try memoGet(UInt32(try readByte(at)), at)
            case 0x6a:  // LONG_BINGET
                try memoGet(try readUInt32(at), at)
            case 0x63:  // GLOBAL
                let module = try readLine(at), name = try readLine(at)
                try push(.global(try resolveGlobal(module, name, at)), at)
            case 0x93:  // STACK_GLOBAL
                let nameValue = try pop(at), moduleValue = try pop(at)
                guard case .string(let module) = moduleValue, case .string(let name) = nameValue else {
                    throw fail("STACK_GLOBAL needs two strings", at: at)
                }
                try push(.global(try resolveGlobal(module, name, at)), at)
            case 0x52:  // REDUCE
                let arguments = try pop(at), callable = try pop(at)
                try push(try call(callable, arguments, at), at)
            case 0x51:  // BINPERSID
                let pid = try pop(at)
                try push(try persistentLoad(pid, at), at)
            case 0x62:  // BUILD
                let state = try pop(at)
                let target = try top(at)
                guard case .dict = target else {
                    throw fail("BUILD on \(target.kindDescription) is not allowed (only a state dict's attributes, such as _metadata, may be set)", at: at)
                }
                // The state (the state dict's `_metadata` attribute) is ignored; it must be plain data.
                switch state {
                case .dict, .tuple, .none: freeze(state)
                default: throw fail("BUILD with \(state.kindDescription) as state is not allowed", at: at)
                }
            case 0x2e:  // STOP
                guard let result = stack.popLast() else { throw fail("STOP with an empty stack", at: at) }
                return result
            default:
                throw fail("opcode \(Self.opcodeName(op)) is not allowed in a state-dict pickle", at: at)
            }
        }
    }

    // MARK: Stack

    private var floor: Int { marks.last ?? 0 }

    private mutating func push(_ value: PickleValue, _ at: Int) throws {
        guard stack.count < Self.maxStack else {
            throw fail("pickle stack exceeds \(Self.maxStack) items", at: at)
        }
        stack.append(value)
    }

    private mutating func pop(_ at: Int) throws -> PickleValue {
        guard stack.count > floor, let value = stack.popLast() else {
            throw fail("stack underflow", at: at)
        }
        return value
    }

    private func top(_ at: Int) throws -> PickleValue {
        guard stack.count > floor, let value = stack.last else {
            throw fail("stack underflow", at: at)
        }
        return value
    }

    private mutating func popMark(_ at: Int) throws -> [PickleValue] {
        guard let mark = marks.popLast() else {
            throw fail("\(Self.opcodeName(bytes[at])) without a MARK", at: at)
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        try spend(items.count, at: at)
        return items
    }

    private mutating func spend(_ amount: Int, at: Int) throws {
        work += amount
        guard work <= maxWork else {
            throw fail("pickle needs too much work to interpret (more than \(maxWork) steps); it is not a plain state dict", at: at)
        }
    }

    // MARK: Containers

    /// Marks lists and dicts stored inside another container as frozen (no cycles, fixed depth).
    private func freeze(_ value: PickleValue) {
        switch value {
        case .list(let l): l.frozen = true
        case .dict(let d): d.frozen = true
        default: break
        }
    }

    private func makeTuple(_ items: [PickleValue], _ at: Int) throws -> PickleTuple {
        var depth = 1
        for item in items {
            freeze(item)
            depth = max(depth, item.depth + 1)
        }
        guard depth <= Self.maxNesting else {
            throw fail("containers nested deeper than \(Self.maxNesting)", at: at)
        }
        return PickleTuple(items, depth: depth)
    }

    private mutating func setItems(on target: PickleValue, _ pairs: [(PickleValue, PickleValue)], _ at: Int) throws {
        guard case .dict(let dict) = target else {
            throw fail("SETITEM(S) on \(target.kindDescription)", at: at)
        }
        for (key, value) in pairs {
            freeze(value)
            guard !dict.frozen else {
                throw fail("SETITEM(S) on a dict that is already stored in another container (or into itself)", at: at)
            }
            let hashed: PickleKey
            switch key {
            case .string(let s):
                guard s.utf8.count <= Self.maxKeyBytes else {
                    throw fail("dict key of \(s.utf8.count) bytes is longer than \(Self.maxKeyBytes)", at: at)
                }
                try spend(s.utf8.count, at: at)
                hashed = .string(s)
            case .int(let i):
                hashed = .int(i)
            default:
                throw fail("dict key of type \(key.kindDescription) is not supported", at: at)
            }
            let depth = max(dict.depth, value.depth + 1)
            guard depth <= Self.maxNesting else {
                throw fail("containers nested deeper than \(Self.maxNesting)", at: at)
            }
            dict.depth = depth
            if let existing = dict.index[hashed] {
                dict.values[existing] = value  // Python semantics: a repeated key replaces the value in place.
            } else {
                dict.index[hashed] = dict.keys.count
                dict.keys.append(hashed)
                dict.values.append(value)
            }
        }
    }

    private mutating func append(to target: PickleValue, _ items: [PickleValue], _ at: Int) throws {
        guard case .list(let list) = target else {
            throw fail("APPEND(S) on \(target.kindDescription)", at: at)
        }
        for item in items {
            freeze(item)
            guard !list.frozen else {
                throw fail("APPEND(S) on a list that is already stored in another container (or into itself)", at: at)
            }
            let depth = max(list.depth, item.depth + 1)
            guard depth <= Self.maxNesting else {
                throw fail("containers nested deeper than \(Self.maxNesting)", at: at)
            }
            list.depth = depth
            list.items.append(item)
        }
    }

    // MARK: Memo

    private mutating func memoPut(_ index: UInt32, _ at: Int) throws {
        let value = try top(at)
        guard memo[index] != nil || memo.count < Self.maxMemo else {
            throw fail("memo exceeds \(Self.maxMemo) entries", at: at)
        }
        memo[index] = value
    }

    private mutating func memoGet(_ index: UInt32, _ at: Int) throws {
        guard let value = memo[index] else {
            throw fail("memo index \(index) was never stored (memo out of range)", at: at)
        }
        try push(value, at)
    }

    // MARK: Globals and calls

    private func resolveGlobal(_ module: String, _ name: String, _ at: Int) throws -> PickleGlobal {
        guard let global = PickleGlobal.resolve(module: module, name: name) else {
            throw fail("global '\(TorchCheckpoint.describe(module)).\(TorchCheckpoint.describe(name))' is not allowed: a state dict only needs collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state), torch._tensor._rebuild_from_type_v2 with torch.Tensor, and torch.{Float,Half,BFloat16,Double,Long}Storage; refusing a pickle that references other code", at: at)
        }
        return global
    }

    private mutating func call(_ callable: PickleValue, _ arguments: PickleValue, _ at: Int) throws -> PickleValue {
        guard case .global(let global) = callable else {
            throw fail("REDUCE on \(callable.kindDescription), which is not callable here", at: at)
        }
        guard case .tuple(let tuple) = arguments else {
            throw fail("REDUCE of \(global.name) with \(arguments.kindDescription) as arguments", at: at)
        }
        let args = tuple.items
        switch global {
        case .orderedDict:
            guard args.isEmpty else {
                throw fail("collections.OrderedDict called with arguments (only OrderedDict() is allowed)", at: at)
            }
            return .dict(PickleDict())
        case .rebuildTensorV2:
            guard args.count == 6 || args.count == 7 else {
                throw fail("torch._utils._rebuild_tensor_v2 called with \(args.count) arguments (expected 6 or 7)", at: at)
            }
            guard case .storage(let storage) = args[0] else {
                throw fail("_rebuild_tensor_v2: first argument is \(args[0].kindDescription), not a storage", at: at)
            }
            guard case .int(let offset64) = args[1], let offset = Int(exactly: offset64), offset >= 0 else {
                throw fail("_rebuild_tensor_v2: storage offset is not a non-negative integer", at: at)
            }
            let shape = try intTuple(args[2], "size", at)
            let stride = try intTuple(args[3], "stride", at)
            guard case .bool = args[4] else {
                throw fail("_rebuild_tensor_v2: requires_grad is \(args[4].kindDescription), not a bool", at: at)
            }
            try checkHooks(args[5], at)
            if args.count == 7 {
                switch args[6] {
                case .none, .dict: break
                default: throw fail("_rebuild_tensor_v2: metadata is \(args[6].kindDescription), not a dict", at: at)
                }
            }
            return .tensor(PickleTensor(storage: storage, offset: offset, shape: shape, stride: stride))
        case .rebuildParameter:
            guard args.count == 3, case .tensor = args[0], case .bool = args[1] else {
                throw fail("torch._utils._rebuild_parameter expects (tensor, requires_grad, hooks)", at: at)
            }
            try checkHooks(args[2], at)
            return args[0]
        case .rebuildParameterWithState:
            guard args.count == 4, case .tensor = args[0], case .bool = args[1] else {
                throw fail("torch._utils._rebuild_parameter_with_state expects (tensor, requires_grad, hooks, state)", at: at)
            }
            try checkHooks(args[2], at)
            switch args[3] {
            case .none, .dict: return args[0]  // the Parameter's Python attributes: ignored
            default: throw fail("_rebuild_parameter_with_state: state is \(args[3].kindDescription), not a dict", at: at)
            }
        case .rebuildFromTypeV2:
            guard args.count == 4, case .global(.rebuildTensorV2) = args[0], case .global(.tensorType) = args[1] else {
                throw fail("torch._tensor._rebuild_from_type_v2 is only allowed as (_rebuild_tensor_v2, torch.Tensor, args, state)", at: at)
            }
            switch args[3] {
            case .none, .dict: break  // the tensor's Python attributes: ignored
            default: throw fail("_rebuild_from_type_v2: state is \(args[3].kindDescription), not a dict", at: at)
            }
            return try call(args[0], args[2], at)
        case .tensorType:
            throw fail("calling torch.Tensor is not allowed", at: at)
        case .storageType(let type):
            throw fail("calling torch.\(type.rawValue) is not allowed (storages come from persistent ids)", at: at)
        }
    }

    /// Backward hooks must be an empty (ordered) dict: a hook would be code.
    private func checkHooks(_ value: PickleValue, _ at: Int) throws {
        switch value {
        case .none: return
        case .dict(let d) where d.keys.isEmpty: return
        default: throw fail("tensor backward hooks must be an empty OrderedDict, found \(value.kindDescription)", at: at)
        }
    }

    private func intTuple(_ value: PickleValue, _ what: String, _ at: Int) throws -> [Int] {
        guard case .tuple(let tuple) = value else {
            throw fail("_rebuild_tensor_v2: \(what) is \(value.kindDescription), not a tuple", at: at)
        }
        guard tuple.items.count <= TorchCheckpoint.maxRank else {
            throw fail("_rebuild_tensor_v2: \(what) has \(tuple.items.count) dimensions (at most \(TorchCheckpoint.maxRank))", at: at)
        }
        return try tuple.items.map { item in
            guard case .int(let v) = item, let i = Int(exactly: v), i >= 0 else {
                throw fail("_rebuild_tensor_v2: \(what) holds something other than a non-negative integer", at: at)
            }
            return i
        }
    }

    /// `('storage', torch.XStorage, key, location, numel)` → a storage reference (nothing is read here).
    private mutating func persistentLoad(_ pid: PickleValue, _ at: Int) throws -> PickleValue {
        guard case .tuple(let tuple) = pid, tuple.items.count == 5,
              case .string("storage") = tuple.items[0]
        else {
            throw fail("persistent id is not ('storage', type, key, location, numel)", at: at)
        }
        guard case .global(.storageType(let type)) = tuple.items[1] else {
            throw fail("persistent id names \(tuple.items[1].kindDescription) as storage type, not one of torch.{Float,Half,BFloat16,Double,Long}Storage", at: at)
        }
        guard case .string(let key) = tuple.items[2], WeightStore.isPlainFileName(key), key.utf8.count <= 256 else {
            throw fail("persistent id has an invalid storage key", at: at)
        }
        guard case .string = tuple.items[3] else {
            throw fail("persistent id has a non-string location", at: at)
        }
        guard case .int(let numel64) = tuple.items[4], let numel = Int(exactly: numel64), numel >= 0 else {
            throw fail("persistent id has an invalid element count", at: at)
        }
        let storage = PickleStorage(type: type, key: key, elementCount: numel)
        if let known = storages[key] {
            guard known.type == type, known.elementCount == numel else {
                throw fail("storage '\(TorchCheckpoint.describe(key))' is declared twice with different types or sizes (\(known.type.rawValue) × \(known.elementCount), \(type.rawValue) × \(numel))", at: at)
            }
        } else {
            storages[key] = storage
        }
        return .storage(storage)
    }

    // MARK: Reading operands

    private mutating func read(_ count: Int, _ at: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("\(Self.opcodeName(bytes[at])) operand runs past the end of the pickle: truncated", at: at)
        }
        let slice = bytes[position..<(position + count)]
        position += count
        return slice
    }

    private mutating func readByte(_ at: Int) throws -> UInt8 {
        try read(1, at).first ?? 0
    }

    private mutating func readUInt32(_ at: Int) throws -> UInt32 {
        var value: UInt32 = 0
        for (i, byte) in try read(4, at).enumerated() { value |= UInt32(byte) << (8 * UInt32(i)) }
        return value
    }

    private mutating func readUInt64(_ at: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (i, byte) in try read(8, at).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        return value
    }

    private mutating func readString(_ length: UInt64, _ at: Int) throws -> String {
        guard length <= UInt64(bytes.count - position) else {
            throw fail("\(Self.opcodeName(bytes[at])) declares a string of \(length) bytes but only \(bytes.count - position) remain", at: at)
        }
        let raw = try read(Int(length), at)
        guard let text = String(bytes: raw, encoding: .utf8) else {
            throw fail("string is not valid UTF-8", at: at)
        }
        return text
    }

    /// A newline-terminated ASCII line (GLOBAL operands), at most `maxGlobalNameBytes`.
    private mutating func readLine(_ at: Int) throws -> String {
        let limit = min(bytes.count, position + Self.maxGlobalNameBytes + 1)
        guard let newline = bytes[position..<limit].firstIndex(of: 0x0a) else {
            throw fail("GLOBAL operand is unterminated or longer than \(Self.maxGlobalNameBytes) bytes", at: at)
        }
        let raw = bytes[position..<newline]
        position = newline + 1
        guard raw.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
            throw fail("GLOBAL operand is not printable ASCII", at: at)
        }
        return String(decoding: raw, as: UTF8.self)
    }

    // MARK: Opcode names

    static func opcodeName(_ op: UInt8) -> String {
        let names: [UInt8: String] = [
            0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
            0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID",
            0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
            0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
            0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET",
            0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
            0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
            0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
            0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
            0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8",
            0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
            0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
            0x98: "READONLY_BUFFER",
        ]
        let hex = String(format: "0x%02x", op)
        if let name = names[op] { return "\(name) (\(hex))" }
        return "unknown opcode \(hex)"
    }
}
