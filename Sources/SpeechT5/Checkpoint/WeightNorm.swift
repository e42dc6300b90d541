import Foundation

/// Weight normalization (`W = g · v / ‖v‖`), folded at load time so that a checkpoint saved with weight
/// norm active reads like one saved after `remove_weight_norm`.
///
/// Two spellings exist:
/// - the old `torch.nn.utils.weight_norm`: `X.weight_g` and `X.weight_v`;
/// - `torch.nn.utils.parametrizations.weight_norm`: `X.parametrizations.weight.original0` (g) and
///   `X.parametrizations.weight.original1` (v).
///
/// In both, `g` has the rank of `v` with every extent 1 except the kept dimension `dim` (torch's default is
/// 0, the output channels of a Conv1d `[out, in, k]` and the *input* channels of a ConvTranspose1d
/// `[in, out, k]`), and the norm runs over every other dimension. The kept dimension is read from g's shape;
/// a g of a single element means `dim=None` (one norm over the whole tensor) unless v's dimension 0 is 1,
/// where both readings agree.
///
/// The arithmetic follows torch's `_weight_norm`: the norm in float32 (accumulated in Double here), then
/// `v * (g / norm)`. A zero slice of v gives NaN, as in torch.
enum WeightNorm {
    /// One weight-norm pair that stands for the tensor `name`.
    struct Pair: Equatable, Sendable {
        /// The folded tensor's name (`X.weight`).
        let name: String
        /// The magnitude key (`X.weight_g` or `X.parametrizations.weight.original0`).
        let g: String
        /// The direction key (`X.weight_v` or `X.parametrizations.weight.original1`).
        let v: String
    }

    static let legacySuffixes = (g: ".weight_g", v: ".weight_v")
    static let parametrizationMarker = ".parametrizations."
    static let parametrizationSuffixes = (g: ".original0", v: ".original1")

    /// The weight-norm pairs among `keys` whose folded name is not itself stored, by folded name. A
    /// parametrization and an old-style pair for the same name → the error names both.
    static func pairs(in keys: Set<String>, path: String) throws -> [String: Pair] {
        var pairs: [String: Pair] = [:]
        for key in keys {
            var candidate: Pair?
            if key.hasSuffix(legacySuffixes.g) {
                let stem = String(key.dropLast(legacySuffixes.g.count))
                candidate = Pair(name: stem + ".weight", g: key, v: stem + legacySuffixes.v)
            } else if key.hasSuffix(parametrizationSuffixes.g),
                      let marker = key.range(of: parametrizationMarker, options: .backwards)
            {
                // X.parametrizations.<param>.original0 → X.<param>
                let module = String(key[..<marker.lowerBound])
                let parameter = String(key[marker.upperBound...].dropLast(parametrizationSuffixes.g.count))
                if !parameter.isEmpty, !parameter.contains(".") {
                    let stem = key.dropLast(parametrizationSuffixes.g.count)
                    candidate = Pair(name: module + "." + parameter, g: key, v: stem + parametrizationSuffixes.v)
                }
            }
            guard let pair = candidate, keys.contains(pair.v), !keys.contains(pair.name) else { continue }
            if let other = pairs[pair.name] {
                throw SpeechT5Error.invalidFile(
                    path: path,
                    reason: "'\(pair.name)' is stored twice with weight norm ('\(other.g)'/'\(other.v)' and '\(pair.g)'/'\(pair.v)')")
            }
            pairs[pair.name] = pair
        }
        return pairs
    }

    /// The dimension whose slices are normalized separately, or nil for one norm over the whole tensor.
    /// Shapes that are not a weight-norm pair → nil with `valid == false`.
    static func keptDimension(gShape: [Int], vShape: [Int]) -> (valid: Bool, dimension: Int?) {
        let gCount = gShape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        if gShape.count == vShape.count, !vShape.isEmpty {
            let notOne = gShape.indices.filter { gShape[$0] != 1 }
            if notOne.count == 1, let d = notOne.first {
                return (gShape[d] == vShape[d], d)
            }
            if notOne.isEmpty {
                return (true, vShape[0] == 1 ? 0 : nil)
            }
            return (false, nil)
        }
        // A 0-d or one-element g of another rank: dim=None.
        return (gCount == 1, nil)
    }

    /// Describes a shape problem of the pair, or nil when g and v fit.
    static func shapeProblem(gShape: [Int], vShape: [Int]) -> String? {
        if keptDimension(gShape: gShape, vShape: vShape).valid { return nil }
        return "weight-norm magnitude shape \(gShape) does not fit direction shape \(vShape) (expected the shape of v with every extent 1 except one kept dimension)"
    }

    /// `g · v / ‖v‖` with the norm over every dimension except the kept one. The shapes must fit
    /// (`shapeProblem` is nil); the result has v's shape.
    static func fold(g: [Float], gShape: [Int], v: [Float], vShape: [Int]) -> [Float] {
        let (_, kept) = keptDimension(gShape: gShape, vShape: vShape)
        var result = [Float](repeating: 0, count: v.count)
        guard !v.isEmpty else { return result }
        guard let d = kept else {
            let norm = Float(v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            let factor = (g.count == 1 ? g[0] : .nan) / norm
            for i in v.indices { result[i] = v[i] * factor }
            return result
        }
        let outer = vShape[..<d].reduce(1, *)
        let extent = vShape[d]
        let inner = vShape[(d + 1)...].reduce(1, *)
        var sums = [Double](repeating: 0, count: extent)
        for o in 0..<outer {
            for j in 0..<extent {
                let start = (o * extent + j) * inner
                var sum = 0.0
                for i in start..<(start + inner) { sum += Double(v[i]) * Double(v[i]) }
                sums[j] += sum
            }
        }
        let factors = (0..<extent).map { j in (g.count == extent ? g[j] : .nan) / Float(sums[j].squareRoot()) }
        for o in 0..<outer {
            for j in 0..<extent {
                let start = (o * extent + j) * inner
                let factor = factors[j]
                for i in start..<(start + inner) { result[i] = v[i] * factor }
            }
        }
        return result
    }
}
