import Foundation
import XCTest

@testable import SpeechT5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor for the safetensors builder: raw little-endian bytes with a dtype and shape.
struct SafeTensorsFixtureTensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]

    static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> Self {
        Self(name: name, dtype: "F32", shape: shape, bytes: values.flatMap { loaderLEBytes($0.bitPattern) })
    }

    static func bits16(_ name: String, _ dtype: String, _ shape: [Int], _ values: [UInt16]) -> Self {
        Self(name: name, dtype: dtype, shape: shape, bytes: values.flatMap { loaderLEBytes($0) })
    }

    static func i64(_ name: String, _ shape: [Int], _ values: [Int64]) -> Self {
        Self(name: name, dtype: "I64", shape: shape, bytes: values.flatMap { loaderLEBytes(UInt64(bitPattern: $0)) })
    }
}

func loaderLEBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// Builds safetensors files at test time, valid or deliberately broken.
enum SafeTensorsFixture {
    /// A valid file: the header JSON lists `tensors` back to back; `pad` spaces are appended to the header
    /// (to steer the data alignment).
    static func bytes(_ tensors: [SafeTensorsFixtureTensor], metadata: [String: String]? = nil, alignTo8: Bool = true,
                      extraHeaderSpaces: Int = 0) -> [UInt8] {
        var parts: [String] = []
        if let metadata {
            let items = metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        var blob: [UInt8] = []
        for t in tensors {
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
            blob += t.bytes
        }
        var header = "{" + parts.joined(separator: ",") + "}"
        header += String(repeating: " ", count: extraHeaderSpaces)
        if alignTo8 {
            while (8 + header.utf8.count) % 8 != 0 { header += " " }
        }
        return raw(header: header, blob: blob)
    }

    /// A header string and data blob, with the declared header length taken from the header (or forced).
    static func raw(header: String, blob: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        return loaderLEBytes(declaredLength ?? UInt64(headerBytes.count)) + headerBytes + blob
    }
}

/// A scratch directory removed when the test ends.
final class LoaderScratchDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("speecht5-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
}

/// A tiny deterministic PRNG for fuzz loops (SplitMix64).
struct LoaderFuzzRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class SafeTensorsTests: XCTestCase {
    private var scratch: LoaderScratchDirectory!

    override func setUpWithError() throws {
        scratch = try LoaderScratchDirectory()
    }

    override func tearDown() {
        scratch = nil
    }

    /// Asserts that opening `bytes` fails with `.invalidFile` naming the file, with a reason containing
    /// every string in `mentions`.
    private func assertRejected(_ bytes: [UInt8], _ mentions: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
        let path: String
        do {
            path = try scratch.write(bytes, to: "hostile-\(UUID().uuidString).safetensors")
        } catch {
            XCTFail("cannot write fixture: \(error)", file: file, line: line)
            return
        }
        XCTAssertThrowsError(try SafeTensorsFile(path: path), file: file, line: line) { error in
            guard case SpeechT5Error.invalidFile(let errorPath, let reason) = error else {
                XCTFail("expected invalidFile, got \(error)", file: file, line: line)
                return
            }
            XCTAssertEqual(errorPath, path, file: file, line: line)
            XCTAssertTrue(String(describing: error).contains(path), file: file, line: line)
            for mention in mentions {
                XCTAssertTrue(reason.contains(mention), "'\(reason)' should mention '\(mention)'", file: file, line: line)
            }
        }
    }

    private func header(_ entries: String, blob: Int) -> [UInt8] {
        SafeTensorsFixture.raw(header: "{\(entries)}", blob: [UInt8](repeating: 0, count: blob))
    }

    // MARK: - Valid files

    func testRoundTripF32WithMetadata() throws {
        let bytes = SafeTensorsFixture.bytes([
            .f32("a.weight", [2, 3], [1, 2, 3, 4, 5, -6.5]),
            .f32("a.bias", [3], [0.25, -0.5, 1e-7]),
        ], metadata: ["format": "pt"])
        let path = try scratch.write(bytes, to: "model.safetensors")
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.path, path)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(Set(file.entries.keys), ["a.weight", "a.bias"])
        let weight = try XCTUnwrap(file.entries["a.weight"])
        XCTAssertEqual(weight.name, "a.weight")
        XCTAssertEqual(weight.dtype, "F32")
        XCTAssertEqual(weight.shape, [2, 3])
        XCTAssertEqual(weight.byteRange.count, 24)
        // byteRange is absolute: the bytes there are the tensor's.
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual(weight.byteRange.lowerBound, 8 + headerLength)
        XCTAssertEqual(Array(bytes[weight.byteRange]), SafeTensorsFixtureTensor.f32("", [], [1, 2, 3, 4, 5, -6.5]).bytes)
        XCTAssertEqual(try file.floats("a.weight"), [1, 2, 3, 4, 5, -6.5])
        XCTAssertEqual(try file.floats("a.bias"), [0.25, -0.5, 1e-7])

