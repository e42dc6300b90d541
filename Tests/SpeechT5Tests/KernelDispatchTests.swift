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
        let initial = Threading.cpuLevel   // the detected level, or SPEECHT5_CPU's if the run sets it
        XCTAssertLessThanOrEqual(initial, Threading.detectedCPULevel)
        XCTAssertEqual(Threading.limitCPULevel(.generic), .generic)
        XCTAssertEqual(Threading.cpuLevel, .generic)
        XCTAssertEqual(Threading.limitCPULevel(nil), initial)
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

    /// The int8 convolution (vpdpbusd on AVX512-VNNI, portable integer sums elsewhere) on every level: its
    /// input quantization keeps each value within half a step of its column's scale and is the same byte for
    /// byte on every level; the output matches float64 arithmetic over the quantized values it multiplied,
    /// and stays close to the unquantized convolution. Odd channel counts (a partial quad), short and ragged
    /// lengths, dilations, bias and residual.
    func testInt8ConvolutionOnEveryLevel() {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int, _ range: ClosedRange<Float> = -1...1) -> [Float] {
            (0..<n).map { _ in Float.random(in: range, using: &generator) }
        }
        let slope: Float = 0.1
        func leaky(_ v: Float) -> Float { v >= 0 ? v : v * slope }
        for (cIn, cOut, kernel, dilation, length) in [(5, 3, 3, 1, 1), (33, 9, 7, 3, 70), (64, 40, 11, 5, 300), (8, 4, 1, 1, 17)] {
            let x = random(cIn * length, -3...3), w = random(cOut * cIn * kernel), b = random(cOut), residual = random(cOut * length)
            let padding = (kernel - 1) / 2 * dilation
            let matrix = WeightMatrix(rows: cOut, columns: cIn * kernel, copying: w, precision: .fp32)
            let conv = Conv1d(weight: matrix, bias: FloatBuffer(b), inChannels: cIn, kernelSize: kernel, dilation: dilation,
                              padding: padding, format: .int8)
            // The weights it multiplies: the int8 rows of the linear layers' rule, one row per output channel.
            let heldWeights = WeightMatrix(rows: cOut, columns: cIn * kernel, copying: w, precision: .int8).floats()
            var firstLevelBytes: [UInt8]?
            for level in levels {
                Threading.limitCPULevel(level)
                let label = "\(level.name) cIn \(cIn) cOut \(cOut) k \(kernel) d \(dilation) length \(length)"
                let ld = length + 2 * padding, quads = (cIn + 3) / 4
                var bytes = [UInt8](repeating: 0, count: quads * ld * 4), scales = [Float](repeating: -1, count: ld)
                x.withUnsafeBufferPointer { xp in
                    ck_quantize_input_u8(xp.baseAddress!, Int32(cIn), Int32(length), Int32(length), Int32(padding), slope,
                                         &bytes, &scales)
                }
                if let firstLevelBytes { XCTAssertEqual(bytes, firstLevelBytes, "\(label): quantized input differs by level") }
                firstLevelBytes = bytes
                func held(_ c: Int, _ column: Int) -> Double {
                    Double(scales[column]) * Double(Int(bytes[((c / 4) * ld + column) * 4 + c % 4]) - 128)
                }
                var worstStep = 0.0
                for column in 0..<ld {
                    let t = column - padding
                    if t < 0 || t >= length {
                        XCTAssertEqual(scales[column], 0, "\(label): padding column \(column)")
                        for c in 0..<(quads * 4) { XCTAssertEqual(bytes[((c / 4) * ld + column) * 4 + c % 4], 128) }
                        continue
                    }
                    let maximum = (0..<cIn).map { abs(leaky(x[$0 * length + t])) }.max() ?? 0
                    XCTAssertEqual(scales[column], maximum / 127, "\(label): scale of position \(t)")
                    for c in 0..<cIn where scales[column] > 0 {
                        worstStep = max(worstStep, abs(held(c, column) - Double(leaky(x[c * length + t]))) / Double(scales[column]))
                    }
                    for c in cIn..<(quads * 4) { XCTAssertEqual(bytes[((c / 4) * ld + column) * 4 + c % 4], 128) }
                }
                XCTAssertLessThanOrEqual(worstStep, 0.5 + 1e-4, "\(label): quantization step")

                var y = [Float](repeating: 0, count: cOut * length)
                x.withUnsafeBufferPointer { xp in
                    residual.withUnsafeBufferPointer { rp in
                        y.withUnsafeMutableBufferPointer { yp in
                            ConvolutionWorkspace().convolve(conv, input: xp.baseAddress!, length: length, slope: slope,
                                                            into: yp.baseAddress!, residual: rp.baseAddress!)
                        }
                    }
                }
                var worst = 0.0, worstVsExact = 0.0, magnitude = 0.0
                for o in 0..<cOut {
                    for t in 0..<length {
                        var expected = Double(b[o]) + Double(residual[o * length + t]), exact = expected
                        for c in 0..<cIn {
                            for j in 0..<kernel {
                                let column = t + j * dilation, weight = o * cIn * kernel + c * kernel + j
                                expected += Double(heldWeights[weight]) * held(c, column)
                                let position = column - padding
                                if position >= 0 && position < length {
                                    exact += Double(w[weight]) * Double(leaky(x[c * length + position]))
                                }
                            }
                        }
                        let value = Double(y[o * length + t])
                        worst = max(worst, abs(value - expected))
                        worstVsExact = max(worstVsExact, abs(value - exact))
                        magnitude = max(magnitude, abs(exact))
                    }
                }
                XCTAssertLessThanOrEqual(worst, 1e-5 * max(magnitude, 1), "\(label): vs float64 over the quantized values")
                XCTAssertLessThanOrEqual(worstVsExact, 0.03 * max(magnitude, 1), "\(label): vs the unquantized convolution")
            }
        }
    }

    /// fp32 convolutions against float64, on every level: input channels beyond the AVX2 kernel's L1 block (so
    /// partial sums cross blocks), odd channel counts and lengths, dilations, a leaky input, and the residual
    /// aliasing the output as the residual blocks run it. Every level sums each output in the same order
    /// (over input channels, then taps, then bias, then residual), so the samples agree across levels
    /// to the last bit except for the generic level, whose multiply-adds are not fused.
    func testFP32ConvolutionOnEveryLevel() {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &generator) } }
        let slope: Float = 0.1
        func leaky(_ v: Float) -> Float { v >= 0 ? v : v * slope }
        for (cIn, cOut, kernel, dilation, length) in [(3, 5, 3, 1, 1), (200, 13, 7, 3, 301), (96, 8, 11, 5, 1000), (130, 34, 3, 1, 45)] {
            let x = random(cIn * length), w = random(cOut * cIn * kernel), b = random(cOut), residual = random(cOut * length)
            let padding = (kernel - 1) / 2 * dilation
            let conv = Conv1d(weight: WeightMatrix(rows: cOut, columns: cIn * kernel, copying: w, precision: .fp32),
                              bias: FloatBuffer(b), inChannels: cIn, kernelSize: kernel, dilation: dilation, padding: padding)
            var expected = [Double](repeating: 0, count: cOut * length), magnitude = 1.0
            for o in 0..<cOut {
                for t in 0..<length {
                    var sum = Double(b[o]) + Double(residual[o * length + t])
                    for c in 0..<cIn {
                        for j in 0..<kernel {
                            let position = t + j * dilation - padding
                            if position >= 0 && position < length {
                                sum += Double(w[(o * cIn + c) * kernel + j]) * Double(leaky(x[c * length + position]))
                            }
                        }
                    }
                    expected[o * length + t] = sum
                    magnitude = max(magnitude, abs(sum))
                }
            }
            var byLevel: [Threading.CPULevel: [Float]] = [:]
            for level in levels {
                Threading.limitCPULevel(level)
                var y = residual   // the residual is the output, as in the residual blocks
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        ConvolutionWorkspace().convolve(conv, input: xp.baseAddress!, length: length, slope: slope,
                                                        into: yp.baseAddress!, residual: UnsafePointer(yp.baseAddress!))
                    }
                }
                let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 2e-6 * Double(cIn * kernel).squareRoot() * magnitude,
                                         "\(level.name) cIn \(cIn) cOut \(cOut) k \(kernel) d \(dilation) length \(length)")
                byLevel[level] = y
            }
            if let avx2 = byLevel[.avx2] {
                for level in levels where level > .avx2 {
                    XCTAssertEqual(byLevel[level], avx2, "\(level.name) and avx2 sum in the same order: cIn \(cIn) k \(kernel)")
                }
            }
        }
    }

    /// fp32 convolutions in Winograd form (the vocoder's residual-block convolutions) against float64 on every
    /// level: F(4, 3) for 3 taps and chunks of F(4, 4) for 4 and more (one chunk, two with a zero-padded last
    /// one, three, and 19 that reach past the next 16-tile block), dilations 1 and 2, 3, 5 (one dilation-1
    /// convolution per output phase; phases of unequal length, and phases with no output), lengths that end
    /// inside a tile, inside a 64-output block and on its edge, odd channel counts (partial 8-channel tiles), no
    /// bias, and the residual aliasing the output. Levels without Winograd kernels run the same layer directly;
    /// the Winograd sums round up to about twice as much as direct ones.
    func testWinogradConvolutionOnEveryLevel() {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &generator) } }
        let slope: Float = 0.1
        func leaky(_ v: Float) -> Float { v >= 0 ? v : v * slope }
        let shapes = [(3, 5, 3, 1, 1, true), (17, 9, 3, 1, 63, true), (40, 24, 4, 1, 64, false), (33, 8, 5, 1, 65, true),
                      (64, 32, 7, 1, 300, true), (24, 16, 11, 1, 1000, true), (8, 3, 13, 1, 129, false),
                      (130, 13, 8, 1, 301, true), (16, 16, 3, 3, 1001, true), (12, 20, 7, 5, 1289, false),
                      (9, 7, 11, 2, 77, true), (5, 3, 3, 5, 3, true), (32, 8, 11, 5, 4, true), (4, 9, 75, 1, 256, true)]
        for (cIn, cOut, kernel, dilation, length, hasBias) in shapes {
            // Even kernels give one output fewer than the input, as in torch.
            let padding = (kernel - 1) / 2 * dilation, outLength = length + 2 * padding - (kernel - 1) * dilation
            let x = random(cIn * length), w = random(cOut * cIn * kernel), b = random(cOut), residual = random(cOut * outLength)
            var expected = [Double](repeating: 0, count: cOut * outLength), magnitude = 1.0
            for o in 0..<cOut {
                for t in 0..<outLength {
                    var sum = (hasBias ? Double(b[o]) : 0) + Double(residual[o * outLength + t])
                    for c in 0..<cIn {
                        for j in 0..<kernel where t + j * dilation - padding >= 0 && t + j * dilation - padding < length {
                            sum += Double(w[(o * cIn + c) * kernel + j]) * Double(leaky(x[c * length + t + j * dilation - padding]))
                        }
                    }
                    expected[o * outLength + t] = sum
                    magnitude = max(magnitude, abs(sum))
                }
            }
            let label = "cIn \(cIn) cOut \(cOut) k \(kernel) d \(dilation) length \(length)"
            for level in levels {
                Threading.limitCPULevel(level)
                let weights = WeightMatrix(rows: cOut, columns: cIn * kernel, copying: w, precision: .fp32)
                let conv = Conv1d(weight: weights, bias: hasBias ? FloatBuffer(b) : nil, inChannels: cIn,
                                  kernelSize: kernel, dilation: dilation, padding: padding,
                                  format: ck_conv_winograd_available(Int32(kernel), Int32(dilation)) != 0 ? .winograd : nil)
                XCTAssertEqual(conv.packed?.format == .winograd, level >= .avx2, "\(level.name) \(label)")
                var y = residual
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        ConvolutionWorkspace().convolve(conv, input: xp.baseAddress!, length: length, slope: slope,
                                                        into: yp.baseAddress!, residual: UnsafePointer(yp.baseAddress!))
                    }
                }
                XCTAssertTrue(y.allSatisfy(\.isFinite), "\(level.name) \(label)")
                let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
                // Measured up to 8e-8 (direct sums: 5e-8); a 1e-4 relative error in one transform coefficient gives 4e-6.
                XCTAssertLessThanOrEqual(worst, 4e-7 * Double(cIn * kernel).squareRoot() * magnitude, "\(level.name) \(label)")
            }
        }
    }

    /// Transposed convolutions (the vocoder's upsamplers) against their definition in float64, over strides with
    /// a fused all-phase tile on AVX-512 (2, 4, 8) and without (3, 5), phases with fewer taps than others
    /// (kernel not a multiple of the stride, even a kernel shorter than the stride), paddings, odd channel counts
    /// and lengths that end in partial tiles. Every level sums in the same order, so the samples agree bit for bit
    /// from AVX2 up (FMA everywhere).
    func testTransposedConvolutionOnEveryLevel() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &generator) } }
        let slope: Float = 0.1
        func leaky(_ v: Float) -> Float { v >= 0 ? v : v * slope }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases = [(5, 3, 8, 4, 2, 1), (64, 32, 8, 4, 2, 37), (24, 16, 4, 2, 1, 50), (17, 9, 5, 2, 1, 23),
                     (12, 6, 16, 8, 4, 19), (10, 7, 7, 3, 2, 31), (9, 11, 10, 5, 0, 8), (8, 5, 3, 4, 0, 9)]
        for (cIn, cOut, kernel, stride, padding, length) in cases {
            let label = "cIn \(cIn) cOut \(cOut) k \(kernel) stride \(stride) padding \(padding) length \(length)"
            let x = random(cIn * length), w = random(cIn * cOut * kernel), b = random(cOut)
            let path = directory.appendingPathComponent("\(cIn)-\(kernel)-\(stride).safetensors").path
            let writer = SafeTensorsWriter()
            try writer.add("up.weight", tensor: Tensor(shape: [cIn, cOut, kernel], scalars: w))
            try writer.add("up.bias", tensor: Tensor(shape: [cOut], scalars: b))
            _ = try writer.write(to: path, overwrite: true)
            let outLength = (length - 1) * stride - 2 * padding + kernel
            var expected = [Double](repeating: 0, count: cOut * outLength), magnitude = 1.0
            for o in 0..<cOut {
                for q in 0..<outLength {
                    var sum = Double(b[o])
                    for c in 0..<cIn {
                        for i in 0..<length {
                            let k = q + padding - i * stride
                            if k >= 0 && k < kernel { sum += Double(w[(c * cOut + o) * kernel + k]) * Double(leaky(x[c * length + i])) }
                        }
                    }
                    expected[o * outLength + q] = sum
                    magnitude = max(magnitude, abs(sum))
                }
            }
            var byLevel: [Threading.CPULevel: [Float]] = [:]
            for level in levels {
                Threading.limitCPULevel(level)
                let store = try WeightStore(files: [SafeTensorsFile(path: path)])
                let up = try ConvTranspose1d(store, "up", in: cIn, out: cOut, kernel: kernel, stride: stride, padding: padding)
                var y = [Float](repeating: .nan, count: cOut * outLength)
                let written = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        up(xp.baseAddress!, length: length, ldx: length, inputSlope: slope, into: yp.baseAddress!)
                    }
                }
                XCTAssertEqual(written, outLength, label)
                XCTAssertTrue(y.allSatisfy(\.isFinite), "\(level.name) left outputs unwritten: \(label)")
                let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 2e-6 * Double(cIn * kernel).squareRoot() * magnitude, "\(level.name) \(label)")
                byLevel[level] = y
            }
            if let avx2 = byLevel[.avx2] {
                for level in levels where level > .avx2 {
                    XCTAssertEqual(byLevel[level], avx2, "\(level.name) and avx2 sum in the same order: \(label)")
                }
            }
        }
    }

    /// The vocoder's residual blocks run in time tiles with a halo; tiny tiles must give
    /// the same waveform as one tile over the whole sequence, up to rounding (a missed halo column is an O(1)
    /// error). 1e-6, or 4e-6 where the residual blocks run in Winograd form: Winograd tiles (4 outputs from 6–7
    /// inputs) start where each time tile's window starts, so the two runs round the same sums differently
    /// (measured up to 1.7e-6). Winograd runs the fp32 vocoder, and below AVX-512 also the bf16 and int8 ones
    /// (they convolve in fp32 there).
    func testTiledVocoderEqualsUntiled() throws {
        let saved = HiFiGAN.tileLength
        defer { HiFiGAN.tileLength = saved }
        for name in Fixtures.modelNames {
            for precision in Precision.allCases {
                let vocoder = try HiFiGAN(directory: Fixtures.path("models/\(name)/vocoder"), precision: precision)
                let winograd = vocoder.residualBlocks.contains { block in
                    (block.dilatedConvolutions + block.convolutions).contains { $0.packed?.format == .winograd }
                }
                let bound: Float = winograd ? 4e-6 : 1e-6
                for c in try Fixtures.cases(model: name) where c.frames >= 6 {
                    let mel = try Fixtures.reference(model: name, case: c.name).floats("mel")
                    HiFiGAN.tileLength = 1 << 20
                    let whole = vocoder(mel, frames: c.frames)
                    for tile in [5, 16, 33] {
                        HiFiGAN.tileLength = tile
                        let tiled = vocoder(mel, frames: c.frames)
                        XCTAssertEqual(tiled.count, whole.count)
                        XCTAssertLessThanOrEqual(maxAbsDifference(tiled, whole), bound * max(maxMagnitude(whole), 1),
                                                 "\(name)/\(c.name) \(precision) tile \(tile)")
                    }
                }
            }
        }
    }
}
