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
    private let owner: AnyObject?
    private let allocation: UnsafeMutableRawPointer?

    var precision: Precision { bf16 != nil ? .bf16 : .fp32 }
    var count: Int { rows * columns }

    /// A view of float32 memory owned by `owner`.
    init(rows: Int, columns: Int, viewing pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.rows = rows
        self.columns = columns
        f32 = pointer
        bf16 = nil
        self.owner = owner
        allocation = nil
    }

    /// A view of bfloat16 memory owned by `owner`.
    init(rows: Int, columns: Int, viewingBF16 pointer: UnsafePointer<UInt16>, owner: AnyObject) {
        self.rows = rows
        self.columns = columns
        f32 = nil
        bf16 = pointer
        self.owner = owner
        allocation = nil
    }

    /// A copy of `values` in `precision` (bf16: rounded to nearest even).
    init(rows: Int, columns: Int, copying values: UnsafePointer<Float>, precision: Precision) {
        self.rows = rows
        self.columns = columns
        owner = nil
        let count = rows * columns
        switch precision {
        case .fp32:
            let memory = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            let p = memory.bindMemory(to: Float.self, capacity: max(count, 1))
            p.update(from: values, count: count)
            f32 = UnsafePointer(p)
            bf16 = nil
            allocation = memory
        case .bf16:
            let memory = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
            let p = memory.bindMemory(to: UInt16.self, capacity: max(count, 1))
            ck_convert_f32_to_bf16(values, p, count)
            f32 = nil
            bf16 = UnsafePointer(p)
            allocation = memory
        }
    }

    convenience init(rows: Int, columns: Int, copying values: [Float], precision: Precision) {
        precondition(values.count == rows * columns)
        self.init(rows: rows, columns: columns, copying: values.withUnsafeBufferPointer { $0.baseAddress! }, precision: precision)
        withExtendedLifetime(values) {}
    }

    deinit { allocation?.deallocate() }

    /// The elements as float32 (bf16 widened exactly).
    func floats() -> [Float] {
        if let f32 { return Array(UnsafeBufferPointer(start: f32, count: count)) }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { ck_convert_bf16_to_f32(bf16!, $0.baseAddress!, count) }
        return out
    }
}
