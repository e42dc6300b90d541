import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Name → tensor lookups over one checkpoint (one file, or shards listed by an index), with shape checks,
/// used-key tracking and weight-norm folding.
///
/// A checkpoint is safetensors (`model.safetensors`, or shards listed by `model.safetensors.index.json`) or
/// PyTorch (`pytorch_model.bin`, or shards listed by `pytorch_model.bin.index.json`), read by
/// `SafeTensorsFile` and `TorchCheckpoint`.
///
/// Weight norm is folded transparently: when `X.weight` is absent but `X.weight_g` + `X.weight_v` or
/// `X.parametrizations.weight.original0` + `.original1` are present, `tensor("X.weight", ...)` returns
/// `g · v / ‖v‖` (see `WeightNorm`), and fetching it counts as a use of both stored keys.
public final class WeightStore: @unchecked Sendable {
    /// Path used in error messages (the directory or file).
    public let path: String

    /// The opened safetensors files, in the order given (shards sorted by name). Empty for a torch checkpoint.
    public let files: [SafeTensorsFile]
    /// The opened torch checkpoints (shards sorted by name). Empty for a safetensors checkpoint.
    public let torchFiles: [TorchCheckpoint]

    /// Every opened file, safetensors or torch.
    private let sources: [any CheckpointTensorSource]
    /// For each stored key, the index in `sources` of the file that holds it.
    private let location: [String: Int]
    /// Weight-norm pairs standing for absent weights, by the folded weight's name.
    let weightNormPairs: [String: WeightNorm.Pair]

    private let lock = NSLock()
    private var used: Set<String> = []
    /// Stored keys whose values were copied out (the copy is what the model keeps).
    private var copied: Set<String> = []

    /// Name of the single-file checkpoint in a model directory.
    public static let singleFileName = "model.safetensors"
    /// Name of the shard index in a model directory.
    public static let indexFileName = "model.safetensors.index.json"
    /// Name of the single-file PyTorch checkpoint in a model directory.
    public static let torchFileName = "pytorch_model.bin"
    /// Name of the PyTorch shard index in a model directory.
    public static let torchIndexFileName = "pytorch_model.bin.index.json"
    /// Largest shard index accepted.
    static let maxIndexBytes = 64 << 20

    /// A store over `files`. The same key in two files → `.invalidFile`.
    public convenience init(files: [SafeTensorsFile]) throws {
        try self.init(sources: files, path: Self.describePath(files.map(\.path)))
    }

    /// Opens the checkpoint in `directory`, trying in order `model.safetensors`,
    /// `model.safetensors.index.json`, `pytorch_model.bin` and `pytorch_model.bin.index.json` (the first
    /// present wins, as in transformers). Indexes are `{"weight_map": {key: filename}}`; shard names must be
    /// plain file names inside the directory. `directory` may also name a checkpoint file directly (see
    /// `init(checkpointFile:)`). None present → `.fileNotFound` naming `model.safetensors`.
    public convenience init(directory: String) throws {
        if BinaryFileIO.isRegularFile(directory) {
            try self.init(checkpointFile: directory)
            return
        }
        let single = Self.join(directory, Self.singleFileName)
        if BinaryFileIO.isRegularFile(single) {
            try self.init(sources: [SafeTensorsFile(path: single)], path: single)
            return
        }
        let index = Self.join(directory, Self.indexFileName)
        if BinaryFileIO.isRegularFile(index) {
            let shards = try Self.openShards(directory: directory, index: index) { try SafeTensorsFile(path: $0) }
            try self.init(sources: shards, path: directory)
            return
        }
        let torchSingle = Self.join(directory, Self.torchFileName)
        if BinaryFileIO.isRegularFile(torchSingle) {
            try self.init(checkpointFile: torchSingle)
            return
        }
        let torchIndex = Self.join(directory, Self.torchIndexFileName)
        if BinaryFileIO.isRegularFile(torchIndex) {
            try self.init(torchIndex: torchIndex, directory: directory)
            return
        }
        if FileManager.default.fileExists(atPath: single) {
            // Exists but is not a regular file (a directory, a FIFO, ...): let the opener say so.
            _ = try SafeTensorsFile(path: single)
        }
        throw SpeechT5Error.fileNotFound(path: single)
    }

    /// Opens one checkpoint file of either format, recognized by its bytes (not its name): safetensors (an
    /// 8-byte header length and a JSON header) or a PyTorch zip checkpoint (`PK\x03\x04`). The legacy
    /// pre-1.6 torch format and anything else → `.invalidFile` saying what the file is.
    public convenience init(checkpointFile path: String) throws {
        try self.init(sources: [Self.openCheckpointFile(path)], path: path)
    }

