import Foundation

/// A SentencePiece `ModelProto` (the `.model` file), read with a hand-written protobuf wire-format parser.
///
/// Only what encoding needs is kept: the pieces, the `TrainerSpec` fields that change how text is encoded,
/// and the `NormalizerSpec`. Absent fields take their proto2 defaults, exactly as the C++ library sees them.
///
/// The file is untrusted: every varint, length and nested message is bounds-checked, and the model is
/// validated with the rules of sentencepiece's `ModelInterface::InitializePieces` plus the checks of the
/// normalizer, so that a model that loads here cannot make encoding fail or read out of bounds later.
///
/// Only `CHAR` models are accepted. SpeechT5's `spm_char.model` is one; unigram, BPE and word models need
/// their own segmentation algorithms, which this engine does not carry.
public struct SentencePieceModel: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    public enum PieceType: Int, Sendable {
        /// An ordinary vocabulary entry.
        case normal = 1
        /// The single piece that unknown text maps to (`<unk>`).
        case unknown = 2
        /// A meta symbol (`<s>`, `</s>`, `<pad>`) that text never produces by itself.
        case control = 3
        /// A symbol kept whole: never normalized nor split.
        case userDefined = 4
        /// Present but never produced by the segmenter's scoring (still looked up by `PieceToId`).
        case unused = 5
        /// A `<0xXX>` piece for byte fallback.
        case byte = 6
    }

    /// `TrainerSpec.ModelType`.
    public enum ModelType: Int, Sendable, CustomStringConvertible {
        /// Unigram language model (not supported here).
        case unigram = 1
        /// Byte-pair encoding (not supported here).
        case bpe = 2
        /// Whitespace-delimited words (not supported here).
        case word = 3
        /// One piece per character: SpeechT5's model type.
        case char = 4

        public var description: String {
            switch self {
            case .unigram: return "UNIGRAM"
            case .bpe: return "BPE"
            case .word: return "WORD"
            case .char: return "CHAR"
            }
        }
    }

    /// One vocabulary entry. Its id is its index in `pieces`.
    public struct Piece: Sendable {
        /// The piece exactly as stored. Proto2 `string` fields are not UTF-8-checked by the C++ library,
        /// so matching is done on these bytes, never on a decoded `String`.
        public let bytes: [UInt8]
        /// The log-probability the trainer gave the piece (unused by CHAR segmentation).
        public let score: Float
        /// How the piece takes part in encoding (unknown, control, normal, …).
        public let type: PieceType

        /// The piece as text (invalid UTF-8, which only a malformed model can hold, is repaired).
        public var string: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// The `TrainerSpec` fields that matter after training.
    public struct TrainerSpec: Sendable {
        /// The segmentation algorithm; only `.char` is accepted by `SentencePieceModel`.
        public var modelType: ModelType = .unigram
        /// The vocabulary size asked of the trainer (informative; `pieces.count` is authoritative).
        public var vocabSize: Int = 8000
        /// Puts the whitespace marker at the end of words instead of the start (normalizer dummy suffix).
        public var treatWhitespaceAsSuffix: Bool = false
        /// Unknown characters are written as `<0xXX>` byte pieces instead of `<unk>`.
        public var byteFallback: Bool = false
        /// Ids and strings of the meta pieces as the trainer recorded them (-1: absent). Encoding uses the
        /// piece types instead, as sentencepiece does.
        public var unkId: Int = 0
        public var bosId: Int = 1
        public var eosId: Int = 2
        public var padId: Int = -1
        public var unkPiece: String = "<unk>"
        public var bosPiece: String = "<s>"
        public var eosPiece: String = "</s>"
        public var padPiece: String = "<pad>"
    }

    /// `NormalizerSpec`: how raw text becomes the string that is segmented.
    public struct NormalizerSpec: Sendable {
        /// The rule the charsmap was compiled from (`nmt_nfkc` for SpeechT5), informative only.
        public var name: String = ""
        /// `uint32 trie size` + Darts double-array trie + NUL-terminated replacement strings. Empty means
        /// "no character mapping" (the `identity` rule).
        public var precompiledCharsmap: [UInt8] = []
        /// Prepend a space (`▁`) to non-empty text.
        public var addDummyPrefix: Bool = true
        /// Strip leading/trailing spaces and collapse runs.
        public var removeExtraWhitespaces: Bool = true
        /// Write spaces as `▁`.
        public var escapeWhitespaces: Bool = true
    }

    /// The vocabulary; a piece's id is its index.
    public let pieces: [Piece]
    /// Training settings that still affect encoding.
    public let trainerSpec: TrainerSpec
    /// Normalization settings and the precompiled character map.
    public let normalizerSpec: NormalizerSpec

    /// Pieces of type NORMAL, USER_DEFINED and UNUSED, by bytes (sentencepiece's `pieces_`).
    let normalPieceIds: [[UInt8]: Int]
    /// Pieces of the other types: CONTROL, UNKNOWN, BYTE (sentencepiece's `reserved_id_map_`).
    let reservedPieceIds: [[UInt8]: Int]
    /// The id of the single UNKNOWN piece.
    public let unknownId: Int
    /// USER_DEFINED pieces, which neither the normalizer nor the character splitter may cut.
    let userDefinedSymbols: [[UInt8]]

    /// Reads and validates a model file.
    public init(contentsOf path: String) throws {
        let bytes = try readFileBytes(path)
        try self.init(bytes: bytes, path: path)
    }

    /// Parses and validates a serialized `ModelProto`; `path` only labels errors.
    public init(bytes: [UInt8], path: String) throws {
        var reader = ProtobufReader(bytes: bytes, path: path)
        var pieces: [Piece] = []
        var trainer = TrainerSpec()
        var normalizer = NormalizerSpec()
        while let (field, wire) = try reader.readTag() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                var sub = try reader.readMessage(named: "ModelProto.pieces[\(pieces.count)]")
                pieces.append(try Self.parsePiece(&sub))
            case (2, .lengthDelimited):
                // A repeated singular message merges into the previous one (protobuf semantics).
                var sub = try reader.readMessage(named: "ModelProto.trainer_spec")
                try Self.parseTrainerSpec(&sub, into: &trainer)
            case (3, .lengthDelimited):
                var sub = try reader.readMessage(named: "ModelProto.normalizer_spec")
                try Self.parseNormalizerSpec(&sub, into: &normalizer)
            default:
                try reader.skip(wire, field: field)
            }
        }
        self.pieces = pieces
        self.trainerSpec = trainer
        self.normalizerSpec = normalizer

        guard trainer.modelType == .char else {
            throw SpeechT5Error.invalidFile(
                path: path,
                reason: "SentencePiece model type \(trainer.modelType) is not supported; only CHAR models "
                    + "(like SpeechT5's spm_char.model) are implemented")
        }

        // The rules of sentencepiece's ModelInterface::InitializePieces (use_reserved_id_map = true).
        var normal: [[UInt8]: Int] = [:]
        var reserved: [[UInt8]: Int] = [:]
        var unknown = -1
        var userDefined: [[UInt8]] = []
        var bytesFound = [Bool](repeating: false, count: 256)
        for (id, piece) in pieces.enumerated() {
            let label = "piece \(id)"
            guard !piece.bytes.isEmpty else {
                throw SpeechT5Error.invalidFile(path: path, reason: "\(label) is empty")
            }
            guard piece.bytes.count < 8000 else {
                throw SpeechT5Error.invalidFile(path: path, reason: "\(label) is too long (\(piece.bytes.count) bytes)")
            }
            guard !piece.bytes.contains(0) else {
                throw SpeechT5Error.invalidFile(path: path, reason: "\(label) contains a NUL byte")
            }
            switch piece.type {
            case .normal, .userDefined, .unused:
                guard normal.updateValue(id, forKey: piece.bytes) == nil else {
                    throw SpeechT5Error.invalidFile(path: path, reason: "\(label) '\(piece.string)' is defined twice")
                }
            case .unknown, .control, .byte:
                guard reserved.updateValue(id, forKey: piece.bytes) == nil else {
                    throw SpeechT5Error.invalidFile(path: path, reason: "\(label) '\(piece.string)' is defined twice")
                }
            }
            switch piece.type {
            case .userDefined:
                userDefined.append(piece.bytes)
            case .unknown:
                guard unknown < 0 else {
                    throw SpeechT5Error.invalidFile(path: path, reason: "more than one UNKNOWN piece (ids \(unknown) and \(id))")
                }
                unknown = id
            case .byte:
                guard trainer.byteFallback else {
                    throw SpeechT5Error.invalidFile(
                        path: path, reason: "\(label) is a BYTE piece although byte_fallback is false")
                }
                guard let value = byteValue(ofPiece: piece.bytes) else {
                    throw SpeechT5Error.invalidFile(path: path, reason: "\(label) '\(piece.string)' is not a valid byte piece")
                }
                bytesFound[value] = true
            default:
                break
            }
        }
        guard unknown >= 0 else {
            throw SpeechT5Error.invalidFile(path: path, reason: "the model has no UNKNOWN piece")
        }
        if trainer.byteFallback, bytesFound.contains(false) {
            throw SpeechT5Error.invalidFile(path: path, reason: "byte_fallback is set but not all 256 byte pieces exist")
        }
        self.normalPieceIds = normal
        self.reservedPieceIds = reserved
        self.unknownId = unknown
        self.userDefinedSymbols = userDefined
    }

    /// sentencepiece's `PieceToId`: reserved pieces first, then normal ones, else the unknown id.
    public func id(forPiece bytes: [UInt8]) -> Int {
        if let id = reservedPieceIds[bytes] { return id }
        if let id = normalPieceIds[bytes] { return id }
        return unknownId
    }

    /// sentencepiece's `PieceToId` for a piece given as text.
    public func id(forPiece piece: String) -> Int { id(forPiece: Array(piece.utf8)) }

    // MARK: - Message parsers

    private static func parsePiece(_ reader: inout ProtobufReader) throws -> Piece {
        var bytes: [UInt8] = []
        var score: Float = 0
        var type: PieceType = .normal
        while let (field, wire) = try reader.readTag() {
            switch (field, wire) {
            case (1, .lengthDelimited): bytes = try reader.readBytes()
            case (2, .fixed32): score = Float(bitPattern: try reader.readFixed32())
            case (3, .varint):
                // proto2 keeps an unknown enum value out of the field, which then stays at its default.
                if let value = PieceType(rawValue: Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try reader.readVarint()))) {
                    type = value
                }
            default: try reader.skip(wire, field: field)
            }
        }
        return Piece(bytes: bytes, score: score, type: type)
    }

    private static func parseTrainerSpec(_ reader: inout ProtobufReader, into spec: inout TrainerSpec) throws {
        while let (field, wire) = try reader.readTag() {
            switch (field, wire) {
            case (3, .varint):
                if let value = ModelType(rawValue: Int(try reader.readInt32())) { spec.modelType = value }
            case (4, .varint): spec.vocabSize = Int(try reader.readInt32())
            case (24, .varint): spec.treatWhitespaceAsSuffix = try reader.readVarint() != 0
            case (35, .varint): spec.byteFallback = try reader.readVarint() != 0
            case (40, .varint): spec.unkId = Int(try reader.readInt32())
            case (41, .varint): spec.bosId = Int(try reader.readInt32())
            case (42, .varint): spec.eosId = Int(try reader.readInt32())
            case (43, .varint): spec.padId = Int(try reader.readInt32())
            case (45, .lengthDelimited): spec.unkPiece = String(decoding: try reader.readBytes(), as: UTF8.self)
            case (46, .lengthDelimited): spec.bosPiece = String(decoding: try reader.readBytes(), as: UTF8.self)
            case (47, .lengthDelimited): spec.eosPiece = String(decoding: try reader.readBytes(), as: UTF8.self)
            case (48, .lengthDelimited): spec.padPiece = String(decoding: try reader.readBytes(), as: UTF8.self)
            default: try reader.skip(wire, field: field)
            }
        }
    }

    private static func parseNormalizerSpec(_ reader: inout ProtobufReader, into spec: inout NormalizerSpec) throws {
        while let (field, wire) = try reader.readTag() {
            switch (field, wire) {
            case (1, .lengthDelimited): spec.name = String(decoding: try reader.readBytes(), as: UTF8.self)
            case (2, .lengthDelimited): spec.precompiledCharsmap = try reader.readBytes()
            case (3, .varint): spec.addDummyPrefix = try reader.readVarint() != 0
            case (4, .varint): spec.removeExtraWhitespaces = try reader.readVarint() != 0
            case (5, .varint): spec.escapeWhitespaces = try reader.readVarint() != 0
            default: try reader.skip(wire, field: field)
            }
        }
    }
}

