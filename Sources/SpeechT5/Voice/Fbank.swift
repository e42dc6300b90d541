import Foundation

/// speechbrain's `Fbank` front end (`speechbrain.lobes.features.Fbank` without deltas or context), as the
/// x-vector model's hyperparameters configure it:
///
/// 1. STFT (`torch.stft`, `center=True`, zero padding of `n_fft/2` on both sides, periodic Hamming window of
///    `round(sr·win_ms/1000)` samples centred in `n_fft`, hop `round(sr·hop_ms/1000)`); frames =
///    `1 + count / hop`.
/// 2. Power spectrum `re² + im²` (`spectral_magnitude` with power 1 squares the magnitude).
/// 3. speechbrain's triangular filters: centres equally spaced in mel (`2595·log10(1 + f/700)`) between
///    `f_min` and `f_max`, each with the *left* band width `hz[i+1] − hz[i]` used on both sides (symmetric in
///    Hz, unlike librosa/Kaldi).
/// 4. `10·log10(max(x, 1e-10))`, then clamped from below at the utterance's maximum minus 80 dB (`top_db`,
///    over all frames and bins).
///
/// The FFT runs in double precision; output is float32, `[frames, n_mels]` row-major.
struct Fbank: Sendable {
    let sampleRate: Int
    let fftSize: Int
    let windowLength: Int
    let hopLength: Int
    let melCount: Int
    static let amin: Double = 1e-10
    static let topDB: Float = 80
    static let multiplier: Double = 10

    /// The analysis window, `fftSize` long (Hamming, zero-padded to the FFT size).
    private let window: [Double]
    /// `[bins, melCount]` row-major.
    private let filters: [Float]
    private let fft: ComplexFFT

    var binCount: Int { fftSize / 2 + 1 }

    init(configuration: SpeakerEncoderConfiguration) {
        sampleRate = configuration.sampleRate
        fftSize = configuration.fftSize
        melCount = configuration.melCount
        windowLength = configuration.windowSamples
        hopLength = configuration.hopSamples
        fft = ComplexFFT(count: fftSize)

        // torch.hamming_window(win, periodic=True), centred in n_fft by torch.stft.
        var window = [Double](repeating: 0, count: fftSize)
        let left = (fftSize - windowLength) / 2
        for (n, value) in Self.hammingWindow(windowLength).enumerated() { window[left + n] = Double(value) }
        self.window = window
        filters = Self.melFilters(sampleRate: configuration.sampleRate, fftSize: configuration.fftSize,
                                  melCount: configuration.melCount, fMin: configuration.fMin,
                                  fMax: configuration.fMax ?? Double(configuration.sampleRate / 2))
    }

    /// speechbrain `Filterbank._create_fbank_matrix` (triangular), `[bins, melCount]`, computed in float32
    /// step by step as torch does (linspace, `700·(10^(mel/2595) − 1)`, slopes), so that the filter weights
    /// agree to the last bit or two.
    static func melFilters(sampleRate: Int, fftSize: Int, melCount: Int, fMin: Double, fMax: Double) -> [Float] {
        func toMel(_ hz: Double) -> Double { 2595 * log10(1 + hz / 700) }
        let bins = fftSize / 2 + 1
        let mels = linspace(Float(toMel(fMin)), Float(toMel(fMax)), count: melCount + 2)
        let hz: [Float] = mels.map { mel in 700 * (powf(10, mel / 2595) - 1) }
        let frequencies = linspace(0, Float(sampleRate / 2), count: bins)
        var matrix = [Float](repeating: 0, count: bins * melCount)
        for m in 0..<melCount {
            let centre = hz[m + 1]
            let band = hz[m + 1] - hz[m]
            for b in 0..<bins {
                let slope = (frequencies[b] - centre) / band
                let left = slope + 1
                let right = -slope + 1
                matrix[b * melCount + m] = max(0, min(left, right))
            }
        }
        return matrix
    }

