import Foundation

/// A read-only, private memory mapping of a whole regular file, unmapped when the last reference goes.
/// Checkpoint readers keep one so that weights can be read (or used in place) without copying the file.
final class MappedFile: @unchecked Sendable {
    /// Start of the mapping.
    let base: UnsafeRawPointer
    /// Length of the mapping: the file's size when it was opened.
    let size: Int

    /// Maps `path`, which must be a regular file of at least `minimumSize` bytes; `tooShort` words the error.
    init(path: String, minimumSize: Int, tooShort: (Int) -> String) throws {
        let (fd, size) = try BinaryFileIO.openRegularFile(path)
        defer { close(fd) }
        guard size >= max(1, minimumSize) else {
            throw SpeechT5Error.invalidFile(path: path, reason: tooShort(size))
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapping != MAP_FAILED else {
            throw SpeechT5Error.invalidFile(path: path, reason: "cannot map file: \(BinaryFileIO.errnoMessage())")
        }
        self.base = UnsafeRawPointer(mapping)
        self.size = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }
}
