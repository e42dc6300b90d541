import Foundation
import XCTest

@testable import SpeechT5

// MARK: - Builders for torch-like archives (test-time, for cases the committed fixtures do not cover)

/// Pickle fragments, the way torch writes them (protocol 2).
enum TestPickle {
    static func str(_ s: String) -> [UInt8] {
        let bytes = Array(s.utf8)
        return [0x58] + loaderLEBytes(UInt32(bytes.count)) + bytes
    }

    static func int(_ n: Int) -> [UInt8] {
        if (0..<256).contains(n) { return [0x4b, UInt8(n)] }
        if (0..<65536).contains(n) { return [0x4d] + loaderLEBytes(UInt16(n)) }
        if let small = Int32(exactly: n) { return [0x4a] + loaderLEBytes(UInt32(bitPattern: small)) }
        // LONG1, 8 bytes
        return [0x8a, 8] + loaderLEBytes(UInt64(bitPattern: Int64(n)))
    }

    static func tuple(_ items: [[UInt8]]) -> [UInt8] {
        switch items.count {
        case 0: return [0x29]
        case 1...3: return items.flatMap { $0 } + [UInt8(0x84 + items.count)]
        default: return [0x28] + items.flatMap { $0 } + [0x74]
        }
    }

    struct View {
        var name: String
        var type = "FloatStorage"
        var key = "0"
        var numel: Int
        var offset = 0
        var size: [Int]
        var stride: [Int]
    }

    /// `OrderedDict` of `_rebuild_tensor_v2` views.
    static func stateDict(_ views: [View]) -> [UInt8] {
        var out: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\nq\u{0})Rq\u{1}(".utf8)
        for v in views {
            let pid = tuple([str("storage"), Array("ctorch\n\(v.type)\n".utf8), str(v.key), str("cpu"), int(v.numel)])
            let args = tuple([pid + [0x51], int(v.offset), tuple(v.size.map(int)), tuple(v.stride.map(int)), [0x89],
                              [0x68, 0x00, 0x29, 0x52]])
            out += str(v.name) + Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + args + [0x52]
        }
        return out + [0x75, 0x2e]
    }
}

/// A stored zip written record by record (optionally zip64 everywhere, optionally with data descriptors).
enum TestZip {
    struct Record {
        var name: String
        var data: [UInt8]
    }

    static func build(_ records: [Record], zip64: Bool = false, dataDescriptor: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        let flags: UInt16 = dataDescriptor ? 0x0808 : 0x0800
        for record in records {
            let name = Array(record.name.utf8)
            let crc = CRC32.checksum(record.data)
            let offset = out.count
            let size32: UInt32 = zip64 ? 0xffff_ffff : UInt32(record.data.count)
            let localExtra: [UInt8] = zip64
                ? loaderLEBytes(UInt16(1)) + loaderLEBytes(UInt16(16)) + loaderLEBytes(UInt64(record.data.count)) + loaderLEBytes(UInt64(record.data.count))
                : []
            out += loaderLEBytes(UInt32(0x0403_4b50)) + loaderLEBytes(UInt16(45)) + loaderLEBytes(flags) + loaderLEBytes(UInt16(0))
            out += loaderLEBytes(UInt32(0))  // time, date
            out += dataDescriptor ? loaderLEBytes(UInt32(0)) + loaderLEBytes(UInt32(0)) + loaderLEBytes(UInt32(0))
                : loaderLEBytes(crc) + loaderLEBytes(size32) + loaderLEBytes(size32)
            out += loaderLEBytes(UInt16(name.count)) + loaderLEBytes(UInt16(localExtra.count)) + name + localExtra
            out += record.data
            if dataDescriptor {
                out += loaderLEBytes(UInt32(0x0807_4b50)) + loaderLEBytes(crc) + loaderLEBytes(UInt32(record.data.count)) + loaderLEBytes(UInt32(record.data.count))
            }
            let centralExtra: [UInt8] = zip64
                ? loaderLEBytes(UInt16(1)) + loaderLEBytes(UInt16(24)) + loaderLEBytes(UInt64(record.data.count))
                    + loaderLEBytes(UInt64(record.data.count)) + loaderLEBytes(UInt64(offset))
                : []
            central += loaderLEBytes(UInt32(0x0201_4b50)) + loaderLEBytes(UInt16(45)) + loaderLEBytes(UInt16(45))
            central += loaderLEBytes(flags) + loaderLEBytes(UInt16(0)) + loaderLEBytes(UInt32(0))
            central += loaderLEBytes(crc) + loaderLEBytes(size32) + loaderLEBytes(size32)
            central += loaderLEBytes(UInt16(name.count)) + loaderLEBytes(UInt16(centralExtra.count)) + loaderLEBytes(UInt16(0))
            central += loaderLEBytes(UInt16(0)) + loaderLEBytes(UInt16(0)) + loaderLEBytes(UInt32(0))
            central += loaderLEBytes(zip64 ? 0xffff_ffff : UInt32(offset)) + name + centralExtra
        }
        let centralOffset = out.count
        out += central
        if zip64 {
            let recordOffset = out.count
            out += loaderLEBytes(UInt32(0x0606_4b50)) + loaderLEBytes(UInt64(44)) + loaderLEBytes(UInt16(45)) + loaderLEBytes(UInt16(45))
            out += loaderLEBytes(UInt32(0)) + loaderLEBytes(UInt32(0))
            out += loaderLEBytes(UInt64(records.count)) + loaderLEBytes(UInt64(records.count))
            out += loaderLEBytes(UInt64(central.count)) + loaderLEBytes(UInt64(centralOffset))
            out += loaderLEBytes(UInt32(0x0706_4b50)) + loaderLEBytes(UInt32(0)) + loaderLEBytes(UInt64(recordOffset)) + loaderLEBytes(UInt32(1))
            out += loaderLEBytes(UInt32(0x0605_4b50)) + [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
            out += [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]
        } else {
            out += loaderLEBytes(UInt32(0x0605_4b50)) + [0, 0, 0, 0] + loaderLEBytes(UInt16(records.count)) + loaderLEBytes(UInt16(records.count))
            out += loaderLEBytes(UInt32(central.count)) + loaderLEBytes(UInt32(centralOffset)) + [0, 0]
        }
        return out
    }

    /// A torch-like checkpoint: `<archive>/data.pkl`, `byteorder`, storages, version.
    static func torch(pickle: [UInt8], storages: [String: [UInt8]], archive: String = "archive",
                      versionRecord: String = "version", zip64: Bool = false, dataDescriptor: Bool = true) -> [UInt8] {
        var records = [Record(name: "\(archive)/data.pkl", data: pickle), Record(name: "\(archive)/byteorder", data: Array("little".utf8))]
        for key in storages.keys.sorted() { records.append(Record(name: "\(archive)/data/\(key)", data: storages[key] ?? [])) }
        records.append(Record(name: "\(archive)/\(versionRecord)", data: Array("3\n".utf8)))
        return build(records, zip64: zip64, dataDescriptor: dataDescriptor)
    }
}

func f32Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { loaderLEBytes($0.bitPattern) } }