    /// `torch.linspace(start, end, count)` for float32 (ATen's formula: from the start for the first half,
    /// from the end for the second).
    static func linspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (end - start) / Float(count - 1)
        let halfway = count / 2
        return (0..<count).map { i in
            i < halfway ? start + step * Float(i) : end - step * Float(count - i - 1)
        }
    }

    /// `torch.hamming_window(length, periodic=True)` in float32: `0.54 − 0.46·cos(2πn/length)`.
    static func hammingWindow(_ length: Int) -> [Float] {
        let factor = Float(2 * Double.pi / Double(length))
        return (0..<length).map { n in cosf(Float(n) * factor) * -0.46 + 0.54 }
    }

    /// Number of STFT frames for `count` samples.
    func frameCount(sampleCount count: Int) -> Int {
        1 + count / hopLength
    }

    /// Log-mel filterbank energies of 16 kHz (`sampleRate`) samples: `[frames, melCount]`.
    func callAsFunction(_ samples: [Float]) -> (values: [Float], frames: Int) {
        let frames = frameCount(sampleCount: samples.count)
        let bins = binCount
        let mels = melCount
        var output = [Float](repeating: 0, count: frames * mels)
        let chunk = 256
        var power = [Float](repeating: 0, count: chunk * bins)
        let n = fftSize
        // FFT work buffers (n ≥ 2, checked by the configuration).
        let re = UnsafeMutablePointer<Double>.allocate(capacity: 4 * n)
        defer { re.deallocate() }
        let im = re + n, scratchRe = re + 2 * n, scratchIm = re + 3 * n
        let pad = fftSize / 2
        samples.withUnsafeBufferPointer { x in
            window.withUnsafeBufferPointer { w in
                var first = 0
                while first < frames {
                    let rows = min(chunk, frames - first)
                    // Two real frames per complex FFT: z = a + i·b, A[k] = (Z[k] + conj Z[N−k])/2,
                    // B[k] = (Z[k] − conj Z[N−k])/(2i).
                    var row = 0
                    while row < rows {
                        let pair = row + 1 < rows
                        for i in 0..<n {
                            let t0 = (first + row) * hopLength + i - pad
                            re[i] = (t0 >= 0 && t0 < x.count) ? Double(x[t0]) * w[i] : 0
                            if pair {
                                let t1 = t0 + hopLength
                                im[i] = (t1 >= 0 && t1 < x.count) ? Double(x[t1]) * w[i] : 0
                            } else {
                                im[i] = 0
                            }
                        }
                        fft.forward(re: re, im: im, scratchRe: scratchRe, scratchIm: scratchIm)
                        for k in 0..<bins {
                            let mirror = (n - k) % n
                            let zr = re[k], zi = im[k], cr = re[mirror], ci = -im[mirror]
                            let ar = 0.5 * (zr + cr), ai = 0.5 * (zi + ci)
                            power[row * bins + k] = Float(ar * ar + ai * ai)
                            if pair {
                                // (Z − conj Z[N−k]) / (2i): real part = (zi − ci)/2, imaginary = −(zr − cr)/2.
                                let br = 0.5 * (zi - ci), bi = -0.5 * (zr - cr)
                                power[(row + 1) * bins + k] = Float(br * br + bi * bi)
                            }
                        }
                        row += pair ? 2 : 1
                    }
                    power.withUnsafeBufferPointer { p in
                        filters.withUnsafeBufferPointer { f in
                            output.withUnsafeMutableBufferPointer { o in
                                guard let p = p.baseAddress, let f = f.baseAddress, let o = o.baseAddress else { return }
                                BLAS.gemm(m: rows, n: mels, k: bins, a: p, lda: bins, b: f, ldb: mels,
                                          c: o + first * mels, ldc: mels)
                            }
                        }
                    }
                    first += rows
                }
            }
        }
        // Amplitude to dB with the top_db floor.
        var maximum = -Float.infinity
        for i in output.indices {
            let db = Float(Self.multiplier * log10(max(Double(output[i]), Self.amin)))
            output[i] = db
            maximum = max(maximum, db)
        }
        let floor = maximum - Self.topDB
        for i in output.indices where output[i] < floor { output[i] = floor }
        return (output, frames)
    }

    /// speechbrain `InputNormalization(norm_type="sentence")` on one unpadded utterance `[frames, dim]`:
    /// subtracts the per-dimension mean over frames; with `stdNorm`, also divides by the (biased) standard
    /// deviation clamped below at `epsilon`.
    static func normalizeSentence(_ values: inout [Float], frames: Int, dim: Int, stdNorm: Bool, epsilon: Float) {
        guard frames > 0 else { return }
        for d in 0..<dim {
            var sum = 0.0
            for t in 0..<frames { sum += Double(values[t * dim + d]) }
            let mean = Float(sum / Double(frames))
            var divisor: Float = 1
            if stdNorm {
                var squares = 0.0
                for t in 0..<frames {
                    let centred = Double(values[t * dim + d] - mean)
                    squares += centred * centred
                }
                divisor = max(Float((squares / Double(frames)).squareRoot()), epsilon)
            } else {
                divisor = max(1, epsilon)
            }
            for t in 0..<frames { values[t * dim + d] = (values[t * dim + d] - mean) / divisor }
        }
    }
}
