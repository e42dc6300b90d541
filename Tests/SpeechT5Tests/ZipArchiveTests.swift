import Foundation
import XCTest

@testable import SpeechT5

// MARK: - Helpers

/// Writes bits least-significant first, as deflate packs them; Huffman codes go most-significant first.
struct DeflateBitWriter {
    var bytes: [UInt8] = []
    var bitCount = 0

    mutating func bits(_ value: Int, _ count: Int) {
        for i in 0 ..< count {
            if bitCount % 8 == 0 { bytes.append(0) }
            if (value >> i) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(1 << (bitCount % 8)) }
            bitCount += 1
        }
    }

    mutating func huffman(_ code: Int, _ length: Int) {
        for i in stride(from: length - 1, through: 0, by: -1) { bits((code >> i) & 1, 1) }
    }
}

/// The committed zip fixtures and their byte layout, for building hostile variants.
enum ZipFixtures {
    static func path(_ name: String) -> String { Fixtures.path("voices/\(name)") }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    /// One central-directory record and its local header.
    struct Layout {
        let central: Int
        let local: Int
        let name: String
        let nameLength: Int
        var centralName: Int { central + 46 }
        var localName: Int { local + 30 }
    }

    static func u16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> Int { u16(b, o) | u16(b, o + 2) << 16 }

    static func put32(_ b: inout [UInt8], _ o: Int, _ v: Int) {
        for i in 0 ..< 4 { b[o + i] = UInt8((v >> (8 * i)) & 0xff) }
    }

    static func put16(_ b: inout [UInt8], _ o: Int, _ v: Int) {
        for i in 0 ..< 2 { b[o + i] = UInt8((v >> (8 * i)) & 0xff) }
    }

    /// The end record's offset.
    static func endRecord(_ b: [UInt8]) -> Int {
        var o = b.count - 22
        while o > 0, u32(b, o) != 0x0605_4b50 { o -= 1 }
        return o
    }

    static func layout(_ b: [UInt8]) -> [Layout] {
        let end = endRecord(b)
        var position = u32(b, end + 16)
        var result: [Layout] = []
        for _ in 0 ..< u16(b, end + 10) {
            let nameLength = u16(b, position + 28)
            let name = String(decoding: b[(position + 46) ..< (position + 46 + nameLength)], as: UTF8.self)
            result.append(Layout(central: position, local: u32(b, position + 42), name: name, nameLength: nameLength))
            position += 46 + nameLength + u16(b, position + 30) + u16(b, position + 32)
        }
        return result
    }
}

/// Where ``temporaryFile(_:name:)`` writes: one folder for the test process, removed when it ends.
let zipTestDirectory: URL = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("speecht5-zip-\(getpid())")
    try? FileManager.default.removeItem(at: directory)
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("speecht5-zip-\(getpid())")) }
    return directory
}()

/// Writes `bytes` to a new temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8], name: String = "archive.zip") throws -> String {
    let directory = zipTestDirectory.appendingPathComponent(UUID().uuidString.prefix(8).description)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// Expects `.invalidFile` whose reason contains every fragment.
