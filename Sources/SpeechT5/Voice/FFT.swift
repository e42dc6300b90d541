import Foundation

/// A double-precision complex FFT of any length (mixed radix: every prime factor gets a direct butterfly),
/// used for the filterbank's STFT. Length 400 (speechbrain's `n_fft`) factors as 2⁴·5².
struct ComplexFFT: Sendable {
    let count: Int
    /// Prime factors of `count`, smallest first.
    private let factors: [Int]
    /// `cos(2πk/count)` and `−sin(2πk/count)` for k in 0..<count.
    private let cosTable: [Double]
    private let sinTable: [Double]

    init(count: Int) {
        precondition(count >= 1)
        self.count = count
        var factors: [Int] = []
        var n = count
        var p = 2
        while p * p <= n {
            while n % p == 0 {
                factors.append(p)
                n /= p
            }
            p += 1
        }
        if n > 1 { factors.append(n) }
        self.factors = factors
        cosTable = (0..<count).map { cos(2 * Double.pi * Double($0) / Double(count)) }
        sinTable = (0..<count).map { -sin(2 * Double.pi * Double($0) / Double(count)) }
    }

    /// Forward transform `X[k] = Σ x[n]·e^{−2πikn/N}` of `re`/`im` (each `count` long), in place.
    /// `scratchRe`/`scratchIm` must hold `count` values.
    func forward(re: UnsafeMutablePointer<Double>, im: UnsafeMutablePointer<Double>,
                 scratchRe: UnsafeMutablePointer<Double>, scratchIm: UnsafeMutablePointer<Double>) {
        guard count > 1 else { return }
        scratchRe.update(from: re, count: count)
        scratchIm.update(from: im, count: count)
        cosTable.withUnsafeBufferPointer { c in
            sinTable.withUnsafeBufferPointer { s in
                guard let c = c.baseAddress, let s = s.baseAddress else { return }
                transform(inRe: scratchRe, inIm: scratchIm, stride: 1, n: count, factor: 0,
                          outRe: re, outIm: im, cosTable: c, sinTable: s)
            }
        }
    }

    /// Decimation in time: `out[0..<n]` = DFT of `in[0], in[stride], …, in[(n−1)·stride]`.
    private func transform(inRe: UnsafePointer<Double>, inIm: UnsafePointer<Double>, stride: Int, n: Int, factor: Int,
                           outRe: UnsafeMutablePointer<Double>, outIm: UnsafeMutablePointer<Double>,
                           cosTable: UnsafePointer<Double>, sinTable: UnsafePointer<Double>) {
        if n == 1 {
            outRe[0] = inRe[0]
            outIm[0] = inIm[0]
            return
        }
        let p = factors[factor]
        let m = n / p
        // Sub-transforms of the p decimated sequences, stored one after another in `out`.
        for q in 0..<p {
            transform(inRe: inRe + q * stride, inIm: inIm + q * stride, stride: stride * p, n: m, factor: factor + 1,
                      outRe: outRe + q * m, outIm: outIm + q * m, cosTable: cosTable, sinTable: sinTable)
        }
        // Butterflies: X[k + r·m] = Σ_q W_n^{q(k + r·m)} · Y_q[k], with W_n = W_N^{N/n}.
        let twiddleStep = count / n
        if p == 2 {
            for k in 0..<m {
                let w = k * twiddleStep
                let wr = cosTable[w], wi = sinTable[w]
                let br = outRe[m + k] * wr - outIm[m + k] * wi
                let bi = outRe[m + k] * wi + outIm[m + k] * wr
                let ar = outRe[k], ai = outIm[k]
                outRe[k] = ar + br
                outIm[k] = ai + bi
                outRe[m + k] = ar - br
                outIm[m + k] = ai - bi
            }
            return
        }
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * p) { temp in
            guard let tempRe = temp.baseAddress else { return }
            let tempIm = tempRe + p
            for k in 0..<m {
                // Twiddled inputs t_q = W_n^{q·k} · Y_q[k]; then X[k + r·m] = Σ_q W_p^{q·r} · t_q.
                for q in 0..<p {
                    let w = (q * k * twiddleStep) % count
                    let wr = cosTable[w], wi = sinTable[w]
                    let yr = outRe[q * m + k], yi = outIm[q * m + k]
                    tempRe[q] = yr * wr - yi * wi
                    tempIm[q] = yr * wi + yi * wr
                }
                let step = count / p
                for r in 0..<p {
                    var sumRe = tempRe[0]
                    var sumIm = tempIm[0]
                    for q in 1..<p {
                        let w = (q * r % p) * step
                        let wr = cosTable[w], wi = sinTable[w]
                        sumRe += tempRe[q] * wr - tempIm[q] * wi
                        sumIm += tempRe[q] * wi + tempIm[q] * wr
                    }
                    outRe[k + r * m] = sumRe
                    outIm[k + r * m] = sumIm
                }
            }
        }
    }
}
