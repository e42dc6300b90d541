import CKernels
import Foundation
#if canImport(COpenBLAS)
import COpenBLAS
#endif

/// Thread and CPU settings of the kernels.
public enum Threading {
    /// Sets the number of threads the kernels use (`nil`: `SPEECHT5_THREADS`, else every core) and
    /// returns the number in effect. The engine's own pool does all the parallel work; OpenBLAS (still
    /// used by a few small products) is kept single-threaded so that the two never oversubscribe the cores.
    @discardableResult
    public static func configure(threads: Int?) -> Int {
        let environment = ProcessInfo.processInfo.environment["SPEECHT5_THREADS"].flatMap(Int.init)
        let count = max(1, threads ?? environment ?? ProcessInfo.processInfo.activeProcessorCount)
        ck_set_threads(Int32(count))
        #if canImport(COpenBLAS)
        openblas_set_num_threads(1)
        #endif
        return count
    }

    /// Threads in effect.
    public static var current: Int { Int(ck_threads()) }

    /// The instruction-set levels of the kernels, lowest first.
    public enum CPULevel: Int, Sendable, CaseIterable, Comparable {
        case generic = 0, avx2, avx512, avx512bf16

        public var name: String { String(cString: ck_cpu_level_name(Int32(rawValue))) }
        public static func < (a: CPULevel, b: CPULevel) -> Bool { a.rawValue < b.rawValue }
    }

    /// The highest kernel level this CPU supports.
    public static var detectedCPULevel: CPULevel { CPULevel(rawValue: Int(ck_cpu_detected_level())) ?? .generic }

    /// The kernel level in use: the detected one, capped by `SPEECHT5_CPU=generic|avx2|avx512|avx512bf16`
    /// or by `limitCPULevel`.
    public static var cpuLevel: CPULevel { CPULevel(rawValue: Int(ck_cpu_level())) ?? .generic }

    /// Caps the kernel level (nil: back to the environment's or the detected one) and returns the level in
    /// effect. For tests of the fallback paths; not to be called while a synthesis runs.
    @discardableResult
    public static func limitCPULevel(_ level: CPULevel?) -> CPULevel {
        CPULevel(rawValue: Int(ck_set_cpu_level(Int32(level?.rawValue ?? -1)))) ?? .generic
    }
}