    /// The torch shards listed by the index at `index` (in `directory`).
    convenience init(torchIndex index: String, directory: String) throws {
        let shards = try Self.openShards(directory: directory, index: index) { try Self.openCheckpointFile($0) }
        try self.init(sources: shards, path: directory)
    }

    init(sources: [any CheckpointTensorSource], path: String) throws {
        var location: [String: Int] = [:]
        for (i, source) in sources.enumerated() {
            for key in source.tensorNames {
                if let other = location[key] {
                    throw SpeechT5Error.invalidFile(
                        path: source.sourcePath,
                        reason: "tensor '\(key)' also appears in \(sources[other].sourcePath); a checkpoint must hold each key once")
                }
                location[key] = i
            }
        }
        let pairs = try WeightNorm.pairs(in: Set(location.keys), path: path)
        for pair in pairs.values.sorted(by: { $0.name < $1.name }) {
            guard let gi = location[pair.g], let vi = location[pair.v],
                  let gShape = sources[gi].tensorShape(pair.g), let vShape = sources[vi].tensorShape(pair.v)
            else { continue }
            if let problem = WeightNorm.shapeProblem(gShape: gShape, vShape: vShape) {
                throw SpeechT5Error.invalidFile(path: sources[gi].sourcePath, reason: "'\(pair.g)' and '\(pair.v)': \(problem)")
            }
        }
        self.sources = sources
        self.files = sources.compactMap { $0 as? SafeTensorsFile }
        self.torchFiles = sources.compactMap { $0 as? TorchCheckpoint }
        self.location = location
        self.weightNormPairs = pairs
        self.path = path
    }

    // MARK: - Lookups

    /// Whether the checkpoint holds `key`, stored or as a weight-norm pair (does not count as a use).
    public func contains(_ key: String) -> Bool {
        location[key] != nil || weightNormPairs[key] != nil
    }

    /// The header entry of `key`, if present (does not count as a use). For tensors of a torch checkpoint
    /// `byteRange` is the range of a contiguous tensor's bytes in the zip file, or empty for a strided view;
    /// for a weight-norm pair it describes the folded F32 tensor, with an empty `byteRange`.
    public func entry(_ key: String) -> SafeTensorsEntry? {
        if let i = location[key] {
            return sources[i].safeTensorsEntry(key)
        }
        if let pair = weightNormPairs[key], let vi = location[pair.v], let shape = sources[vi].tensorShape(pair.v) {
            return SafeTensorsEntry(name: key, dtype: "F32", shape: shape, byteRange: 0..<0)
        }
        return nil
    }

