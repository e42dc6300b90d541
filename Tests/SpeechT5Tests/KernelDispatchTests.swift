import CKernels
import Foundation
import XCTest
@testable import SpeechT5

/// Every kernel level the CPU supports (and, in particular, the generic fallback that a CPU without AVX2 or
/// AVX-512 runs) against the reference fixtures and against naive float64 arithmetic. The level is forced
/// the way `SPEECHT5_CPU=generic|avx2|avx512|avx512bf16` forces it for a whole process.
final class KernelDispatchTests: XCTestCase {
    override func tearDown() {
        Threading.limitCPULevel(nil)
        super.tearDown()
    }

    var levels: [Threading.CPULevel] { Threading.CPULevel.allCases.filter { $0 <= Threading.detectedCPULevel } }

    func testForcingALevelTakesEffect() {
        XCTAssertEqual(Threading.limitCPULevel(.generic), .generic)
        XCTAssertEqual(Threading.cpuLevel, .generic)
        XCTAssertEqual(Threading.limitCPULevel(nil), Threading.detectedCPULevel)
    }

    /// Encoder, the first decoder steps (before the fixtures' autoregressive feedback amplifies rounding),
    /// post-net and vocoder, on every level, at the fp32 parity tolerance.
    func testModelPartsMatchTheReferenceOnEveryLevel() throws {
        for level in levels {
            XCTAssertEqual(Threading.limitCPULevel(level), level)
            for name in Fixtures.modelNames {
                let model = try SpeechT5Model(directory: Fixtures.path("models/\(name)/model"))
                let vocoder = try HiFiGAN(directory: Fixtures.path("models/\(name)/vocoder"))
                let speaker = try SpeakerEmbeddingFile.load(path: Fixtures.path("models/\(name)/speaker.npy"),
                                                            expectedDimension: model.config.speakerEmbeddingDim)
                for c in try Fixtures.cases(model: name) {
                    let label = "\(level.name) \(name)/\(c.name)"
                    let reference = try Fixtures.reference(model: name, case: c.name)
                    var trace: GenerationTrace? = GenerationTrace()
                    let options = GenerationOptions(threshold: .infinity, minLengthRatio: 0,
                                                    maxLengthRatio: Double(min(c.steps, 4)) * Double(model.config.reductionFactor) / Double(c.input_ids.count) + 1e-9,
                                                    seed: c.seed)
                    let spectrogram = try model.generate(ids: c.input_ids, speaker: speaker, options: options, trace: &trace)
                    let steps = min(spectrogram.steps, c.steps)
                    let hidden = model.config.hiddenSize
                    assertComponentParity(trace!.encoderOutput, try reference.floats("encoder_output"), "\(label) encoder")
                    assertComponentParity(trace!.decoderOutputs.prefix(steps).flatMap { $0 },
                                          Array(try reference.floats("decoder_hidden").prefix(steps * hidden)), "\(label) decoder")
                    let refined = model.postnet.refine(try reference.floats("mel_before_postnet"), frames: c.frames)
                    assertComponentParity(refined, try reference.floats("mel"), "\(label) post-net")
                    let waveform = vocoder(try reference.floats("mel"), frames: c.frames)
                    assertComponentParity(waveform, try reference.floats("waveform"), "\(label) vocoder")
                }
            }
        }
    }

