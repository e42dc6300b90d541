import Foundation
import XCTest

@testable import SpeechT5

final class WeightNormTests: TorchFixtureTestCase {

    // MARK: Against torch

    private func assertFoldsLikeTorch(_ variant: String, pairStyle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try WeightStore(directory: torchFixture("hifigan/\(variant)"))
        let expected = try SafeTensorsFile(path: torchFixture("hifigan/\(variant)_folded.safetensors"))
        XCTAssertEqual(store.tensorNames, expected.names, file: file, line: line)
        XCTAssertEqual(store.weightNormPairs.count, 5, file: file, line: line)
        XCTAssertTrue(store.keys.contains { $0.hasSuffix(pairStyle) }, file: file, line: line)
        XCTAssertFalse(store.keys.contains("conv_pre.weight"), file: file, line: line)
        for name in expected.names {
            let shape = try XCTUnwrap(expected.entries[name]?.shape)
            XCTAssertEqual(store.entry(name)?.shape, shape, name, file: file, line: line)
            assertClose(try store.tensor(name, shape: shape).scalars, try expected.floats(name), "\(variant) \(name)", file: file, line: line)
        }
        XCTAssertEqual(store.unusedKeys, [], file: file, line: line)
    }

    func testParametrizationsFoldLikeRemoveParametrizations() throws {
        try assertFoldsLikeTorch("parametrized", pairStyle: ".parametrizations.weight.original0")
    }

    func testLegacyPairsFoldLikeRemoveWeightNorm() throws {
        // Includes upsampler.0 normalized with dim=1 and conv_post with dim=None (a 0-d weight_g).
        try assertFoldsLikeTorch("legacy", pairStyle: ".weight_g")
        let store = try WeightStore(directory: torchFixture("hifigan/legacy"))
        XCTAssertEqual(store.torchFiles.first?.entries["conv_post.weight_g"]?.shape, [])
        XCTAssertEqual(store.torchFiles.first?.entries["upsampler.0.weight_g"]?.shape, [1, 3, 1])
    }

    func testVocoderLoadsWeightNormedCheckpointsTransparently() throws {
        // The same vocoder from the weight-normed .bin and from torch's folded weights gives the same audio.
        for variant in ["parametrized", "legacy"] {
            let folded = scratch.file(variant)
            try FileManager.default.createDirectory(atPath: folded, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: torchFixture("hifigan/\(variant)/config.json"),
                                             toPath: (folded as NSString).appendingPathComponent("config.json"))
            try FileManager.default.copyItem(atPath: torchFixture("hifigan/\(variant)_folded.safetensors"),
                                             toPath: (folded as NSString).appendingPathComponent("model.safetensors"))
            let fromBin = try HiFiGAN(directory: torchFixture("hifigan/\(variant)"))
            let fromFolded = try HiFiGAN(directory: folded)
            var random = LoaderFuzzRandom(seed: 42)
            let frames = 9
            let mel = (0..<(frames * 4)).map { _ in Float.random(in: -2...2, using: &random) }
            let a = fromBin(mel, frames: frames), b = fromFolded(mel, frames: frames)
            XCTAssertEqual(a.count, b.count)
            XCTAssertLessThanOrEqual(maxAbsDifference(a, b), 1e-5 * max(maxMagnitude(b), 1e-3), variant)
        }
    }

    // MARK: Arithmetic

    func testFoldArithmetic() {
        let v: [Float] = [3, 4, 0, 5]  // [[3, 4], [0, 5]]
        // dim 0: rows normalized.
        XCTAssertEqual(WeightNorm.fold(g: [10, 2], gShape: [2, 1], v: v, vShape: [2, 2]), [6, 8, 0, 2])
        // dim 1: columns normalized (norms 3 and √41).
        let columns = WeightNorm.fold(g: [6, 1], gShape: [1, 2], v: v, vShape: [2, 2])
        assertClose(columns, [6, 4 / Float(41).squareRoot(), 0, 5 / Float(41).squareRoot()], "dim 1")
        // dim None: one norm (√50), with a 0-d or a [1, 1] g.
        let whole = v.map { $0 * (5 / Float(50).squareRoot()) }
        assertClose(WeightNorm.fold(g: [5], gShape: [], v: v, vShape: [2, 2]), whole, "dim None, 0-d g")
        assertClose(WeightNorm.fold(g: [5], gShape: [1, 1], v: v, vShape: [2, 2]), whole, "dim None, [1, 1] g")
        // A 3-d conv weight, dim 0: each output channel over [in, k].
        let conv = WeightNorm.fold(g: [2, 3], gShape: [2, 1, 1], v: [1, 1, 1, 1, 0, 0, 0, 2], vShape: [2, 2, 2])
        XCTAssertEqual(conv, [1, 1, 1, 1, 0, 0, 0, 3])
        // A zero direction gives NaN, as in torch.
        XCTAssertTrue(WeightNorm.fold(g: [1], gShape: [1, 1], v: [0, 0], vShape: [1, 2]).allSatisfy(\.isNaN))
        XCTAssertEqual(WeightNorm.fold(g: [], gShape: [0, 1], v: [], vShape: [0, 3]), [])
    }