        let pointer = try XCTUnwrap(file.float32Pointer("a.weight"))
        XCTAssertEqual(Array(pointer), [1, 2, 3, 4, 5, -6.5])
        XCTAssertNil(file.float32Pointer("missing"))
    }

    func testUnalignedF32IsCopiedAndHasNoPointer() throws {
        // Header length 8 + odd → the data starts at an odd offset.
        var bytes = SafeTensorsFixture.bytes([.f32("w", [3], [1.5, -2.25, 3e10])], alignTo8: false)
        var headerLength = Int(bytes[0])
        if (8 + headerLength) % 4 == 0 {
            bytes = SafeTensorsFixture.bytes([.f32("w", [3], [1.5, -2.25, 3e10])], alignTo8: false, extraHeaderSpaces: 1)
            headerLength = Int(bytes[0])
        }
        XCTAssertNotEqual((8 + headerLength) % 4, 0)
        let file = try SafeTensorsFile(path: scratch.write(bytes, to: "unaligned.safetensors"))
        XCTAssertEqual(try file.floats("w"), [1.5, -2.25, 3e10])
        XCTAssertNil(file.float32Pointer("w"))
    }

    func testF16ConversionKnownBitPatterns() throws {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3C00, 1), (0xBC00, -1), (0xC000, -2), (0x3800, 0.5), (0x3555, 0.333251953125),
            (0x7BFF, 65504), (0xFBFF, -65504), (0x0400, 0x1p-14), (0x03FF, 0x1.ff8p-15), (0x0001, 0x1p-24),
            (0x8001, -0x1p-24), (0x7C00, .infinity), (0xFC00, -.infinity), (0x4248, 3.140625),
        ]
        let file = try SafeTensorsFile(path: scratch.write(
            SafeTensorsFixture.bytes([.bits16("h", "F16", [cases.count], cases.map(\.0)),
                                      .bits16("nan", "F16", [2], [0x7E00, 0x8000])]),
            to: "f16.safetensors"))
        let values = try file.floats("h")
        for (i, (bits, expected)) in cases.enumerated() {
            XCTAssertEqual(values[i].bitPattern, expected.bitPattern, "F16 0x\(String(bits, radix: 16)) → \(values[i]), expected \(expected)")
        }
        let special = try file.floats("nan")
        XCTAssertTrue(special[0].isNaN)
        XCTAssertEqual(special[1].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertNil(file.float32Pointer("h"))
    }

    func testF16ConversionMatchesFloat16ForEveryPattern() {
        #if !(os(macOS) && arch(x86_64))
        for bits in 0...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let converted = SafeTensorsFile.floatFromHalfBits(bits)
            if reference.isNaN {
                XCTAssertTrue(converted.isNaN)
            } else if converted.bitPattern != reference.bitPattern {
                XCTFail("F16 0x\(String(bits, radix: 16)): \(converted) != \(reference)")
                return
            }
        }
        #endif
    }

    func testBF16ConversionKnownBitPatterns() throws {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3F80, 1), (0xBF80, -1), (0xC040, -3), (0x4049, 3.140625), (0x3F00, 0.5),
            (0x7F7F, 0x1.fep127), (0x0080, 0x1p-126), (0x0001, 0x1p-133), (0x7F80, .infinity), (0xFF80, -.infinity),
            (0x8000, -0.0),
        ]
        let file = try SafeTensorsFile(path: scratch.write(
            SafeTensorsFixture.bytes([.bits16("b", "BF16", [cases.count], cases.map(\.0)),
                                      .bits16("nan", "BF16", [1], [0x7FC0])]),
            to: "bf16.safetensors"))
        let values = try file.floats("b")
        for (i, (bits, expected)) in cases.enumerated() {
            XCTAssertEqual(values[i].bitPattern, expected.bitPattern, "BF16 0x\(String(bits, radix: 16))")
        }
        XCTAssertTrue(try file.floats("nan")[0].isNaN)
    }

    func testOtherDTypesConvertOrAreUnsupported() throws {
        let f64 = [1.5, -2.0, 1e300].flatMap { loaderLEBytes($0.bitPattern) }
        let i32: [UInt8] = [Int32(-7), 123_456].flatMap { loaderLEBytes(UInt32(bitPattern: $0)) }
        let bytes = SafeTensorsFixture.bytes([
            SafeTensorsFixtureTensor(name: "d", dtype: "F64", shape: [3], bytes: f64),
            .i64("n", [], [42]),
            SafeTensorsFixtureTensor(name: "i", dtype: "I32", shape: [2], bytes: i32),
            SafeTensorsFixtureTensor(name: "u", dtype: "U8", shape: [2], bytes: [0, 255]),
            SafeTensorsFixtureTensor(name: "q", dtype: "F8_E4M3", shape: [2], bytes: [1, 2]),
            SafeTensorsFixtureTensor(name: "u16", dtype: "U16", shape: [1], bytes: [1, 2]),
        ])
        let path = try scratch.write(bytes, to: "dtypes.safetensors")
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(try file.floats("d"), [1.5, -2, .infinity])
        XCTAssertEqual(try file.floats("n"), [42])
        XCTAssertEqual(file.entries["n"]?.shape, [])
        XCTAssertEqual(try file.floats("i"), [-7, 123_456])
        XCTAssertEqual(try file.floats("u"), [0, 255])
        XCTAssertNil(file.float32Pointer("d"))
        for name in ["q", "u16"] {
            XCTAssertThrowsError(try file.floats(name)) { error in
                XCTAssertEqual(error as? SpeechT5Error,
                               .unsupportedDType(key: name, dtype: file.entries[name]?.dtype ?? "", path: path))
            }
        }
        XCTAssertThrowsError(try file.floats("nope")) { error in
            XCTAssertEqual(error as? SpeechT5Error, .missingWeight(key: "nope", path: path))
        }
    }

    func testEmptyTensorsAndEmptyHeader() throws {
        let bytes = SafeTensorsFixture.bytes([
            .f32("x", [2], [1, 2]),
            SafeTensorsFixtureTensor(name: "empty", dtype: "F32", shape: [0, 5], bytes: []),
            .f32("y", [1], [3]),
        ])
        let file = try SafeTensorsFile(path: scratch.write(bytes, to: "empty.safetensors"))
        XCTAssertEqual(try file.floats("empty"), [])
        XCTAssertEqual(file.float32Pointer("empty")?.count, 0)
        XCTAssertEqual(try file.floats("y"), [3])

        // An empty tensor may sit anywhere, even inside another tensor's bytes.
        let inside = header(#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F16","shape":[0],"data_offsets":[4,4]}"#, blob: 8)
        XCTAssertEqual(try SafeTensorsFile(path: scratch.write(inside, to: "inside.safetensors")).entries.count, 2)

        // No tensors at all.
        let none = SafeTensorsFixture.raw(header: "{}", blob: [])
        XCTAssertTrue(try SafeTensorsFile(path: scratch.write(none, to: "none.safetensors")).entries.isEmpty)
        let onlyMetadata = SafeTensorsFixture.raw(header: #"{"__metadata__":{"format":"pt"}}    "#, blob: [])
        XCTAssertEqual(try SafeTensorsFile(path: scratch.write(onlyMetadata, to: "meta.safetensors")).metadata, ["format": "pt"])
    }

    func testGapsBetweenTensorsAreAllowed() throws {
        let bytes = header(#""a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}"#, blob: 20)
        let file = try SafeTensorsFile(path: scratch.write(bytes, to: "gaps.safetensors"))
        XCTAssertEqual(try file.floats("b"), [0])
    }

    // MARK: - Hostile files

    func testMissingFileAndNonFiles() throws {
        let missing = scratch.file("nope.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile(path: missing)) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: missing))
        }
        XCTAssertThrowsError(try SafeTensorsFile(path: scratch.path)) { error in
            guard case SpeechT5Error.invalidFile(let path, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, scratch.path)
            XCTAssertTrue(reason.contains("directory"))
        }
        // A FIFO must be refused, not block forever waiting for a writer.
        let fifo = scratch.file("fifo.safetensors")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try SafeTensorsFile(path: fifo)) { error in
            guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("not a regular file"))
        }
    }

    func testTooShortFiles() {
        assertRejected([], ["0 bytes"])
        assertRejected([1, 0, 0, 0, 0, 0, 0], ["7 bytes"])
        assertRejected(loaderLEBytes(UInt64(0)), ["empty"])
    }

    func testHeaderLengthPastEndOrHuge() {
        assertRejected(SafeTensorsFixture.raw(header: "{}", blob: [], declaredLength: 3), ["past the end"])
        assertRejected(SafeTensorsFixture.raw(header: "{}  ", blob: [], declaredLength: 1000), ["past the end"])
        assertRejected(SafeTensorsFixture.raw(header: "{}", blob: [], declaredLength: 100_000_001), ["limit"])
        assertRejected(SafeTensorsFixture.raw(header: "{}", blob: [], declaredLength: 1 << 40), ["limit"])
        assertRejected(SafeTensorsFixture.raw(header: "{}", blob: [], declaredLength: UInt64.max), ["limit"])
        // Shorter than the header: the JSON is cut.
        assertRejected(SafeTensorsFixture.raw(header: #"{"a":1}"#, blob: [], declaredLength: 4), ["JSON"])
    }

    func testInvalidJSON() {
        for text in ["{", "{\"a\":}", "{'a': 1}", "{\"a\":{\"dtype\":\"F32\",}", "{} trailing", "\u{0}\u{0}"] {
            assertRejected(SafeTensorsFixture.raw(header: text, blob: []), [])
        }
        assertRejected(SafeTensorsFixture.raw(header: "{\"a\":", blob: []), ["not valid JSON"])
        // Invalid UTF-8 inside a string.
        assertRejected(loaderLEBytes(UInt64(7)) + [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], ["JSON"])
        // UTF-16 is not UTF-8.
        let utf16 = Array("{}".utf16).flatMap { loaderLEBytes($0) }
        assertRejected(loaderLEBytes(UInt64(utf16.count)) + utf16, ["JSON"])
        // Deep nesting must fail cleanly, not overflow the stack.
        let deep = "{\"a\":" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}"
        assertRejected(SafeTensorsFixture.raw(header: deep, blob: []), [])
    }

    func testNonObjectJSON() {
        for text in ["[]", "[1, 2]", "\"x\"", "42", "null", "true"] {
            assertRejected(SafeTensorsFixture.raw(header: text, blob: []), ["JSON object"])
        }
        assertRejected(header(#""w":[1,2]"#, blob: 0), ["'w'", "not a JSON object"])
        assertRejected(header(#""w":"F32""#, blob: 0), ["'w'"])
        assertRejected(header(#""__metadata__":[1]"#, blob: 0), ["__metadata__"])
        assertRejected(header(#""__metadata__":{"format":1}"#, blob: 0), ["__metadata__", "format"])
        assertRejected(header(#""__metadata__":{"format":null}"#, blob: 0), ["__metadata__"])
    }

    func testMissingOrMalformedFields() {
        assertRejected(header(#""w":{"shape":[1],"data_offsets":[0,4]}"#, blob: 4), ["'w'", "dtype"])
        assertRejected(header(#""w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}"#, blob: 4), ["'w'", "dtype"])
        assertRejected(header(#""w":{"dtype":"F32","data_offsets":[0,4]}"#, blob: 4), ["'w'", "shape"])
        assertRejected(header(#""w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}"#, blob: 4), ["'w'", "shape"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1]}"#, blob: 4), ["'w'", "data_offsets"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[0]}"#, blob: 4), ["'w'", "data_offsets"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}"#, blob: 8), ["'w'", "data_offsets"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#, blob: 4), ["'w'", "data_offsets"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4]}"#, blob: 4), ["'w'", "data_offsets"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}"#, blob: 4), ["'w'", "data_offsets"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}"#, blob: 4), ["'w'", "data_offsets"])
    }

    func testUnknownDType() {
        assertRejected(header(#""w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}"#, blob: 16), ["'w'", "unknown dtype 'F128'"])
        assertRejected(header(#""w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}"#, blob: 4), ["'w'", "unknown dtype"])
    }

    func testOffsetsPastEndAndReversed() {
        assertRejected(header(#""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, blob: 4), ["'w'", "past the end"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[1000000,1000004]}"#, blob: 4), ["'w'", "past the end"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[0],"data_offsets":[9,9]}"#, blob: 4), ["'w'", "past the end"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}"#, blob: 8), ["'w'", "begin after"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775807,9223372036854775807]}"#, blob: 8), ["'w'"])
    }

    func testOverlappingEntries() {
        let overlapping = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#
        assertRejected(header(overlapping, blob: 12), ["overlap", "'a'", "'b'"])
        let same = #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}"#
        assertRejected(header(same, blob: 4), ["overlap"])
        let nested = #""a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}"#
        assertRejected(header(nested, blob: 16), ["overlap"])
    }

    func testShapeAndByteLengthDisagree() {
        assertRejected(header(#""w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#, blob: 8), ["'w'", "needs 12 bytes", "hold 8"])
        assertRejected(header(#""w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}"#, blob: 16), ["'w'", "needs 8 bytes"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[],"data_offsets":[0,0]}"#, blob: 0), ["'w'", "needs 4 bytes"])
        // Sub-byte dtypes must fill whole bytes.
        assertRejected(header(#""w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}"#, blob: 2), ["'w'", "whole number of bytes"])
    }

    func testBadShapeDimensions() {
        for dims in ["[-1]", "[2,-3]", "[1.5]", "[2.0]", "[1e2]", "[true]", "[\"4\"]", "[null]", "[[2]]", "[99999999999999999999999]"] {
            assertRejected(header(#""w":{"dtype":"F32","shape":\#(dims),"data_offsets":[0,4]}"#, blob: 4), ["'w'", "shape"])
        }
    }

    func testShapeProductOverflow() {
        // 2^62 × 4 overflows Int; 2^61 × 4 elements × 32 bits overflows the bit count.
        assertRejected(header(#""w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}"#, blob: 4), ["'w'", "too many elements"])
        assertRejected(header(#""w":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,4]}"#, blob: 4), ["'w'", "too many elements"])
        // Product wraps to a small number with unchecked arithmetic: 2^32 × 2^32 × 1 → 0.
        assertRejected(header(#""w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}"#, blob: 0), ["'w'", "too many elements"])
        // Product zero with a huge dimension is fine (empty tensor).
        let ok = header(#""w":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}"#, blob: 0)
        XCTAssertNoThrow(try SafeTensorsFile(path: scratch.write(ok, to: "zero.safetensors")))
    }

    func testTruncatedAtEveryLength() throws {
        let full = SafeTensorsFixture.bytes([
            .f32("a", [2, 2], [1, 2, 3, 4]),
            .bits16("b", "BF16", [3], [0x3F80, 0x4000, 0x4040]),
        ], metadata: ["format": "pt"])
        XCTAssertNoThrow(try SafeTensorsFile(path: scratch.write(full, to: "full.safetensors")))
        for length in 0..<full.count {
            let path = try scratch.write(Array(full[0..<length]), to: "cut.safetensors")
            XCTAssertThrowsError(try SafeTensorsFile(path: path), "truncated to \(length) bytes") { error in
                guard case SpeechT5Error.invalidFile(let errorPath, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(errorPath, path)
            }
        }
    }

    /// Random corruption must never crash: every outcome is either a clean error or a file whose every
    /// tensor reads (or reports an unsupported dtype).
    func testRandomCorruptionNeverCrashes() throws {
        let full = SafeTensorsFixture.bytes([
            .f32("a", [2, 2], [1, 2, 3, 4]),
            .bits16("b", "F16", [3], [0x3C00, 0x4000, 0x4200]),
            .i64("n", [], [7]),
        ], metadata: ["format": "pt"])
        var random = LoaderFuzzRandom(seed: 0x5EED)
        let path = scratch.file("fuzz.safetensors")
        for _ in 0..<400 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let i = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes[i] = Array("0123456789[]{},:\"-".utf8).randomElement(using: &random) ?? 0
                default: bytes.removeSubrange(i...)
                }
                if bytes.isEmpty { break }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let file = try? SafeTensorsFile(path: path) else { continue }
            for (name, entry) in file.entries {
                if let values = try? file.floats(name) {
                    XCTAssertEqual(values.count, entry.shape.reduce(1, *))
                }
                if let pointer = file.float32Pointer(name) {
                    XCTAssertEqual(pointer.count * 4, entry.byteRange.count)
                }
            }
        }
    }
}
