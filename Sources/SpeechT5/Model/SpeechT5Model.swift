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

    /// Loads `config.json` and the weights from a model directory.
    public init(directory: String) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let config = try SpeechT5Config.load(path: configPath)
        try self.init(WeightStore(directory: directory), config: config)
    }

    init(_ store: WeightStore, config: SpeechT5Config) throws {
        self.config = config
        encoder = try TextEncoder(store, config: config)
        prenet = try SpeechDecoderPrenet(store, config: config)
        decoder = try SpeechDecoder(store, config: config)
        postnet = try PostNet(store, config: config)
        unusedWeights = store.unusedKeys
    }
}
