import Foundation

/// The fields of transformers' `SpeechT5Config` that text-to-speech inference uses, with the class
/// defaults where `config.json` leaves a field out.
public struct SpeechT5Config: Codable, Sendable, Equatable {
    public var vocabSize = 81
    public var hiddenSize = 768
    public var encoderLayers = 12
    public var encoderAttentionHeads = 12
    public var encoderFfnDim = 3072
    public var decoderLayers = 6
    public var decoderAttentionHeads = 12
    public var decoderFfnDim = 3072
    public var hiddenAct = "gelu"
    public var layerNormEps: Float = 1e-5
    public var maxTextPositions = 450
    public var maxSpeechPositions = 4000
    public var encoderMaxRelativePosition = 160
    public var numMelBins = 80
    public var reductionFactor = 2
    public var speechDecoderPrenetLayers = 2
    public var speechDecoderPrenetUnits = 256
    public var speechDecoderPrenetDropout: Double = 0.5
    public var speakerEmbeddingDim = 512
    public var speechDecoderPostnetLayers = 5
    public var speechDecoderPostnetUnits = 256
    public var speechDecoderPostnetKernel = 5
    public var padTokenId = 1
    public var bosTokenId = 0
    public var eosTokenId = 2

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case encoderLayers = "encoder_layers", encoderAttentionHeads = "encoder_attention_heads"
        case encoderFfnDim = "encoder_ffn_dim"
        case decoderLayers = "decoder_layers", decoderAttentionHeads = "decoder_attention_heads"
        case decoderFfnDim = "decoder_ffn_dim"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case maxTextPositions = "max_text_positions", maxSpeechPositions = "max_speech_positions"
        case encoderMaxRelativePosition = "encoder_max_relative_position"
        case numMelBins = "num_mel_bins", reductionFactor = "reduction_factor"
        case speechDecoderPrenetLayers = "speech_decoder_prenet_layers"
        case speechDecoderPrenetUnits = "speech_decoder_prenet_units"
        case speechDecoderPrenetDropout = "speech_decoder_prenet_dropout"
        case speakerEmbeddingDim = "speaker_embedding_dim"
        case speechDecoderPostnetLayers = "speech_decoder_postnet_layers"
        case speechDecoderPostnetUnits = "speech_decoder_postnet_units"
        case speechDecoderPostnetKernel = "speech_decoder_postnet_kernel"
        case padTokenId = "pad_token_id", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    /// The class defaults of `SpeechT5Config()`.
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func field<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            // JSON null means "use the default", as in transformers.
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try field(.vocabSize, &vocabSize); try field(.hiddenSize, &hiddenSize)
        try field(.encoderLayers, &encoderLayers); try field(.encoderAttentionHeads, &encoderAttentionHeads)
        try field(.encoderFfnDim, &encoderFfnDim)
        try field(.decoderLayers, &decoderLayers); try field(.decoderAttentionHeads, &decoderAttentionHeads)
        try field(.decoderFfnDim, &decoderFfnDim)
        try field(.hiddenAct, &hiddenAct); try field(.layerNormEps, &layerNormEps)
        try field(.maxTextPositions, &maxTextPositions); try field(.maxSpeechPositions, &maxSpeechPositions)
        try field(.encoderMaxRelativePosition, &encoderMaxRelativePosition)
        try field(.numMelBins, &numMelBins); try field(.reductionFactor, &reductionFactor)
        try field(.speechDecoderPrenetLayers, &speechDecoderPrenetLayers)
        try field(.speechDecoderPrenetUnits, &speechDecoderPrenetUnits)
        try field(.speechDecoderPrenetDropout, &speechDecoderPrenetDropout)
        try field(.speakerEmbeddingDim, &speakerEmbeddingDim)
        try field(.speechDecoderPostnetLayers, &speechDecoderPostnetLayers)
        try field(.speechDecoderPostnetUnits, &speechDecoderPostnetUnits)
        try field(.speechDecoderPostnetKernel, &speechDecoderPostnetKernel)
        try field(.padTokenId, &padTokenId); try field(.bosTokenId, &bosTokenId); try field(.eosTokenId, &eosTokenId)
    }

    /// Checks every value the engine relies on and names the first one it cannot honour.
    public func validate(path: String) throws {
        func fail(_ field: String, _ reason: String) -> SpeechT5Error {
            .invalidConfig(path: path, field: field, reason: reason)
        }
        let positive: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize),
            ("encoder_attention_heads", encoderAttentionHeads), ("encoder_ffn_dim", encoderFfnDim),
            ("decoder_attention_heads", decoderAttentionHeads), ("decoder_ffn_dim", decoderFfnDim),
            ("max_text_positions", maxTextPositions), ("max_speech_positions", maxSpeechPositions),
            ("encoder_max_relative_position", encoderMaxRelativePosition), ("num_mel_bins", numMelBins),
            ("reduction_factor", reductionFactor), ("speech_decoder_prenet_units", speechDecoderPrenetUnits),
            ("speaker_embedding_dim", speakerEmbeddingDim), ("speech_decoder_postnet_units", speechDecoderPostnetUnits),
            ("speech_decoder_postnet_kernel", speechDecoderPostnetKernel),
        ]
        for (name, value) in positive where value <= 0 { throw fail(name, "must be positive, got \(value)") }
        let nonNegative: [(String, Int)] = [
            ("encoder_layers", encoderLayers), ("decoder_layers", decoderLayers),
            ("speech_decoder_prenet_layers", speechDecoderPrenetLayers),
        ]
        for (name, value) in nonNegative where value < 0 { throw fail(name, "must not be negative, got \(value)") }
        // Guard against configs that would make the engine allocate absurd amounts of memory.
        let limits: [(String, Int, Int)] = [
            ("hidden_size", hiddenSize, 16384), ("vocab_size", vocabSize, 1 << 20),
            ("encoder_layers", encoderLayers, 256), ("decoder_layers", decoderLayers, 256),
            ("encoder_ffn_dim", encoderFfnDim, 1 << 17), ("decoder_ffn_dim", decoderFfnDim, 1 << 17),
            ("max_text_positions", maxTextPositions, 1 << 16), ("max_speech_positions", maxSpeechPositions, 1 << 17),
            ("encoder_max_relative_position", encoderMaxRelativePosition, 1 << 16),
            ("num_mel_bins", numMelBins, 4096), ("reduction_factor", reductionFactor, 64),
            ("speech_decoder_prenet_layers", speechDecoderPrenetLayers, 64),
            ("speech_decoder_prenet_units", speechDecoderPrenetUnits, 1 << 16),
            ("speaker_embedding_dim", speakerEmbeddingDim, 1 << 16),
            ("speech_decoder_postnet_layers", speechDecoderPostnetLayers, 64),
            ("speech_decoder_postnet_units", speechDecoderPostnetUnits, 1 << 16),
            ("speech_decoder_postnet_kernel", speechDecoderPostnetKernel, 1025),
        ]
        for (name, value, limit) in limits where value > limit {
            throw fail(name, "\(value) is larger than this engine supports (\(limit))")
        }
        if hiddenSize % 2 != 0 { throw fail("hidden_size", "must be even for the sinusoidal positions, got \(hiddenSize)") }
        if hiddenSize % encoderAttentionHeads != 0 {
            throw fail("encoder_attention_heads", "\(encoderAttentionHeads) does not divide hidden_size \(hiddenSize)")
        }
        if hiddenSize % decoderAttentionHeads != 0 {
            throw fail("decoder_attention_heads", "\(decoderAttentionHeads) does not divide hidden_size \(hiddenSize)")
        }
        if speechDecoderPrenetLayers == 0 && numMelBins != speechDecoderPrenetUnits {
            throw fail("speech_decoder_prenet_layers", "0 layers need num_mel_bins == speech_decoder_prenet_units, as the reference's final layer reads the units")
        }
        if speechDecoderPostnetLayers < 1 {
            throw fail("speech_decoder_postnet_layers", "must be at least 1, got \(speechDecoderPostnetLayers)")
        }
        if speechDecoderPostnetKernel % 2 == 0 {
            throw fail("speech_decoder_postnet_kernel", "must be odd (the reference fails on even kernels), got \(speechDecoderPostnetKernel)")
        }
        if !(speechDecoderPrenetDropout >= 0 && speechDecoderPrenetDropout < 1) {
            throw fail("speech_decoder_prenet_dropout", "must be in [0, 1), got \(speechDecoderPrenetDropout)")
        }
        if !(layerNormEps > 0 && layerNormEps.isFinite) { throw fail("layer_norm_eps", "must be positive, got \(layerNormEps)") }
        if Activation(configName: hiddenAct) == nil {
            throw fail("hidden_act", "unsupported activation '\(hiddenAct)' (supported: \(Activation.supportedNames.joined(separator: ", ")))")
        }
        if padTokenId < 0 || eosTokenId < 0 { throw fail("pad_token_id", "token ids must not be negative") }
    }

    /// Reads and validates `config.json`.
    public static func load(path: String) throws -> SpeechT5Config {
        let config: SpeechT5Config = try decodeConfig(path: path)
        try config.validate(path: path)
        return config
    }
}

