import Foundation
#if canImport(COpenBLAS)
import COpenBLAS
#endif

/// Thread settings of the kernels.
public enum Threading {
    /// Sets the number of threads the kernels use (`nil`: `SPEECHT5_THREADS`, else every core) and
    /// returns the number in effect.
    @discardableResult
    public static func configure(threads: Int?) -> Int {
        let environment = ProcessInfo.processInfo.environment["SPEECHT5_THREADS"].flatMap(Int.init)
        let count = max(1, threads ?? environment ?? ProcessInfo.processInfo.activeProcessorCount)
        #if canImport(COpenBLAS)
        openblas_set_num_threads(Int32(count))
        #endif
        current = count
        return count
    }

    /// Threads in effect.
    nonisolated(unsafe) public private(set) static var current = ProcessInfo.processInfo.activeProcessorCount
}
