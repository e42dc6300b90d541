import CKernels
import Foundation

/// Multi-head attention as SpeechT5 computes it: the query is scaled by `headDim^-0.5` before anything
/// else, so the encoder's relative position bias is dotted with the *scaled* query.
struct MultiHeadAttention: Sendable {
    let queryProjection: Linear
    let keyProjection: Linear
    let valueProjection: Linear
    let outputProjection: Linear
    let heads: Int
    let headDim: Int

    /// `keyValuePrecision` (default: `precision`) is for the key and value projections alone: cross-attention
    /// projects the encoder output once per input, a compute-bound product.
    init(_ store: WeightStore, _ prefix: String, hidden: Int, heads: Int, precision: Precision = .fp32,
         keyValuePrecision: Precision? = nil) throws {
        queryProjection = try Linear(store, "\(prefix).q_proj", in: hidden, out: hidden, precision: precision)
        keyProjection = try Linear(store, "\(prefix).k_proj", in: hidden, out: hidden, precision: keyValuePrecision ?? precision)
        valueProjection = try Linear(store, "\(prefix).v_proj", in: hidden, out: hidden, precision: keyValuePrecision ?? precision)
        outputProjection = try Linear(store, "\(prefix).out_proj", in: hidden, out: hidden, precision: precision)
        self.heads = heads
        self.headDim = hidden / heads
    }

    var hidden: Int { heads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Kernel arguments of the scaled query projection.
    func queryArguments(x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>, bf16Input: BF16Input = .float32) -> ck_linear_args {
        queryProjection.arguments(x: x, rows: rows, y: y, activation: Int32(CK_ACT_SCALE), parameter: scale,
                                  bf16Input: bf16Input)
    }

    /// Full self-attention of `x [rows, hidden]` (the encoder), returning `x + attention(x)` in `x`.
    /// `scratch` holds at least `4 · rows · hidden` floats.
    func selfAttendAddingResidual(_ x: UnsafeMutablePointer<Float>, rows: Int, keyIsValid: [UInt8]?,
                                  relativeBias: RelativePositionBias?, scratch: UnsafeMutablePointer<Float>) {
        let q = scratch, k = scratch + rows * hidden, v = scratch + 2 * rows * hidden, context = scratch + 3 * rows * hidden
        runLinear([queryArguments(x: x, rows: rows, y: q, bf16Input: .rounded),
                   keyProjection.arguments(x: x, rows: rows, y: k, bf16Input: .rounded),
                   valueProjection.arguments(x: x, rows: rows, y: v, bf16Input: .rounded)])
        attend(problems: [Self.problem(q: q, k: k, v: v, out: context, queries: rows, keys: rows, hidden: hidden)],
               keyIsValid: keyIsValid.map { [$0] }, relativeBias: relativeBias)
        outputProjection.apply(x: context, rows: rows, y: x, residual: x, bf16Input: .rounded)
        withExtendedLifetime(self) {}
    }

    static func problem(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                        queries: Int, keys: Int, hidden: Int, queryOffset: Int = 0) -> ck_attention_args {
        ck_attention_args(q: q, ldq: Int32(hidden), k: k, ldk: Int32(hidden), v: v, ldv: Int32(hidden),
                          out: out, ldo: Int32(hidden), queries: Int32(queries), keys: Int32(keys),
                          query_offset: Int32(queryOffset), key_valid: nil, relative_table: nil, max_distance: 0,
                          kv_head_stride: 0, k16: nil, v16: nil)
    }

    /// A head-major cache of `capacity` positions for this layer's keys or values.
    func makeCache(capacity: Int, bf16: Bool) -> HeadMajorCache {
        HeadMajorCache(heads: heads, headDim: headDim, capacity: capacity, bf16: bf16)
    }

    /// Runs attention problems (already scaled queries) over the thread pool; `keyIsValid[i]` is the key
    /// mask of problem i (nil: none).
    func attend(problems: [ck_attention_args], keyIsValid: [[UInt8]?]? = nil, relativeBias: RelativePositionBias? = nil) {
        var problems = problems
        func run(_ index: Int) {
            if index == problems.count {
                problems.withUnsafeBufferPointer { ck_attention($0.baseAddress!, Int32($0.count), Int32(heads), Int32(headDim)) }
                return
            }
            if let mask = keyIsValid?[index] {
                mask.withUnsafeBufferPointer { m in
                    problems[index].key_valid = m.baseAddress
                    run(index + 1)
                }
            } else {
                run(index + 1)
            }
        }
        if let relativeBias {
            for i in problems.indices {
                problems[i].relative_table = UnsafePointer(relativeBias.table.pointer)
                problems[i].max_distance = Int32(relativeBias.maxDistance)
            }
        }
        run(0)
        withExtendedLifetime(relativeBias) {}
    }
}

/// Keys or values of one attention layer, head-major: head h's rows are `h·capacity·headDim + j·headDim`, so
/// each head streams one contiguous block. Stored in float32, or in bf16 (half the memory traffic of a
/// decoder step; the reduced precisions use it). Only the pages written become resident memory.
final class HeadMajorCache: @unchecked Sendable {
    let heads: Int
    let headDim: Int
    let capacity: Int
    private let storage: Scratch
    /// The float32 storage, or nil when the cache holds bf16.
    let float32: UnsafeMutablePointer<Float>?
    /// The bf16 storage, or nil when the cache holds float32.
    let bf16: UnsafeMutablePointer<UInt16>?