func expectInvalidZip(_ body: () throws -> Void, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
    do {
        try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
    } catch let error as SpeechT5Error {
        guard case .invalidFile(_, let reason) = error else {
            return XCTFail("expected invalidFile, got \(error)", file: file, line: line)
        }
        for fragment in fragments where !reason.contains(fragment) {
            XCTFail("'\(reason)' does not contain '\(fragment)'", file: file, line: line)
        }
        XCTAssertFalse(error.description.contains("\n"), "one line", file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
}

// MARK: - Inflate

final class ZipInflateTests: XCTestCase {
    func testDecodesZlibStreamsOfEveryKind() throws {
        let archive = try ZipArchive(path: ZipFixtures.path("deflate-corpus.zip"))
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: ZipFixtures.path("deflate-corpus.json")))
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: manifestData) as? [String: [String: Any]])
        XCTAssertEqual(Set(archive.entryNames), Set(manifest.keys))
        for (name, expected) in manifest {
            let bytes = try archive.contents(of: name)
            XCTAssertEqual(bytes.count, expected["size"] as? Int, name)
            XCTAssertEqual(sha256Hex(bytes), expected["sha256"] as? String, name)
        }
        XCTAssertEqual(archive.entry(named: "stored.txt")?.method, 0)
        XCTAssertEqual(archive.entry(named: "zeros.bin")?.method, 8)
    }

    func testSmallStreams() throws {
        // zlib's raw deflate of "Hello there." (level 9) and of a repeated pattern with fixed codes.
        XCTAssertEqual(try Inflate.decompress([243, 72, 205, 201, 201, 87, 40, 201, 72, 45, 74, 213, 3, 0], maxOutput: 100),
                       Array("Hello there.".utf8))
        XCTAssertEqual(try Inflate.decompress([75, 76, 74, 78, 68, 69, 0], maxOutput: 100), Array("abcabcabcabcabcabc".utf8))
        // A final empty stored block.
        XCTAssertEqual(try Inflate.decompress([0x01, 0x00, 0x00, 0xff, 0xff], maxOutput: 0), [])
        // A fixed block: 'a' then a match of 10 at distance 1.
        var writer = DeflateBitWriter()
        writer.bits(1, 1); writer.bits(1, 2)
        writer.huffman(0x30 + 97, 8)  // literal 'a'
        writer.huffman(264 - 256, 7)  // length 10
        writer.huffman(0, 5)          // distance 1
        writer.huffman(0, 7)          // end of block
        XCTAssertEqual(try Inflate.decompress(writer.bytes, maxOutput: 11), Array(repeating: UInt8(ascii: "a"), count: 11))
    }

    func testMalformedStreamsAreRefused() {
        func expectCorrupt(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try Inflate.decompress(bytes, maxOutput: 1 << 20), line: line) { error in
                guard let failure = error as? Inflate.Failure else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(failure.kind, .corrupt, line: line)
                XCTAssertTrue(failure.reason.contains(fragment), "\(failure.reason)", line: line)
            }
        }
        expectCorrupt([], "truncated")
        expectCorrupt([0x07], "block type 3")
        expectCorrupt([0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5], "complement")
        expectCorrupt([0x01, 0x05, 0x00, 0xfa, 0xff, 97], "truncated")
        expectCorrupt([243, 72, 205, 201, 201, 87, 40], "truncated")  // cut mid-stream

        // A back-reference with nothing before it.
        var writer = DeflateBitWriter()
        writer.bits(1, 1); writer.bits(1, 2)
        writer.huffman(257 - 256, 7)
        writer.huffman(0, 5)
        expectCorrupt(writer.bytes, "before the start")

        // Distance code 30 (unused in the fixed code) after one literal.
        writer = DeflateBitWriter()
        writer.bits(1, 1); writer.bits(1, 2)
        writer.huffman(0x30 + 97, 8)
        writer.huffman(257 - 256, 7)
        writer.huffman(30, 5)
        writer.bits(0, 16)
        expectCorrupt(writer.bytes, "invalid Huffman code")

        // Dynamic block whose code-length code is over-subscribed (19 codes of length 1).
        writer = DeflateBitWriter()
        writer.bits(1, 1); writer.bits(2, 2)
        writer.bits(0, 5); writer.bits(0, 5); writer.bits(15, 4)
        for _ in 0 ..< 19 { writer.bits(1, 3) }
        expectCorrupt(writer.bytes, "over-subscribed")

        // Dynamic block with too many literal/length codes (HLIT 30 → 287).
        writer = DeflateBitWriter()
        writer.bits(1, 1); writer.bits(2, 2)
        writer.bits(30, 5); writer.bits(0, 5); writer.bits(0, 4)
        expectCorrupt(writer.bytes, "too many codes")

        // Dynamic block: a repeat code (16) first.
        writer = DeflateBitWriter()
        writer.bits(1, 1); writer.bits(2, 2)
        writer.bits(0, 5); writer.bits(0, 5); writer.bits(0, 4)  // 4 code-length codes: 16, 17, 18, 0
        writer.bits(1, 3); writer.bits(0, 3); writer.bits(0, 3); writer.bits(1, 3)  // 0 → '0', 16 → '1'
        writer.huffman(1, 1)  // symbol 16
        writer.bits(0, 2)
        expectCorrupt(writer.bytes, "repeat code")
    }

    func testOutputLimitStopsABomb() throws {
        let archive = try ZipArchive(path: ZipFixtures.path("deflate-corpus.zip"))
        let bytes = try ZipFixtures.bytes("deflate-corpus.zip")
        let zeros = try XCTUnwrap(ZipFixtures.layout(bytes).first { $0.name == "zeros.bin" })
        let start = zeros.localName + zeros.nameLength + ZipFixtures.u16(bytes, zeros.local + 28)
        let compressed = Array(bytes[start ..< (start + (archive.entry(named: "zeros.bin")?.compressedSize ?? 0))])
        XCTAssertEqual(try Inflate.decompress(compressed, maxOutput: 100_000).count, 100_000)
        XCTAssertThrowsError(try Inflate.decompress(compressed, maxOutput: 99_999)) { error in
            XCTAssertEqual((error as? Inflate.Failure)?.kind, .outputLimit)
        }
    }

    func testRandomCorruptionNeverCrashesOrOverruns() throws {
        let inputs: [[UInt8]] = [
            [243, 72, 205, 201, 201, 87, 40, 201, 72, 45, 74, 213, 3, 0],
            [75, 76, 74, 78, 68, 69, 0],
        ]
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        for round in 0 ..< 3000 {
            var bytes = inputs[round % inputs.count]
            for _ in 0 ... Int(next() % 3) {
                let index = Int(next() % UInt64(bytes.count))
                bytes[index] ^= UInt8(truncatingIfNeeded: 1 << (next() % 8))
            }
            if next() % 4 == 0 { bytes.removeLast(Int(next() % UInt64(bytes.count))) }
            if let output = try? Inflate.decompress(bytes, maxOutput: 4096) {
                XCTAssertLessThanOrEqual(output.count, 4096)
            }
        }
        // Random garbage.
        for _ in 0 ..< 2000 {
            let bytes = (0 ..< Int(next() % 64)).map { _ in UInt8(truncatingIfNeeded: next()) }
            if let output = try? Inflate.decompress(bytes, maxOutput: 4096) {
                XCTAssertLessThanOrEqual(output.count, 4096)
            }
        }
    }
}

