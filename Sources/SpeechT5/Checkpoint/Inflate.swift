import Foundation

/// A raw DEFLATE (RFC 1951) decoder for zip entries, written for untrusted input: every read is
/// bounds-checked, every code table is validated before use, distances may not reach before the start of
/// the output, and the output may not grow past a caller-given limit (so a "zip bomb" stops at the limit
/// instead of filling memory). It follows the structure of zlib's reference decoder `puff.c`.
enum Inflate {
    /// Why a stream was refused.
    struct Failure: Error, Equatable, CustomStringConvertible {
        enum Kind: Equatable {
            /// The stream is malformed or truncated.
            case corrupt
            /// The output would exceed the limit.
            case outputLimit
        }

        let kind: Kind
        let reason: String

        var description: String { reason }

        static func corrupt(_ reason: String) -> Failure { Failure(kind: .corrupt, reason: reason) }
    }

    /// Decodes the raw deflate stream in `input` (no zlib or gzip wrapper). Throws ``Failure`` with kind
    /// `.outputLimit` as soon as the output would hold more than `maxOutput` bytes. Bytes after the final
    /// block are ignored, as zlib does.
    static func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        var state = State(input: input, maxOutput: max(0, maxOutput))
        try state.run()
        return state.output
    }

    /// ``decompress(_:maxOutput:)`` over an array.
    static func decompress(_ input: [UInt8], maxOutput: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0, maxOutput: maxOutput) }
    }

    // MARK: - Tables

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
                                    115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
                                      1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11,
                                       12, 12, 13, 13]
    /// The order in which code-length code lengths are sent.
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
    static let maxBits = 15
    static let maxLiteralLengthCodes = 286
    static let maxDistanceCodes = 30
    static let fixedLiteralLengthCodes = 288

    /// A canonical Huffman code: how many codes of each length, and the symbols in code order.
    struct Huffman {
        var counts = [Int](repeating: 0, count: Inflate.maxBits + 1)
        var symbols: [Int]

        /// Builds the code for `lengths` (0 = symbol unused). Returns the code and how many codes are left
        /// unused: 0 for a complete code, > 0 for an incomplete one. An over-subscribed set of lengths (more
        /// codes than lengths allow) is an error.
        static func build(_ lengths: ArraySlice<Int>) throws -> (Huffman, left: Int) {
            var code = Huffman(symbols: [Int](repeating: 0, count: lengths.count))
            for length in lengths {
                guard (0 ... Inflate.maxBits).contains(length) else { throw Failure.corrupt("code length \(length) is out of range") }
                code.counts[length] += 1
            }
            if code.counts[0] == lengths.count { return (code, 0) }  // no codes: complete, but decoding fails
            var left = 1
            for length in 1 ... Inflate.maxBits {
                left <<= 1
                left -= code.counts[length]
                if left < 0 { throw Failure.corrupt("over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: Inflate.maxBits + 1)
            for length in 1 ..< Inflate.maxBits {
                offsets[length + 1] = offsets[length] + code.counts[length]
            }
            for (symbol, length) in lengths.enumerated() where length != 0 {
                code.symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
            return (code, left)
        }
    }

    // MARK: - Decoder state

    struct State {
        let input: UnsafeRawBufferPointer
        let maxOutput: Int
        var position = 0
        var bitBuffer: UInt32 = 0
        var bitCount = 0
        var output: [UInt8] = []

        init(input: UnsafeRawBufferPointer, maxOutput: Int) {
            self.input = input
            self.maxOutput = maxOutput
            output.reserveCapacity(min(maxOutput, 1 << 20))
        }

        /// The next `count` (0…16) bits, least significant first.
        mutating func bits(_ count: Int) throws -> Int {
            var value = bitBuffer
            while bitCount < count {
                guard position < input.count else { throw Failure.corrupt("the deflate stream is truncated") }
                value |= UInt32(input[position]) << UInt32(bitCount)
                position += 1
                bitCount += 8
            }
            bitBuffer = value >> UInt32(count)
            bitCount -= count
            return Int(value & ((1 << UInt32(count)) - 1))
        }

        mutating func append(_ byte: UInt8) throws {
            guard output.count < maxOutput else {
                throw Failure(kind: .outputLimit, reason: "the data inflates to more than \(maxOutput) bytes")
            }
            output.append(byte)
        }

        mutating func run() throws {
            var last = false
            while !last {
                last = try bits(1) == 1
                switch try bits(2) {
                case 0: try storedBlock()
                case 1: try fixedBlock()
                case 2: try dynamicBlock()
                default: throw Failure.corrupt("invalid deflate block type 3")
                }
            }
        }

        mutating func storedBlock() throws {
            // Skip to the byte boundary; the bit buffer never holds a whole unread byte.
            bitBuffer = 0
            bitCount = 0
            guard position + 4 <= input.count else { throw Failure.corrupt("the deflate stream is truncated in a stored block header") }
            let length = Int(input[position]) | Int(input[position + 1]) << 8
            let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
            position += 4
            guard length == (~complement & 0xffff) else {
                throw Failure.corrupt("stored block length \(length) does not match its complement")
            }
            guard length <= input.count - position else { throw Failure.corrupt("the deflate stream is truncated in a stored block") }
            guard length <= maxOutput - output.count else {
                throw Failure(kind: .outputLimit, reason: "the data inflates to more than \(maxOutput) bytes")
            }
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[position ..< (position + length)]))
            position += length
        }

        mutating func decode(_ code: Huffman) throws -> Int {
            var value = 0, first = 0, index = 0
            for length in 1 ... Inflate.maxBits {
                value |= try bits(1)
                let count = code.counts[length]
                if value - count < first { return code.symbols[index + (value - first)] }
                index += count
                first += count
                first <<= 1
                value <<= 1
            }
            throw Failure.corrupt("invalid Huffman code in the deflate stream")
        }

        mutating func codes(_ literalLength: Huffman, _ distance: Huffman) throws {
            while true {
                let symbol = try decode(literalLength)
                if symbol < 256 {
                    try append(UInt8(symbol))
                } else if symbol == 256 {
                    return
                } else {
                    let lengthIndex = symbol - 257
                    guard lengthIndex < Inflate.lengthBase.count else {
                        throw Failure.corrupt("invalid length symbol \(symbol)")
                    }
                    let length = Inflate.lengthBase[lengthIndex] + (try bits(Inflate.lengthExtra[lengthIndex]))
                    let distanceSymbol = try decode(distance)
                    guard distanceSymbol < Inflate.distanceBase.count else {
                        throw Failure.corrupt("invalid distance symbol \(distanceSymbol)")
                    }
                    let back = Inflate.distanceBase[distanceSymbol] + (try bits(Inflate.distanceExtra[distanceSymbol]))
                    guard back <= output.count else {
                        throw Failure.corrupt("a back-reference reaches \(back) bytes back, before the start of the data")
                    }
                    guard length <= maxOutput - output.count else {
                        throw Failure(kind: .outputLimit, reason: "the data inflates to more than \(maxOutput) bytes")
                    }
                    var from = output.count - back
                    for _ in 0 ..< length {
                        output.append(output[from])
                        from += 1
                    }
                }
            }
        }

        static let fixedCodes: (Huffman, Huffman)? = {
            var lengths = [Int](repeating: 8, count: Inflate.fixedLiteralLengthCodes)
            for symbol in 144 ..< 256 { lengths[symbol] = 9 }
            for symbol in 256 ..< 280 { lengths[symbol] = 7 }
            let distances = [Int](repeating: 5, count: Inflate.maxDistanceCodes)
            guard let literal = try? Huffman.build(lengths[...]).0, let distance = try? Huffman.build(distances[...]).0 else {
                return nil
            }
            return (literal, distance)
        }()

        mutating func fixedBlock() throws {
            guard let (literal, distance) = State.fixedCodes else { throw Failure.corrupt("internal error: fixed codes") }
            try codes(literal, distance)
        }

        mutating func dynamicBlock() throws {
            let literalCount = try bits(5) + 257
            let distanceCount = try bits(5) + 1
            let codeLengthCount = try bits(4) + 4
            guard literalCount <= Inflate.maxLiteralLengthCodes, distanceCount <= Inflate.maxDistanceCodes else {
                throw Failure.corrupt("dynamic block declares too many codes (\(literalCount) literal/length, \(distanceCount) distance)")
            }
            var codeLengthLengths = [Int](repeating: 0, count: 19)
            for index in 0 ..< codeLengthCount {
                codeLengthLengths[Inflate.codeLengthOrder[index]] = try bits(3)
            }
            let (codeLengthCode, codeLengthLeft) = try Huffman.build(codeLengthLengths[...])
            guard codeLengthLeft == 0 else { throw Failure.corrupt("incomplete code-length code in a dynamic block") }

            var lengths = [Int](repeating: 0, count: literalCount + distanceCount)
            var index = 0
            while index < lengths.count {
                let symbol = try decode(codeLengthCode)
                if symbol < 16 {
                    lengths[index] = symbol
                    index += 1
                    continue
                }
                var value = 0
                let repeatCount: Int
                switch symbol {
                case 16:
                    guard index > 0 else { throw Failure.corrupt("a repeat code comes before any code length") }
                    value = lengths[index - 1]
                    repeatCount = 3 + (try bits(2))
                case 17:
                    repeatCount = 3 + (try bits(3))
                default:
                    repeatCount = 11 + (try bits(7))
                }
                guard repeatCount <= lengths.count - index else {
                    throw Failure.corrupt("code lengths repeat past the end of the dynamic block header")
                }
                for _ in 0 ..< repeatCount {
                    lengths[index] = value
                    index += 1
                }
            }
            guard lengths[256] != 0 else { throw Failure.corrupt("dynamic block has no end-of-block code") }
            let (literal, literalLeft) = try Huffman.build(lengths[0 ..< literalCount])
            guard literalLeft == 0 || literalCount - literal.counts[0] == 1 else {
                throw Failure.corrupt("incomplete literal/length code in a dynamic block")
            }
            let (distance, distanceLeft) = try Huffman.build(lengths[literalCount...])
            guard distanceLeft == 0 || distanceCount - distance.counts[0] == 1 else {
                throw Failure.corrupt("incomplete distance code in a dynamic block")
            }
            try codes(literal, distance)
        }
    }
}
