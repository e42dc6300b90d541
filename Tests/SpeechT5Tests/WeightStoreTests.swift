import Foundation
import XCTest

@testable import SpeechT5

final class WeightStoreTests: XCTestCase {
    private var scratch: LoaderScratchDirectory!

    override func setUpWithError() throws {
        scratch = try LoaderScratchDirectory()
    }

    override func tearDown() {
        scratch = nil
    }

    private func makeFile(_ name: String, _ tensors: [SafeTensorsFixtureTensor], in directory: String? = nil) throws -> String {
        let path = ((directory ?? scratch.path) as NSString).appendingPathComponent(name)
        try Data(SafeTensorsFixture.bytes(tensors)).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func writeText(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    private var standardTensors: [SafeTensorsFixtureTensor] {
        [
            .f32("layer.weight", [2, 3], [1, 2, 3, 4, 5, 6]),
            .f32("layer.bias", [2], [0.5, -0.5]),
            .f32("speecht5.encoder.prenet.encode_positions.alpha", [1], [2.5]),
            SafeTensorsFixtureTensor.f32("speecht5.decoder.prenet.encode_positions.alpha", [], [1.25]),
            .f32("speecht5.encoder.prenet.encode_positions.pe", [1, 2, 2], [0, 0, 0, 0]),
            .i64("speech_decoder_postnet.layers.0.batch_norm.num_batches_tracked", [], [100]),
            .bits16("half", "F16", [2], [0x3C00, 0xC000]),
            .bits16("brain", "BF16", [1], [0x4049]),
            .i64("counter", [1], [3]),
        ]
    }

    private func standardStore() throws -> (WeightStore, String) {
        let path = try makeFile("model.safetensors", standardTensors)
        return (try WeightStore(files: [SafeTensorsFile(path: path)]), path)
    }

    func testTensorLookupsAndConversions() throws {
        let (store, path) = try standardStore()
        XCTAssertEqual(store.path, path)
        XCTAssertEqual(try store.tensor("layer.weight", shape: [2, 3]), Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(try store.tensor("layer.bias", shape: [2]).scalars, [0.5, -0.5])
        XCTAssertEqual(try store.tensor("half", shape: [2]).scalars, [1, -2])
        XCTAssertEqual(try store.tensor("brain", shape: [1]).scalars, [3.140625])
        XCTAssertTrue(store.contains("layer.bias"))
        XCTAssertFalse(store.contains("layer.nope"))
    }

    func testScalarsAcceptEmptyAndOneShapes() throws {
        let (store, path) = try standardStore()
        XCTAssertEqual(try store.scalar("speecht5.encoder.prenet.encode_positions.alpha"), 2.5)
        XCTAssertEqual(try store.scalar("speecht5.decoder.prenet.encode_positions.alpha"), 1.25)
        // `tensor` does not treat [] and [1] as interchangeable.
        XCTAssertThrowsError(try store.tensor("speecht5.encoder.prenet.encode_positions.alpha", shape: [])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .shapeMismatch(
                key: "speecht5.encoder.prenet.encode_positions.alpha", expected: [], actual: [1], path: path))
        }
        XCTAssertEqual(try store.tensor("speecht5.decoder.prenet.encode_positions.alpha", shape: []).scalars, [1.25])
        XCTAssertThrowsError(try store.scalar("layer.bias")) { error in
            XCTAssertEqual(error as? SpeechT5Error, .shapeMismatch(key: "layer.bias", expected: [], actual: [2], path: path))
        }
        XCTAssertThrowsError(try store.scalar("counter")) { error in
            XCTAssertEqual(error as? SpeechT5Error, .unsupportedDType(key: "counter", dtype: "I64", path: path))
        }
    }

    func testErrorMessagesNameKeyAndFile() throws {
        let (store, path) = try standardStore()
        XCTAssertThrowsError(try store.tensor("decoder.missing.weight", shape: [2])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .missingWeight(key: "decoder.missing.weight", path: path))
            let message = String(describing: error)
            XCTAssertTrue(message.contains("decoder.missing.weight") && message.contains(path), message)
        }
        XCTAssertThrowsError(try store.scalar("missing.alpha")) { error in
            XCTAssertEqual(error as? SpeechT5Error, .missingWeight(key: "missing.alpha", path: path))
        }
        XCTAssertThrowsError(try store.tensor("layer.weight", shape: [3, 2])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .shapeMismatch(key: "layer.weight", expected: [3, 2], actual: [2, 3], path: path))
            let message = String(describing: error)
            XCTAssertTrue(message.contains("layer.weight") && message.contains(path) && message.contains("[3, 2]"), message)
        }
        XCTAssertThrowsError(try store.tensor("counter", shape: [1])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .unsupportedDType(key: "counter", dtype: "I64", path: path))
            let message = String(describing: error)
            XCTAssertTrue(message.contains("counter") && message.contains(path) && message.contains("I64"), message)
        }
    }

    func testUnusedKeysTracking() throws {
        let (store, _) = try standardStore()
        XCTAssertEqual(store.unusedKeys, [
            "brain", "counter", "half", "layer.bias", "layer.weight",
            "speecht5.decoder.prenet.encode_positions.alpha", "speecht5.encoder.prenet.encode_positions.alpha",
        ])
        _ = store.contains("layer.weight")  // not a use
        _ = try store.tensor("layer.weight", shape: [2, 3])
        _ = try? store.tensor("layer.bias", shape: [5])  // a failed fetch is not a use
        _ = try store.scalar("speecht5.encoder.prenet.encode_positions.alpha")
        _ = try? store.tensor("counter", shape: [1])
        XCTAssertEqual(store.unusedKeys, [
            "brain", "counter", "half", "layer.bias", "speecht5.decoder.prenet.encode_positions.alpha",
        ])
    }

    func testConcurrentFetchesAreTracked() throws {
        let count = 64
        let tensors = (0..<count).map { SafeTensorsFixtureTensor.f32("w\($0)", [2], [Float($0), 1]) }
        let path = try makeFile("model.safetensors", tensors)
        let store = try WeightStore(files: [SafeTensorsFile(path: path)])
        DispatchQueue.concurrentPerform(iterations: count * 4) { i in
            let values = try? store.tensor("w\(i % count)", shape: [2]).scalars
            XCTAssertEqual(values, [Float(i % count), 1])
        }
        XCTAssertEqual(store.unusedKeys, [])
    }

    func testDuplicateKeyAcrossFilesIsRejected() throws {
        let a = try makeFile("a.safetensors", [.f32("shared", [1], [1]), .f32("only.a", [1], [2])])
        let b = try makeFile("b.safetensors", [.f32("only.b", [1], [3]), .f32("shared", [1], [4])])
        XCTAssertThrowsError(try WeightStore(files: [SafeTensorsFile(path: a), SafeTensorsFile(path: b)])) { error in
            guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("shared"), reason)
            XCTAssertTrue(String(describing: error).contains("a.safetensors") && String(describing: error).contains("b.safetensors"))
        }
        let store = try WeightStore(files: [SafeTensorsFile(path: a)])
        XCTAssertEqual(try store.scalar("only.a"), 2)
    }

    func testDirectoryWithSingleFile() throws {
        let path = try makeFile("model.safetensors", standardTensors)
        let store = try WeightStore(directory: scratch.path)
        XCTAssertEqual(try store.tensor("layer.bias", shape: [2]).scalars, [0.5, -0.5])
        XCTAssertTrue(store.path.contains(scratch.path))
        XCTAssertThrowsError(try store.tensor("nope", shape: [1])) { error in
            XCTAssertTrue(String(describing: error).contains("nope"))
            XCTAssertTrue(String(describing: error).contains(scratch.path))
        }
        // A file path works too.
        XCTAssertEqual(try WeightStore(directory: path).path, path)
    }

    func testMissingCheckpointNamesModelSafetensors() throws {
        XCTAssertThrowsError(try WeightStore(directory: scratch.path)) { error in
            guard case SpeechT5Error.fileNotFound(let path) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("model.safetensors"), path)
            XCTAssertTrue(path.hasPrefix(scratch.path), path)
        }
        let nowhere = scratch.file("does-not-exist")
        XCTAssertThrowsError(try WeightStore(directory: nowhere)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: (nowhere as NSString).appendingPathComponent("model.safetensors")))
        }
    }

    func testShardedCheckpoint() throws {
        _ = try makeFile("model-00001-of-00002.safetensors", [.f32("a.weight", [2], [1, 2]), .f32("a.bias", [1], [3])])
        _ = try makeFile("model-00002-of-00002.safetensors", [.f32("b.weight", [1, 2], [4, 5]), .i64("b.num_batches_tracked", [], [1])])
        try writeText("""
            {"metadata": {"total_size": 28},
             "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "a.bias": "model-00001-of-00002.safetensors",
                            "b.weight": "model-00002-of-00002.safetensors", "b.num_batches_tracked": "model-00002-of-00002.safetensors"}}
            """, to: scratch.file("model.safetensors.index.json"))
        let store = try WeightStore(directory: scratch.path)
        XCTAssertEqual(store.path, scratch.path)
        XCTAssertEqual(try store.tensor("a.weight", shape: [2]).scalars, [1, 2])
        XCTAssertEqual(try store.tensor("b.weight", shape: [1, 2]).scalars, [4, 5])
        XCTAssertEqual(store.unusedKeys, ["a.bias"])
        XCTAssertThrowsError(try store.tensor("b.weight", shape: [2])) { error in
            // A shape error names the shard that holds the key.
            XCTAssertTrue(String(describing: error).contains("model-00002-of-00002.safetensors"))
            XCTAssertTrue(String(describing: error).contains("b.weight"))
        }
        XCTAssertThrowsError(try store.tensor("c.weight", shape: [2])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .missingWeight(key: "c.weight", path: scratch.path))
        }
    }

    func testShardIndexPathTraversalIsRejected() throws {
        // A perfectly valid checkpoint outside the model directory, which must never be opened.
        let outside = try LoaderScratchDirectory()
        let outsidePath = try makeFile("evil.safetensors", [.f32("w", [1], [1])], in: outside.path)
        let model = scratch.file("model")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: (model as NSString).appendingPathComponent("sub"), withIntermediateDirectories: true)
        _ = try makeFile("sub/inner.safetensors", [.f32("w", [1], [1])], in: model)
        let relative = "../../" + (outside.path as NSString).lastPathComponent + "/evil.safetensors"
        let index = (model as NSString).appendingPathComponent("model.safetensors.index.json")
        for name in [relative, "../evil.safetensors", outsidePath, "sub/inner.safetensors", "..", ".", "", "a\\\\b.safetensors", "x\\u0000y"] {
            try writeText(#"{"weight_map": {"w": "\#(name)"}}"#, to: index)
            XCTAssertThrowsError(try WeightStore(directory: model), "shard name \(name)") { error in
                guard case SpeechT5Error.invalidFile(let path, let reason) = error else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual(path, index)
                XCTAssertTrue(reason.contains("plain file name"), reason)
            }
        }
    }

    func testShardIndexProblems() throws {
        let index = scratch.file("model.safetensors.index.json")
        func expectInvalid(_ text: String, _ mention: String, line: UInt = #line) throws {
            try writeText(text, to: index)
            XCTAssertThrowsError(try WeightStore(directory: scratch.path), line: line) { error in
                guard case SpeechT5Error.invalidFile(let path, let reason) = error else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(path, index, line: line)
                XCTAssertTrue(reason.contains(mention), "\(reason) should mention \(mention)", line: line)
            }
        }
        try expectInvalid("{", "JSON")
        try expectInvalid("[]", "JSON object")
        try expectInvalid(#"{"metadata": {}}"#, "weight_map")
        try expectInvalid(#"{"weight_map": []}"#, "weight_map")
        try expectInvalid(#"{"weight_map": {}}"#, "empty")
        try expectInvalid(#"{"weight_map": {"w": 3}}"#, "'w'")

        // A listed key the shard does not hold.
        _ = try makeFile("shard.safetensors", [.f32("w", [1], [1])])
        try expectInvalid(#"{"weight_map": {"w": "shard.safetensors", "ghost": "shard.safetensors"}}"#, "ghost")

        // A missing shard.
        try writeText(#"{"weight_map": {"w": "shard.safetensors", "v": "gone.safetensors"}}"#, to: index)
        XCTAssertThrowsError(try WeightStore(directory: scratch.path)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: scratch.file("gone.safetensors")))
        }

        // A corrupt shard reports the shard.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: scratch.file("gone.safetensors")))
        XCTAssertThrowsError(try WeightStore(directory: scratch.path)) { error in
            guard case SpeechT5Error.invalidFile(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, scratch.file("gone.safetensors"))
        }

        // The same key in two shards.
        _ = try makeFile("gone.safetensors", [.f32("w", [1], [1]), .f32("v", [1], [2])])
        try writeText(#"{"weight_map": {"w": "shard.safetensors", "v": "gone.safetensors"}}"#, to: index)
        XCTAssertThrowsError(try WeightStore(directory: scratch.path)) { error in
            guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("'w'"), reason)
        }
    }

    func testSingleFileWinsOverIndex() throws {
        _ = try makeFile("model.safetensors", [.f32("w", [1], [7])])
        try writeText(#"{"weight_map": {"w": "../nowhere.safetensors"}}"#, to: scratch.file("model.safetensors.index.json"))
        XCTAssertEqual(try WeightStore(directory: scratch.path).scalar("w"), 7)
    }
}
