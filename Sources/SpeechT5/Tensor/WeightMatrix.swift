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
    /// float32. With AVX512-BF16 (`vdpbf16ps`), the decoder step splits each activation into two bf16
    /// halves (16 significant bits) and large products (encoder, vocoder) round activations to bf16; CPUs
    /// without it widen the bf16 weights to float32, and below AVX-512 keep the vocoder's fp32 weights (its
    /// convolutions are compute-bound, and widening would only add work). The decoder's key/value caches are
    /// bf16 as well.
    case bf16
    /// As `.bf16`, except for two parts. The speech decoder's weights, which every decoder step reads again,
    /// are int8 with one float32 scale per output row (symmetric, `max|w|/127`), multiplied with float32
    /// activations: a quarter of fp32's memory traffic per step. The vocoder's residual blocks (nearly all
    /// of its arithmetic) multiply int8 weights (one scale per output channel) with inputs quantized to
    /// int8 per position (one scale per time step over all channels): twice bf16's products per
    /// instruction with AVX512-VNNI (CPUs without it keep bf16 there, which is faster for them). Slightly
    /// further from the reference than bf16.
    case int8

    /// The precision of the weights a synthesis reads once per input (encoder, cross-attention keys and
    /// values, vocoder upsampling), where products are compute-bound rather than memory-bound: bf16 for `.int8`.
    var computeBound: Precision { self == .int8 ? .bf16 : self }
}

/// A weight matrix `[rows, columns]`, row-major, in float32, bfloat16 or int8: either a view into a
/// memory-mapped checkpoint (kept alive by `owner`) or memory of its own.
final class WeightMatrix: @unchecked Sendable {
    let rows: Int
    let columns: Int
    /// Where the elements are and in which type.
    enum Elements {
        case f32(UnsafePointer<Float>)
        case bf16(UnsafePointer<UInt16>)
        /// `w[r, c] = values[r, c] · rowScales[r]`.
        case int8(UnsafePointer<Int8>, rowScales: UnsafePointer<Float>)
    }

    let elements: Elements
    /// Keeps the memory alive: the mapped file, or the block of ``WeightMemory`` holding the copy.
    private let owner: AnyObject

    /// float32 elements (nil in the other precisions).
    var f32: UnsafePointer<Float>? { if case .f32(let p) = elements { return p } else { return nil } }
    /// bfloat16 bits (nil in the other precisions).
    var bf16: UnsafePointer<UInt16>? { if case .bf16(let p) = elements { return p } else { return nil } }
    /// int8 values (nil in the other precisions); `rowScales` holds their scales.
    var int8: UnsafePointer<Int8>? { if case .int8(let p, _) = elements { return p } else { return nil } }
    var rowScales: UnsafePointer<Float>? { if case .int8(_, let s) = elements { return s } else { return nil } }

    var precision: Precision {
        switch elements {
        case .f32: return .fp32
        case .bf16: return .bf16
        case .int8: return .int8
        }
    }
    var count: Int { rows * columns }

    private init(rows: Int, columns: Int, elements: Elements, owner: AnyObject) {
        self.rows = rows
        self.columns = columns
        self.elements = elements
        self.owner = owner
    }

    /// A view of float32 memory owned by `owner`.
    convenience init(rows: Int, columns: Int, viewing pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.init(rows: rows, columns: columns, elements: .f32(pointer), owner: owner)
    }

    /// A view of bfloat16 memory owned by `owner`.
    convenience init(rows: Int, columns: Int, viewingBF16 pointer: UnsafePointer<UInt16>, owner: AnyObject) {
        self.init(rows: rows, columns: columns, elements: .bf16(pointer), owner: owner)
    }

    /// A copy of `values` in `precision` (bf16: rounded to nearest even; int8: see ``Precision/int8``).
    convenience init(rows: Int, columns: Int, copying values: UnsafePointer<Float>, precision: Precision) {
        let count = rows * columns
        switch precision {
        case .fp32:
            let (memory, block) = WeightMemory.shared.allocate(bytes: max(count, 1) * 4)
            let p = memory.bindMemory(to: Float.self, capacity: max(count, 1))
            p.update(from: values, count: count)
            self.init(rows: rows, columns: columns, elements: .f32(p), owner: block)
        case .bf16:
            let (memory, block) = WeightMemory.shared.allocate(bytes: max(count, 1) * 2)
            let p = memory.bindMemory(to: UInt16.self, capacity: max(count, 1))
            ck_convert_f32_to_bf16(values, p, count)
            self.init(rows: rows, columns: columns, elements: .bf16(p), owner: block)
        case .int8:
            let (memory, block) = WeightMemory.shared.allocate(bytes: max(rows, 1) * 4 + max(count, 1))
            let scales = memory.bindMemory(to: Float.self, capacity: max(rows, 1))
            let q = (memory + max(rows, 1) * 4).bindMemory(to: Int8.self, capacity: max(count, 1))
            ck_quantize_rows_i8(values, Int32(rows), Int32(columns), q, scales)
            self.init(rows: rows, columns: columns, elements: .int8(q, rowScales: scales), owner: block)
        }
    }

    convenience init(rows: Int, columns: Int, copying values: [Float], precision: Precision) {
        precondition(values.count == rows * columns)
        self.init(rows: rows, columns: columns, copying: values.withUnsafeBufferPointer { $0.baseAddress! }, precision: precision)
        withExtendedLifetime(values) {}
    }

    /// The elements as float32 (bf16 widened exactly, int8 times its row scale).
    func floats() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        switch elements {
        case .f32(let p):
            return Array(UnsafeBufferPointer(start: p, count: count))
        case .bf16(let p):
            out.withUnsafeMutableBufferPointer { ck_convert_bf16_to_f32(p, $0.baseAddress!, count) }
        case .int8(let q, let scales):
            for r in 0..<rows {
                for c in 0..<columns { out[r * columns + c] = Float(q[r * columns + c]) * scales[r] }
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
