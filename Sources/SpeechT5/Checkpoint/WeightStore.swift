import Foundation

/// Name → tensor lookups over one checkpoint (one file, or shards listed by `model.safetensors.index.json`),
/// with shape checks and used-key tracking.
public final class WeightStore: @unchecked Sendable {
    /// Path used in error messages (the directory or file).
    public let path: String

    /// The opened files, in the order given (shards sorted by name).
    public let files: [SafeTensorsFile]
    /// For each key, the index in `files` of the file that holds it.
    private let location: [String: Int]

    private let lock = NSLock()
    private var used: Set<String> = []

    /// Name of the single-file checkpoint in a model directory.
    public static let singleFileName = "model.safetensors"
    /// Name of the shard index in a model directory.
    public static let indexFileName = "model.safetensors.index.json"
    /// Largest shard index accepted.
    static let maxIndexBytes = 64 << 20

    /// A store over `files`. The same key in two files → `.invalidFile`.
    public convenience init(files: [SafeTensorsFile]) throws {
        try self.init(files: files, path: Self.describePath(files))
    }

    /// Opens `model.safetensors`, or the shards named by `model.safetensors.index.json`
    /// (`{"weight_map": {key: filename}}`), in `directory`. When both exist the single file wins, as in
    /// transformers. Shard names must be plain file names inside the directory. `directory` may also name a
    /// `.safetensors` file directly. Missing both → `.fileNotFound` naming `model.safetensors`.
    public convenience init(directory: String) throws {
        if BinaryFileIO.isRegularFile(directory) {
            let file = try SafeTensorsFile(path: directory)
            try self.init(files: [file], path: directory)
            return
        }
        let single = Self.join(directory, Self.singleFileName)
        if BinaryFileIO.isRegularFile(single) {
            let file = try SafeTensorsFile(path: single)
            try self.init(files: [file], path: single)
            return
        }
        let index = Self.join(directory, Self.indexFileName)
        guard BinaryFileIO.isRegularFile(index) else {
            if FileManager.default.fileExists(atPath: single) {
                // Exists but is not a regular file (a directory, a FIFO, ...): let the opener say so.
                _ = try SafeTensorsFile(path: single)
            }
            throw SpeechT5Error.fileNotFound(path: single)
        }
        let weightMap = try Self.readIndex(path: index)
        let shardNames = Set(weightMap.values).sorted()
        var files: [SafeTensorsFile] = []
        var fileIndex: [String: Int] = [:]
        for name in shardNames {
            fileIndex[name] = files.count
            files.append(try SafeTensorsFile(path: Self.join(directory, name)))
        }
        for key in weightMap.keys.sorted() {
            guard let shard = weightMap[key], let i = fileIndex[shard] else { continue }
            if files[i].entries[key] == nil {
                throw SpeechT5Error.invalidFile(
                    path: index, reason: "weight_map puts '\(key)' in \(shard), but \(shard) has no such tensor")
            }
        }
        try self.init(files: files, path: directory)
    }

    init(files: [SafeTensorsFile], path: String) throws {
        var location: [String: Int] = [:]
        for (i, file) in files.enumerated() {
            for key in file.entries.keys {
                if let other = location[key] {
                    throw SpeechT5Error.invalidFile(
                        path: file.path,
                        reason: "tensor '\(key)' also appears in \(files[other].path); a checkpoint must hold each key once")
                }
                location[key] = i
            }
        }
        self.files = files
        self.location = location
        self.path = path
    }

    // MARK: - Lookups

    /// Whether the checkpoint holds `key` (does not count as a use).
    public func contains(_ key: String) -> Bool {
        location[key] != nil
    }

    /// The header entry of `key`, if present (does not count as a use).
    public func entry(_ key: String) -> SafeTensorsEntry? {
        guard let i = location[key] else { return nil }
        return files[i].entries[key]
    }