/// The fields of transformers' `SpeechT5HifiGanConfig`.
public struct HiFiGANConfig: Codable, Sendable, Equatable {
    public var modelInDim = 80
    public var samplingRate = 16000
    public var upsampleInitialChannel = 512
    public var upsampleRates = [4, 4, 4, 4]
    public var upsampleKernelSizes = [8, 8, 8, 8]
    public var resblockKernelSizes = [3, 7, 11]
    public var resblockDilationSizes = [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    public var leakyReluSlope: Float = 0.1
    public var normalizeBefore = true

    enum CodingKeys: String, CodingKey {
        case modelInDim = "model_in_dim", samplingRate = "sampling_rate"
        case upsampleInitialChannel = "upsample_initial_channel"
        case upsampleRates = "upsample_rates", upsampleKernelSizes = "upsample_kernel_sizes"
        case resblockKernelSizes = "resblock_kernel_sizes", resblockDilationSizes = "resblock_dilation_sizes"
        case leakyReluSlope = "leaky_relu_slope", normalizeBefore = "normalize_before"
    }

    /// The class defaults of `SpeechT5HifiGanConfig()` (= `microsoft/speecht5_hifigan`).
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func field<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try field(.modelInDim, &modelInDim); try field(.samplingRate, &samplingRate)
        try field(.upsampleInitialChannel, &upsampleInitialChannel)
        try field(.upsampleRates, &upsampleRates); try field(.upsampleKernelSizes, &upsampleKernelSizes)
        try field(.resblockKernelSizes, &resblockKernelSizes); try field(.resblockDilationSizes, &resblockDilationSizes)
        try field(.leakyReluSlope, &leakyReluSlope); try field(.normalizeBefore, &normalizeBefore)
    }

