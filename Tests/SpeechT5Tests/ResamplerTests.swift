import Foundation
import XCTest

@testable import SpeechT5

final class ResamplerTests: XCTestCase {
    /// torchaudio.transforms.Resample's output (the resampler speechbrain uses) on noise plus a chirp.
    func testMatchesTorchaudio() throws {
        let reference = try VoiceFixtures.reference()
        let rates = try VoiceFixtures.manifest().resample_rates
        XCTAssertFalse(rates.isEmpty)
        for rate in rates {
            let input = try reference.floats("resample.\(rate).input")
            let expected = try reference.floats("resample.\(rate).output")
            let output = try Resampler(from: rate, to: 16_000).process(input)
            XCTAssertEqual(output.count, expected.count, "\(rate) Hz: length")
            guard output.count == expected.count else { continue }
            let difference = maxAbsDifference(output, expected)
            XCTAssertLessThanOrEqual(difference, 1e-6, "\(rate) Hz → 16 kHz: max |Δ| \(difference)")
            print("resampler \(rate) Hz → 16 kHz: max |Δ| \(difference) vs torchaudio")
        }
    }

    func testOutputLength() throws {
        let resampler = try Resampler(from: 22_050, to: 16_000)
        XCTAssertEqual(resampler.outputCount(forInputCount: 0), 0)
        XCTAssertEqual(resampler.outputCount(forInputCount: 1), 1)
        XCTAssertEqual(resampler.outputCount(forInputCount: 441), 320)
        XCTAssertEqual(resampler.outputCount(forInputCount: 442), 321)
        XCTAssertEqual(resampler.outputCount(forInputCount: 22_050), 16_000)
        XCTAssertEqual(resampler.process([]).count, 0)
        XCTAssertEqual(resampler.process([0.5]).count, 1)
        XCTAssertEqual(try Resampler(from: 8_000, to: 16_000).outputCount(forInputCount: 3), 6)
    }

    func testEqualRatesAreIdentity() throws {
        let input: [Float] = (0..<100).map { Float(sin(Double($0) * 0.3)) }
        XCTAssertEqual(try Resampler.resample(input, from: 16_000, to: 16_000), input)
        XCTAssertEqual(try Resampler(from: 44_100, to: 44_100).process(input), input)
    }

    func testRejectsBadRates() {
        XCTAssertThrowsError(try Resampler(from: 0, to: 16_000))
        XCTAssertThrowsError(try Resampler(from: 16_000, to: -1))
        XCTAssertThrowsError(try Resampler(from: WAVFile.maxSampleRate + 1, to: 16_000))
    }

    // MARK: - Pure tones

