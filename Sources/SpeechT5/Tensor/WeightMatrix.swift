import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Arithmetic precision of the weights.
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// float32 everywhere: the reference's numbers (exact mode). F32 checkpoints are used in place,
    /// memory-mapped, with no copy.
    case fp32
    /// Weights converted once to bfloat16 at load (half the memory traffic); products accumulate in
    /// float32. Activations stay float32 in the decoder; large products (encoder, vocoder) use bf16
    /// activations with AVX512-BF16 `vdpbf16ps` where the CPU has it, and float32 arithmetic on the same
    /// bf16 weights elsewhere.
    case bf16
    /// As `.bf16`, except the speech decoder's weights, which every decoder step reads again: those are
    /// int8 with one float32 scale per output row (symmetric, `max|w|/127`), multiplied with float32
    /// activations. A quarter of fp32's memory traffic per step; slightly further from the reference than bf16.
    case int8

    /// The precision of the weights a synthesis reads once per input (encoder, cross-attention keys and
    /// values, vocoder), where products are compute-bound rather than memory-bound: bf16 for `.int8`.
    var computeBound: Precision { self == .int8 ? .bf16 : self }
}

/// A weight matrix `[rows, columns]`, row-major, in float32 or bfloat16: either a view into a
/// memory-mapped checkpoint (kept alive by `owner`) or memory of its own.
final class WeightMatrix: @unchecked Sendable {
    let rows: Int
    let columns: Int
    /// float32 elements (nil in bf16 precision).
    let f32: UnsafePointer<Float>?
    /// bfloat16 bits (nil in fp32 precision).
    let bf16: UnsafePointer<UInt16>?
    /// int8 values, `w[r, c] = int8[r, c] · rowScales[r]` (int8 precision only).
    let int8: UnsafePointer<Int8>?
    let rowScales: UnsafePointer<Float>?
    /// Keeps the memory alive: the mapped file, or the block of ``WeightMemory`` holding the copy.
    private let owner: AnyObject

    var precision: Precision { bf16 != nil ? .bf16 : int8 != nil ? .int8 : .fp32 }
    var count: Int { rows * columns }

    /// A view of float32 memory owned by `owner`.
    init(rows: Int, columns: Int, viewing pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.rows = rows
        self.columns = columns
        f32 = pointer
        bf16 = nil
        int8 = nil
        rowScales = nil
        self.owner = owner
    }

    /// A view of bfloat16 memory owned by `owner`.
    init(rows: Int, columns: Int, viewingBF16 pointer: UnsafePointer<UInt16>, owner: AnyObject) {
        self.rows = rows
        self.columns = columns
        f32 = nil
        bf16 = pointer
        int8 = nil
        rowScales = nil
        self.owner = owner
    }

    /// A copy of `values` in `precision` (bf16: rounded to nearest even).
    init(rows: Int, columns: Int, copying values: UnsafePointer<Float>, precision: Precision) {
        self.rows = rows
        self.columns = columns
        let count = rows * columns
        switch precision {
        case .fp32:
            let (memory, block) = WeightMemory.shared.allocate(bytes: max(count, 1) * 4)
            let p = memory.bindMemory(to: Float.self, capacity: max(count, 1))
            p.update(from: values, count: count)
            f32 = UnsafePointer(p)
            bf16 = nil
            int8 = nil
            rowScales = nil
            owner = block
        case .bf16:
            let (memory, block) = WeightMemory.shared.allocate(bytes: max(count, 1) * 2)
            let p = memory.bindMemory(to: UInt16.self, capacity: max(count, 1))
            ck_convert_f32_to_bf16(values, p, count)
            f32 = nil
            bf16 = UnsafePointer(p)
            int8 = nil
            rowScales = nil
            owner = block
        case .int8:
            let (memory, block) = WeightMemory.shared.allocate(bytes: max(rows, 1) * 4 + max(count, 1))
            let scales = memory.bindMemory(to: Float.self, capacity: max(rows, 1))
            let q = (memory + max(rows, 1) * 4).bindMemory(to: Int8.self, capacity: max(count, 1))
            ck_quantize_rows_i8(values, Int32(rows), Int32(columns), q, scales)
            f32 = nil
            bf16 = nil
            int8 = UnsafePointer(q)
            rowScales = UnsafePointer(scales)
            owner = block
        }
    }

    convenience init(rows: Int, columns: Int, copying values: [Float], precision: Precision) {
        precondition(values.count == rows * columns)
        self.init(rows: rows, columns: columns, copying: values.withUnsafeBufferPointer { $0.baseAddress! }, precision: precision)
        withExtendedLifetime(values) {}
    }

    /// The elements as float32 (bf16 widened exactly, int8 times its row scale).
    func floats() -> [Float] {
        if let f32 { return Array(UnsafeBufferPointer(start: f32, count: count)) }
        var out = [Float](repeating: 0, count: count)
        if let bf16 {
            out.withUnsafeMutableBufferPointer { ck_convert_bf16_to_f32(bf16, $0.baseAddress!, count) }
        } else if let int8, let rowScales {
            for r in 0..<rows {
                for c in 0..<columns { out[r * columns + c] = Float(int8[r * columns + c]) * rowScales[r] }
            }
        }
        return out
    }
}

/// Memory for weights converted at load (bf16 copies, folded or re-typed float32), carved out of large
/// anonymous mappings: the matrices of a model lie together in a few 2 MiB-aligned regions, which the
/// product kernels stream through faster than scattered heap blocks, and transparent huge pages are
/// requested for them (fewer TLB misses on the hundred megabytes a decoder step reads). A block is
/// unmapped when the last matrix in it dies.
final class WeightMemory: @unchecked Sendable {
    static let shared = WeightMemory()

    final class Block: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let size: Int
        fileprivate var used = 0

        fileprivate init?(size: Int) {
            guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                return nil
            }
            #if os(Linux)
            _ = madvise(p, size, 14)   // MADV_HUGEPAGE
            #endif
            base = p
            self.size = size
        }

        deinit { munmap(base, size) }
    }

    static let blockSize = 64 << 20
    private static let hugePage = 2 << 20
    private let lock = NSLock()
    /// The block being filled; weak, so that it goes away with its last matrix.
    private weak var current: Block?

    /// `bytes` of zeroed memory, 64-byte aligned, and the object that keeps it mapped.
    func allocate(bytes: Int) -> (UnsafeMutableRawPointer, AnyObject) {
        let rounded = (bytes + 63) & ~63
        lock.lock()
        defer { lock.unlock() }
        if let block = current, block.size - block.used >= rounded {
            let p = block.base + block.used
            block.used += rounded
            return (p, block)
        }
        let size = max(Self.blockSize, (rounded + Self.hugePage - 1) / Self.hugePage * Self.hugePage)
        if let block = Block(size: size) {
            block.used = rounded
            if rounded < size { current = block }
            return (block.base, block)
        }
        // No mapping to be had: fall back to the heap (a block object that frees it).
        let heap = HeapBlock(bytes: rounded)
        return (heap.base, heap)
    }

    private final class HeapBlock: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        init(bytes: Int) {
            base = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 64))
        }
        deinit { base.deallocate() }
    }
}