    /// The tensor `key`, checked to have exactly `shape`. Missing → `.missingWeight`; other shape →
    /// `.shapeMismatch`; a dtype other than F32/F16/BF16/F64 → `.unsupportedDType`. A `[]` and a `[1]`
    /// shape are different here; use `scalar` to accept either. A weight stored as a weight-norm pair is
    /// folded.
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        let (values, actual, sourcePath, parts) = try resolve(key)
        guard actual == shape else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: shape, actual: actual, path: sourcePath)
        }
        let scalars = try values()
        markUsed(parts, copied: true)
        return Tensor(shape: actual, scalars: scalars)
    }

    /// The weight `key`, checked to have exactly `shape`, as a matrix `[shape[0], product of the rest]` in
    /// `precision`. An F32 tensor in fp32 precision is used in place (a view into the memory-mapped file,
    /// no copy); anything else is converted once (F16/BF16/F64 → float32, or → bfloat16 or int8), and in
    /// bf16 and int8 precision the source pages are released after the conversion.
    func matrix(_ key: String, shape: [Int], precision: Precision) throws -> WeightMatrix {
        let (values, actual, sourcePath, parts) = try resolve(key)
        guard actual == shape else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: shape, actual: actual, path: sourcePath)
        }
        let rows = shape.first ?? 1
        let columns = shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *)
        var viewedInPlace = false
        defer { markUsed(parts, copied: !viewedInPlace) }
        // A safetensors tensor stored as is can be used in place; torch checkpoints, weight-norm pairs and
        // other dtypes are converted once.
        let file = safeTensorsFile(holding: key)
        switch precision {
        case .fp32:
            if let file, let view = file.float32Pointer(key), let start = view.baseAddress {
                viewedInPlace = true
                return WeightMatrix(rows: rows, columns: columns, viewing: start, owner: file)
            }
            return WeightMatrix(rows: rows, columns: columns, copying: try values(), precision: .fp32)
        case .bf16, .int8:
            #if _endian(little)
            if precision == .bf16, let file, file.entries[key]?.dtype == "BF16", let raw = file.rawBytes(key),
               let start = raw.baseAddress, UInt(bitPattern: start) % 2 == 0 {
                viewedInPlace = true
                return WeightMatrix(rows: rows, columns: columns,
                                    viewingBF16: start.assumingMemoryBound(to: UInt16.self), owner: file)
            }
            #endif
            let matrix: WeightMatrix
            if let file, let view = file.float32Pointer(key), let start = view.baseAddress {
                matrix = WeightMatrix(rows: rows, columns: columns, copying: start, precision: precision)
            } else {
                matrix = WeightMatrix(rows: rows, columns: columns, copying: try values(), precision: precision)
            }
            file?.releasePages(key)
            return matrix
        }
    }

    /// The memory-mapped safetensors file that stores `key` itself (nil for torch files and folded pairs).
    private func safeTensorsFile(holding key: String) -> SafeTensorsFile? {
        location[key].flatMap { sources[$0] as? SafeTensorsFile }
    }

    /// Releases the resident pages of `key`'s bytes after a conversion copied them (see SafeTensorsFile).
    func releasePages(_ key: String) {
        safeTensorsFile(holding: key)?.releasePages(key)
    }

    /// A scalar stored with shape `[]` or `[1]`.
    public func scalar(_ key: String) throws -> Float {
        let (values, actual, sourcePath, parts) = try resolve(key)
        guard actual == [] || actual == [1] else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: [], actual: actual, path: sourcePath)
        }
        let scalars = try values()
        guard let value = scalars.first, scalars.count == 1 else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: [], actual: actual, path: sourcePath)
        }
        markUsed(parts, copied: true)
        return value
    }

    /// Stored keys never fetched by `tensor`/`scalar`, excluding legacy keys the reference ignores (names
    /// ending in `encode_positions.pe` and `num_batches_tracked`). Fetching a folded weight uses both keys of
    /// its weight-norm pair. Sorted.
    public var unusedKeys: [String] {
        let fetched = lock.withLock { used }
        return location.keys
            .filter { !fetched.contains($0) && !Self.isIgnoredKey($0) }
            .sorted()
    }

    /// All stored keys in the checkpoint, sorted (weight-norm pairs appear as their two stored keys).
    public var keys: [String] { location.keys.sorted() }

    /// The tensors as a model sees them, sorted: the stored keys, with each weight-norm pair replaced by
    /// the name of its folded weight.
    public var tensorNames: [String] {
        var names = Set(location.keys)
        for pair in weightNormPairs.values {
            names.remove(pair.g)
            names.remove(pair.v)
            names.insert(pair.name)
        }
        return names.sorted()
    }

    /// Keys the reference ignores when loading.
    static func isIgnoredKey(_ key: String) -> Bool {
        key.hasSuffix("encode_positions.pe") || key.hasSuffix("num_batches_tracked")
    }

    // MARK: - Raw access (conversion)

    /// One tensor as a converter writes it: its dtype (F32 for float32, float64 and folded weights; F16,
    /// BF16 and I64 kept), shape, and a function producing its little-endian row-major bytes.
    struct RawTensor {
        let name: String
        let dtype: String
        let shape: [Int]
        let byteCount: Int
        let bytes: () throws -> [UInt8]
    }

    func rawTensor(_ key: String) throws -> RawTensor {
        if let i = location[key] {
            let source = sources[i]
            guard let dtype = source.tensorDType(key), let shape = source.tensorShape(key) else {
                throw SpeechT5Error.missingWeight(key: key, path: path)
            }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            switch dtype {
            case "F64":
                return RawTensor(name: key, dtype: "F32", shape: shape, byteCount: count * 4) {
                    Self.littleEndianBytes(try source.tensorFloats(key))
                }
            default:
                guard let bits = SafeTensorsFile.dtypeBits[dtype] else {
                    throw SpeechT5Error.unsupportedDType(key: key, dtype: dtype, path: source.sourcePath)
                }
                return RawTensor(name: key, dtype: dtype, shape: shape, byteCount: count * bits / 8) {
                    try source.tensorBytes(key)
                }
            }
        }
        let (values, shape, _, _) = try resolve(key)
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        return RawTensor(name: key, dtype: "F32", shape: shape, byteCount: count * 4) {
            Self.littleEndianBytes(try values())
        }
    }

    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 4) { buffer, initialized in
            for (i, value) in values.enumerated() {
                let bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { raw in
                    for k in 0..<4 { buffer[i * 4 + k] = raw[k] }
                }
            }
            initialized = values.count * 4
        }
    }

    // MARK: - Helpers

    /// How to read `key`: a function producing its floats, its shape, the file to name in errors, and the
    /// stored keys a successful read uses.
    private func resolve(_ key: String) throws -> (values: () throws -> [Float], shape: [Int], path: String, parts: [String]) {
        if let i = location[key] {
            let source = sources[i]
            guard let shape = source.tensorShape(key) else { throw SpeechT5Error.missingWeight(key: key, path: path) }
            return ({ try Self.floatValues(source, key) }, shape, source.sourcePath, [key])
        }
        if let pair = weightNormPairs[key], let gi = location[pair.g], let vi = location[pair.v],
           let gShape = sources[gi].tensorShape(pair.g), let vShape = sources[vi].tensorShape(pair.v)
        {
            let gSource = sources[gi], vSource = sources[vi]
            let values: () throws -> [Float] = {
                let g = try Self.floatValues(gSource, pair.g)
                let v = try Self.floatValues(vSource, pair.v)
                return WeightNorm.fold(g: g, gShape: gShape, v: v, vShape: vShape)
            }
            return (values, vShape, vSource.sourcePath, [pair.g, pair.v])
        }
        throw SpeechT5Error.missingWeight(key: key, path: path)
    }

    private static func floatValues(_ source: any CheckpointTensorSource, _ key: String) throws -> [Float] {
        let dtype = source.tensorDType(key) ?? "?"
        switch dtype {
        case "F32", "F16", "BF16", "F64":
            return try source.tensorFloats(key)
        default:
            throw SpeechT5Error.unsupportedDType(key: key, dtype: dtype, path: source.sourcePath)
        }
    }

    private func markUsed(_ keys: [String], copied wasCopied: Bool = false) {
        lock.withLock {
            used.formUnion(keys)
            if wasCopied { copied.formUnion(keys) }
        }
    }

    /// Releases the resident pages of every stored tensor the model does not read in place: those copied
    /// out (converted, folded, small vectors) and those it ignores. Called once a model is built; pages a
    /// tensor shares with one still in use stay. Memory only: reading them again remains valid.
    func releasePagesNotInUse() {
        let keys = lock.withLock { copied.union(location.keys.filter(Self.isIgnoredKey)) }
        for key in keys { releasePages(key) }
    }

    private static func join(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    private static func describePath(_ paths: [String]) -> String {
        guard let first = paths.first else { return "(empty checkpoint)" }
        if paths.count == 1 { return first }
        let directories = Set(paths.map { ($0 as NSString).deletingLastPathComponent })
        if directories.count == 1, let directory = directories.first, !directory.isEmpty {
            return directory
        }
        return paths.joined(separator: ", ")
    }

    /// Opens a checkpoint file of either format by sniffing its first bytes.
    static func openCheckpointFile(_ path: String) throws -> any CheckpointTensorSource {
        let (format, head) = try CheckpointSniffer.sniff(path: path)
        switch format {
        case .safeTensors:
            return try SafeTensorsFile(path: path)
        case .torchZip:
            return try TorchCheckpoint(path: path)
        case .unsupported(let reason):
            throw SpeechT5Error.invalidFile(path: path, reason: reason)
        case .unknown:
            if path.hasSuffix(".safetensors") {
                return try SafeTensorsFile(path: path)  // its own, more specific, error
            }
            let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw SpeechT5Error.invalidFile(
                path: path,
                reason: "not a checkpoint: neither safetensors (8-byte header length, then a JSON header) nor a PyTorch zip checkpoint ('PK\\x03\\x04'); the file starts with \(hex.isEmpty ? "nothing (it is empty)" : hex)")
        }
    }

    /// Opens the shards named by the index at `index`, checking that each listed key is in its shard.
    private static func openShards(
        directory: String, index: String, open: (String) throws -> any CheckpointTensorSource
    ) throws -> [any CheckpointTensorSource] {
        let weightMap = try readIndex(path: index)
        let shardNames = Set(weightMap.values).sorted()
        var shards: [any CheckpointTensorSource] = []
        var shardIndex: [String: Int] = [:]
        for name in shardNames {
            shardIndex[name] = shards.count
            shards.append(try open(join(directory, name)))
        }
        for key in weightMap.keys.sorted() {
            guard let shard = weightMap[key], let i = shardIndex[shard] else { continue }
            if shards[i].tensorShape(key) == nil {
                throw SpeechT5Error.invalidFile(
                    path: index, reason: "weight_map puts '\(key)' in \(shard), but \(shard) has no such tensor")
            }
        }
        return shards
    }

    /// Reads `{"weight_map": {key: filename}}`, rejecting shard names that are not plain file names.
    static func readIndex(path: String) throws -> [String: String] {
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: reason)
        }
        let bytes = try BinaryFileIO.readFile(path, maxBytes: maxIndexBytes, what: "shard index")
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw invalid("not valid JSON" + (detail.map { ": \($0)" } ?? ""))
        }
        guard let object = json as? [String: Any] else {
            throw invalid("not a JSON object")
        }
        guard let rawMap = object["weight_map"] as? [String: Any] else {
            throw invalid("missing or non-object 'weight_map'")
        }
        var map: [String: String] = [:]
        for (key, value) in rawMap {
            guard let name = value as? String else {
                throw invalid("weight_map entry for '\(key)' is not a string")
            }
            guard isPlainFileName(name) else {
                throw invalid("weight_map entry for '\(key)' names '\(name)', which is not a plain file name in the checkpoint directory")
            }
            map[key] = name
        }
        guard !map.isEmpty else {
            throw invalid("'weight_map' is empty")
        }
        return map
    }

    /// A name with no directory part: not empty, not `.`/`..`, no `/`, `\` or NUL.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && !name.contains("/") && !name.contains("\\") && !name.contains("\u{0}")
    }
}