    /// The C kernels against float64 loops on odd shapes, on every level, fp32, bf16 and int8 weights.
    func testLinearKernelsOnEveryLevel() {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &generator) } }
        for level in levels {
            Threading.limitCPULevel(level)
            for (m, n, k) in [(1, 5, 7), (2, 37, 33), (3, 64, 80), (5, 17, 100), (11, 40, 65), (17, 40, 65), (101, 96, 768)] {
                for (precision, input) in [(Precision.fp32, BF16Input.float32), (.bf16, .float32), (.bf16, .rounded), (.bf16, .split),
                                           (.int8, .float32)] {
                    let x = random(m * k), w = random(n * k), b = random(n)
                    let matrix = WeightMatrix(rows: n, columns: k, copying: w, precision: precision)
                    let exactWeights = matrix.floats()
                    let linear = Linear(weight: matrix, bias: FloatBuffer(b))
                    var y = [Float](repeating: 0, count: m * n)
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer { yp in
                            linear.apply(x: xp.baseAddress!, rows: m, y: yp.baseAddress!, activation: Int32(CK_ACT_GELU_ERF),
                                         bf16Input: input)
                        }
                    }
                    var worst = 0.0, scale = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = Double(b[j])
                            for t in 0..<k { s += Double(x[i * k + t]) * Double(exactWeights[j * k + t]) }
                            s = 0.5 * s * (1 + erf(s / 2.0.squareRoot()))
                            worst = max(worst, abs(s - Double(y[i * n + j])))
                            scale = max(scale, abs(s))
                        }
                    }
                    // On AVX512-BF16, rounded activations (m ≥ 16 rows) lose bf16's precision; split ones keep 16 bits.
                    let tolerance = level != .avx512bf16 ? 2e-5 : input == .rounded && m >= 16 ? 2e-2 : input == .split ? 1e-4 : 2e-5
                    XCTAssertLessThanOrEqual(worst, tolerance * max(scale, 1), "\(level.name) linear m \(m) n \(n) k \(k) \(precision) \(input)")
                }
            }
        }
    }

    /// Decoder attention over head-major caches, float32 and bf16, against float64 over the values the cache
    /// holds (bf16-rounded for a bf16 cache), on every level; odd head widths (masked vectors, the >128 fallback)
    /// and key masks included.
    func testHeadMajorAttentionOnEveryLevel() {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -2...2, using: &generator) } }
        for level in levels {
            Threading.limitCPULevel(level)
            for (heads, headDim) in [(2, 20), (12, 64), (1, 144)] {
                let hidden = heads * headDim
                for keys in [1, 7, 33] {
                    for bf16 in [false, true] {
                        let capacity = keys + 3
                        let k = random(keys * hidden), v = random(keys * hidden), q = random(hidden)
                        let mask = (0..<keys).map { UInt8($0 % 5 == 3 ? 0 : 1) }
                        let keyCache = HeadMajorCache(heads: heads, headDim: headDim, capacity: capacity, bf16: bf16)
                        let valueCache = HeadMajorCache(heads: heads, headDim: headDim, capacity: capacity, bf16: bf16)
                        k.withUnsafeBufferPointer { keyCache.store($0.baseAddress!, rows: keys, at: 0) }
                        v.withUnsafeBufferPointer { valueCache.store($0.baseAddress!, rows: keys, at: 0) }
                        func held(_ x: Float) -> Double { bf16 ? Double(Float(bitPattern: UInt32(ck_float_to_bf16(x)) << 16)) : Double(x) }
                        var out = [Float](repeating: 0, count: hidden)
                        q.withUnsafeBufferPointer { qp in
                            out.withUnsafeMutableBufferPointer { op in
                                mask.withUnsafeBufferPointer { mp in
                                    var problem = HeadMajorCache.problem(q: qp.baseAddress!, keys: keyCache, values: valueCache,
                                                                         out: op.baseAddress!, count: keys)
                                    problem.key_valid = mp.baseAddress
                                    ck_attention(&problem, 1, Int32(heads), Int32(headDim))
                                }
                            }
                        }
                        var worst = 0.0
                        for h in 0..<heads {
                            let scores = (0..<keys).map { j -> Double in
                                guard mask[j] != 0 else { return -.infinity }
                                return (0..<headDim).reduce(0.0) { $0 + Double(q[h * headDim + $1]) * held(k[j * hidden + h * headDim + $1]) }
                            }
                            let top = scores.max() ?? 0
                            let weights = scores.map { exp($0 - top) }
                            let total = weights.reduce(0, +)
                            for d in 0..<headDim {
                                let expected = (0..<keys).reduce(0.0) { $0 + weights[$1] / total * held(v[$1 * hidden + h * headDim + d]) }
                                worst = max(worst, abs(expected - Double(out[h * headDim + d])))
                            }
                        }
                        XCTAssertLessThanOrEqual(worst, 2e-5, "\(level.name) heads \(heads)×\(headDim) keys \(keys) bf16 \(bf16)")
                    }
                }
            }
        }
    }

    /// The vocoder's residual blocks and last convolution run in time tiles with a halo; tiny tiles must give
    /// the same waveform as one tile over the whole sequence.
    func testTiledVocoderEqualsUntiled() throws {
        let saved = HiFiGAN.tileLength
        defer { HiFiGAN.tileLength = saved }
        for name in Fixtures.modelNames {
            for precision in Precision.allCases {
                let vocoder = try HiFiGAN(directory: Fixtures.path("models/\(name)/vocoder"), precision: precision)
                for c in try Fixtures.cases(model: name) where c.frames >= 6 {
                    let mel = try Fixtures.reference(model: name, case: c.name).floats("mel")
                    HiFiGAN.tileLength = 1 << 20
                    let whole = vocoder(mel, frames: c.frames)
                    for tile in [5, 16, 33] {
                        HiFiGAN.tileLength = tile
                        let tiled = vocoder(mel, frames: c.frames)
                        XCTAssertEqual(tiled.count, whole.count)
                        XCTAssertLessThanOrEqual(maxAbsDifference(tiled, whole), 1e-6 * max(maxMagnitude(whole), 1),
                                                 "\(name)/\(c.name) \(precision) tile \(tile)")
                    }
                }
            }
        }
    }
}