/// `<0x41>` → 0x41, as sentencepiece's `PieceToByte` (exactly two upper-case hex digits).
func byteValue(ofPiece bytes: [UInt8]) -> Int? {
    guard bytes.count == 6, bytes[0] == UInt8(ascii: "<"), bytes[1] == UInt8(ascii: "0"),
        bytes[2] == UInt8(ascii: "x"), bytes[5] == UInt8(ascii: ">")
    else { return nil }
    func hex(_ b: UInt8) -> Int? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(b - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(b - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
    guard let hi = hex(bytes[3]), let lo = hex(bytes[4]) else { return nil }
    return hi * 16 + lo
}

/// The `<0xXX>` piece for a byte (sentencepiece's `ByteToPiece`).
func bytePiece(_ byte: UInt8) -> [UInt8] {
    let digits = Array("0123456789ABCDEF".utf8)
    return [UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"),
            digits[Int(byte >> 4)], digits[Int(byte & 0xF)], UInt8(ascii: ">")]
}

/// Reads a whole file, mapping "absent" and "unreadable" to the engine's errors.
func readFileBytes(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw SpeechT5Error.fileNotFound(path: path)
    }
    guard !isDirectory.boolValue else {
        throw SpeechT5Error.invalidFile(path: path, reason: "is a directory, not a file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw SpeechT5Error.invalidFile(path: path, reason: "cannot be read")
    }
    return [UInt8](data)
}

// MARK: - Protobuf wire format

/// A cursor over one protobuf message inside a shared byte buffer. Every read is bounds-checked and
/// reports the byte offset of the problem, since the buffer is an untrusted file.
struct ProtobufReader {
    enum WireType: Int {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    /// Nested messages and groups deeper than this are rejected rather than recursed into.
    static let maxDepth = 64

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int
    private let depth: Int
    let path: String

    init(bytes: [UInt8], path: String) {
        self.init(bytes: bytes, range: 0..<bytes.count, depth: 0, path: path)
    }

    private init(bytes: [UInt8], range: Range<Int>, depth: Int, path: String) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.depth = depth
        self.path = path
    }

    private func fail(_ what: String, at offset: Int? = nil) -> SpeechT5Error {
        .invalidFile(path: path, reason: "malformed SentencePiece model: \(what) at byte \(offset ?? position)")
    }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func readTag() throws -> (Int, WireType)? {
        guard position < end else { return nil }
        let start = position
        let key = try readVarint()
        let field = key >> 3
        guard field > 0, field <= 0x1FFF_FFFF else { throw fail("invalid field number \(field)", at: start) }
        guard let wire = WireType(rawValue: Int(key & 7)) else {
            throw fail("invalid wire type \(key & 7)", at: start)
        }
        return (Int(field), wire)
    }

    mutating func readVarint() throws -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw fail("truncated varint", at: start) }
            let byte = bytes[position]
            position += 1
            if shift == 63, byte > 1 { throw fail("varint overflows 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes", at: start) }
        }
    }

    /// int32 fields are sign-extended to 64 bits on the wire; protobuf truncates them back.
    mutating func readInt32() throws -> Int32 {
        Int32(truncatingIfNeeded: try readVarint())
    }

    mutating func readFixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw fail("truncated fixed32") }
        var value: UInt32 = 0
        for k in 0..<4 { value |= UInt32(bytes[position + k]) << (8 * UInt32(k)) }
        position += 4
        return value
    }

    private mutating func readLength() throws -> Range<Int> {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw fail("length \(length) runs past the end of its message", at: start)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readBytes() throws -> [UInt8] {
        Array(bytes[try readLength()])
    }

    /// A reader over an embedded message (no copy of the bytes).
    mutating func readMessage(named name: String) throws -> ProtobufReader {
        guard depth < Self.maxDepth else { throw fail("messages nested too deeply (\(name))") }
        let range = try readLength()
        return ProtobufReader(bytes: bytes, range: range, depth: depth + 1, path: path)
    }

    /// Skips a field this parser does not use (proto2 keeps those as unknown fields).
    mutating func skip(_ wire: WireType, field: Int) throws {
        try skip(wire, field: field, depth: depth)
    }

    private mutating func skip(_ wire: WireType, field: Int, depth: Int) throws {
        switch wire {
        case .varint:
            _ = try readVarint()
        case .fixed64:
            guard end - position >= 8 else { throw fail("truncated fixed64") }
            position += 8
        case .fixed32:
            guard end - position >= 4 else { throw fail("truncated fixed32") }
            position += 4
        case .lengthDelimited:
            _ = try readLength()
        case .startGroup:
            guard depth < Self.maxDepth else { throw fail("groups nested too deeply") }
            while true {
                guard let (inner, innerWire) = try readTag() else { throw fail("unterminated group \(field)") }
                if innerWire == .endGroup {
                    guard inner == field else { throw fail("group \(field) closed by end-group \(inner)") }
                    return
                }
                try skip(innerWire, field: inner, depth: depth + 1)
            }
        case .endGroup:
            throw fail("unexpected end-group \(field)")
        }
    }
}
