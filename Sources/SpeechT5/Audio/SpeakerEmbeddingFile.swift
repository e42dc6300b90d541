import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Speaker x-vectors on disk (section 9: `[512]` float32 `.npy` files from `Matthijs/cmu-arctic-xvectors`).
public enum SpeakerEmbeddingFile {
    /// Loads an x-vector: `.npy` (float32/float64, shape `[S]` or `[1, S]`) or raw little-endian float32
    /// `.bin`. Any other extension is an error naming the accepted ones. Checks that the count equals
    /// `expectedDimension` and that every value is finite. A missing file → `.fileNotFound`; every other
    /// problem → `.invalidSpeaker` naming the file.
    public static func load(path: String, expectedDimension: Int) throws -> [Float] {
        guard expectedDimension > 0 else {
            throw SpeechT5Error.invalidArgument(
                name: "expectedDimension", reason: "must be positive, got \(expectedDimension)")
        }
        func invalid(_ reason: String) -> SpeechT5Error {
            .invalidSpeaker(reason: "\(path): \(reason)")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        let values: [Float]
        switch ext {
        case "npy":
            // Generous bound: header + float64 data, so a huge file is refused before it is read.
            let (limit, overflow) = expectedDimension.multipliedReportingOverflow(by: 8)
            let maxBytes = overflow ? Int.max : limit.addingReportingOverflow(NPYFile.maxHeaderBytes + 64).partialValue
            let array: (shape: [Int], values: [Float], type: NPYFile.ElementType)
            do {
                array = try NPYFile.readArray(path: path, maxBytes: maxBytes)
            } catch SpeechT5Error.invalidFile(_, let reason) {
                throw invalid(reason)
            }
            guard array.type == .float32 || array.type == .float64 else {
                throw invalid("NPY dtype \(array.type.rawValue) is not a float array; expected float32 or float64")
            }
            let count = array.values.count
            guard array.shape.count == 1 || (array.shape.count == 2 && array.shape[0] == 1) else {
                throw invalid("has shape \(array.shape); expected [\(expectedDimension)] or [1, \(expectedDimension)]")
            }
            guard count == expectedDimension else {
                throw invalid("has \(count) values, the model expects \(expectedDimension)")
            }
            values = array.values
        case "bin":
            let (expectedBytes, _) = expectedDimension.multipliedReportingOverflow(by: 4)
            let bytes: [UInt8]
            do {
                // Check the size first, so a wrong-length file is refused without reading it.
                let (fd, size) = try BinaryFileIO.openRegularFile(path)
                close(fd)
                guard size % 4 == 0 else {
                    throw invalid("is \(size) bytes, not a whole number of float32 values")
                }
                guard size == expectedBytes else {
                    throw invalid("has \(size / 4) values, the model expects \(expectedDimension)")
                }
                bytes = try BinaryFileIO.readFile(path, maxBytes: expectedBytes, what: "speaker embedding")
            } catch SpeechT5Error.invalidFile(_, let reason) {
                throw invalid(reason)
            }
            guard bytes.count == expectedBytes else {
                throw invalid("has \(bytes.count / 4) values, the model expects \(expectedDimension)")
            }
            let reader = LittleEndianBytes(bytes)
            values = (0..<expectedDimension).map { i in Float(bitPattern: reader.u32(4 * i) ?? 0) }
        default:
            let shown = ext.isEmpty ? "no extension" : "extension '.\(ext)'"
            throw invalid("unsupported speaker embedding file (\(shown)); use a .npy array or a raw little-endian float32 .bin")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw invalid("value \(bad) is \(values[bad].isNaN ? "NaN" : "infinite"); an x-vector must be finite")
        }
        return values
    }
}