    private func tone(_ frequency: Double, rate: Int, seconds: Double, amplitude: Double = 0.5) -> [Float] {
        (0..<Int(seconds * Double(rate))).map { Float(amplitude * sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    /// Least-squares amplitude of a sinusoid at `frequency` in `signal[range]`, and the RMS of what is left.
    private func fit(_ signal: [Float], rate: Int, frequency: Double, range: Range<Int>) -> (amplitude: Double, residual: Double) {
        var ss = 0.0, cc = 0.0, sc = 0.0, ys = 0.0, yc = 0.0
        for n in range {
            let phase = 2 * Double.pi * frequency * Double(n) / Double(rate)
            let s = sin(phase), c = cos(phase), y = Double(signal[n])
            ss += s * s; cc += c * c; sc += s * c; ys += y * s; yc += y * c
        }
        let det = ss * cc - sc * sc
        let a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det
        var residual = 0.0
        for n in range {
            let phase = 2 * Double.pi * frequency * Double(n) / Double(rate)
            let r = Double(signal[n]) - a * sin(phase) - b * cos(phase)
            residual += r * r
        }
        return ((a * a + b * b).squareRoot(), (residual / Double(range.count)).squareRoot())
    }

    private func rms(_ signal: [Float], _ range: Range<Int>) -> Double {
        (range.reduce(0.0) { $0 + Double(signal[$1]) * Double(signal[$1]) } / Double(range.count)).squareRoot()
    }

    // torchaudio's filter (6 zero crossings, Hann window, cutoff 0.99 × Nyquist) is flat to ~0.7 × the lower
    // Nyquist frequency (−0.5 dB at 0.8, −4 dB at 0.95), −10 dB at 1.05, −28 dB at 1.2, −45 dB at 1.3 and
    // −55 dB at 1.5 × Nyquist. The tone tests use those figures with margin.

    func testToneFrequencyAndLevelAreKept() throws {
        for (input, frequency) in [(44_100, 1_000.0), (48_000, 4_000.0), (22_050, 440.0), (8_000, 2_000.0), (11_025, 3_000.0),
                                   (32_000, 4_800.0)] {
            let output = try Resampler.resample(tone(frequency, rate: input, seconds: 0.5), from: input, to: 16_000)
            let interior = 200..<(output.count - 200)  // away from the zero-padded ends
            let (amplitude, residual) = fit(output, rate: 16_000, frequency: frequency, range: interior)
            XCTAssertEqual(amplitude, 0.5, accuracy: 0.005, "\(input) Hz, \(frequency) Hz tone: amplitude")
            // Everything that is not the tone (distortion, images, a wrong frequency) stays 50 dB down.
            XCTAssertLessThan(residual, 0.5 * 0.00316, "\(input) Hz, \(frequency) Hz tone: residual RMS \(residual)")
        }
    }

    func testNoAliasingAboveNyquist() throws {
        // Tones above 8 kHz must be removed, not folded back below it (11 kHz would alias to 5 kHz).
        for (input, frequency) in [(44_100, 11_000.0), (44_100, 15_000.0), (48_000, 12_000.0), (22_050, 10_500.0), (32_000, 14_000.0)] {
            let output = try Resampler.resample(tone(frequency, rate: input, seconds: 0.5), from: input, to: 16_000)
            let interior = 200..<(output.count - 200)
            let level = rms(output, interior) / (0.5 / 2.squareRoot())
            XCTAssertLessThan(20 * log10(level), -40, "\(input) Hz, \(frequency) Hz tone leaks \(20 * log10(level)) dB")
            let alias = 16_000 - frequency.truncatingRemainder(dividingBy: 16_000)
            let (aliasAmplitude, _) = fit(output, rate: 16_000, frequency: abs(alias), range: interior)
            XCTAssertLessThan(aliasAmplitude, 0.5 * 0.01, "\(input) Hz, \(frequency) Hz tone: alias at \(abs(alias)) Hz")
        }
    }

    func testUpsamplingLeavesNoImages() throws {
        // 8 kHz → 16 kHz: a 2 kHz tone must not leave an image at 8 − 2 = 6 kHz.
        let output = try Resampler.resample(tone(2_000, rate: 8_000, seconds: 0.5), from: 8_000, to: 16_000)
        let interior = 200..<(output.count - 200)
        let (image, _) = fit(output, rate: 16_000, frequency: 6_000, range: interior)
        XCTAssertLessThan(image, 0.5 * 0.01, "image at 6 kHz")
        let (amplitude, _) = fit(output, rate: 16_000, frequency: 2_000, range: interior)
        XCTAssertEqual(amplitude, 0.5, accuracy: 0.005)
    }

    func testLongCoprimeRatio() throws {
        // 16 001 → 16 000: 16 000 phases; only non-zero taps are stored, so this stays cheap.
        let resampler = try Resampler(from: 16_001, to: 16_000)
        let output = resampler.process(tone(1_000, rate: 16_001, seconds: 0.25))
        let (amplitude, residual) = fit(output, rate: 16_000, frequency: 1_000, range: 200..<(output.count - 200))
        XCTAssertEqual(amplitude, 0.5, accuracy: 0.005)
        XCTAssertLessThan(residual, 5e-4)
    }
}
