import Foundation

/// Band-limited sample-rate conversion: a polyphase windowed-sinc filter, numerically the one
/// `torchaudio.transforms.Resample` uses (and therefore speechbrain's `AudioNormalizer`, which feeds the
/// x-vector model): Hann-windowed sinc, 6 zero crossings, cutoff 0.99 × the lower Nyquist frequency,
/// kernel built in double precision and applied in single precision.
///
/// The rates are reduced by their gcd to `L/M`; output sample `n = b·L + j` (phase `j`) is
/// `Σ_k h_j[k] · x[b·M + k − width]` with `h_j[k] = sinc(π t)·cos²(π t / 12)·f_c/M`,
/// `t = clamp((k − width)/M − j/L, …)·f_c` clamped to ±6, `f_c = 0.99·min(L, M)`. Input outside the
/// signal is zero, and the output has `ceil(count · L / M)` samples. Only the non-zero taps are stored, so
/// awkward ratios (e.g. 44 100 → 16 000, or co-prime rates) stay cheap.
public struct Resampler: Sendable {
    /// Zero crossings of the sinc on each side (torchaudio's `lowpass_filter_width`).
    public static let lowpassFilterWidth = 6
    /// Cutoff as a fraction of the lower Nyquist frequency (torchaudio's `rolloff`).
    public static let rolloff = 0.99

    /// Input sample rate in Hz.
    public let inputRate: Int
    /// Output sample rate in Hz.
    public let outputRate: Int

    /// Reduced rates: `outputRate/inputRate == upFactor/downFactor`.
    let upFactor: Int
    let downFactor: Int
    /// For phase j: the input offset (relative to `b·downFactor`) of its first stored tap, and where its taps
    /// are in `taps` (`tapStart[j] ..< tapStart[j + 1]`).
    private let phaseOffset: [Int]
    private let tapStart: [Int]
    private let taps: [Float]

    /// A resampler from `inputRate` to `outputRate` (both in 1...`WAVFile.maxSampleRate`).
    public init(from inputRate: Int, to outputRate: Int) throws {
        for (name, rate) in [("inputRate", inputRate), ("outputRate", outputRate)] {
            guard rate >= 1, rate <= WAVFile.maxSampleRate else {
                throw SpeechT5Error.invalidArgument(
                    name: name, reason: "sample rate \(rate) Hz is out of range (1...\(WAVFile.maxSampleRate))")
            }
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        let divisor = Self.gcd(inputRate, outputRate)
        let down = inputRate / divisor
        let up = outputRate / divisor
        upFactor = up
        downFactor = down
        guard up != down else {
            phaseOffset = [0]
            tapStart = [0, 1]
            taps = [1]
            return
        }

        let width = Double(Self.lowpassFilterWidth)
        let baseFrequency = Double(min(up, down)) * Self.rolloff
        // torchaudio: width = ceil(lowpass_filter_width · orig / base_freq); taps k in 0..<2·width + orig.
        let halfSpan = Int((width * Double(down) / baseFrequency).rounded(.up))
        let tapCount = 2 * halfSpan + down
        let scale = baseFrequency / Double(down)
        var offsets: [Int] = []
        var starts: [Int] = [0]
        var values: [Float] = []
        offsets.reserveCapacity(up)
        starts.reserveCapacity(up + 1)
        for j in 0..<up {
            // torchaudio computes the phase shift −j/L in float32, then adds the float64 tap positions.
            let shift = Double(Float(-j) / Float(up))
            // |(k − halfSpan)/M + shift| · f_c < width  ⇔  k in (lo, hi); evaluate a margin around it.
            let reach = width / baseFrequency
            let lo = max(0, Int(((-reach - shift) * Double(down)).rounded(.down)) + halfSpan - 1)
            let hi = min(tapCount - 1, Int(((reach - shift) * Double(down)).rounded(.up)) + halfSpan + 1)
            var phase: [Float] = []
            var first = -1
            if lo <= hi {
                for k in lo...hi {
                    var t = (shift + Double(k - halfSpan) / Double(down)) * baseFrequency
                    t = min(max(t, -width), width)
                    let window = pow(cos(t * Double.pi / width / 2), 2)
                    t *= Double.pi
                    let sinc = t == 0 ? 1 : sin(t) / t
                    let value = Float(sinc * (window * scale))
                    if value != 0 || first >= 0 {
                        if first < 0 { first = k }
                        phase.append(value)
                    }
                }
            }
            while let last = phase.last, last == 0 { phase.removeLast() }
            offsets.append(max(first, 0) - halfSpan)
            values.append(contentsOf: phase)
            starts.append(values.count)
        }
        phaseOffset = offsets
        tapStart = starts
        taps = values
    }

    /// Number of output samples for `inputCount` input samples: `ceil(inputCount · L / M)`.
    public func outputCount(forInputCount inputCount: Int) -> Int {
        guard inputCount > 0 else { return 0 }
        if upFactor == downFactor { return inputCount }
        let (product, overflow) = inputCount.multipliedReportingOverflow(by: upFactor)
        if overflow {
            return Int((Double(inputCount) * Double(upFactor) / Double(downFactor)).rounded(.up))
        }
        return (product + downFactor - 1) / downFactor
    }

    /// Resamples `input` (one channel).
    public func process(_ input: [Float]) -> [Float] {
        if upFactor == downFactor { return input }
        let count = outputCount(forInputCount: input.count)
        guard count > 0 else { return [] }
        let up = upFactor, down = downFactor
        let length = input.count
        return [Float](unsafeUninitializedCapacity: count) { output, initialized in
            input.withUnsafeBufferPointer { x in
                taps.withUnsafeBufferPointer { h in
                    guard let xBase = x.baseAddress, let hBase = h.baseAddress else { return }
                    for n in 0..<count {
                        let block = n / up
                        let j = n - block * up
                        let start = block * down + phaseOffset[j]
                        var tap = tapStart[j]
                        let end = tapStart[j + 1]
                        var position = start
                        // Skip taps that fall before the signal (zero padding) ...
                        if position < 0 {
                            let skip = min(-position, end - tap)
                            tap += skip
                            position += skip
                        }
                        // ... and stop at its end.
                        let usable = min(end - tap, length - position)
                        var sum: Float = 0
                        if usable > 0 {
                            let xs = xBase + position
                            let hs = hBase + tap
                            for i in 0..<usable { sum += hs[i] * xs[i] }
                        }
                        output[n] = sum
                    }
                }
            }
            initialized = count
        }
    }

    /// Resamples `samples` from `inputRate` to `outputRate` (returns the input when the rates are equal).
    public static func resample(_ samples: [Float], from inputRate: Int, to outputRate: Int) throws -> [Float] {
        if inputRate == outputRate { return samples }
        return try Resampler(from: inputRate, to: outputRate).process(samples)
    }

    static func gcd(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (abs(a), abs(b))
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }
}