// MARK: - Tests

/// Tests that read the torch fixtures and write scratch files.
class TorchFixtureTestCase: XCTestCase {
    var scratch: LoaderScratchDirectory!

    override func setUpWithError() throws {
        scratch = try LoaderScratchDirectory()
    }

    override func tearDown() {
        scratch = nil
    }

    func torchFixture(_ relative: String) -> String {
        Fixtures.path("torch/" + relative)
    }
}

final class TorchCheckpointTests: TorchFixtureTestCase {

    /// The raw little-endian bytes of a tensor in a safetensors file.
    private func rawBytes(_ file: SafeTensorsFile, _ name: String) throws -> [UInt8] {
        try XCTUnwrap(file.entries[name].map { _ in try file.tensorBytes(name) })
    }

    private struct JSONTensor: Decodable {
        let dtype: String
        let shape: [Int]
        let values: [Double]
    }

    private func jsonValues(_ relative: String) throws -> [String: JSONTensor] {
        try JSONDecoder().decode([String: JSONTensor].self, from: Data(contentsOf: URL(fileURLWithPath: torchFixture(relative))))
    }

    // MARK: Well-formed files written by torch

    func testGeneralStateDictMatchesTorch() throws {
        let checkpoint = try TorchCheckpoint(path: torchFixture("general/pytorch_model.bin"))
        let expected = try SafeTensorsFile(path: torchFixture("general/expected.safetensors"))
        let json = try jsonValues("general/values.json")
        XCTAssertEqual(checkpoint.names, expected.names)
        XCTAssertEqual(checkpoint.archiveName, "pytorch_model")
        XCTAssertEqual(checkpoint.formatVersion, 3)
        for name in checkpoint.names {
            let entry = try XCTUnwrap(checkpoint.entries[name])
            let reference = try XCTUnwrap(expected.entries[name])
            XCTAssertEqual(entry.shape, reference.shape, name)
            XCTAssertEqual(try checkpoint.floats(name), try expected.floats(name), name)
            let jsonTensor = try XCTUnwrap(json[name])
            XCTAssertEqual(entry.shape, jsonTensor.shape, name)
            if entry.dtype == "F64" {
                XCTAssertEqual(reference.dtype, "F32")
                let raw = try checkpoint.contiguousBytes(name)
                let doubles = stride(from: 0, to: raw.count, by: 8).map { i in
                    Double(bitPattern: raw[i..<(i + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
                }
                XCTAssertEqual(doubles, jsonTensor.values, name)
            } else {
                XCTAssertEqual(entry.dtype, reference.dtype, name)
                XCTAssertEqual(try checkpoint.contiguousBytes(name), try rawBytes(expected, name), name)
            }
        }
        // int64 is exact in raw bytes.
        let ints = try checkpoint.contiguousBytes("i64.vector")
        XCTAssertEqual(ints, [Int64(1 << 40 + 3), -5, 0].flatMap { loaderLEBytes(UInt64(bitPattern: $0)) })

        // The views that share one storage.
        let transposed = try XCTUnwrap(checkpoint.entries["shared.transposed"])
        XCTAssertEqual(transposed.shape, [6, 4])
        XCTAssertEqual(transposed.stride, [1, 6])
        XCTAssertFalse(transposed.isContiguous)
        XCTAssertEqual(checkpoint.entries["shared.slice"]?.storageOffset, 5)
        XCTAssertEqual(checkpoint.entries["shared.slice"]?.isContiguous, true)
        XCTAssertEqual(checkpoint.entries["shared.row"]?.storageOffset, 12)
        XCTAssertEqual(checkpoint.entries["shared.column"]?.stride, [6])
        XCTAssertEqual(checkpoint.entries["shared.block"]?.storageOffset, 8)
        XCTAssertEqual(checkpoint.entries["broadcast"]?.stride, [0, 1])
        XCTAssertEqual(Set(["shared.base", "shared.transposed", "shared.slice", "shared.row", "shared.column", "shared.block"]
            .compactMap { checkpoint.entries[$0]?.storageKey }).count, 1)
        XCTAssertEqual(try checkpoint.floats("broadcast"), [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(checkpoint.entries["scalar"]?.shape, [])
        XCTAssertEqual(try checkpoint.floats("scalar"), [2.5])
        XCTAssertEqual(checkpoint.entries["empty"]?.shape, [0, 3])
        XCTAssertEqual(try checkpoint.floats("empty"), [])
        XCTAssertEqual(try checkpoint.floats("param"), [0.25, -0.75])
        XCTAssertThrowsError(try checkpoint.floats("nope")) { error in
            XCTAssertEqual(error as? SpeechT5Error, .missingWeight(key: "nope", path: checkpoint.path))
        }
    }

    func testPickleProtocolsAndPlainDict() throws {
        let json = try jsonValues("protocols/values.json")
        for name in ["proto2", "proto4", "proto5", "plain_dict"] {
            let checkpoint = try TorchCheckpoint(path: torchFixture("protocols/\(name).bin"))
            XCTAssertEqual(checkpoint.archiveName, name)
            XCTAssertEqual(Set(checkpoint.names), Set(json.keys), name)
            for (key, tensor) in json {
                XCTAssertEqual(checkpoint.entries[key]?.shape, tensor.shape, "\(name) \(key)")
                XCTAssertEqual(try checkpoint.floats(key), tensor.values.map { Float($0) }, "\(name) \(key)")
            }
            XCTAssertEqual(checkpoint.entries["b.view"]?.isContiguous, false)
            XCTAssertEqual(checkpoint.entries["b.count"]?.dtype, "I64")
        }
    }

    func testTensorsWithPythonAttributes() throws {
        // _rebuild_parameter_with_state and _rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, ...).
        let checkpoint = try TorchCheckpoint(path: torchFixture("protocols/attributes.bin"))
        XCTAssertEqual(try checkpoint.floats("param"), [1.5, -2])
        XCTAssertEqual(try checkpoint.floats("buffer"), [1, 3, 2, 4])
        // Anything else wrapped in _rebuild_from_type_v2 is refused.
        let pickle: [UInt8] = [0x80, 0x02] + Array("ctorch._tensor\n_rebuild_from_type_v2\n(ccollections\nOrderedDict\nctorch\nTensor\n)}tR.".utf8)
        try assertRejected(TestZip.torch(pickle: pickle, storages: [:]), ["only allowed as (_rebuild_tensor_v2, torch.Tensor"])
    }

    func testTinyTTSBinMatchesTransformersSafetensors() throws {
        let directory = torchFixture("tts")
        let store = try WeightStore(directory: directory)
        XCTAssertEqual(store.torchFiles.count, 1)
        XCTAssertTrue(store.files.isEmpty)
        XCTAssertEqual(store.path, (directory as NSString).appendingPathComponent("pytorch_model.bin"))
        let reference = try SafeTensorsFile(path: torchFixture("tts/reference.safetensors"))
        XCTAssertEqual(reference.metadata["format"], "pt")
        // The hub-like .bin has the two legacy `pe` buffers on top of what transformers re-saves.
        XCTAssertEqual(Set(store.keys).subtracting(reference.names).sorted(), [
            "speecht5.decoder.prenet.encode_positions.pe", "speecht5.encoder.prenet.encode_positions.pe",
        ])
        XCTAssertTrue(Set(reference.names).isSubset(of: Set(store.keys)))
        let checkpoint = try XCTUnwrap(store.torchFiles.first)
        XCTAssertEqual(checkpoint.entries.values.filter { $0.dtype == "I64" }.count, 5)
        XCTAssertEqual(checkpoint.entries.values.filter { $0.dtype == "F32" }.count, checkpoint.entries.count - 5)
        for name in reference.names {
            let entry = try XCTUnwrap(reference.entries[name])
            XCTAssertEqual(store.entry(name)?.shape, entry.shape, name)
            XCTAssertEqual(try checkpoint.contiguousBytes(name), try reference.tensorBytes(name), name)
            if entry.dtype == "F32" {
                XCTAssertEqual(try store.tensor(name, shape: entry.shape).scalars, try reference.floats(name), name)
            }
        }
        // The engine loads it like the safetensors checkpoint and uses every weight.
        let model = try SpeechT5Model(directory: directory)
        XCTAssertEqual(model.unusedWeights, [])
    }

    func testShardedBinWithWeightNormAcrossShards() throws {
        let directory = torchFixture("sharded")
        let store = try WeightStore(directory: directory)
        XCTAssertEqual(store.path, directory)
        XCTAssertEqual(store.torchFiles.map { ($0.path as NSString).lastPathComponent },
                       ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"])
        let expected = try SafeTensorsFile(path: torchFixture("sharded/expected.safetensors"))
        XCTAssertEqual(store.tensorNames, expected.names)
        XCTAssertTrue(store.contains("conv.weight"))
        XCTAssertFalse(store.keys.contains("conv.weight"))
        XCTAssertEqual(store.unusedKeys, ["conv.weight_g", "conv.weight_v", "enc.bias", "enc.weight"])
        for name in expected.names where expected.entries[name]?.dtype == "F32" {
            let shape = try XCTUnwrap(expected.entries[name]?.shape)
            let values = try store.tensor(name, shape: shape).scalars
            assertClose(values, try expected.floats(name), name)
        }
        XCTAssertEqual(store.unusedKeys, [])
        XCTAssertThrowsError(try store.tensor("bn.num_batches_tracked", shape: [])) { error in
            guard case SpeechT5Error.unsupportedDType(_, "I64", let path) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("pytorch_model-00002-of-00002.bin"), path)
        }
    }

    func testDirectoryPrecedenceAndTorchIndexChecks() throws {
        let torchBytes = try Data(contentsOf: URL(fileURLWithPath: torchFixture("protocols/proto2.bin")))
        // A .bin alone.
        try torchBytes.write(to: URL(fileURLWithPath: scratch.file("pytorch_model.bin")))
        XCTAssertEqual(try WeightStore(directory: scratch.path).torchFiles.count, 1)
        // The safetensors index wins over the .bin.
        try Data(SafeTensorsFixture.bytes([.f32("s", [1], [4])])).write(to: URL(fileURLWithPath: scratch.file("shard.safetensors")))
        try Data(#"{"weight_map": {"s": "shard.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: scratch.file("model.safetensors.index.json")))
        XCTAssertEqual(try WeightStore(directory: scratch.path).keys, ["s"])
        // And model.safetensors wins over everything.
        try Data(SafeTensorsFixture.bytes([.f32("single", [1], [5])])).write(to: URL(fileURLWithPath: scratch.file("model.safetensors")))
        XCTAssertEqual(try WeightStore(directory: scratch.path).keys, ["single"])

        // A torch index: path traversal and listed keys missing from their shard are rejected.
        let other = try LoaderScratchDirectory()
        try torchBytes.write(to: URL(fileURLWithPath: other.file("shard.bin")))
        let index = other.file("pytorch_model.bin.index.json")
        for name in ["../shard.bin", "/etc/passwd", "sub/shard.bin", ".."] {
            try Data(#"{"weight_map": {"a.bias": "\#(name)"}}"#.utf8).write(to: URL(fileURLWithPath: index))
            XCTAssertThrowsError(try WeightStore(directory: other.path)) { error in
                guard case SpeechT5Error.invalidFile(let path, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(path, index)
                XCTAssertTrue(reason.contains("plain file name"), reason)
            }
        }
        try Data(#"{"weight_map": {"a.bias": "shard.bin", "ghost": "shard.bin"}}"#.utf8).write(to: URL(fileURLWithPath: index))
        XCTAssertThrowsError(try WeightStore(directory: other.path)) { error in
            XCTAssertTrue(String(describing: error).contains("ghost"), "\(error)")
        }
        try Data(#"{"weight_map": {"a.bias": "shard.bin"}}"#.utf8).write(to: URL(fileURLWithPath: index))
        XCTAssertEqual(try WeightStore(directory: other.path).tensor("a.bias", shape: [2]).scalars, [0.5, -1.5])
    }

    func testCheckpointFileSniffsTheFormat() throws {
        // A torch zip under any name, a safetensors file under any name.
        let torchCopy = scratch.file("embedding_model.ckpt")
        try FileManager.default.copyItem(atPath: torchFixture("protocols/proto4.bin"), toPath: torchCopy)
        let store = try WeightStore(checkpointFile: torchCopy)
        XCTAssertEqual(store.path, torchCopy)
        XCTAssertEqual(try store.tensor("a.bias", shape: [2]).scalars, [0.5, -1.5])
        let safe = scratch.file("weights.ckpt")
        try Data(SafeTensorsFixture.bytes([.f32("w", [2], [1, 2])])).write(to: URL(fileURLWithPath: safe))
        XCTAssertEqual(try WeightStore(checkpointFile: safe).tensor("w", shape: [2]).scalars, [1, 2])
        XCTAssertEqual(try WeightStore(directory: safe).files.count, 1)

        func expectInvalid(_ path: String, _ mention: String, line: UInt = #line) {
            XCTAssertThrowsError(try WeightStore(checkpointFile: path), line: line) { error in
                guard case SpeechT5Error.invalidFile(let p, let reason) = error else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(p, path, line: line)
                XCTAssertTrue(reason.contains(mention), "\(reason) should mention \(mention)", line: line)
            }
        }
        let text = scratch.file("notes.bin")
        try Data("hello, this is not a checkpoint".utf8).write(to: URL(fileURLWithPath: text))
        expectInvalid(text, "not a checkpoint")
        let empty = scratch.file("empty.bin")
        try Data().write(to: URL(fileURLWithPath: empty))
        expectInvalid(empty, "empty")
        expectInvalid(torchFixture("hostile/legacy_format.bin"), "legacy (pre-1.6) torch format is not supported; re-save with torch.save")
        XCTAssertThrowsError(try WeightStore(checkpointFile: scratch.file("missing.bin"))) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("missing.bin")))
        }
        XCTAssertThrowsError(try TorchCheckpoint(path: safe)) { error in
            XCTAssertTrue(String(describing: error).contains("not a torch checkpoint"), "\(error)")
        }
        XCTAssertThrowsError(try TorchCheckpoint(path: scratch.path)) { error in
            XCTAssertTrue(String(describing: error).contains("directory"), "\(error)")
        }
    }

    func testZip64AndVersionRecordVariants() throws {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let pickle = TestPickle.stateDict([
            .init(name: "m", numel: 6, size: [2, 3], stride: [3, 1]),
            .init(name: "t", numel: 6, offset: 0, size: [3, 2], stride: [1, 3]),
            .init(name: "tail", numel: 6, offset: 4, size: [2], stride: [1]),
        ])
        for (zip64, descriptor, version) in [(true, false, "version"), (true, true, ".data/version"), (false, false, ".data/version")] {
            let bytes = TestZip.torch(pickle: pickle, storages: ["0": f32Bytes(values)], archive: "archive",
                                      versionRecord: version, zip64: zip64, dataDescriptor: descriptor)
            let path = try scratch.write(bytes, to: "zip64-\(zip64)-\(descriptor).bin")
            let checkpoint = try TorchCheckpoint(path: path)
            XCTAssertEqual(checkpoint.formatVersion, 3)
            XCTAssertEqual(try checkpoint.floats("m"), values)
            XCTAssertEqual(try checkpoint.floats("t"), [1, 4, 2, 5, 3, 6])
            XCTAssertEqual(try checkpoint.floats("tail"), [5, 6])
        }
    }

    // MARK: Hostile and corrupt files

    /// Each committed hostile file and what its error must say.
    static let hostileCases: [(file: String, mentions: [String])] = [
        ("os_system", ["global 'os.system'", "not allowed", "at byte 2"]),
        ("posix_system", ["global 'posix.system'", "not allowed"]),
        ("builtins_eval", ["global 'builtins.eval'", "not allowed"]),
        ("subprocess_inst", ["INST (0x69)", "not allowed", "at byte 8"]),
        ("newobj", ["NEWOBJ (0x81)", "not allowed"]),
        ("huge_binunicode", ["4294967295 bytes"]),
        ("mark_bomb", ["MARK nesting deeper than 64"]),
        ("nesting_bomb", ["nested deeper than 32"]),
        ("memo_out_of_range", ["memo index 16777216"]),
        ("self_cycle", ["itself"]),
        ("no_stop", ["without a STOP", "truncated"]),
        ("not_a_dict", ["is a list, not a state dict"]),
        ("short_storage", ["storage shorter than its view", "tensor 'w'"]),
        ("view_past_end", ["storage shorter than its view", "index 6"]),
        ("storage_record_short", ["holds 16 bytes", "declares 8"]),
        ("byte_storage", ["global 'torch.ByteStorage'"]),
        ("int32_storage", ["global 'torch.IntStorage'"]),
        ("missing_storage", ["archive/data/7", "missing"]),
        ("big_endian", ["big-endian"]),
        ("compressed", ["compressed (method 8)"]),
        ("size_lies_larger", ["overlap", "tiny/data/0"]),
        ("size_lies_smaller", ["tiny/data/0", "holds 8 bytes"]),
        ("pickle_crc_mismatch", ["tiny/data.pkl", "CRC-32", "corrupt"]),
        ("legacy_format", ["legacy (pre-1.6) torch format is not supported; re-save with torch.save"]),
        ("nested_checkpoint", ["'model' is a dict", "nested checkpoints"]),
        ("truncated_100", ["end-of-central-directory", "truncated"]),
        ("truncated_902", ["truncated"]),
        ("truncated_1765", ["truncated"]),
        ("truncated_1804", ["truncated"]),
    ]

    func testHostileFilesAreRejectedWithClearErrors() throws {
        let directory = torchFixture("hostile")
        let present = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".bin") }
        let covered = Set(Self.hostileCases.map { $0.file + ".bin" } + ["crc_mismatch.bin"])
        XCTAssertEqual(Set(present), covered, "every hostile fixture has a test case")
        for (name, mentions) in Self.hostileCases {
            let path = (directory as NSString).appendingPathComponent(name + ".bin")
            let openers: [() throws -> Void] = [{ _ = try TorchCheckpoint(path: path) }, { _ = try WeightStore(checkpointFile: path) }]
            for open in openers {
                XCTAssertThrowsError(try open(), name) { error in
                    guard case SpeechT5Error.invalidFile(let p, let reason) = error else { return XCTFail("\(name): \(error)") }
                    XCTAssertEqual(p, path, name)
                    for mention in mentions {
                        XCTAssertTrue(reason.contains(mention), "\(name): '\(reason)' should mention '\(mention)'")
                    }
                    XCTAssertFalse(reason.contains("\n"), "one line")
                }
            }
        }
        // The pwned marker the os.system pickle would have written does not exist.
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/speecht5-pwned"))
    }

    func testCorruptStorageIsCaughtByItsCRCWhenRead() throws {
        let path = torchFixture("hostile/crc_mismatch.bin")
        let checkpoint = try TorchCheckpoint(path: path)  // storages are checked when first read
        XCTAssertEqual(try checkpoint.floats("n"), [3])
        let reads: [() throws -> Void] = [{ _ = try checkpoint.floats("w") }, { _ = try checkpoint.contiguousBytes("w") },
                                          { _ = try WeightStore(checkpointFile: path).tensor("w", shape: [3]) }]
        for read in reads {
            XCTAssertThrowsError(try read()) { error in
                guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("tiny/data/0") && reason.contains("CRC-32") && reason.contains("corrupt"), reason)
            }
        }
    }

    private func assertRejected(_ bytes: [UInt8], _ mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try scratch.write(bytes, to: "case-\(UUID().uuidString).bin")
        XCTAssertThrowsError(try TorchCheckpoint(path: path), file: file, line: line) { error in
            guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            for mention in mentions {
                XCTAssertTrue(reason.contains(mention), "'\(reason)' should mention '\(mention)'", file: file, line: line)
            }
        }
    }

    private func torchFile(_ pickle: [UInt8], _ storages: [String: [UInt8]] = ["0": f32Bytes([1, 2, 3, 4])]) -> [UInt8] {
        TestZip.torch(pickle: pickle, storages: storages)
    }

    func testViewAndStorageLimits() throws {
        typealias V = TestPickle.View
        // A stride-0 broadcast asking for 2^40 elements of a 4-element storage: no absurd allocation.
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "b", numel: 4, size: [1 << 20, 1 << 20], stride: [0, 0])])),
                           ["tensor 'b'", "overlapping views"])
        // Huge stride on a dimension of extent 1 is harmless; on a larger one it runs out of the storage.
        let ok = try TorchCheckpoint(path: scratch.write(torchFile(TestPickle.stateDict([
            V(name: "one", numel: 4, offset: 1, size: [1, 3], stride: [Int(Int32.max), 1]),
        ])), to: "ok.bin"))
        XCTAssertEqual(try ok.floats("one"), [2, 3, 4])
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "s", numel: 4, size: [2], stride: [Int(Int32.max)])])),
                           ["storage shorter than its view"])
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "r", numel: 4, size: [2, 2], stride: [2])])),
                           ["different ranks"])
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "n", numel: 4, offset: -1, size: [1], stride: [1])])),
                           ["storage offset"])
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "big", numel: 1 << 62, size: [1], stride: [1])])),
                           ["data/0", "holds 16 bytes", "too many"])
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "rank", numel: 4, size: Array(repeating: 1, count: 65), stride: Array(repeating: 1, count: 65))])),
                           ["65 dimensions"])
        // The same storage declared with two dtypes.
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "a", numel: 4, size: [4], stride: [1]),
                                                           V(name: "b", type: "HalfStorage", numel: 8, size: [8], stride: [1])])),
                           ["declared twice"])
        // A storage key that is not a plain name.
        try assertRejected(torchFile(TestPickle.stateDict([V(name: "a", key: "../0", numel: 4, size: [4], stride: [1])])),
                           ["invalid storage key"])
        // Two data.pkl records / none.
        try assertRejected(TestZip.build([.init(name: "a/data.pkl", data: TestPickle.stateDict([])),
                                          .init(name: "b/data.pkl", data: TestPickle.stateDict([]))]), ["several data.pkl"])
        try assertRejected(TestZip.build([.init(name: "a/other.pkl", data: [0x2e])]), ["no '<archive>/data.pkl'"])
        // An empty state dict is fine.
        XCTAssertEqual(try TorchCheckpoint(path: scratch.write(torchFile(TestPickle.stateDict([]), [:]), to: "empty.bin")).names, [])
    }

    func testPickleMachineRejectsWhatAStateDictNeverHas() throws {
        func run(_ bytes: [UInt8]) -> String? {
            var machine = TorchPickleMachine(bytes, path: "p", recordName: "data.pkl")
            do {
                _ = try machine.run()
                return nil
            } catch let error as SpeechT5Error {
                return error.description
            } catch {
                return "unexpected \(error)"
            }
        }
        let cases: [([UInt8], String)] = [
            ([0x80, 0x06, 0x2e], "protocol 6"),
            ([0x80, 0x02, 0x30, 0x2e], "POP (0x30)"),
            ([0x80, 0x02, 0x8a, 0x09] + Array(repeating: 0, count: 9) + [0x2e], "LONG1 integer of 9 bytes"),
            ([0x80, 0x02, 0x63] + Array(repeating: 0x61, count: 300) + [0x0a, 0x62, 0x0a, 0x2e], "unterminated or longer"),
            ([0x80, 0x02, 0x63, 0x6f, 0x73, 0x0a, 0xff, 0x0a, 0x2e], "printable ASCII"),
            ([0x80, 0x02, 0x58, 2, 0, 0, 0, 0xc3, 0x28, 0x2e], "UTF-8"),
            ([0x80, 0x02, 0x73, 0x2e], "stack underflow"),
            ([0x80, 0x02, 0x7d, 0x28, 0x4b, 1, 0x75, 0x2e], "odd number"),
            ([0x80, 0x02, 0x7d, 0x28, 0x29, 0x4b, 1, 0x75, 0x2e], "dict key of type a tuple"),
            ([0x80, 0x02, 0x5d, 0x71, 0, 0x7d, 0x68, 0, 0x85, 0x71, 1, 0x2e], ""),  // fine: a list in a tuple
            ([0x80, 0x02, 0x5d, 0x71, 0, 0x29, 0x68, 0, 0x86, 0x68, 0, 0x4b, 1, 0x61, 0x2e], "already stored"),
            ([0x80, 0x02, 0x4b, 1, 0x29, 0x52, 0x2e], "REDUCE on an int"),
            ([0x80, 0x02] + Array("ctorch\nFloatStorage\n)R.".utf8), "calling torch.FloatStorage"),
            ([0x80, 0x02] + Array("ccollections\nOrderedDict\nK".utf8) + [1, 0x85, 0x52, 0x2e], "called with arguments"),
            ([0x80, 0x02] + Array("ctorch._utils\n_rebuild_tensor_v2\n)R.".utf8), "0 arguments"),
            ([0x80, 0x02, 0x4b, 1, 0x51, 0x2e], "persistent id"),
            ([0x80, 0x02, 0x5d, 0x7d, 0x62, 0x2e], "BUILD on a list"),
            ([0x80, 0x02, 0x95, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x2e], "FRAME"),
            ([0x80, 0x02, 0x2e], "empty stack"),
            ([0x80, 0x02, 0x28, 0x74, 0x28, 0x71, 0x00, 0x2e], "stack underflow"),  // BINPUT below a MARK
        ]
        for (bytes, mention) in cases {
            let result = run(bytes)
            if mention.isEmpty {
                XCTAssertNil(result, "\(bytes)")
            } else {
                XCTAssertTrue(result?.contains(mention) == true, "\(bytes): \(result ?? "accepted") should mention \(mention)")
            }
        }
        // A stack bomb of 1.1 M pushes stops at the cap; a memo bomb likewise.
        XCTAssertTrue(run([0x80, 0x02] + Array(repeating: 0x4e, count: 1_100_000) + [0x2e])?.contains("stack exceeds") == true)
        var memoBomb: [UInt8] = [0x80, 0x04, 0x4e]
        for _ in 0..<1_100_000 { memoBomb.append(0x94) }
        XCTAssertTrue(run(memoBomb + [0x2e])?.contains("memo exceeds") == true)
    }

    func testEveryTruncationAndBitFlipFailsCleanly() throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: torchFixture("protocols/proto2.bin"))))
        // Every prefix.
        for length in 0..<original.count {
            let path = try scratch.write(Array(original.prefix(length)), to: "t.bin")
            XCTAssertThrowsError(try TorchCheckpoint(path: path), "length \(length)")
        }
        // A flipped bit at every position: either a clean error, or a file whose tensors all read (the byte
        // was padding, a timestamp, ...).
        var opened = 0
        for position in 0..<original.count {
            var bytes = original
            bytes[position] ^= 0x04
            let path = try scratch.write(bytes, to: "f.bin")
            guard let checkpoint = try? TorchCheckpoint(path: path) else { continue }
            opened += 1
            for name in checkpoint.names {
                if let values = try? checkpoint.floats(name) {
                    XCTAssertEqual(values.count, checkpoint.entries[name]?.elementCount)
                }
            }
        }
        XCTAssertLessThan(opened, original.count)
    }

    func testRandomPickleMutationsNeverCrash() throws {
        var random = LoaderFuzzRandom(seed: 0x70_7263)
        let base = TestPickle.stateDict([
            .init(name: "a", numel: 4, size: [2, 2], stride: [2, 1]),
            .init(name: "b", type: "HalfStorage", key: "1", numel: 3, offset: 1, size: [2], stride: [1]),
        ])
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            var machine = TorchPickleMachine(bytes, path: "p", recordName: "data.pkl")
            if (try? machine.run()) != nil { accepted += 1 }
        }
        XCTAssertLessThan(accepted, 20_000)
        // Pure noise.
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            var machine = TorchPickleMachine(bytes, path: "p", recordName: "data.pkl")
            _ = try? machine.run()
        }
    }

    // MARK: SafeTensorsWriter and the converter

    func testConvertGeneralIsByteIdenticalToPythonSafetensors() throws {
        let directory = scratch.file("general")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: torchFixture("general/pytorch_model.bin"),
                                         toPath: (directory as NSString).appendingPathComponent("pytorch_model.bin"))
        let summary = try CheckpointConverter.convertTorchCheckpoint(at: directory)
        let output = (directory as NSString).appendingPathComponent("model.safetensors")
        XCTAssertEqual(summary.output, output)
        XCTAssertEqual(summary.tensorCount, 17)
        XCTAssertEqual(summary.foldedWeights, [])
        let written = try Data(contentsOf: URL(fileURLWithPath: output))
        XCTAssertEqual(summary.bytesWritten, written.count)
        XCTAssertEqual(written, try Data(contentsOf: URL(fileURLWithPath: torchFixture("general/expected.safetensors"))),
                       "the converter writes exactly what the Python safetensors library writes")
        let file = try SafeTensorsFile(path: output)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        // Nothing else was left in the directory.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["model.safetensors", "pytorch_model.bin"])

        // Refuses to overwrite without `overwrite`; replaces with it.
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: directory)) { error in
            guard case SpeechT5Error.writeFailed(let path, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, output)
            XCTAssertTrue(reason.contains("already exists") && reason.contains("--force"), reason)
        }
        try Data("old".utf8).write(to: URL(fileURLWithPath: output))
        _ = try CheckpointConverter.convertTorchCheckpoint(at: directory, overwrite: true)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: output)), written)
        // An explicit output, and the input file itself as input.
        let other = scratch.file("other.safetensors")
        let byFile = try CheckpointConverter.convertTorchCheckpoint(
            at: (directory as NSString).appendingPathComponent("pytorch_model.bin"), output: other)
        XCTAssertEqual(byFile.output, other)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: other)), written)
    }

    func testConvertTTSAndShardedRoundTrip() throws {
        // The tiny TTS model: every tensor of the .bin comes back equal, and the engine loads the result.
        let directory = scratch.file("tts")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["pytorch_model.bin", "config.json"] {
            try FileManager.default.copyItem(atPath: torchFixture("tts/" + name), toPath: (directory as NSString).appendingPathComponent(name))
        }
        let summary = try CheckpointConverter.convertTorchCheckpoint(at: directory)
        let source = try TorchCheckpoint(path: torchFixture("tts/pytorch_model.bin"))
        let converted = try SafeTensorsFile(path: summary.output)
        XCTAssertEqual(converted.names, source.names)
        XCTAssertEqual(summary.tensorCount, source.names.count)
        for name in source.names {
            XCTAssertEqual(converted.entries[name]?.dtype, source.entries[name]?.dtype, name)
            XCTAssertEqual(converted.entries[name]?.shape, source.entries[name]?.shape, name)
            XCTAssertEqual(try converted.tensorBytes(name), try source.contiguousBytes(name), name)
        }
        let store = try WeightStore(directory: directory)
        XCTAssertEqual(store.files.count, 1, "model.safetensors now wins over pytorch_model.bin")
        XCTAssertEqual(try SpeechT5Model(directory: directory).unusedWeights, [])

        // Sharded input → one file, weight norm folded.
        let sharded = scratch.file("sharded")
        try FileManager.default.copyItem(atPath: torchFixture("sharded"), toPath: sharded)
        try FileManager.default.removeItem(atPath: (sharded as NSString).appendingPathComponent("expected.safetensors"))
        let shardSummary = try CheckpointConverter.convertTorchCheckpoint(at: sharded, output: scratch.file("merged.safetensors"))
        XCTAssertEqual(shardSummary.sources.count, 2)
        XCTAssertEqual(shardSummary.foldedWeights, ["conv.weight"])
        let merged = try SafeTensorsFile(path: scratch.file("merged.safetensors"))
        let expected = try SafeTensorsFile(path: torchFixture("sharded/expected.safetensors"))
        XCTAssertEqual(merged.names, expected.names)
        for name in expected.names {
            XCTAssertEqual(merged.entries[name]?.dtype, expected.entries[name]?.dtype, name)
            assertClose(try merged.floats(name), try expected.floats(name), name)
        }
    }

    func testConverterRefusals() throws {
        // No checkpoint.
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: scratch.path)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("pytorch_model.bin")))
        }
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: scratch.file("nowhere"))) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("nowhere")))
        }
        // Already safetensors.
        let safe = try scratch.write(SafeTensorsFixture.bytes([.f32("w", [1], [1])]), to: "w.safetensors")
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: safe, output: scratch.file("x.safetensors"))) { error in
            XCTAssertTrue(String(describing: error).contains("already a safetensors"), "\(error)")
        }
        // The output may not be the input, even with overwrite.
        let bin = scratch.file("pytorch_model.bin")
        try FileManager.default.copyItem(atPath: torchFixture("protocols/proto2.bin"), toPath: bin)
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: scratch.path, output: bin, overwrite: true)) { error in
            XCTAssertTrue(String(describing: error).contains("being converted"), "\(error)")
        }
        // A hostile input writes nothing.
        let hostile = scratch.file("hostile")
        try FileManager.default.createDirectory(atPath: hostile, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: torchFixture("hostile/os_system.bin"), toPath: (hostile as NSString).appendingPathComponent("pytorch_model.bin"))
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: hostile))
        // A storage failing its CRC is found while writing: nothing is left behind.
        try FileManager.default.removeItem(atPath: (hostile as NSString).appendingPathComponent("pytorch_model.bin"))
        try FileManager.default.copyItem(atPath: torchFixture("hostile/crc_mismatch.bin"), toPath: (hostile as NSString).appendingPathComponent("pytorch_model.bin"))
        XCTAssertThrowsError(try CheckpointConverter.convertTorchCheckpoint(at: hostile)) { error in
            XCTAssertTrue(String(describing: error).contains("CRC-32"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hostile), ["pytorch_model.bin"])
    }

    func testSafeTensorsWriterFormatAndFailures() throws {
        // Ordering, escaping and padding as the reference library (observed outputs of safetensors 0.8).
        let writer = SafeTensorsWriter(metadata: nil)
        try writer.add("x\n\t\u{7f}\\/", dtype: "F32", shape: [1], bytes: f32Bytes([0]))
        XCTAssertEqual(Array(try writer.header().dropFirst(8)), Array(#"{"x\n\t\#u{7f}\\/":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}  "#.utf8))
        XCTAssertEqual(SafeTensorsWriter.jsonString("q\"é\u{1}"), "\"q\\\"é\\u0001\"")
        let empty = SafeTensorsWriter(metadata: [:])
        try empty.add("x", dtype: "F32", shape: [1], bytes: f32Bytes([0]))
        XCTAssertEqual(Array(try empty.header().dropFirst(8)), Array(#"{"__metadata__":{},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8))

        let mixed = SafeTensorsWriter()
        try mixed.add("h", dtype: "F16", shape: [2], bytes: [0, 0x3c, 0, 0xc0])
        try mixed.add("b", dtype: "F32", shape: [2], bytes: f32Bytes([1, 2]))
        try mixed.add("a", tensor: Tensor(shape: [1, 2], scalars: [3, 4]))
        try mixed.add("n", dtype: "I64", shape: [], bytes: loaderLEBytes(UInt64(9)))
        try mixed.add("z", dtype: "BF16", shape: [0], bytes: [])
        let path = scratch.file("mixed.safetensors")
        let count = try mixed.write(to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(count, try Data(contentsOf: URL(fileURLWithPath: path)).count)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(try file.floats("a"), [3, 4])
        XCTAssertEqual(try file.floats("b"), [1, 2])
        XCTAssertEqual(try file.floats("h"), [1, -2])
        XCTAssertEqual(try file.floats("n"), [9])
        XCTAssertEqual(file.entries["z"]?.shape, [0])
        let order = file.entries.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }.map(\.name)
        XCTAssertEqual(order, ["n", "a", "b", "h"])  // I64, F32 (by name), F16
        XCTAssertEqual(try XCTUnwrap(file.entries["n"]).byteRange.lowerBound % 8, 0)

        // Refusals at add time.
        XCTAssertThrowsError(try mixed.add("a", dtype: "F32", shape: [1], bytes: f32Bytes([1])))
        XCTAssertThrowsError(try mixed.add("__metadata__", dtype: "F32", shape: [1], bytes: f32Bytes([1])))
        XCTAssertThrowsError(try mixed.add("c", dtype: "F33", shape: [1], bytes: f32Bytes([1])))
        XCTAssertThrowsError(try mixed.add("c", dtype: "F32", shape: [2], bytes: f32Bytes([1])))
        XCTAssertThrowsError(try mixed.add("c", dtype: "F32", shape: [-1], bytes: []))
        XCTAssertThrowsError(try mixed.add("c", dtype: "F32", shape: [Int.max, 2], byteCount: 0) { [] })

        // No overwrite without asking, and a file that appears is not replaced.
        XCTAssertThrowsError(try mixed.write(to: path)) { error in
            guard case SpeechT5Error.writeFailed(let p, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(reason.contains("already exists"), reason)
        }
        XCTAssertEqual(try mixed.write(to: path, overwrite: true), count)
        // A producer that fails, or lies about its size: nothing is left behind.
        let failing = SafeTensorsWriter()
        try failing.add("ok", dtype: "F32", shape: [1], bytes: f32Bytes([1]))
        try failing.add("bad", dtype: "F32", shape: [2], byteCount: 8) { throw SpeechT5Error.invalidFile(path: "src", reason: "boom") }
        XCTAssertThrowsError(try failing.write(to: scratch.file("failing.safetensors"))) { error in
            XCTAssertEqual(error as? SpeechT5Error, .invalidFile(path: "src", reason: "boom"))
        }
        let lying = SafeTensorsWriter()
        try lying.add("short", dtype: "F32", shape: [2], byteCount: 8) { [1, 2, 3] }
        XCTAssertThrowsError(try lying.write(to: scratch.file("lying.safetensors"))) { error in
            XCTAssertTrue(String(describing: error).contains("produced 3 bytes"), "\(error)")
        }
        XCTAssertThrowsError(try lying.write(to: scratch.file("no/such/dir.safetensors")))
        XCTAssertThrowsError(try lying.write(to: scratch.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted(), ["mixed.safetensors"])
    }
}

/// Elementwise closeness for values folded by different code (ours vs torch's): within 4 float32 ulps of
/// the largest magnitude.
func assertClose(_ actual: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
    let scale = max(expected.reduce(0) { max($0, abs($1)) }, .leastNormalMagnitude)
    let difference = zip(actual, expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
    XCTAssertLessThanOrEqual(difference, 4 * scale.ulp, "\(what): max |Δ| \(difference)", file: file, line: line)
}