// MARK: - Zip archives

final class ZipArchiveTests: XCTestCase {
    let good = "spkrec-xvect-dim32.zip"

    func testListsEntriesInSortedOrderAndReadsThem() throws {
        let archive = try ZipArchive(path: ZipFixtures.path(good))
        let names = archive.entryNames
        XCTAssertEqual(names.first, "spkrec-xvect/")
        XCTAssertEqual(names.count, 11)
        XCTAssertEqual(names, names.sorted())
        XCTAssertEqual(archive.entry(named: "spkrec-xvect/")?.isDirectory, true)
        let bytes = try archive.contents(of: "spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy")
        XCTAssertEqual(bytes.count, 128 + 32 * 4)
        XCTAssertEqual(Array(bytes.prefix(6)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])
        expectInvalidZip({ _ = try archive.contents(of: "spkrec-xvect/nothing.npy") }, ["not in the archive"])
    }

    func testTruncatedOrNotAZip() throws {
        let bytes = try ZipFixtures.bytes(good)
        for length in [0, 3, 21, 100, bytes.count / 2, bytes.count - 1] {
            let path = try temporaryFile(Array(bytes.prefix(length)))
            XCTAssertThrowsError(try ZipArchive(path: path), "\(length) bytes") { error in
                guard case .invalidFile(let file, let reason)? = error as? SpeechT5Error else { return XCTFail("\(error)") }
                XCTAssertEqual(file, path)
                XCTAssertFalse(reason.isEmpty)
            }
        }
        let npy = try temporaryFile(Array(try ZipArchive(path: ZipFixtures.path(good))
                .contents(of: "spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy")), name: "x.zip")
        expectInvalidZip({ _ = try ZipArchive(path: npy) }, ["not a zip archive"])
        XCTAssertThrowsError(try ZipArchive(path: "/nonexistent/spkrec-xvect.zip")) { error in
            XCTAssertEqual(error as? SpeechT5Error, .fileNotFound(path: "/nonexistent/spkrec-xvect.zip"))
        }
    }

