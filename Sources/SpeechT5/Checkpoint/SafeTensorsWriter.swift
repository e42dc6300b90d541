import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `.safetensors` files the way the reference `safetensors` library does, byte for byte: tensors
/// laid out by descending dtype (U64, I64, F64, F32, ..., BF16, F16, ...) then by name, the JSON header
/// compact, in that order, with `__metadata__` first and padded with spaces to a multiple of 8 bytes.
///
/// Tensor bytes are produced one tensor at a time while writing (so a large checkpoint never sits in memory
/// whole), into a temporary file in the destination directory that is flushed and then moved into place:
/// the destination is never seen half-written, and on any failure the temporary file is removed.
public final class SafeTensorsWriter {
    /// The `__metadata__` map; nil omits it.
    public var metadata: [String: String]?

    private struct Item {
        let name: String
        let dtype: String
        let shape: [Int]
        let byteCount: Int
        let bytes: () throws -> [UInt8]
    }

    private var items: [Item] = []
    private var names: Set<String> = []

    /// A writer whose header carries `metadata` (transformers writes `{"format": "pt"}`).
    public init(metadata: [String: String]? = ["format": "pt"]) {
        self.metadata = metadata
    }

    /// The dtypes in the reference library's order (its `Dtype` enum); files list larger ones first.
    static let dtypeOrder: [String] = [
        "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16",
        "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
    ]

    /// Adds a tensor whose bytes (little-endian, row-major) are produced when the file is written.
    /// An unknown dtype, a byte count that does not match the shape, a repeated or reserved name →
    /// `.invalidArgument`.
    public func add(_ name: String, dtype: String, shape: [Int], byteCount: Int,
                    bytes: @escaping () throws -> [UInt8]) throws {
        func bad(_ reason: String) -> SpeechT5Error {
            .invalidArgument(name: "tensor '\(name)'", reason: reason)
        }
        guard name != "__metadata__" else { throw bad("the name is reserved") }
        guard !names.contains(name) else { throw bad("added twice") }
        guard let bits = SafeTensorsFile.dtypeBits[dtype] else { throw bad("unknown dtype '\(dtype)'") }
        var elements = 1
        for extent in shape {
            guard extent >= 0 else { throw bad("negative extent in shape \(shape)") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw bad("shape \(shape) has too many elements") }
            elements = product
        }
        let (totalBits, overflow) = elements.multipliedReportingOverflow(by: bits)
        guard !overflow, totalBits % 8 == 0, totalBits / 8 == byteCount else {
            throw bad("\(byteCount) bytes do not hold shape \(shape) of \(dtype)")
        }
        names.insert(name)
        items.append(Item(name: name, dtype: dtype, shape: shape, byteCount: byteCount, bytes: bytes))
    }

    /// Adds a tensor from its bytes.
    public func add(_ name: String, dtype: String, shape: [Int], bytes: [UInt8]) throws {
        try add(name, dtype: dtype, shape: shape, byteCount: bytes.count) { bytes }
    }

    /// Adds a float32 tensor.
    public func add(_ name: String, tensor: Tensor) throws {
        try add(name, dtype: "F32", shape: tensor.shape, byteCount: tensor.scalars.count * 4) {
            WeightStore.littleEndianBytes(tensor.scalars)
        }
    }