    func testKeptDimensionAndShapeProblems() {
        XCTAssertEqual(WeightNorm.keptDimension(gShape: [4, 1, 1], vShape: [4, 3, 5]).dimension, 0)
        XCTAssertEqual(WeightNorm.keptDimension(gShape: [1, 3, 1], vShape: [4, 3, 5]).dimension, 1)
        XCTAssertEqual(WeightNorm.keptDimension(gShape: [1, 1, 5], vShape: [4, 3, 5]).dimension, 2)
        XCTAssertNil(WeightNorm.keptDimension(gShape: [], vShape: [4, 3, 5]).dimension)
        XCTAssertNil(WeightNorm.keptDimension(gShape: [1, 1, 1], vShape: [4, 3, 5]).dimension)
        XCTAssertEqual(WeightNorm.keptDimension(gShape: [1, 1, 1], vShape: [1, 3, 5]).dimension, 0)
        XCTAssertNil(WeightNorm.shapeProblem(gShape: [4, 1, 1], vShape: [4, 3, 5]))
        XCTAssertNotNil(WeightNorm.shapeProblem(gShape: [3, 1, 1], vShape: [4, 3, 5]))
        XCTAssertNotNil(WeightNorm.shapeProblem(gShape: [4, 3, 1], vShape: [4, 3, 5]))
        XCTAssertNotNil(WeightNorm.shapeProblem(gShape: [4], vShape: [4, 3, 5]))
    }

    func testPairDetection() throws {
        let keys: Set<String> = [
            "a.weight_g", "a.weight_v",  // old style
            "b.parametrizations.weight.original0", "b.parametrizations.weight.original1",  // new style
            "c.weight", "c.weight_g", "c.weight_v",  // plain weight present: no folding
            "d.weight_g",  // no v
            "e.parametrizations.weight.original0",  // no original1
            "f.bias_g", "f.bias_v",  // not weight norm's names
        ]
        let pairs = try WeightNorm.pairs(in: keys, path: "p")
        XCTAssertEqual(pairs, [
            "a.weight": .init(name: "a.weight", g: "a.weight_g", v: "a.weight_v"),
            "b.weight": .init(name: "b.weight", g: "b.parametrizations.weight.original0", v: "b.parametrizations.weight.original1"),
        ])
        XCTAssertThrowsError(try WeightNorm.pairs(in: [
            "x.weight_g", "x.weight_v", "x.parametrizations.weight.original0", "x.parametrizations.weight.original1",
        ], path: "p")) { error in
            XCTAssertTrue(String(describing: error).contains("'x.weight' is stored twice"), "\(error)")
        }
    }

    // MARK: WeightStore behaviour

    private func store(_ tensors: [SafeTensorsFixtureTensor]) throws -> (WeightStore, String) {
        let path = scratch.file("model.safetensors")
        try Data(SafeTensorsFixture.bytes(tensors)).write(to: URL(fileURLWithPath: path))
        return (try WeightStore(directory: scratch.path), path)
    }

    func testStoreFoldsTransparently() throws {
        let (store, path) = try store([
            .f32("conv.weight_g", [2, 1, 1], [10, 2]),
            .f32("conv.weight_v", [2, 1, 2], [3, 4, 0, 5]),
            .f32("conv.bias", [2], [1, 1]),
            .f32("up.parametrizations.weight.original0", [1, 2, 1], [1, 1]),
            .f32("up.parametrizations.weight.original1", [1, 2, 1], [-3, 4]),
            .i64("bad.weight_g", [1, 1], [1]),
            .f32("bad.weight_v", [1, 2], [1, 1]),
        ])
        XCTAssertTrue(store.contains("conv.weight"))
        XCTAssertTrue(store.contains("conv.weight_g"))
        XCTAssertFalse(store.keys.contains("conv.weight"))
        XCTAssertEqual(store.tensorNames, ["bad.weight", "conv.bias", "conv.weight", "up.weight"])
        XCTAssertEqual(store.entry("conv.weight"), SafeTensorsEntry(name: "conv.weight", dtype: "F32", shape: [2, 1, 2], byteRange: 0..<0))
        XCTAssertThrowsError(try store.tensor("conv.weight", shape: [2, 2])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .shapeMismatch(key: "conv.weight", expected: [2, 2], actual: [2, 1, 2], path: path))
        }
        XCTAssertEqual(store.unusedKeys.count, 7)  // a failed fetch is not a use
        XCTAssertEqual(try store.tensor("conv.weight", shape: [2, 1, 2]).scalars, [6, 8, 0, 2])
        XCTAssertEqual(try store.tensor("up.weight", shape: [1, 2, 1]).scalars, [-1, 1])  // dim=1 with unit gains
        XCTAssertEqual(store.unusedKeys, ["bad.weight_g", "bad.weight_v", "conv.bias"])
        // The stored halves stay readable by name.
        XCTAssertEqual(try store.tensor("conv.weight_g", shape: [2, 1, 1]).scalars, [10, 2])
        XCTAssertThrowsError(try store.tensor("bad.weight", shape: [1, 2])) { error in
            XCTAssertEqual(error as? SpeechT5Error, .unsupportedDType(key: "bad.weight_g", dtype: "I64", path: path))
        }
        // Raw (conversion) access gives the folded F32 tensor.
        let raw = try store.rawTensor("conv.weight")
        XCTAssertEqual(raw.dtype, "F32")
        XCTAssertEqual(raw.shape, [2, 1, 2])
        XCTAssertEqual(try raw.bytes(), f32Bytes([6, 8, 0, 2]))
    }

    func testMismatchedPairIsRejectedAtOpen() throws {
        XCTAssertThrowsError(try store([
            .f32("conv.weight_g", [3, 1, 1], [1, 1, 1]),
            .f32("conv.weight_v", [2, 1, 2], [3, 4, 0, 5]),
        ])) { error in
            guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("conv.weight_g") && reason.contains("[3, 1, 1]") && reason.contains("[2, 1, 2]"), reason)
        }
    }
}
