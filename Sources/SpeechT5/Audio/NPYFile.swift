import Foundation

/// NumPy `.npy` files: the speaker-embedding format of `Matthijs/cmu-arctic-xvectors`, and a convenient
/// dump format for intermediate tensors.
public enum NPYFile {
    /// Largest file `read` accepts (the array is held in memory).
    public static let maxFileBytes = 1 << 31
    /// Largest header accepted (numpy itself refuses headers over 10 000 bytes by default).
    static let maxHeaderBytes = 1 << 20

    /// An array's element type as the header's `descr` gives it.
    enum ElementType: String {
        case float32 = "<f4"
        case float64 = "<f8"
        case int16 = "<i2"
        case int32 = "<i4"

        var size: Int {
            switch self {
            case .float32, .int32: return 4
            case .float64: return 8
            case .int16: return 2
            }
        }
    }

    /// Reads a little-endian float32 or float64 (or int16/int32, converted) C-order array, NPY format
    /// versions 1.0, 2.0, 3.0. Returns shape and Float values. Fortran order, big-endian, object arrays,
    /// pickles → clear `.invalidFile` error naming the problem.
    public static func read(path: String) throws -> (shape: [Int], values: [Float]) {
        let array = try readArray(path: path)
        return (array.shape, array.values)
    }