    /// The tensors in file order.
    private var ordered: [Item] {
        let rank = Dictionary(uniqueKeysWithValues: Self.dtypeOrder.enumerated().map { ($1, $0) })
        return items.sorted { a, b in
            let ra = rank[a.dtype] ?? -1, rb = rank[b.dtype] ?? -1
            if ra != rb { return ra > rb }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The complete header: 8-byte little-endian length, then the padded JSON.
    func header() throws -> [UInt8] {
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            json += metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { Self.jsonString($0.key) + ":" + Self.jsonString($0.value) }
                .joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for item in ordered {
            if !first { json += "," }
            first = false
            let end = offset + item.byteCount
            json += Self.jsonString(item.name)
            json += ":{\"dtype\":\"\(item.dtype)\",\"shape\":[\(item.shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        guard bytes.count <= SafeTensorsFile.maxHeaderBytes else {
            throw SpeechT5Error.invalidArgument(
                name: "safetensors header", reason: "\(bytes.count) bytes exceed the \(SafeTensorsFile.maxHeaderBytes)-byte limit of readers")
        }
        return withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { Array($0) } + bytes
    }

    /// A JSON string as serde_json writes it: `"` `\` and control characters escaped (`\b \f \n \r \t`, else
    /// `\u00xx`), everything else as UTF-8.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Writes the file at `path` atomically. An existing file is replaced only when `overwrite` is true
    /// (otherwise `.writeFailed`, also when it appears while writing). Returns the number of bytes written.
    @discardableResult
    public func write(to path: String, overwrite: Bool = false) throws -> Int {
        func failed(_ reason: String) -> SpeechT5Error { .writeFailed(path: path, reason: reason) }
        guard !path.isEmpty else { throw failed("empty path") }
        if BinaryFileIO.isDirectory(path) { throw failed("is a directory") }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        guard BinaryFileIO.isDirectory(directory) else { throw failed("directory \(directory) does not exist") }
        if !overwrite, Self.exists(path) { throw failed("the file already exists") }
        let header = try header()

        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = (directory as NSString).appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(suffix).tmp")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw failed(BinaryFileIO.errnoMessage()) }
        var open = true
        defer {
            if open { close(fd) }
        }
        do {
            var written = 0
            try Self.writeAll(fd, header, path: path)
            written += header.count
            for item in ordered {
                let bytes = try item.bytes()
                guard bytes.count == item.byteCount else {
                    throw failed("tensor '\(item.name)' produced \(bytes.count) bytes instead of \(item.byteCount)")
                }
                try Self.writeAll(fd, bytes, path: path)
                written += bytes.count
            }
            if fsync(fd) != 0, errno != EINVAL, errno != EROFS { throw failed(BinaryFileIO.errnoMessage()) }
            open = false
            if close(fd) != 0 { throw failed(BinaryFileIO.errnoMessage()) }
            try Self.moveIntoPlace(temporary, path, overwrite: overwrite)
            return written
        } catch {
            unlink(temporary)
            throw error
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let n = posixWrite(fd, base + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SpeechT5Error.writeFailed(path: path, reason: BinaryFileIO.errnoMessage())
                }
                if n == 0 { throw SpeechT5Error.writeFailed(path: path, reason: "write returned 0 bytes") }
                done += n
            }
        }
    }

    /// Renames `temporary` to `path`; without `overwrite`, links instead so that a file created meanwhile is
    /// never replaced.
    private static func moveIntoPlace(_ temporary: String, _ path: String, overwrite: Bool) throws {
        if overwrite {
            guard rename(temporary, path) == 0 else {
                throw SpeechT5Error.writeFailed(path: path, reason: BinaryFileIO.errnoMessage())
            }
            return
        }
        if link(temporary, path) == 0 {
            unlink(temporary)
            return
        }
        let code = errno
        if code == EEXIST { throw SpeechT5Error.writeFailed(path: path, reason: "the file already exists") }
        // A file system without hard links: check, then rename (a small race, as any tool has there).
        if exists(path) { throw SpeechT5Error.writeFailed(path: path, reason: "the file already exists") }
        guard rename(temporary, path) == 0 else {
            throw SpeechT5Error.writeFailed(path: path, reason: BinaryFileIO.errnoMessage())
        }
    }
}

/// `write(2)`, out of reach of `SafeTensorsWriter.write(to:)`'s name.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Converts PyTorch checkpoints to safetensors (`speecht5 convert`).
public enum CheckpointConverter {
    /// What a conversion did.
    public struct Summary: Sendable, Equatable {
        /// The torch files read.
        public let sources: [String]
        /// The file written.
        public let output: String
        /// Tensors written.
        public let tensorCount: Int
        /// Names of the weights folded from weight-norm pairs, sorted.
        public let foldedWeights: [String]
        /// Size of the written file.
        public let bytesWritten: Int
    }

    /// Reads the PyTorch checkpoint at `input` (a directory holding `pytorch_model.bin`, or
    /// `pytorch_model.bin.index.json` and its shards, or a torch checkpoint file) and writes one
    /// safetensors file, by default `model.safetensors` in the same directory.
    ///
    /// Every tensor is kept under its name: float32 as F32, float64 narrowed to F32, float16/bfloat16/int64
    /// as they are (`num_batches_tracked` and legacy buffers included), views made contiguous; weight-norm
    /// pairs are folded into the plain weight (F32), so the result loads like a transformers re-save.
    /// The header metadata is `{"format":"pt"}`. An existing output is replaced only with `overwrite`; the
    /// output may not be one of the inputs.
    public static func convertTorchCheckpoint(at input: String, output: String? = nil, overwrite: Bool = false) throws
        -> Summary
    {
        let store: WeightStore
        let directory: String
        if BinaryFileIO.isRegularFile(input) {
            store = try WeightStore(checkpointFile: input)
            directory = (input as NSString).deletingLastPathComponent
        } else if BinaryFileIO.isDirectory(input) {
            directory = input
            let single = (input as NSString).appendingPathComponent(WeightStore.torchFileName)
            let index = (input as NSString).appendingPathComponent(WeightStore.torchIndexFileName)
            if BinaryFileIO.isRegularFile(single) {
                store = try WeightStore(checkpointFile: single)
            } else if BinaryFileIO.isRegularFile(index) {
                store = try WeightStore(torchIndex: index, directory: input)
            } else {
                throw SpeechT5Error.fileNotFound(path: single)
            }
        } else {
            throw SpeechT5Error.fileNotFound(path: input)
        }
        guard !store.torchFiles.isEmpty, store.files.isEmpty else {
            throw SpeechT5Error.invalidFile(path: input, reason: "is already a safetensors checkpoint; nothing to convert")
        }
        let destination = output ?? (directory.isEmpty ? WeightStore.singleFileName
                                     : (directory as NSString).appendingPathComponent(WeightStore.singleFileName))
        let sources = store.torchFiles.map(\.path)
        for source in sources where sameFile(source, destination) {
            throw SpeechT5Error.writeFailed(path: destination, reason: "is the checkpoint being converted")
        }
        if !overwrite, SafeTensorsWriter.exists(destination) {
            throw SpeechT5Error.writeFailed(path: destination, reason: "the file already exists (use --force to replace it)")
        }

        let writer = SafeTensorsWriter(metadata: ["format": "pt"])
        let names = store.tensorNames
        for name in names {
            let raw = try store.rawTensor(name)
            try writer.add(name, dtype: raw.dtype, shape: raw.shape, byteCount: raw.byteCount, bytes: raw.bytes)
        }
        let written = try writer.write(to: destination, overwrite: overwrite)
        return Summary(
            sources: sources, output: destination, tensorCount: names.count,
            foldedWeights: store.weightNormPairs.keys.sorted(), bytesWritten: written)
    }

    private static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