    init(heads: Int, headDim: Int, capacity: Int, bf16: Bool) {
        self.heads = heads
        self.headDim = headDim
        self.capacity = capacity
        let count = heads * capacity * headDim
        storage = Scratch(bf16 ? (count + 1) / 2 : count)
        float32 = bf16 ? nil : storage.pointer
        self.bf16 = bf16 ? UnsafeMutableRawPointer(storage.pointer).bindMemory(to: UInt16.self, capacity: count) : nil
    }

    /// The attention problem of one query row `q [heads·headDim]` over the first `count` positions of `keys`
    /// and `values`.
    static func problem(q: UnsafePointer<Float>, keys: HeadMajorCache, values: HeadMajorCache, out: UnsafeMutablePointer<Float>,
                        count: Int) -> ck_attention_args {
        var problem = MultiHeadAttention.problem(q: q, k: q, v: q, out: out, queries: 1, keys: count,
                                                 hidden: keys.heads * keys.headDim)
        problem.k = keys.float32.map { UnsafePointer($0) }
        problem.v = values.float32.map { UnsafePointer($0) }
        problem.ldk = Int32(keys.headDim)
        problem.ldv = Int32(keys.headDim)
        problem.kv_head_stride = keys.capacity * keys.headDim
        problem.k16 = keys.bf16.map { UnsafePointer($0) }
        problem.v16 = values.bf16.map { UnsafePointer($0) }
        return problem
    }

    /// Writes `rows` rows of `source [rows, heads·headDim]` at positions `start…`.
    func store(_ source: UnsafePointer<Float>, rows: Int, at start: Int) {
        let hidden = heads * headDim
        for h in 0..<heads {
            for r in 0..<rows {
                let at = (h * capacity + start + r) * headDim
                let row = source + r * hidden + h * headDim
                if let float32 {
                    (float32 + at).update(from: row, count: headDim)
                } else if let bf16 {
                    ck_convert_f32_to_bf16(row, bf16 + at, headDim)
                }
            }
        }
        withExtendedLifetime(storage) {}
    }
}

/// The encoder's learned relative position bias: one table `[2M, headDim]` shared by every layer and
/// head, indexed by `clamp(i − j, −M, M − 1) + M` (asymmetric clamp, as the reference).
struct RelativePositionBias: Sendable {
    let table: FloatBuffer   // [2M, headDim]
    let maxDistance: Int     // M

    var tableRows: Int { 2 * maxDistance }

    init(_ store: WeightStore, _ key: String, maxDistance: Int, headDim: Int) throws {
        table = FloatBuffer(try store.tensor(key, shape: [2 * maxDistance, headDim]))
        self.maxDistance = maxDistance
    }
}
