import Foundation

/// Sample encodings the writer produces.
public enum SampleFormat: String, Sendable, CaseIterable {
    /// Signed 16-bit PCM.
    case s16
    /// 32-bit IEEE float.
    case f32

    /// Bytes per (mono) sample.
    var bytesPerSample: Int {
        switch self {
        case .s16: return 2
        case .f32: return 4
        }
    }
}

/// RIFF WAVE reading and writing.
public enum WAVFile {
    /// Largest file `read` accepts (a RIFF file cannot describe more than 4 GiB anyway).
    public static let maxFileBytes = Int(UInt32.max) + 1024
    /// Highest sample rate `read` accepts.
    public static let maxSampleRate = 1_000_000
    /// Highest channel count `read` accepts.
    public static let maxChannels = 1024

    /// Size marker for "unknown length" in streaming headers.
    static let unknownSize: UInt32 = 0xFFFF_FFFF

    // MARK: - Writing

    /// Encodes mono samples as a RIFF WAV: s16 = PCM 16-bit (clamped to [-1, 1], scaled by 32767, rounded;
    /// NaN becomes 0), f32 = WAVE_FORMAT_IEEE_FLOAT (format tag 3, with a `fact` chunk; values unchanged).
    public static func encode(_ samples: [Float], sampleRate: Int, format: SampleFormat) -> Data {
        let body = encodeSamples(samples, format: format)
        let (dataBytes, overflow) = samples.count.multipliedReportingOverflow(by: format.bytesPerSample)
        var data = header(
            sampleRate: sampleRate, format: format,
            dataBytes: overflow ? unknownSize : UInt32(clamping: dataBytes),
            frames: UInt32(clamping: samples.count))
        data.append(body)
        return data
    }

    /// A 44-byte (s16) / 58-byte (f32) header whose RIFF, data (and fact) sizes are 0xFFFFFFFF ("unknown"),
    /// for streaming to a pipe. `read` treats such a data chunk as running to the end of the file.
    public static func streamingHeader(sampleRate: Int, format: SampleFormat) -> Data {
        header(sampleRate: sampleRate, format: format, dataBytes: unknownSize, frames: unknownSize)
    }