    /// Channels after upsampler `i` (0-based), as the reference computes them: `C0 // 2^(i+1)`.
    func channels(afterUpsample i: Int) -> Int { upsampleInitialChannel >> (i + 1) }

    /// Checks every value the engine relies on and names the first one it cannot honour.
    public func validate(path: String) throws {
        func fail(_ field: String, _ reason: String) -> SpeechT5Error {
            .invalidConfig(path: path, field: field, reason: reason)
        }
        if modelInDim <= 0 || modelInDim > 4096 { throw fail("model_in_dim", "must be in 1...4096, got \(modelInDim)") }
        if samplingRate <= 0 || samplingRate > 1_000_000 { throw fail("sampling_rate", "must be in 1...1000000, got \(samplingRate)") }
        if upsampleInitialChannel <= 0 || upsampleInitialChannel > 1 << 14 {
            throw fail("upsample_initial_channel", "must be in 1...16384, got \(upsampleInitialChannel)")
        }
        if upsampleRates.count != upsampleKernelSizes.count {
            throw fail("upsample_kernel_sizes", "has \(upsampleKernelSizes.count) entries but upsample_rates has \(upsampleRates.count)")
        }
        if upsampleRates.count > 12 { throw fail("upsample_rates", "more than 12 upsampling stages") }
        if upsampleInitialChannel >> upsampleRates.count < 1 {
            throw fail("upsample_initial_channel", "\(upsampleInitialChannel) channels cannot be halved \(upsampleRates.count) times")
        }
        for (i, (u, k)) in zip(upsampleRates, upsampleKernelSizes).enumerated() {
            if u <= 0 || u > 1024 { throw fail("upsample_rates", "entry \(i) must be in 1...1024, got \(u)") }
            if k < u || k > 4096 { throw fail("upsample_kernel_sizes", "entry \(i) (\(k)) must be at least its rate \(u) and at most 4096") }
        }
        if resblockKernelSizes.isEmpty { throw fail("resblock_kernel_sizes", "must not be empty") }
        if resblockKernelSizes.count != resblockDilationSizes.count {
            throw fail("resblock_dilation_sizes", "has \(resblockDilationSizes.count) entries but resblock_kernel_sizes has \(resblockKernelSizes.count)")
        }
        for (j, k) in resblockKernelSizes.enumerated() where k <= 0 || k % 2 == 0 || k > 1025 {
            throw fail("resblock_kernel_sizes", "entry \(j) must be odd and in 1...1025, got \(k)")
        }
        for (j, dilations) in resblockDilationSizes.enumerated() {
            if dilations.count > 16 { throw fail("resblock_dilation_sizes", "entry \(j) has more than 16 dilations") }
            for d in dilations where d <= 0 || d > 1024 {
                throw fail("resblock_dilation_sizes", "entry \(j) has dilation \(d); must be in 1...1024")
            }
        }
        if !leakyReluSlope.isFinite { throw fail("leaky_relu_slope", "must be finite") }
    }

