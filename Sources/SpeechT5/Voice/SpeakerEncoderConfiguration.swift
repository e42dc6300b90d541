import Foundation

/// The parts of a speechbrain x-vector `hyperparams.yaml` (`speechbrain/spkrec-xvect-voxceleb`) that decide
/// the numbers: the `compute_features` Fbank, the `mean_var_norm` InputNormalization and the
/// `embedding_model` Xvector. Absent keys take speechbrain's constructor defaults (so `n_mels` defaults to
/// 40, `std_norm` to true: the published file sets 24 and false). Settings this port does not implement
/// (deltas, context windows, non-triangular filters, global normalization statistics) are refused with a
/// message naming the key, never silently ignored.
public struct SpeakerEncoderConfiguration: Sendable, Equatable {
    public enum Activation: String, Sendable, Equatable {
        case leakyReLU = "torch.nn.LeakyReLU"
        case relu = "torch.nn.ReLU"
    }

    // Fbank
    /// Input sample rate of the features (`sample_rate`, default 16 000).
    public var sampleRate = 16_000
    /// `n_fft` (default 400).
    public var fftSize = 400
    /// `win_length` in milliseconds (default 25).
    public var windowMilliseconds = 25.0
    /// `hop_length` in milliseconds (default 10).
    public var hopMilliseconds = 10.0
    /// `n_mels` (default 40).
    public var melCount = 40
    /// `f_min` in Hz (default 0).
    public var fMin = 0.0
    /// `f_max` in Hz; nil means `sample_rate // 2`.
    public var fMax: Double?

    // InputNormalization (norm_type "sentence")
    /// `std_norm` (default true).
    public var stdNorm = true
    /// `epsilon` (default 1e-10).
    public var normEpsilon: Float = 1e-10

    // Xvector
    /// `in_channels` (default 40).
    public var inChannels = 40
    /// `activation` (default LeakyReLU with torch's slope 0.01).
    public var activation = Activation.leakyReLU
    /// `tdnn_channels[0..<tdnn_blocks]` (default 512, 512, 512, 512, 1500).
    public var channels = [512, 512, 512, 512, 1500]
    /// `tdnn_kernel_sizes[0..<tdnn_blocks]` (default 5, 3, 3, 1, 1).
    public var kernelSizes = [5, 3, 3, 1, 1]
    /// `tdnn_dilations[0..<tdnn_blocks]` (default 1, 2, 3, 1, 1).
    public var dilations = [1, 2, 3, 1, 1]
    /// `lin_neurons`: the embedding size (default 512).
    public var embeddingDimension = 512

    /// Largest channel count / embedding size / FFT size accepted (guards allocations against hostile files).
    static let maxSize = 1 << 16

    public init() {}

    /// Window length in samples, `round(sr · win_ms / 1000)` (Python's round: half to even).
    public var windowSamples: Int {
        Int((Double(sampleRate) / 1000 * windowMilliseconds).rounded(.toNearestOrEven))
    }

    /// Hop in samples, `round(sr · hop_ms / 1000)`.
    public var hopSamples: Int {
        Int((Double(sampleRate) / 1000 * hopMilliseconds).rounded(.toNearestOrEven))
    }

    /// Number of TDNN blocks.
    public var blockCount: Int { channels.count }

    /// Checks that the settings describe a network this port can run (the parser guarantees it for
    /// configurations read from a file; this guards ones built in code). Problems → `.invalidConfig`.
    public func check(path: String) throws {
        func bad(_ field: String, _ reason: String) -> SpeechT5Error {
            .invalidConfig(path: path, field: field, reason: reason)
        }
        let size = 1...Self.maxSize
        guard (1...WAVFile.maxSampleRate).contains(sampleRate) else { throw bad("compute_features.sample_rate", "\(sampleRate) is out of range") }
        guard (2...Self.maxSize).contains(fftSize) else { throw bad("compute_features.n_fft", "\(fftSize) is out of range") }
        guard (1...fftSize).contains(windowSamples) else { throw bad("compute_features.win_length", "\(windowSamples) samples; must be 1...n_fft") }
        guard size.contains(hopSamples) else { throw bad("compute_features.hop_length", "\(hopSamples) samples is out of range") }
        guard (1...4096).contains(melCount) else { throw bad("compute_features.n_mels", "\(melCount) is out of range") }
        let nyquist = Double(sampleRate / 2), top = fMax ?? nyquist
        guard fMin >= 0, fMin < top, top <= nyquist else { throw bad("compute_features.f_max", "need 0 <= f_min < f_max <= sample_rate/2") }
        guard normEpsilon > 0, normEpsilon.isFinite else { throw bad("mean_var_norm.epsilon", "must be positive") }
        guard inChannels == melCount else { throw bad("embedding_model.in_channels", "is \(inChannels) but the Fbank has \(melCount) mel bins") }
        guard (1...64).contains(channels.count) else { throw bad("embedding_model.tdnn_blocks", "\(channels.count) blocks") }
        guard kernelSizes.count == channels.count, dilations.count == channels.count else {
            throw bad("embedding_model.tdnn_blocks", "\(channels.count) channel counts, \(kernelSizes.count) kernel sizes and \(dilations.count) dilations")
        }
        guard channels.allSatisfy(size.contains) else { throw bad("embedding_model.tdnn_channels", "out of range") }
        guard kernelSizes.allSatisfy({ (1...1025).contains($0) && $0 % 2 == 1 }) else {
            throw bad("embedding_model.tdnn_kernel_sizes", "kernel sizes must be odd, 1...1025")
        }
        guard dilations.allSatisfy((1...1024).contains) else { throw bad("embedding_model.tdnn_dilations", "out of range") }
        guard size.contains(embeddingDimension) else { throw bad("embedding_model.lin_neurons", "out of range") }
    }

