import Foundation

/// Incremental SHA-256 (FIPS 180-4). The hub's etag for an LFS file is the SHA-256 of its content.
struct SHA256Hasher {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var pending = BlockBuffer()
    private var length: UInt64 = 0

    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    mutating func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let copy = Array(bytes)
        copy.withUnsafeBytes { update(raw: $0) }
    }

    mutating func update(_ data: Data) {
        data.withUnsafeBytes { update(raw: $0) }
    }

    mutating func update(raw: UnsafeRawBufferPointer) {
        length &+= UInt64(raw.count)
        var buffer = pending
        buffer.feed(raw) { block in compress(block) }
        pending = buffer
    }

    mutating func finalize() -> [UInt8] {
        let padding = BlockBuffer.padding(messageLength: length)
        var buffer = pending
        padding.withUnsafeBytes { raw in buffer.feed(raw) { block in compress(block) } }
        pending = buffer
        return [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7].flatMap(bigEndianBytes)
    }

    private mutating func compress(_ block: UnsafeRawPointer) {
        var (a, b, c, d, e, f, g, h) = state
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
            SHA256Hasher.k.withUnsafeBufferPointer { constants in
                guard let w = schedule.baseAddress, let k = constants.baseAddress else { return }
                for i in 0 ..< 16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
                var i = 16
                while i < 64 {
                    let x = w[i - 15], y = w[i - 2]
                    let s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)
                    let s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >> 10)
                    w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                    i += 1
                }
                i = 0
                while i < 64 {
                    let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                    let choice = (e & f) ^ (~e & g)
                    let t1 = h &+ s1 &+ choice &+ k[i] &+ w[i]
                    let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                    let majority = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ majority
                    h = g; g = f; f = e; e = d &+ t1
                    d = c; c = b; b = a; a = t1 &+ t2
                    i += 1
                }
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
                 state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
    }
}

/// Incremental SHA-1. The hub's etag for a regular (non-LFS) file is git's blob id:
/// `sha1("blob <size>\0" + content)`.
struct SHA1Hasher {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
    private var pending = BlockBuffer()
    private var length: UInt64 = 0

    mutating func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let copy = Array(bytes)
        copy.withUnsafeBytes { update(raw: $0) }
    }

    mutating func update(_ data: Data) {
        data.withUnsafeBytes { update(raw: $0) }
    }

    mutating func update(raw: UnsafeRawBufferPointer) {
        length &+= UInt64(raw.count)
        var buffer = pending
        buffer.feed(raw) { block in compress(block) }
        pending = buffer
    }

    mutating func finalize() -> [UInt8] {
        let padding = BlockBuffer.padding(messageLength: length)
        var buffer = pending
        padding.withUnsafeBytes { raw in buffer.feed(raw) { block in compress(block) } }
        pending = buffer
        return [state.0, state.1, state.2, state.3, state.4].flatMap(bigEndianBytes)
    }

    private mutating func compress(_ block: UnsafeRawPointer) {
        var (a, b, c, d, e) = state
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { schedule in
            guard let w = schedule.baseAddress else { return }
            for i in 0 ..< 16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
            var i = 16
            while i < 80 {
                w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)
                i += 1
            }
            i = 0
            while i < 80 {
                let f: UInt32, k: UInt32
                if i < 20 {
                    f = (b & c) | (~b & d); k = 0x5A827999
                } else if i < 40 {
                    f = b ^ c ^ d; k = 0x6ED9EBA1
                } else if i < 60 {
                    f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                } else {
                    f = b ^ c ^ d; k = 0xCA62C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = rotl(b, 30); b = a; a = temp
                i += 1
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
    }
}

/// Collects input into 64-byte blocks for the hashers; whole blocks of the input are passed through
/// without copying.
private struct BlockBuffer {
    private var bytes = [UInt8](repeating: 0, count: 64)
    private var count = 0

    mutating func feed(_ raw: UnsafeRawBufferPointer, _ compress: (UnsafeRawPointer) -> Void) {
        guard var source = raw.baseAddress, !raw.isEmpty else { return }
        var remaining = raw.count
        if count > 0 {
            let take = min(64 - count, remaining)
            let offset = count
            bytes.withUnsafeMutableBytes { buffer in
                if let base = buffer.baseAddress { (base + offset).copyMemory(from: source, byteCount: take) }
            }
            count += take
            source += take
            remaining -= take
            if count < 64 { return }
            bytes.withUnsafeBytes { buffer in if let base = buffer.baseAddress { compress(base) } }
            count = 0
        }
        while remaining >= 64 {
            compress(source)
            source += 64
            remaining -= 64
        }
        if remaining > 0 {
            let tail = remaining
            bytes.withUnsafeMutableBytes { buffer in
                if let base = buffer.baseAddress { base.copyMemory(from: source, byteCount: tail) }
            }
            count = remaining
        }
    }

    /// The Merkle-Damgard padding for a message of `messageLength` bytes (0x80, zeros, 64-bit bit length).
    static func padding(messageLength: UInt64) -> [UInt8] {
        let used = Int(messageLength % 64)
        let zeros = used < 56 ? 55 - used : 119 - used
        var padding: [UInt8] = [0x80] + [UInt8](repeating: 0, count: zeros)
        let bits = messageLength &* 8
        for shift in stride(from: 56, through: 0, by: -8) { padding.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        return padding
    }
}

@inline(__always) private func rotr(_ value: UInt32, _ count: UInt32) -> UInt32 { (value >> count) | (value << (32 - count)) }
@inline(__always) private func rotl(_ value: UInt32, _ count: UInt32) -> UInt32 { (value << count) | (value >> (32 - count)) }

private func bigEndianBytes(_ word: UInt32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: word >> 24), UInt8(truncatingIfNeeded: word >> 16),
     UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
}

/// Lower-case hexadecimal of a digest.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return text
}

enum FileDigest {
    /// SHA-256 of a file's content and git's blob id (`sha1("blob <size>\0" + content)`), in one pass.
    static func compute(path: String, wantSHA256: Bool, wantGitSHA1: Bool) throws -> (sha256: String?, gitSHA1: String?) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SpeechT5Error.fileNotFound(path: path)
        }
        defer { try? handle.close() }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        var sha256 = SHA256Hasher()
        var sha1 = SHA1Hasher()
        if wantGitSHA1 { sha1.update(Array("blob \(size)\0".utf8)) }
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            if wantSHA256 { sha256.update(chunk) }
            if wantGitSHA1 { sha1.update(chunk) }
        }
        return (wantSHA256 ? hexString(sha256.finalize()) : nil, wantGitSHA1 ? hexString(sha1.finalize()) : nil)
    }
}