    /// Reads and validates a vocoder `config.json`.
    public static func load(path: String) throws -> HiFiGANConfig {
        let config: HiFiGANConfig = try decodeConfig(path: path)
        try config.validate(path: path)
        return config
    }
}

/// Feed-forward activations named by `hidden_act` (transformers' `ACT2FN`) that the engine implements.
enum Activation: Sendable {
    case geluErf, geluTanh, relu, silu, quickGelu, tanh, sigmoid

    static let supportedNames = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish", "quick_gelu", "tanh", "sigmoid"]

    init?(configName: String) {
        switch configName {
        case "gelu": self = .geluErf
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        case "quick_gelu": self = .quickGelu
        case "tanh": self = .tanh
        case "sigmoid": self = .sigmoid
        default: return nil
        }
    }
}

/// Decodes a JSON config file, turning every failure into an error that names the file and field.
func decodeConfig<T: Decodable>(path: String) throws -> T {
    guard FileManager.default.fileExists(atPath: path) else { throw SpeechT5Error.fileNotFound(path: path) }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw SpeechT5Error.invalidFile(path: path, reason: "cannot read: \(error.localizedDescription)")
    }
    if data.count > 16 << 20 { throw SpeechT5Error.invalidFile(path: path, reason: "config is larger than 16 MB") }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.typeMismatch(_, context) {
        throw SpeechT5Error.invalidConfig(path: path, field: context.codingPath.map(\.stringValue).joined(separator: "."),
                                          reason: "wrong type: \(context.debugDescription)")
    } catch let DecodingError.valueNotFound(_, context) {
        throw SpeechT5Error.invalidConfig(path: path, field: context.codingPath.map(\.stringValue).joined(separator: "."),
                                          reason: context.debugDescription)
    } catch let DecodingError.dataCorrupted(context) {
        let field = context.codingPath.map(\.stringValue).joined(separator: ".")
        if field.isEmpty { throw SpeechT5Error.invalidFile(path: path, reason: "not valid JSON: \(context.debugDescription)") }
        throw SpeechT5Error.invalidConfig(path: path, field: field, reason: context.debugDescription)
    } catch {
        throw SpeechT5Error.invalidFile(path: path, reason: "not a valid config: \(error)")
    }
}
