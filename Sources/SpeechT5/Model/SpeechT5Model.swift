import Foundation

/// `SpeechT5ForTextToSpeech`: text encoder, speech decoder with its pre-net, and post-net.
public struct SpeechT5Model: Sendable {
    /// The configuration the weights were loaded with.
    public let config: SpeechT5Config
    let encoder: TextEncoder
    let prenet: SpeechDecoderPrenet
    let decoder: SpeechDecoder
    let postnet: PostNet
    /// Checkpoint keys that no part of the model read (legacy keys the reference ignores excluded).
    public let unusedWeights: [String]

    /// The arithmetic precision of the weights.
    public let precision: Precision

    /// Loads `config.json` and the weights from a model directory. In `.fp32` precision F32 weights are
    /// used in place from the memory-mapped file; `.bf16` converts them once to bfloat16, `.int8` the speech
    /// decoder's to int8 and the rest to bfloat16.
    public init(directory: String, precision: Precision = .fp32) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let config = try SpeechT5Config.load(path: configPath)
        try self.init(WeightStore(directory: directory), config: config, precision: precision)
    }

    init(_ store: WeightStore, config: SpeechT5Config, precision: Precision = .fp32) throws {
        self.config = config
        self.precision = precision
        encoder = try TextEncoder(store, config: config, precision: precision.computeBound)
        prenet = try SpeechDecoderPrenet(store, config: config, precision: precision)
        decoder = try SpeechDecoder(store, config: config, precision: precision)
        postnet = try PostNet(store, config: config)
        unusedWeights = store.unusedKeys
        store.releasePagesNotInUse()
    }
}
