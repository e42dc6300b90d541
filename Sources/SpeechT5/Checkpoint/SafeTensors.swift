import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor's header entry.
public struct SafeTensorsEntry: Sendable, Equatable {
    /// The tensor's name (the header key).
    public let name: String
    /// The safetensors dtype name ("F32", "F16", "BF16", "I64", ...).
    public let dtype: String
    /// Extent of each dimension, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// Absolute file offsets of the tensor's bytes.
    public let byteRange: Range<Int>

    public init(name: String, dtype: String, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }

    /// Number of elements (the product of `shape`; validated not to overflow when the file was opened).
    var elementCount: Int {
        shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
    }
}

/// A memory-mapped `.safetensors` file.
///
/// The file is mapped `PROT_READ` / `MAP_PRIVATE` for the object's whole life and unmapped in `deinit`.
/// Everything in the header is validated when the file is opened (sizes, offsets, dtypes, overlaps), so the
/// accessors never read outside the mapping. (As with any mapping, a file truncated by another process
/// *after* opening can still fault; that is outside what a reader can defend against.)
public final class SafeTensorsFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Every tensor in the header, by name.
    public let entries: [String: SafeTensorsEntry]
    /// The header's `__metadata__` map (empty when absent).
    public let metadata: [String: String]

    /// Start of the mapping (never nil: files shorter than 8 bytes are rejected before mapping).
    private let base: UnsafeRawPointer
    /// Length of the mapping in bytes (the file size).
    /// Keeps the mapping alive as long as this object.
    private let mapping: MappedFile

    /// Largest header accepted (the limit the reference `safetensors` library uses).
    public static let maxHeaderBytes = 100_000_000

    /// Bits per element of every dtype name the format defines. Sub-byte float formats are listed so that a
    /// file holding them still opens; reading them is unsupported.
    static let dtypeBits: [String: Int] = [
        "F64": 64, "F32": 32, "F16": 16, "BF16": 16,
        "I64": 64, "I32": 32, "I16": 16, "I8": 8,
        "U64": 64, "U32": 32, "U16": 16, "U8": 8,
        "BOOL": 8, "C64": 64,
        "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
        "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4,
    ]

    /// Opens and validates `path`. Missing file → `.fileNotFound`; anything malformed → `.invalidFile`
    /// naming the file and, where it applies, the tensor.
    public init(path: String) throws {
        let mapping = try MappedFile(path: path, minimumSize: 8) { size in
            "file is \(size) bytes, too short for a safetensors file (8-byte header length + JSON header)"
        }
        let parsed = try Self.parseHeader(base: mapping.base, size: mapping.size, path: path)
        self.path = path
        self.mapping = mapping
        self.base = mapping.base
        self.entries = parsed.entries
        self.metadata = parsed.metadata
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The elements of tensor `name` converted to Float.
    ///
    /// Reads F32, F16, BF16 and F64 (narrowed), and the integer/boolean dtypes I64, I32, I16, I8, U8, BOOL
    /// (converted by value). Missing name → `.missingWeight`; any other dtype → `.unsupportedDType`.
    public func floats(_ name: String) throws -> [Float] {
        guard let entry = entries[name] else {
            throw SpeechT5Error.missingWeight(key: name, path: path)
        }
        let count = entry.elementCount
        let start = base + entry.byteRange.lowerBound
        switch entry.dtype {
        case "F32":
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                #if _endian(little)
                if count > 0, let destination = buffer.baseAddress {
                    // memcpy tolerates any alignment of the source.
                    memcpy(destination, start, count * 4)
                }
                #else
                for i in 0..<count {
                    let bits = UInt32(littleEndian: start.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                    buffer[i] = Float(bitPattern: bits)
                }
                #endif
                initialized = count
            }
        case "F16":
            return Self.convert(count: count) { i in
                Self.floatFromHalfBits(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case "BF16":
            return Self.convert(count: count) { i in
                Self.floatFromBFloat16Bits(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case "F64":
            return Self.convert(count: count) { i in
                Float(Double(bitPattern: UInt64(littleEndian: start.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
            }
        case "I64":
            return Self.convert(count: count) { i in
                Float(Int64(littleEndian: start.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
            }
        case "I32":
            return Self.convert(count: count) { i in
                Float(Int32(littleEndian: start.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
            }
        case "I16":
            return Self.convert(count: count) { i in
                Float(Int16(littleEndian: start.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
            }
        case "I8":
            return Self.convert(count: count) { i in Float(start.load(fromByteOffset: i, as: Int8.self)) }
        case "U8":
            return Self.convert(count: count) { i in Float(start.load(fromByteOffset: i, as: UInt8.self)) }
        case "BOOL":
            return Self.convert(count: count) { i in start.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        default:
            throw SpeechT5Error.unsupportedDType(key: name, dtype: entry.dtype, path: path)
        }
    }

    /// A view of an F32 tensor's bytes inside the mapping, without copying. Valid while this object lives.
    /// Nil when the tensor is missing, is not F32, is not 4-byte aligned in the file, or the host is
    /// big-endian.
    public func float32Pointer(_ name: String) -> UnsafeBufferPointer<Float>? {
        #if _endian(big)
        return nil
        #else
        guard let entry = entries[name], entry.dtype == "F32" else { return nil }
        let start = base + entry.byteRange.lowerBound
        guard UInt(bitPattern: start) % UInt(MemoryLayout<Float>.alignment) == 0 else { return nil }
        let count = entry.elementCount
        return UnsafeBufferPointer(start: start.bindMemory(to: Float.self, capacity: count), count: count)
        #endif
    }

    /// The raw bytes of tensor `name` inside the mapping (any dtype), valid while this object lives.
    func rawBytes(_ name: String) -> UnsafeRawBufferPointer? {
        guard let entry = entries[name] else { return nil }
        return UnsafeRawBufferPointer(start: base + entry.byteRange.lowerBound, count: entry.byteRange.count)
    }

    /// Tells the kernel that the pages wholly inside tensor `name` are not needed any more (after a
    /// conversion copied them), so they stop counting as resident memory. Reading them again is still
    /// valid: the private file mapping faults them back in from the file.
    func releasePages(_ name: String) {
        guard let entry = entries[name] else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (entry.byteRange.lowerBound + page - 1) / page * page
        let end = entry.byteRange.upperBound / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    // MARK: - Conversions

    private static func convert(count: Int, _ element: (Int) -> Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = element(i) }
            initialized = count
        }
    }

    /// IEEE 754 binary16 → Float (exact: every half value is representable), including subnormals,
    /// infinities and NaN payloads.
    static func floatFromHalfBits(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1f
        let mantissa = UInt32(h & 0x03ff)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1f {
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// bfloat16 → Float: the top 16 bits of a binary32.
    static func floatFromBFloat16Bits(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    // MARK: - Header validation

    private static func parseHeader(base: UnsafeRawPointer, size: Int, path: String) throws
        -> (entries: [String: SafeTensorsEntry], metadata: [String: String])
    {
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: reason)
        }
        let declared = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(maxHeaderBytes) else {
            throw invalid("safetensors header length \(declared) exceeds the \(maxHeaderBytes)-byte limit (corrupt or not a safetensors file)")
        }
        guard declared <= UInt64(size - 8) else {
            throw invalid("safetensors header length \(declared) runs past the end of the file (\(size) bytes; truncated or not a safetensors file)")
        }
        let headerLength = Int(declared)
        let dataStart = 8 + headerLength
        let blobSize = size - dataStart

        let header = Data(bytes: base + 8, count: headerLength)
        // The header must be a UTF-8 JSON object; checking the first non-space byte also rules out UTF-16/32,
        // which JSONSerialization would otherwise auto-detect.
        guard let first = header.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0a && $0 != 0x0d }) else {
            throw invalid("safetensors header is empty")
        }
        guard first == UInt8(ascii: "{") else {
            throw invalid("safetensors header is not a JSON object")
        }
        // JSON never contains raw control bytes; a NUL here means UTF-16/32 text or binary garbage.
        if let control = header.firstIndex(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0a && $0 != 0x0d }) {
            throw invalid("safetensors header is not valid JSON: control byte 0x\(String(header[control], radix: 16)) at header offset \(control - header.startIndex) (the header must be UTF-8 JSON)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header, options: [])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw invalid("safetensors header is not valid JSON" + (detail.map { ": \($0)" } ?? ""))
        }
        guard let object = json as? [String: Any] else {
            throw invalid("safetensors header is not a JSON object")
        }

        var entries: [String: SafeTensorsEntry] = [:]
        var metadata: [String: String] = [:]
        entries.reserveCapacity(object.count)
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw invalid("safetensors __metadata__ is not a JSON object")
                }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw invalid("safetensors __metadata__ value for '\(key)' is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            func bad(_ reason: String) -> SpeechT5Error {
                invalid("tensor '\(name)': \(reason)")
            }
            guard let fields = value as? [String: Any] else {
                throw bad("header entry is not a JSON object")
            }
            guard let dtype = fields["dtype"] as? String else {
                throw bad("missing or non-string 'dtype'")
            }
            guard let bits = dtypeBits[dtype] else {
                throw bad("unknown dtype '\(dtype)'")
            }
            guard let rawShape = fields["shape"] as? [Any] else {
                throw bad("missing or non-array 'shape'")
            }
            var shape: [Int] = []
            shape.reserveCapacity(rawShape.count)
            for dim in rawShape {
                guard let extent = strictInteger(dim), extent >= 0 else {
                    throw bad("shape \(describe(rawShape)) has a dimension that is not a non-negative integer")
                }
                shape.append(extent)
            }
            guard let rawOffsets = fields["data_offsets"] as? [Any], rawOffsets.count == 2 else {
                throw bad("'data_offsets' must be an array [begin, end]")
            }
            guard let begin = strictInteger(rawOffsets[0]), let end = strictInteger(rawOffsets[1]),
                  begin >= 0, end >= 0
            else {
                throw bad("data_offsets \(describe(rawOffsets)) are not non-negative integers")
            }
            guard begin <= end else {
                throw bad("data_offsets [\(begin), \(end)] begin after they end")
            }
            guard end <= blobSize else {
                throw bad("data_offsets [\(begin), \(end)] run past the end of the data (\(blobSize) bytes; truncated file?)")
            }
            var elements = 1
            for extent in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
                guard !overflow else { throw bad("shape \(shape) has too many elements") }
                elements = product
            }
            let (totalBits, bitsOverflow) = elements.multipliedReportingOverflow(by: bits)
            guard !bitsOverflow else { throw bad("shape \(shape) has too many elements") }
            guard totalBits % 8 == 0 else {
                throw bad("shape \(shape) of \(dtype) does not fill a whole number of bytes")
            }
            let byteCount = totalBits / 8
            guard byteCount == end - begin else {
                throw bad("shape \(shape) of \(dtype) needs \(byteCount) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
            }
            entries[name] = SafeTensorsEntry(
                name: name, dtype: dtype, shape: shape,
                byteRange: (dataStart + begin)..<(dataStart + end))
        }

        // No two non-empty tensors may share bytes. Empty tensors occupy nothing.
        let ordered = entries.values
            .filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        for (previous, next) in zip(ordered, ordered.dropFirst())
        where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw invalid("tensors '\(previous.name)' and '\(next.name)' overlap in the data (bytes \(previous.byteRange.lowerBound - dataStart)..<\(previous.byteRange.upperBound - dataStart) and \(next.byteRange.lowerBound - dataStart)..<\(next.byteRange.upperBound - dataStart))")
        }
        return (entries, metadata)
    }

    /// A JSON integer as Int: rejects booleans, fractional or exponent-form numbers, and values that do not
    /// fit in Int.
    static func strictInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
        let type = String(cString: number.objCType)
        guard ["i", "s", "l", "q", "I", "S", "L", "Q"].contains(type) else { return nil }
        if type == "Q" || type == "L" || type == "I" || type == "S" {
            return Int(exactly: number.uint64Value)
        }
        return Int(exactly: number.int64Value)
    }

    private static func describe(_ values: [Any]) -> String {
        let text = "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }
}