    /// Encodes sample data without a header (for raw PCM output and streaming): little-endian s16 or f32.
    public static func encodeSamples(_ samples: [Float], format: SampleFormat) -> Data {
        let byteCount = samples.count * format.bytesPerSample
        var data = Data(count: byteCount)
        data.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            switch format {
            case .s16:
                for (i, sample) in samples.enumerated() {
                    base.storeBytes(of: UInt16(bitPattern: pcm16(sample)).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            case .f32:
                for (i, sample) in samples.enumerated() {
                    base.storeBytes(of: sample.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
        }
        return data
    }

    /// Writes atomically (temp file in the same directory + rename); errors → `.writeFailed`.
    public static func write(_ samples: [Float], sampleRate: Int, format: SampleFormat, to path: String) throws {
        guard sampleRate > 0, sampleRate <= Int(UInt32.max) / 4 else {
            throw SpeechT5Error.writeFailed(path: path, reason: "invalid sample rate \(sampleRate)")
        }
        let (dataBytes, overflow) = samples.count.multipliedReportingOverflow(by: format.bytesPerSample)
        guard !overflow, dataBytes <= Int(UInt32.max) - 64 else {
            throw SpeechT5Error.writeFailed(path: path, reason: "\(samples.count) samples are too many for a WAV file (4 GiB limit)")
        }
        try BinaryFileIO.writeAtomically(encode(samples, sampleRate: sampleRate, format: format), to: path)
    }

    /// One sample as 16-bit PCM: clamped to [-1, 1], scaled by 32767, rounded half away from zero.
    static func pcm16(_ sample: Float) -> Int16 {
        guard !sample.isNaN else { return 0 }
        let clamped = min(max(sample, -1), 1)
        return Int16((clamped * 32767).rounded(.toNearestOrAwayFromZero))
    }

    /// The RIFF chunk size: everything after the first 8 bytes, or "unknown" when the data size is.
    private static func riffSize(dataBytes: UInt32, headerBytes: UInt32) -> UInt32 {
        guard dataBytes != unknownSize else { return unknownSize }
        let (size, overflow) = dataBytes.addingReportingOverflow(headerBytes)
        return overflow ? unknownSize : size
    }

    private static func header(sampleRate: Int, format: SampleFormat, dataBytes: UInt32, frames: UInt32) -> Data {
        let rate = UInt32(clamping: sampleRate)
        let blockAlign = UInt16(format.bytesPerSample)
        let (byteRate, rateOverflow) = rate.multipliedReportingOverflow(by: UInt32(blockAlign))
        var data = Data()
        BinaryFileIO.append(ascii: "RIFF", to: &data)
        switch format {
        case .s16:
            BinaryFileIO.append(riffSize(dataBytes: dataBytes, headerBytes: 36), to: &data)
            BinaryFileIO.append(ascii: "WAVEfmt ", to: &data)
            BinaryFileIO.append(UInt32(16), to: &data)
            BinaryFileIO.append(UInt16(1), to: &data)  // WAVE_FORMAT_PCM
        case .f32:
            BinaryFileIO.append(riffSize(dataBytes: dataBytes, headerBytes: 50), to: &data)
            BinaryFileIO.append(ascii: "WAVEfmt ", to: &data)
            BinaryFileIO.append(UInt32(18), to: &data)
            BinaryFileIO.append(UInt16(3), to: &data)  // WAVE_FORMAT_IEEE_FLOAT
        }
        BinaryFileIO.append(UInt16(1), to: &data)  // mono
        BinaryFileIO.append(rate, to: &data)
        BinaryFileIO.append(rateOverflow ? UInt32.max : byteRate, to: &data)
        BinaryFileIO.append(blockAlign, to: &data)
        BinaryFileIO.append(UInt16(8 * format.bytesPerSample), to: &data)
        if format == .f32 {
            BinaryFileIO.append(UInt16(0), to: &data)  // cbSize
            BinaryFileIO.append(ascii: "fact", to: &data)
            BinaryFileIO.append(UInt32(4), to: &data)
            BinaryFileIO.append(frames, to: &data)
        }
        BinaryFileIO.append(ascii: "data", to: &data)
        BinaryFileIO.append(dataBytes, to: &data)
        return data
    }

    // MARK: - Reading

    /// Reads a WAV: PCM 8/16/24/32-bit and IEEE float 32/64, any channel count (mixed down to mono by
    /// averaging), WAVE_FORMAT_EXTENSIBLE; skips unknown chunks. Returns samples in [-1, 1] (float data is
    /// clamped, NaN becomes 0) and the sample rate. A data chunk whose size is 0xFFFFFFFF (a streaming
    /// header) runs to the end of the file. Hostile headers (sizes past EOF, zero channels, absurd rates,
    /// inconsistent block sizes) → `.invalidFile`.
    public static func read(path: String) throws -> (samples: [Float], sampleRate: Int) {
        let bytes = try BinaryFileIO.readFile(path, maxBytes: maxFileBytes, what: "WAV file")
        return try parse(bytes, path: path)
    }

    private enum Encoding {
        case pcm(bytes: Int)
        case float32
        case float64
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> (samples: [Float], sampleRate: Int) {
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidFile(path: path, reason: reason)
        }
        let reader = LittleEndianBytes(bytes)
        guard let riff = reader.tag(0), let wave = reader.tag(8) else {
            throw invalid("file is \(bytes.count) bytes, too short for a WAV file")
        }
        switch riff {
        case "RIFF": break
        case "RIFX": throw invalid("big-endian (RIFX) WAV files are not supported")
        case "RF64": throw invalid("RF64 WAV files are not supported")
        default: throw invalid("not a WAV file (no RIFF header)")
        }
        guard wave == "WAVE" else {
            throw invalid("RIFF file of type '\(wave)', not WAVE")
        }

        let end = bytes.count
        var offset = 12
        var fmt: Range<Int>?
        var data: Range<Int>?
        while fmt == nil || data == nil {
            guard let id = reader.tag(offset), let rawSize = reader.u32(offset + 4) else { break }
            let size = Int(rawSize)
            let body = offset + 8
            let (bodyEnd, overflow) = body.addingReportingOverflow(size)
            switch id {
            case "fmt ":
                guard !overflow, bodyEnd <= end else {
                    throw invalid("fmt chunk of \(size) bytes runs past the end of the file")
                }
                guard fmt == nil else { throw invalid("more than one fmt chunk") }
                fmt = body..<bodyEnd
            case "data":
                guard data == nil else { throw invalid("more than one data chunk") }
                if rawSize == unknownSize {
                    data = body..<end  // streaming header: the data runs to the end of the file
                } else {
                    guard !overflow, bodyEnd <= end else {
                        throw invalid("data chunk of \(size) bytes runs past the end of the file (\(end - body) bytes left; truncated?)")
                    }
                    data = body..<bodyEnd
                }
            default:
                guard !overflow, bodyEnd <= end else {
                    throw invalid("'\(id)' chunk of \(size) bytes runs past the end of the file")
                }
            }
            guard let range = id == "data" ? data : body..<bodyEnd, range.upperBound < end else { break }
            offset = range.upperBound + (size & 1)  // chunks are padded to even sizes
        }
        guard let fmt else { throw invalid("no fmt chunk") }
        guard let data else { throw invalid("no data chunk") }

        guard fmt.count >= 16,
              var tag = reader.u16(fmt.lowerBound),
              let channelCount = reader.u16(fmt.lowerBound + 2),
              let rate = reader.u32(fmt.lowerBound + 4),
              let blockAlign = reader.u16(fmt.lowerBound + 12),
              let bits = reader.u16(fmt.lowerBound + 14)
        else {
            throw invalid("fmt chunk is \(fmt.count) bytes, shorter than the 16 bytes of a WAVEFORMAT")
        }
        if tag == 0xFFFE {
            // WAVE_FORMAT_EXTENSIBLE: cbSize, valid bits, channel mask, then the SubFormat GUID whose first
            // two bytes are the real format tag.
            let guidSuffix: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
            guard fmt.count >= 40, let subformat = reader.u16(fmt.lowerBound + 24) else {
                throw invalid("WAVE_FORMAT_EXTENSIBLE fmt chunk is \(fmt.count) bytes, shorter than 40")
            }
            guard Array(bytes[(fmt.lowerBound + 26)..<(fmt.lowerBound + 40)]) == guidSuffix else {
                throw invalid("WAVE_FORMAT_EXTENSIBLE with an unknown SubFormat GUID")
            }
            tag = subformat
        }
        let channels = Int(channelCount)
        guard channels >= 1 else { throw invalid("fmt chunk declares 0 channels") }
        guard channels <= maxChannels else {
            throw invalid("fmt chunk declares \(channels) channels (more than \(maxChannels))")
        }
        guard rate >= 1, Int(rate) <= maxSampleRate else {
            throw invalid("sample rate \(rate) Hz is out of range (1...\(maxSampleRate))")
        }
        let encoding: Encoding
        switch (tag, bits) {
        case (1, 8), (1, 16), (1, 24), (1, 32): encoding = .pcm(bytes: Int(bits) / 8)
        case (3, 32): encoding = .float32
        case (3, 64): encoding = .float64
        case (1, _), (3, _):
            throw invalid("\(tag == 1 ? "PCM" : "float") with \(bits) bits per sample is not supported")
        default:
            let names: [UInt16: String] = [2: "MS ADPCM", 6: "A-law", 7: "mu-law", 0x11: "IMA ADPCM", 0x55: "MP3"]
            let name = names[tag].map { " (\($0))" } ?? ""
            throw invalid("unsupported WAV encoding: format tag \(tag)\(name); expected PCM or IEEE float")
        }
        let sampleBytes = Int(bits) / 8
        guard Int(blockAlign) == channels * sampleBytes else {
            throw invalid("block align \(blockAlign) does not match \(channels) channel(s) of \(bits)-bit samples")
        }
        let frameBytes = Int(blockAlign)
        let frames = data.count / frameBytes  // a trailing partial frame is ignored
        let scale = 1 / Float(channels)

        let samples = bytes.withUnsafeBytes { raw -> [Float] in
            guard let base = raw.baseAddress else { return [] }
            let start = base + data.lowerBound
            return [Float](unsafeUninitializedCapacity: frames) { buffer, initialized in
                for frame in 0..<frames {
                    var sum: Double = 0
                    for channel in 0..<channels {
                        let at = frame * frameBytes + channel * sampleBytes
                        sum += Double(sampleValue(start, at, encoding))
                    }
                    buffer[frame] = channels == 1 ? Float(sum) : Float(sum) * scale
                }
                initialized = frames
            }
        }
        return (samples, Int(rate))
    }

    /// One sample in [-1, 1].
    private static func sampleValue(_ start: UnsafeRawPointer, _ at: Int, _ encoding: Encoding) -> Float {
        switch encoding {
        case .pcm(bytes: 1):
            return (Float(start.load(fromByteOffset: at, as: UInt8.self)) - 128) / 128
        case .pcm(bytes: 2):
            return Float(Int16(littleEndian: start.loadUnaligned(fromByteOffset: at, as: Int16.self))) / 32768
        case .pcm(bytes: 3):
            let b0 = UInt32(start.load(fromByteOffset: at, as: UInt8.self))
            let b1 = UInt32(start.load(fromByteOffset: at + 1, as: UInt8.self))
            let b2 = UInt32(start.load(fromByteOffset: at + 2, as: UInt8.self))
            let value = Int32(bitPattern: (b0 << 8) | (b1 << 16) | (b2 << 24)) >> 8
            return Float(value) / 8_388_608
        case .pcm:
            let value = Int32(littleEndian: start.loadUnaligned(fromByteOffset: at, as: Int32.self))
            return Float(Double(value) / 2_147_483_648)
        case .float32:
            return clampFloat(Float(bitPattern: UInt32(littleEndian: start.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
        case .float64:
            return clampFloat(Float(Double(bitPattern: UInt64(littleEndian: start.loadUnaligned(fromByteOffset: at, as: UInt64.self)))))
        }
    }

    private static func clampFloat(_ value: Float) -> Float {
        value.isNaN ? 0 : min(max(value, -1), 1)
    }
}
