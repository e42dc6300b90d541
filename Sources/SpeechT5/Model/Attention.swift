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

    init(_ store: WeightStore, _ prefix: String, hidden: Int, heads: Int) throws {
        queryProjection = try Linear(store, "\(prefix).q_proj", in: hidden, out: hidden)
        keyProjection = try Linear(store, "\(prefix).k_proj", in: hidden, out: hidden)
        valueProjection = try Linear(store, "\(prefix).v_proj", in: hidden, out: hidden)
        outputProjection = try Linear(store, "\(prefix).out_proj", in: hidden, out: hidden)
        self.heads = heads
        self.headDim = hidden / heads
    }

    var hidden: Int { heads * headDim }

    /// Projected, scaled queries for `rows` rows of `x`.
    func queries(_ x: [Float], rows: Int) -> [Float] {
        var q = queryProjection(x, rows: rows)
        let scale = 1 / Float(headDim).squareRoot()
        Kernels.apply(&q) { $0 * scale }
        return q
    }

    /// Full attention of `x [rows, hidden]` over `memory [memoryRows, hidden]` (self-attention when they are
    /// the same), with optional key padding mask and relative position bias.
    func callAsFunction(_ x: [Float], rows: Int, memory: [Float], memoryRows: Int,
                        keyIsValid: [Bool]? = nil, relativeBias: RelativePositionBias? = nil) -> [Float] {
        let q = queries(x, rows: rows)
        let k = keyProjection(memory, rows: memoryRows)
        let v = valueProjection(memory, rows: memoryRows)
        let context = attend(queries: q, queryCount: rows, keys: k, values: v, keyCount: memoryRows,
                             keyIsValid: keyIsValid, relativeBias: relativeBias)
        return outputProjection(context, rows: rows)
    }

    /// `softmax(q·kᵀ + q·Bᵀ + mask) · v` per head, for already scaled queries. Returns `[queryCount, hidden]`
    /// before the output projection. `keys`/`values` may hold more rows than `keyCount`; only the first
    /// `keyCount` are used (the KV cache grows in place).
    func attend(queries q: [Float], queryCount: Int, keys: [Float], values: [Float], keyCount: Int,
                keyIsValid: [Bool]? = nil, relativeBias: RelativePositionBias? = nil) -> [Float] {
        let hidden = self.hidden
        var context = [Float](repeating: 0, count: queryCount * hidden)
        var scores = [Float](repeating: 0, count: queryCount * keyCount)
        var relative = [Float](repeating: 0, count: queryCount * (relativeBias?.tableRows ?? 0))
        q.withUnsafeBufferPointer { qp in
        keys.withUnsafeBufferPointer { kp in
        values.withUnsafeBufferPointer { vp in
        context.withUnsafeMutableBufferPointer { cp in
        scores.withUnsafeMutableBufferPointer { sp in
            for h in 0..<heads {
                let offset = h * headDim
                // scores = q_h · k_hᵀ
                BLAS.gemm(transposeB: true, m: queryCount, n: keyCount, k: headDim,
                          a: qp.baseAddress! + offset, lda: hidden, b: kp.baseAddress! + offset, ldb: hidden,
                          c: sp.baseAddress!, ldc: keyCount)
                if let relativeBias {
                    relative.withUnsafeMutableBufferPointer { rp in
                        relativeBias.add(to: sp.baseAddress!, queries: qp.baseAddress! + offset, queryStride: hidden,
                                         queryCount: queryCount, keyCount: keyCount, scratch: rp.baseAddress!)
                    }
                }
                for i in 0..<queryCount {
                    let row = sp.baseAddress! + i * keyCount
                    if let keyIsValid {
                        // Additive finfo(float32).min, as the reference: masked keys get zero weight.
                        for j in 0..<keyCount where !keyIsValid[j] { row[j] += -Float.greatestFiniteMagnitude }
                    }
                    Kernels.softmax(row, count: keyCount)
                }
                // context_h = softmax · v_h
                BLAS.gemm(m: queryCount, n: headDim, k: keyCount,
                          a: sp.baseAddress!, lda: keyCount, b: vp.baseAddress! + offset, ldb: hidden,
                          c: cp.baseAddress! + offset, ldc: hidden)
            }
        }}}}}
        return context
    }
}

/// The encoder's learned relative position bias: one table `[2M, headDim]` shared by every layer and
/// head, indexed by `clamp(i − j, −M, M − 1) + M` (asymmetric clamp, as the reference).
struct RelativePositionBias: Sendable {
    let table: Tensor        // [2M, headDim]
    let maxDistance: Int     // M

    var tableRows: Int { 2 * maxDistance }

    init(_ store: WeightStore, _ key: String, maxDistance: Int, headDim: Int) throws {
        table = try store.tensor(key, shape: [2 * maxDistance, headDim])
        self.maxDistance = maxDistance
    }

    /// `scores[i, j] += q_i · table[rel(i, j)]`, computed as one GEMM `q · tableᵀ` and a gather.
    func add(to scores: UnsafeMutablePointer<Float>, queries: UnsafePointer<Float>, queryStride: Int,
             queryCount: Int, keyCount: Int, scratch: UnsafeMutablePointer<Float>) {
        let headDim = table.shape[1]
        table.scalars.withUnsafeBufferPointer { tp in
            BLAS.gemm(transposeB: true, m: queryCount, n: tableRows, k: headDim,
                      a: queries, lda: queryStride, b: tp.baseAddress!, ldb: headDim,
                      c: scratch, ldc: tableRows)
        }
        let m = maxDistance
        for i in 0..<queryCount {
            let row = scores + i * keyCount
            let projected = scratch + i * tableRows
            for j in 0..<keyCount {
                let index = min(max(i - j, -m), m - 1) + m
                row[j] += projected[index]
            }
        }
    }
}