    /// `read`, also returning the element type.
    static func readArray(path: String, maxBytes: Int = maxFileBytes) throws
        -> (shape: [Int], values: [Float], type: ElementType)
    {
        let bytes = try BinaryFileIO.readFile(path, maxBytes: maxBytes, what: "NPY file")
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> (shape: [Int], values: [Float], type: ElementType) {
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: reason)
        }
        let reader = LittleEndianBytes(bytes)
        let magic: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 8, Array(bytes[0..<6]) == magic else {
            if bytes.count >= 2, bytes[0] == 0x80 {
                throw invalid("is a Python pickle, not an NPY array (pickles are not supported)")
            }
            if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4b {
                throw invalid("is a zip archive (an .npz or torch file), not an NPY array")
            }
            throw invalid("not an NPY file (missing \\x93NUMPY magic)")
        }
        guard let major = reader.u8(6), let minor = reader.u8(7) else {
            throw invalid("truncated NPY preamble")
        }
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            guard let length = reader.u16(8) else { throw invalid("truncated NPY header length") }
            headerLength = Int(length)
            headerStart = 10
        case 2, 3:
            guard let length = reader.u32(8) else { throw invalid("truncated NPY header length") }
            headerLength = Int(length)
            headerStart = 12
        default:
            throw invalid("unsupported NPY format version \(major).\(minor) (1.0, 2.0 and 3.0 are supported)")
        }
        guard minor == 0 else {
            throw invalid("unsupported NPY format version \(major).\(minor) (1.0, 2.0 and 3.0 are supported)")
        }
        guard headerLength <= maxHeaderBytes else {
            throw invalid("NPY header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        guard reader.contains(headerStart, headerLength) else {
            throw invalid("NPY header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        guard let headerText = String(bytes: headerBytes, encoding: .utf8) else {
            throw invalid("NPY header is not valid \(major == 3 ? "UTF-8" : "ASCII")")
        }
        if major < 3, headerBytes.contains(where: { $0 >= 0x80 }) {
            throw invalid("NPY header is not ASCII (only version 3.0 allows UTF-8)")
        }
        let header: Header
        do {
            header = try Header.parse(headerText)
        } catch let error as Header.ParseError {
            throw invalid("malformed NPY header: \(error.message)")
        }
        let type = try elementType(header.descr, invalid: invalid)
        if header.fortranOrder {
            throw invalid("Fortran-order (column-major) arrays are not supported; save with C order (np.ascontiguousarray)")
        }
        var count = 1
        for extent in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw invalid("NPY shape \(header.shape) has too many elements") }
            count = product
        }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        let (needed, overflow) = count.multipliedReportingOverflow(by: type.size)
        guard !overflow, needed <= available else {
            throw invalid("NPY shape \(header.shape) of \(type.rawValue) needs \(overflow ? "more" : String(needed)) data bytes but the file has \(available) (truncated?)")
        }
        guard needed == available else {
            throw invalid("NPY file has \(available - needed) bytes after the \(header.shape) array (corrupt?)")
        }
        let values = bytes.withUnsafeBytes { raw -> [Float] in
            guard let base = raw.baseAddress else { return [] }
            let start = base + dataStart
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                switch type {
                case .float32:
                    for i in 0..<count {
                        buffer[i] = Float(bitPattern: UInt32(littleEndian: start.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                case .float64:
                    for i in 0..<count {
                        buffer[i] = Float(Double(bitPattern: UInt64(littleEndian: start.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    }
                case .int16:
                    for i in 0..<count {
                        buffer[i] = Float(Int16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                    }
                case .int32:
                    for i in 0..<count {
                        buffer[i] = Float(Int32(littleEndian: start.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                    }
                }
                initialized = count
            }
        }
        return (header.shape, values, type)
    }

    private static func elementType(_ descr: Header.Descr, invalid: (String) -> SpeechT5Error) throws -> ElementType {
        guard case .simple(let text) = descr else {
            throw invalid("structured (record) arrays are not supported; expected a float32 or float64 array")
        }
        if let type = ElementType(rawValue: text) { return type }
        // Native byte order ('=') is little-endian on every platform this package runs on.
        #if _endian(little)
        if text.hasPrefix("="), let type = ElementType(rawValue: "<" + text.dropFirst()) { return type }
        #endif
        if text.hasPrefix(">") || text.hasPrefix("!") {
            throw invalid("big-endian arrays ('\(text)') are not supported; save with dtype '<\(text.dropFirst())'")
        }
        if text.contains("O") {
            throw invalid("object arrays ('\(text)') need pickle, which is not supported; save a float32 array")
        }
        throw invalid("unsupported NPY dtype '\(text)'; expected float32 ('<f4') or float64 ('<f8') (or int16/int32)")
    }

    /// Writes a float32 C-order NPY (version 1.0, header padded to a multiple of 64 bytes as numpy does).
    /// A shape that does not hold `values.count` elements → `.writeFailed`.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        var count = 1
        for extent in shape {
            guard extent >= 0 else {
                throw SpeechT5Error.writeFailed(path: path, reason: "shape \(shape) has a negative dimension")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw SpeechT5Error.writeFailed(path: path, reason: "shape \(shape) has too many elements")
            }
            count = product
        }
        guard count == values.count else {
            throw SpeechT5Error.writeFailed(path: path, reason: "shape \(shape) holds \(count) values but \(values.count) were given")
        }
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // magic (6) + version (2) + length (2) + header + '\n', padded with spaces to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        guard header.utf8.count <= Int(UInt16.max) else {
            throw SpeechT5Error.writeFailed(path: path, reason: "shape \(shape) has too many dimensions for an NPY 1.0 header")
        }
        var data = Data([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00])
        BinaryFileIO.append(UInt16(header.utf8.count), to: &data)
        BinaryFileIO.append(ascii: header, to: &data)
        data.reserveCapacity(data.count + 4 * values.count)
        for value in values {
            BinaryFileIO.append(value.bitPattern, to: &data)
        }
        try BinaryFileIO.writeAtomically(data, to: path)
    }
}

/// The Python-literal dictionary in an NPY header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`.
/// Parsed with a small strict tokenizer (never `eval`), accepting exactly the three keys numpy writes.
extension NPYFile {
    struct Header {
        enum Descr {
            case simple(String)
            case structured
        }

        struct ParseError: Error {
            let message: String
        }

        let descr: Descr
        let fortranOrder: Bool
        let shape: [Int]

        private enum Value {
            case string(String)
            case bool(Bool)
            case integer(Int)
            case tuple([Value])
            case list([Value])
            case dictionary
            case none
        }

        static func parse(_ text: String) throws -> Header {
            var parser = Parser(Array(text.unicodeScalars))
            parser.skipSpace()
            try parser.expect("{")
            var fields: [String: Value] = [:]
            while true {
                parser.skipSpace()
                if parser.consume("}") { break }
                guard case .string(let key) = try parser.value(depth: 0) else {
                    throw ParseError(message: "dictionary key is not a string")
                }
                parser.skipSpace()
                try parser.expect(":")
                let value = try parser.value(depth: 0)
                guard fields[key] == nil else { throw ParseError(message: "key '\(key)' appears twice") }
                fields[key] = value
                parser.skipSpace()
                if parser.consume(",") { continue }
                try parser.expect("}")
                break
            }
            parser.skipSpace()
            guard parser.atEnd else { throw ParseError(message: "text after the dictionary") }

            let expected: Set<String> = ["descr", "fortran_order", "shape"]
            guard Set(fields.keys) == expected else {
                let keys = fields.keys.sorted().joined(separator: ", ")
                throw ParseError(message: "keys are [\(keys)], expected exactly descr, fortran_order, shape")
            }
            let descr: Descr
            switch fields["descr"] {
            case .string(let text): descr = .simple(text)
            case .list: descr = .structured
            default: throw ParseError(message: "'descr' is not a dtype string")
            }
            guard case .bool(let fortran) = fields["fortran_order"] else {
                throw ParseError(message: "'fortran_order' is not True or False")
            }
            guard case .tuple(let dims) = fields["shape"] else {
                throw ParseError(message: "'shape' is not a tuple")
            }
            var shape: [Int] = []
            for dim in dims {
                guard case .integer(let extent) = dim, extent >= 0 else {
                    throw ParseError(message: "'shape' holds something other than non-negative integers")
                }
                shape.append(extent)
            }
            return Header(descr: descr, fortranOrder: fortran, shape: shape)
        }

        private struct Parser {
            let scalars: [Unicode.Scalar]
            var index = 0
            static let maxDepth = 8

            init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

            var atEnd: Bool { index >= scalars.count }

            mutating func skipSpace() {
                while index < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[index]) { index += 1 }
            }

            mutating func consume(_ c: Unicode.Scalar) -> Bool {
                if index < scalars.count, scalars[index] == c {
                    index += 1
                    return true
                }
                return false
            }

            mutating func expect(_ c: Unicode.Scalar) throws {
                guard consume(c) else {
                    throw ParseError(message: atEnd ? "unexpected end, expected '\(c)'" : "expected '\(c)' at offset \(index)")
                }
            }

            mutating func value(depth: Int) throws -> Value {
                guard depth <= Self.maxDepth else { throw ParseError(message: "nested too deeply") }
                skipSpace()
                guard index < scalars.count else { throw ParseError(message: "unexpected end of header") }
                let c = scalars[index]
                switch c {
                case "'", "\"":
                    return .string(try string(quote: c))
                case "(", "[":
                    let close: Unicode.Scalar = c == "(" ? ")" : "]"
                    index += 1
                    var items: [Value] = []
                    var sawComma = false
                    while true {
                        skipSpace()
                        if consume(close) { break }
                        items.append(try value(depth: depth + 1))
                        skipSpace()
                        if consume(",") { sawComma = true; continue }
                        try expect(close)
                        break
                    }
                    if c == "(" {
                        // `(3)` is just a parenthesized integer in Python; numpy always writes `(3,)`.
                        if items.count == 1 && !sawComma { return items[0] }
                        return .tuple(items)
                    }
                    return .list(items)
                case "{":
                    throw ParseError(message: "nested dictionaries are not supported")
                case "0"..."9", "-", "+":
                    return .integer(try integer())
                default:
                    if matchWord("True") { return .bool(true) }
                    if matchWord("False") { return .bool(false) }
                    if matchWord("None") { return .none }
                    throw ParseError(message: "unexpected character '\(c)' at offset \(index)")
                }
            }

            mutating func matchWord(_ word: String) -> Bool {
                let letters = Array(word.unicodeScalars)
                guard index + letters.count <= scalars.count,
                      Array(scalars[index..<(index + letters.count)]) == letters
                else { return false }
                let after = index + letters.count
                if after < scalars.count, scalars[after].properties.isAlphabetic || scalars[after] == "_" {
                    return false
                }
                index = after
                return true
            }

            mutating func string(quote: Unicode.Scalar) throws -> String {
                index += 1
                var result = String.UnicodeScalarView()
                while index < scalars.count {
                    let c = scalars[index]
                    index += 1
                    if c == quote { return String(result) }
                    if c == "\\" { throw ParseError(message: "escape sequences in strings are not supported") }
                    result.append(c)
                }
                throw ParseError(message: "unterminated string")
            }

            mutating func integer() throws -> Int {
                var negative = false
                if consume("-") { negative = true } else { _ = consume("+") }
                var value = 0
                var digits = 0
                while index < scalars.count, scalars[index].value >= 0x30, scalars[index].value <= 0x39 {
                    let digit = Int(scalars[index].value - 0x30)
                    let (times, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times.addingReportingOverflow(digit)
                    guard !o1, !o2 else { throw ParseError(message: "integer too large") }
                    value = sum
                    digits += 1
                    index += 1
                }
                guard digits > 0 else { throw ParseError(message: "expected digits at offset \(index)") }
                // Python 2 long suffix, as in headers written by old numpy: `(3L, 4L)`.
                _ = consume("L") || consume("l")
                if index < scalars.count, [".", "e", "E", "j", "x", "_"].contains(scalars[index]) {
                    throw ParseError(message: "shape holds a non-integer number")
                }
                return negative ? -value : value
            }
        }
    }
}
