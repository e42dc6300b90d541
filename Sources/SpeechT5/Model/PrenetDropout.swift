/// The speech-decoder pre-net's dropout, which the reference keeps active at inference.
///
/// The reference draws masks from torch's global RNG; this engine uses the counter-based generator of
/// the project's contract (SPEECHT5.md §13), so a seed gives the same audio on every machine, thread count
/// and batch composition, and a Python reference can reproduce it. As in the reference, an element is
/// *kept* with probability `p` (not `1 − p`) and scaled by `1 / (1 − p)`; `p = 0` zeroes the layer.
public struct PrenetDropout: Sendable, Equatable {
    /// Keep probability (the config's `speech_decoder_prenet_dropout`).
    public let probability: Double
    /// Seed of the mask generator.
    public let seed: UInt64

    public init(probability: Double, seed: UInt64) {
        self.probability = probability
        self.seed = seed
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The 64 random bits for one mask element.
    public static func bits(seed: UInt64, step: Int, layer: Int, unit: Int) -> UInt64 {
        var x = mix(seed)
        x = mix(x ^ (UInt64(truncatingIfNeeded: step) &* 0x9E37_79B9_7F4A_7C15))
        x = mix(x ^ (UInt64(truncatingIfNeeded: layer) &* 0xBF58_476D_1CE4_E5B9))
        x = mix(x ^ (UInt64(truncatingIfNeeded: unit) &* 0x94D0_49BB_1331_11EB))
        return x
    }

    /// Whether element `unit` of pre-net layer `layer` survives at decoder step `step`.
    @inline(__always)
    public func keep(step: Int, layer: Int, unit: Int) -> Bool {
        Double(Self.bits(seed: seed, step: step, layer: layer, unit: unit) >> 11) * 0x1p-53 < probability
    }

    /// Applies the mask of (`step`, `layer`) to row `row` of a `[rows, units]` buffer, in place.
    func apply(to values: inout [Float], row: Int, units: Int, step: Int, layer: Int) {
        // The reference computes `where(mask, z, 0) * 1 / (1 - p)`, i.e. a float32 division by (1 - p).
        let divisor = Float(1 - probability)
        values.withUnsafeMutableBufferPointer { v in
            let base = row * units
            for unit in 0..<units {
                v[base + unit] = keep(step: step, layer: layer, unit: unit) ? v[base + unit] / divisor : 0
            }
        }
    }
}