    /// The tensor `key`, checked to have exactly `shape`. Missing → `.missingWeight`; other shape →
    /// `.shapeMismatch`; a dtype other than F32/F16/BF16/F64 → `.unsupportedDType`. A `[]` and a `[1]`
    /// shape are different here; use `scalar` to accept either.
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        let (file, entry) = try lookup(key)
        guard entry.shape == shape else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: shape, actual: entry.shape, path: file.path)
        }
        let values = try floatValues(file, entry)
        markUsed(key)
        return Tensor(shape: entry.shape, scalars: values)
    }

    /// The weight `key`, checked to have exactly `shape`, as a matrix `[shape[0], product of the rest]` in
    /// `precision`. An F32 tensor in fp32 precision is used in place (a view into the memory-mapped file,
    /// no copy); anything else is converted once (F16/BF16/F64 → float32, or → bfloat16), and in bf16
    /// precision the source pages are released after the conversion.
    func matrix(_ key: String, shape: [Int], precision: Precision) throws -> WeightMatrix {
        let (file, entry) = try lookup(key)
        guard entry.shape == shape else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: shape, actual: entry.shape, path: file.path)
        }
        let rows = shape.first ?? 1
        let columns = shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *)
        defer { markUsed(key) }
        switch precision {
        case .fp32:
            if let view = file.float32Pointer(key), let start = view.baseAddress {
                return WeightMatrix(rows: rows, columns: columns, viewing: start, owner: file)
            }
            let values = try floatValues(file, entry)
            return WeightMatrix(rows: rows, columns: columns, copying: values, precision: .fp32)
        case .bf16:
            #if _endian(little)
            if entry.dtype == "BF16", let raw = file.rawBytes(key), let start = raw.baseAddress,
               UInt(bitPattern: start) % 2 == 0 {
                return WeightMatrix(rows: rows, columns: columns,
                                    viewingBF16: start.assumingMemoryBound(to: UInt16.self), owner: file)
            }
            #endif
            let matrix: WeightMatrix
            if let view = file.float32Pointer(key), let start = view.baseAddress {
                matrix = WeightMatrix(rows: rows, columns: columns, copying: start, precision: .bf16)
            } else {
                let values = try floatValues(file, entry)
                matrix = WeightMatrix(rows: rows, columns: columns, copying: values, precision: .bf16)
            }
            file.releasePages(key)
            return matrix
        }
    }

    /// Releases the resident pages of `key`'s bytes after a conversion copied them (see SafeTensorsFile).
    func releasePages(_ key: String) {
        guard let i = location[key] else { return }
        files[i].releasePages(key)
    }

    /// A scalar stored with shape `[]` or `[1]`.
    public func scalar(_ key: String) throws -> Float {
        let (file, entry) = try lookup(key)
        guard entry.shape == [] || entry.shape == [1] else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: [], actual: entry.shape, path: file.path)
        }
        let values = try floatValues(file, entry)
        guard let value = values.first, values.count == 1 else {
            throw SpeechT5Error.shapeMismatch(key: key, expected: [], actual: entry.shape, path: file.path)
        }
        markUsed(key)
        return value
    }

    /// Keys never fetched by `tensor`/`scalar`, excluding legacy keys the reference ignores (names ending in
    /// `encode_positions.pe` and `num_batches_tracked`). Sorted.
    public var unusedKeys: [String] {
        let fetched = lock.withLock { used }
        return location.keys
            .filter { !fetched.contains($0) && !Self.isIgnoredKey($0) }
            .sorted()
    }

    /// All keys in the checkpoint, sorted.
    public var keys: [String] { location.keys.sorted() }

    /// Keys the reference ignores when loading.
    static func isIgnoredKey(_ key: String) -> Bool {
        key.hasSuffix("encode_positions.pe") || key.hasSuffix("num_batches_tracked")
    }

    // MARK: - Helpers

    private func lookup(_ key: String) throws -> (SafeTensorsFile, SafeTensorsEntry) {
        guard let i = location[key], let entry = files[i].entries[key] else {
            throw SpeechT5Error.missingWeight(key: key, path: path)
        }
        return (files[i], entry)
    }

    private func floatValues(_ file: SafeTensorsFile, _ entry: SafeTensorsEntry) throws -> [Float] {
        switch entry.dtype {
        case "F32", "F16", "BF16", "F64":
            return try file.floats(entry.name)
        default:
            throw SpeechT5Error.unsupportedDType(key: entry.name, dtype: entry.dtype, path: file.path)
        }
    }

    private func markUsed(_ key: String) {
        lock.withLock { _ = used.insert(key) }
    }

    private static func join(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    private static func describePath(_ files: [SafeTensorsFile]) -> String {
        guard let first = files.first else { return "(empty checkpoint)" }
        if files.count == 1 { return first.path }
        let directories = Set(files.map { ($0.path as NSString).deletingLastPathComponent })
        if directories.count == 1, let directory = directories.first, !directory.isEmpty {
            return directory
        }
        return files.map(\.path).joined(separator: ", ")
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
