import Foundation
import XCTest

@testable import SpeechT5

final class VoiceFeatureTests: XCTestCase {
    func testFFTMatchesDirectDFT() {
        for n in [1, 2, 3, 7, 12, 16, 25, 97, 400] {
            let fft = ComplexFFT(count: n)
            let inputRe = (0..<n).map { sin(Double($0) * 1.7) + 0.1 * Double($0 % 3) }
            let inputIm = (0..<n).map { cos(Double($0) * 0.3) }
            var re = inputRe, im = inputIm
            var scratchRe = [Double](repeating: 0, count: n), scratchIm = [Double](repeating: 0, count: n)
            re.withUnsafeMutableBufferPointer { r in
                im.withUnsafeMutableBufferPointer { i in
                    scratchRe.withUnsafeMutableBufferPointer { sr in
                        scratchIm.withUnsafeMutableBufferPointer { si in
                            fft.forward(re: r.baseAddress!, im: i.baseAddress!, scratchRe: sr.baseAddress!, scratchIm: si.baseAddress!)
                        }
                    }
                }
            }
            var worst = 0.0
            for k in 0..<n {
                var sumRe = 0.0, sumIm = 0.0
                for t in 0..<n {
                    let angle = -2 * Double.pi * Double(k * t) / Double(n)
                    sumRe += inputRe[t] * cos(angle) - inputIm[t] * sin(angle)
                    sumIm += inputRe[t] * sin(angle) + inputIm[t] * cos(angle)
                }
                worst = max(worst, abs(sumRe - re[k]), abs(sumIm - im[k]))
            }
            XCTAssertLessThan(worst, 1e-10, "n = \(n)")
        }
    }

    func testFrameCountAndTopDB() throws {
        var config = SpeakerEncoderConfiguration()
        config.melCount = 24
        config.inChannels = 24
        let fbank = Fbank(configuration: config)
        // torch.stft(center=True): 1 + count / hop frames.
        XCTAssertEqual(fbank.frameCount(sampleCount: 1), 1)
        XCTAssertEqual(fbank.frameCount(sampleCount: 159), 1)
        XCTAssertEqual(fbank.frameCount(sampleCount: 160), 2)
        XCTAssertEqual(fbank.frameCount(sampleCount: 16_000), 101)

        // Half a second of tone, then digital silence: the silent frames sit exactly 80 dB below the maximum.
        let samples = (0..<16_000).map { $0 < 8_000 ? Float(0.5 * sin(Double($0) * 0.2)) : 0 }
        let (values, frames) = fbank(samples)
        XCTAssertEqual(frames, 101)
        let maximum = values.max() ?? 0
        XCTAssertEqual(values.min() ?? 0, maximum - 80, accuracy: 1e-4)
        XCTAssertEqual(values[(frames - 1) * 24], maximum - 80, accuracy: 1e-4)
    }

    func testSentenceNormalization() {
        // Two frames of two dims.
        var values: [Float] = [1, 10, 3, 30]
        Fbank.normalizeSentence(&values, frames: 2, dim: 2, stdNorm: false, epsilon: 1e-10)
        XCTAssertEqual(values, [-1, -10, 1, 10])
        var scaled: [Float] = [1, 10, 3, 30]
        Fbank.normalizeSentence(&scaled, frames: 2, dim: 2, stdNorm: true, epsilon: 1e-10)
        XCTAssertEqual(scaled, [-1, -1, 1, 1])
        var constant: [Float] = [5, 5, 5, 5]
        Fbank.normalizeSentence(&constant, frames: 2, dim: 2, stdNorm: true, epsilon: 1e-10)
        XCTAssertEqual(constant, [0, 0, 0, 0], "a zero std is clamped to epsilon, not divided by")
    }
}