// MARK: - Tensor sources

/// A file of named tensors: what `WeightStore` needs from safetensors and torch checkpoints alike.
protocol CheckpointTensorSource: AnyObject, Sendable {
    var sourcePath: String { get }
    var tensorNames: [String] { get }
    func tensorDType(_ name: String) -> String?
    func tensorShape(_ name: String) -> [Int]?
    /// The elements as Float (see each format's `floats`).
    func tensorFloats(_ name: String) throws -> [Float]
    /// The elements' little-endian bytes in the stored dtype, dense row-major.
    func tensorBytes(_ name: String) throws -> [UInt8]
    func safeTensorsEntry(_ name: String) -> SafeTensorsEntry?
}

extension SafeTensorsFile: CheckpointTensorSource {
    var sourcePath: String { path }
    var tensorNames: [String] { Array(entries.keys) }
    func tensorDType(_ name: String) -> String? { entries[name]?.dtype }
    func tensorShape(_ name: String) -> [Int]? { entries[name]?.shape }
    func tensorFloats(_ name: String) throws -> [Float] { try floats(name) }
    func safeTensorsEntry(_ name: String) -> SafeTensorsEntry? { entries[name] }

    func tensorBytes(_ name: String) throws -> [UInt8] {
        guard let entry = entries[name] else { throw SpeechT5Error.missingWeight(key: name, path: path) }
        // The header was validated against the file size when it was opened.
        let (fd, size) = try BinaryFileIO.openRegularFile(path)
        defer { close(fd) }
        guard entry.byteRange.upperBound <= size else {
            throw SpeechT5Error.invalidFile(path: path, reason: "file shrank after it was opened")
        }
        var bytes = [UInt8](repeating: 0, count: entry.byteRange.count)
        var filled = 0
        while filled < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return pread(fd, base + filled, buffer.count - filled, off_t(entry.byteRange.lowerBound + filled))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw SpeechT5Error.invalidFile(path: path, reason: "read failed: \(BinaryFileIO.errnoMessage())")
            }
            if got == 0 {
                throw SpeechT5Error.invalidFile(path: path, reason: "file shrank after it was opened")
            }
            filled += got
        }
        return bytes
    }
}

extension TorchCheckpoint: CheckpointTensorSource {
    var sourcePath: String { path }
    var tensorNames: [String] { Array(entries.keys) }
    func tensorDType(_ name: String) -> String? { entries[name]?.dtype }
    func tensorShape(_ name: String) -> [Int]? { entries[name]?.shape }
    func tensorFloats(_ name: String) throws -> [Float] { try floats(name) }
    func tensorBytes(_ name: String) throws -> [UInt8] { try contiguousBytes(name) }

    func safeTensorsEntry(_ name: String) -> SafeTensorsEntry? {
        guard let entry = entries[name] else { return nil }
        return SafeTensorsEntry(name: name, dtype: entry.dtype, shape: entry.shape, byteRange: fileRange(name) ?? 0..<0)
    }
}