    /// Reads `hyperparams.yaml`.
    public static func load(path: String) throws -> SpeakerEncoderConfiguration {
        let bytes = try BinaryFileIO.readFile(path, maxBytes: HyperparamsYAML.maxBytes, what: "hyperparams file")
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw SpeechT5Error.invalidFile(path: path, reason: "not valid UTF-8")
        }
        return try parse(text, path: path)
    }

    /// Parses the text of a `hyperparams.yaml`; `path` is used in error messages.
    public static func parse(_ text: String, path: String) throws -> SpeakerEncoderConfiguration {
        let yaml: HyperparamsYAML
        do {
            yaml = try HyperparamsYAML(text: text)
        } catch let error as HyperparamsYAML.ParseError {
            throw SpeechT5Error.invalidFile(path: path, reason: "line \(error.line): \(error.message)")
        }
        let reader = Reader(yaml: yaml, path: path)
        var config = SpeakerEncoderConfiguration()

        // compute_features: !new:speechbrain.lobes.features.Fbank
        let features = try reader.section("compute_features", className: "speechbrain.lobes.features.Fbank")
        try reader.checkKeys(features, "compute_features", allowed: [
            "sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "f_min", "f_max", "deltas", "context",
            "requires_grad", "filter_shape", "param_change_factor", "param_rand_factor", "left_frames", "right_frames",
        ])
        config.sampleRate = try reader.int(features, "compute_features", "sample_rate", default: 16_000, range: 1...WAVFile.maxSampleRate)
        config.fftSize = try reader.int(features, "compute_features", "n_fft", default: 400, range: 2...maxSize)
        config.windowMilliseconds = try reader.double(features, "compute_features", "win_length", default: 25)
        config.hopMilliseconds = try reader.double(features, "compute_features", "hop_length", default: 10)
        config.melCount = try reader.int(features, "compute_features", "n_mels", default: 40, range: 1...4096)
        config.fMin = try reader.double(features, "compute_features", "f_min", default: 0)
        config.fMax = try reader.optionalDouble(features, "compute_features", "f_max")
        if try reader.bool(features, "compute_features", "deltas", default: false) {
            throw reader.unsupported("compute_features", "deltas", "delta features are not implemented")
        }
        if try reader.bool(features, "compute_features", "context", default: false) {
            throw reader.unsupported("compute_features", "context", "context windows are not implemented")
        }
        let shape = try reader.string(features, "compute_features", "filter_shape", default: "triangular")
        guard shape == "triangular" else {
            throw reader.unsupported("compute_features", "filter_shape", "'\(shape)' filters are not implemented (only triangular)")
        }
        if try reader.bool(features, "compute_features", "requires_grad", default: false) {
            let factor = try reader.double(features, "compute_features", "param_change_factor", default: 1)
            guard factor == 1 else {
                throw reader.unsupported("compute_features", "param_change_factor", "must be 1 when requires_grad is true")
            }
        }
        let windowSamples = config.windowSamples, hopSamples = config.hopSamples
        guard windowSamples >= 1, windowSamples <= config.fftSize else {
            throw reader.unsupported("compute_features", "win_length",
                                     "\(config.windowMilliseconds) ms is \(windowSamples) samples; must be 1...n_fft (\(config.fftSize))")
        }
        guard hopSamples >= 1, hopSamples <= maxSize else {
            throw reader.unsupported("compute_features", "hop_length", "\(config.hopMilliseconds) ms is \(hopSamples) samples")
        }
        let nyquist = Double(config.sampleRate / 2)
        let fMax = config.fMax ?? nyquist
        guard config.fMin >= 0, config.fMin < fMax, fMax <= nyquist else {
            throw reader.unsupported("compute_features", "f_max", "need 0 <= f_min < f_max <= sample_rate/2, got \(config.fMin) and \(fMax)")
        }

        // mean_var_norm: !new:speechbrain.processing.features.InputNormalization
        let norm = try reader.section("mean_var_norm", className: "speechbrain.processing.features.InputNormalization")
        try reader.checkKeys(norm, "mean_var_norm", allowed: [
            "mean_norm", "std_norm", "norm_type", "avg_factor", "length_dim", "update_until_epoch",
            "avoid_padding_norm", "epsilon", "device", "requires_grad",
        ])
        let normType = try reader.string(norm, "mean_var_norm", "norm_type", default: "global")
        guard normType == "sentence" else {
            throw reader.unsupported("mean_var_norm", "norm_type", "'\(normType)' needs statistics the encoder does not load; only 'sentence' is supported")
        }
        guard try reader.bool(norm, "mean_var_norm", "mean_norm", default: true) else {
            throw reader.unsupported("mean_var_norm", "mean_norm", "false is not supported (speechbrain rejects it too)")
        }
        guard try reader.int(norm, "mean_var_norm", "length_dim", default: 1, range: 0...8) == 1 else {
            throw reader.unsupported("mean_var_norm", "length_dim", "only 1 is supported")
        }
        config.stdNorm = try reader.bool(norm, "mean_var_norm", "std_norm", default: true)
        config.normEpsilon = Float(try reader.double(norm, "mean_var_norm", "epsilon", default: 1e-10))

        // embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
        let model = try reader.section("embedding_model", className: "speechbrain.lobes.models.Xvector.Xvector")
        try reader.checkKeys(model, "embedding_model", allowed: [
            "device", "activation", "tdnn_blocks", "tdnn_channels", "tdnn_kernel_sizes", "tdnn_dilations",
            "lin_neurons", "in_channels",
        ])
        config.inChannels = try reader.int(model, "embedding_model", "in_channels", default: 40, range: 1...maxSize)
        if let node = model.value("activation") {
            let resolved = try reader.resolve(node, "embedding_model", "activation")
            guard case .scalar(let value, let tag) = resolved, let tag, tag.hasPrefix("!name:"), value.isEmpty,
                  let activation = Activation(rawValue: String(tag.dropFirst("!name:".count)))
            else {
                throw reader.unsupported("embedding_model", "activation", "expected !name:torch.nn.LeakyReLU or !name:torch.nn.ReLU")
            }
            config.activation = activation
        }
        let blocks = try reader.int(model, "embedding_model", "tdnn_blocks", default: 5, range: 1...64)
        let channels = try reader.intList(model, "embedding_model", "tdnn_channels", default: [512, 512, 512, 512, 1500], range: 1...maxSize)
        let kernels = try reader.intList(model, "embedding_model", "tdnn_kernel_sizes", default: [5, 3, 3, 1, 1], range: 1...1025)
        let dilations = try reader.intList(model, "embedding_model", "tdnn_dilations", default: [1, 2, 3, 1, 1], range: 1...1024)
        for (key, list) in [("tdnn_channels", channels), ("tdnn_kernel_sizes", kernels), ("tdnn_dilations", dilations)] {
            guard list.count >= blocks else {
                throw reader.unsupported("embedding_model", key, "has \(list.count) entries, tdnn_blocks is \(blocks)")
            }
        }
        config.channels = Array(channels.prefix(blocks))
        config.kernelSizes = Array(kernels.prefix(blocks))
        config.dilations = Array(dilations.prefix(blocks))
        if let even = config.kernelSizes.first(where: { $0 % 2 == 0 }) {
            throw reader.unsupported("embedding_model", "tdnn_kernel_sizes", "kernel size \(even) is even; 'same' padding needs odd sizes")
        }
        config.embeddingDimension = try reader.int(model, "embedding_model", "lin_neurons", default: 512, range: 1...maxSize)
        guard config.inChannels == config.melCount else {
            throw reader.unsupported("embedding_model", "in_channels", "is \(config.inChannels) but the Fbank has \(config.melCount) mel bins")
        }
        try config.check(path: path)
        return config
    }

    /// Typed access to sections and keys with messages naming the file and key.
    private struct Reader {
        let yaml: HyperparamsYAML
        let path: String

        func unsupported(_ section: String, _ key: String, _ reason: String) -> SpeechT5Error {
            .invalidConfig(path: path, field: "\(section).\(key)", reason: reason)
        }

        func section(_ name: String, className: String) throws -> HyperparamsYAML.Node {
            let entry: HyperparamsYAML.Node?
            do {
                entry = try yaml.entry(name)
            } catch let error as HyperparamsYAML.ParseError {
                throw SpeechT5Error.invalidFile(path: path, reason: "line \(error.line): \(error.message)")
            }
            guard let node = entry else {
                throw SpeechT5Error.invalidConfig(path: path, field: name, reason: "missing (expected !new:\(className))")
            }
            let resolved = try resolve(node, name, nil)
            guard case .map = resolved else {
                if case .scalar("", let tag) = resolved, tag == "!new:\(className)" {
                    return .map([], tag: tag)  // all defaults
                }
                throw SpeechT5Error.invalidConfig(path: path, field: name, reason: "expected a !new:\(className) block")
            }
            guard resolved.tag == "!new:\(className)" else {
                throw SpeechT5Error.invalidConfig(
                    path: path, field: name,
                    reason: "is \(resolved.tag ?? "untagged"), expected !new:\(className) (other models are not supported)")
            }
            return resolved
        }

        func checkKeys(_ node: HyperparamsYAML.Node, _ section: String, allowed: Set<String>) throws {
            for key in node.keys where !allowed.contains(key) {
                throw unsupported(section, key, "unknown setting; the encoder would not know how to honour it")
            }
        }

        func resolve(_ node: HyperparamsYAML.Node, _ section: String, _ key: String?) throws -> HyperparamsYAML.Node {
            do {
                return try yaml.resolve(node, lineContext: key.map { "\(section).\($0)" } ?? section)
            } catch let error as HyperparamsYAML.ParseError {
                throw SpeechT5Error.invalidConfig(path: path, field: key.map { "\(section).\($0)" } ?? section, reason: error.message)
            }
        }

        private func scalar(_ node: HyperparamsYAML.Node, _ section: String, _ key: String) throws -> String? {
            guard let value = node.value(key) else { return nil }
            let resolved = try resolve(value, section, key)
            guard case .scalar(let text, let tag) = resolved, tag == nil || tag == "!!int" || tag == "!!float" || tag == "!!str" || tag == "!!bool" else {
                throw unsupported(section, key, "expected a plain value")
            }
            return text
        }

        func int(_ node: HyperparamsYAML.Node, _ section: String, _ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let text = try scalar(node, section, key) else { return value }
            guard let number = Self.parseInt(text) else {
                throw unsupported(section, key, "'\(text)' is not an integer")
            }
            guard range.contains(number) else {
                throw unsupported(section, key, "\(number) is out of range (\(range.lowerBound)...\(range.upperBound))")
            }
            return number
        }

        func double(_ node: HyperparamsYAML.Node, _ section: String, _ key: String, default value: Double) throws -> Double {
            try optionalDouble(node, section, key) ?? value
        }

        func optionalDouble(_ node: HyperparamsYAML.Node, _ section: String, _ key: String) throws -> Double? {
            guard let text = try scalar(node, section, key) else { return nil }
            if ["null", "~", "None", ""].contains(text) { return nil }
            guard let number = Self.parseDouble(text), number.isFinite else {
                throw unsupported(section, key, "'\(text)' is not a number")
            }
            return number
        }

        func bool(_ node: HyperparamsYAML.Node, _ section: String, _ key: String, default value: Bool) throws -> Bool {
            guard let text = try scalar(node, section, key) else { return value }
            switch text {
            case "True", "true", "TRUE", "yes", "Yes", "on": return true
            case "False", "false", "FALSE", "no", "No", "off": return false
            default: throw unsupported(section, key, "'\(text)' is not True or False")
            }
        }

        func string(_ node: HyperparamsYAML.Node, _ section: String, _ key: String, default value: String) throws -> String {
            try scalar(node, section, key) ?? value
        }

        func intList(_ node: HyperparamsYAML.Node, _ section: String, _ key: String, default value: [Int], range: ClosedRange<Int>) throws -> [Int] {
            guard let raw = node.value(key) else { return value }
            guard case .list(let items, _) = try resolve(raw, section, key) else {
                throw unsupported(section, key, "expected a list of integers")
            }
            guard items.count <= 64 else { throw unsupported(section, key, "has \(items.count) entries (at most 64)") }
            return try items.map { item in
                guard case .scalar(let text, _) = try resolve(item, section, key), let number = Self.parseInt(text) else {
                    throw unsupported(section, key, "expected a list of integers")
                }
                guard range.contains(number) else {
                    throw unsupported(section, key, "\(number) is out of range (\(range.lowerBound)...\(range.upperBound))")
                }
                return number
            }
        }

        static func parseInt(_ text: String) -> Int? {
            if let value = Int(text.replacingOccurrences(of: "_", with: "")) { return value }
            if let value = parseDouble(text), value.rounded() == value, abs(value) < 1e15 { return Int(value) }
            return nil
        }

        static func parseDouble(_ text: String) -> Double? {
            Double(text.replacingOccurrences(of: "_", with: ""))
        }
    }
}