    func testBadCentralDirectory() throws {
        var bytes = try ZipFixtures.bytes(good)
        let end = ZipFixtures.endRecord(bytes)
        // The directory offset points past the end.
        var broken = bytes
        ZipFixtures.put32(&broken, end + 16, bytes.count + 100)
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(broken)) }, ["central directory"])
        // The directory claims more records than it holds.
        broken = bytes
        ZipFixtures.put16(&broken, end + 8, 40)
        ZipFixtures.put16(&broken, end + 10, 40)
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(broken)) }, ["central directory"])
        // A record's signature is damaged.
        let layout = ZipFixtures.layout(bytes)
        bytes[layout[3].central] = 0
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(bytes)) }, ["central directory is truncated or corrupt"])
    }

    func testLocalHeaderThatDisagreesOrPointsElsewhere() throws {
        var bytes = try ZipFixtures.bytes(good)
        let layout = ZipFixtures.layout(bytes)
        var broken = bytes
        ZipFixtures.put32(&broken, layout[2].central + 42, layout[3].local)  // points at another entry
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(broken)) }, ["local header names a different record"])
        ZipFixtures.put32(&bytes, layout[2].local + 14, 0x1234)  // local CRC differs
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(bytes)) }, ["disagrees with the central directory"])
    }

    /// Patches a 32-bit field in both the central record and the local header of entry `index`.
    func patched(_ field: (central: Int, local: Int), value: Int, entry index: Int) throws -> [UInt8] {
        var bytes = try ZipFixtures.bytes(good)
        let entry = ZipFixtures.layout(bytes)[index]
        ZipFixtures.put32(&bytes, entry.central + field.central, value)
        ZipFixtures.put32(&bytes, entry.local + field.local, value)
        return bytes
    }

    func testEntrySizesThatLie() throws {
        let uncompressed = (central: 24, local: 22), compressed = (central: 20, local: 18)
        let slt = 10  // spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy
        let name = "spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy"
        XCTAssertEqual(ZipFixtures.layout(try ZipFixtures.bytes(good))[slt].name, name)

        // Declares fewer bytes than the data inflates to.
        var archive = try ZipArchive(path: try temporaryFile(try patched(uncompressed, value: 100, entry: slt)))
        expectInvalidZip({ _ = try archive.contents(of: name) }, ["inflates to more than its declared 100 bytes"])
        // Declares more.
        archive = try ZipArchive(path: try temporaryFile(try patched(uncompressed, value: 1000, entry: slt)))
        expectInvalidZip({ _ = try archive.contents(of: name) }, ["inflates to 256 bytes but declares 1000"])
        // A declared ratio deflate cannot reach.
        archive = try ZipArchive(path: try temporaryFile(try patched(uncompressed, value: 900_000, entry: slt)))
        expectInvalidZip({ _ = try archive.contents(of: name) }, ["compression ratio"])
        // A compressed size that runs past the directory.
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try self.patched(compressed, value: 100_000, entry: slt))) },
                         ["runs past the end"])
        // A compressed size that runs into the next entry.
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try self.patched(compressed, value: 600, entry: 3))) },
                         ["overlap"])
    }

    func testCorruptDataFailsTheCRCOrTheDecoder() throws {
        var bytes = try ZipFixtures.bytes(good)
        let entry = ZipFixtures.layout(bytes)[10]
        let data = entry.localName + entry.nameLength + ZipFixtures.u16(bytes, entry.local + 28)
        bytes[data + 100] ^= 0x10
        let archive = try ZipArchive(path: try temporaryFile(bytes))
        XCTAssertThrowsError(try archive.contents(of: entry.name)) { error in
            guard case .invalidFile(_, let reason)? = error as? SpeechT5Error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("CRC-32") || reason.contains("corrupt deflate data") || reason.contains("inflates"), reason)
        }
        // Other entries still read.
        XCTAssertNoThrow(try archive.contents(of: ZipFixtures.layout(bytes)[1].name))
    }

    func testHostileNamesAreRefused() throws {
        func renamed(_ prefix: String) throws -> [UInt8] {
            var bytes = try ZipFixtures.bytes(good)
            let entry = ZipFixtures.layout(bytes)[4]
            for (i, byte) in prefix.utf8.enumerated() {
                bytes[entry.centralName + i] = byte
                bytes[entry.localName + i] = byte
            }
            return bytes
        }
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try renamed("../"))) }, ["climbs out of the archive", "hostile"])
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try renamed("a/../"))) }, ["climbs out"])
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try renamed("/"))) }, ["absolute path"])
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try renamed("a\\"))) }, ["backslash"])
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try renamed("C:"))) }, ["drive letter"])
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(try renamed("a\u{1}"))) }, ["control characters"])
        // Two entries with one name.
        var bytes = try ZipFixtures.bytes(good)
        let layout = ZipFixtures.layout(bytes)
        for i in 0 ..< layout[5].nameLength {
            bytes[layout[5].centralName + i] = bytes[layout[4].centralName + i]
            bytes[layout[5].localName + i] = bytes[layout[4].localName + i]
        }
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(bytes)) }, ["two records named"])
    }

    func testZipBombIsRefusedBySizeRatioAndTotal() throws {
        let bomb = try ZipArchive(path: ZipFixtures.path("bomb.zip"))
        let name = "spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy"
        XCTAssertEqual(bomb.entry(named: name)?.uncompressedSize, 8 << 20)
        expectInvalidZip({ _ = try bomb.contents(of: name, maxBytes: 1 << 20) }, ["declares 8388608 bytes, more than the 1048576-byte limit"])
        // An XVectorArchive reads it with its own (small) limit.
        XCTAssertThrowsError(try XVectorArchive(path: ZipFixtures.path("bomb.zip"))
            .vector(for: VoicePresets.defaultPreset, expectedDimension: 512)) { error in
            XCTAssertTrue("\(error)".contains("more than the 1048576-byte limit"), "\(error)")
        }
        let strict = try ZipArchive(path: ZipFixtures.path("bomb.zip"), limits: .init(maxCompressionRatio: 100))
        expectInvalidZip({ _ = try strict.contents(of: name) }, ["compression ratio", "zip bomb"])
        expectInvalidZip({ _ = try ZipArchive(path: ZipFixtures.path("bomb.zip"), limits: .init(maxTotalBytes: 1 << 20)) },
                         ["zip bomb"])
        // The bomb lying about its size stops at the declared size, long before 8 MiB.
        var bytes = try ZipFixtures.bytes("bomb.zip")
        let entry = ZipFixtures.layout(bytes)[0]
        ZipFixtures.put32(&bytes, entry.central + 24, 2176)
        ZipFixtures.put32(&bytes, entry.local + 22, 2176)
        let lying = try ZipArchive(path: try temporaryFile(bytes))
        expectInvalidZip({ _ = try lying.contents(of: name) }, ["inflates to more than its declared 2176 bytes"])
        // A file larger than the archive limit is not even read.
        expectInvalidZip({ _ = try ZipArchive(path: ZipFixtures.path("bomb.zip"), limits: .init(maxArchiveBytes: 1000)) },
                         ["more than the 1000-byte limit"])
    }

    func testUnsupportedMethodAndEncryption() throws {
        var bytes = try ZipFixtures.bytes(good)
        let entry = ZipFixtures.layout(bytes)[10]
        ZipFixtures.put16(&bytes, entry.central + 10, 12)
        ZipFixtures.put16(&bytes, entry.local + 8, 12)
        let archive = try ZipArchive(path: try temporaryFile(bytes))
        expectInvalidZip({ _ = try archive.contents(of: entry.name) }, ["compression method 12 (bzip2)"])

        bytes = try ZipFixtures.bytes(good)
        ZipFixtures.put16(&bytes, entry.central + 8, 1)
        expectInvalidZip({ _ = try ZipArchive(path: try temporaryFile(bytes)) }, ["encrypted"])
    }

    func testRandomCorruptionOfAWholeArchiveNeverCrashes() throws {
        let original = try ZipFixtures.bytes(good)
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("speecht5-zipfuzz-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("a.zip").path
        var opened = 0
        for _ in 0 ..< 400 {
            var bytes = original
            for _ in 0 ... next() % 4 { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let archive = try? ZipArchive(path: path) else { continue }
            opened += 1
            for name in archive.entryNames {
                do {
                    let contents = try archive.contents(of: name, maxBytes: 4096)
                    XCTAssertLessThanOrEqual(contents.count, 4096)
                } catch let error as SpeechT5Error {
                    guard case .invalidFile = error else { return XCTFail("\(error)") }
                }
            }
        }
        XCTAssertGreaterThan(opened, 0)
    }
}
