import Foundation

extension HubRepo {
    /// speechbrain's x-vector speaker encoder, the one SpeechT5's speaker embeddings come from.
    public static let speakerEncoder = HubRepo(id: "speechbrain/spkrec-xvect-voxceleb")
}

extension SpeakerEncoder {
    /// Fetches `hyperparams.yaml` and `embedding_model.ckpt` of ``HubRepo/speakerEncoder`` (or finds them in
    /// the cache) and returns the snapshot directory holding both, ready for `init(directory:)`. Both files
    /// come from the commit `revision` resolves to when `hyperparams.yaml` is fetched.
    public static func fetchDirectory(hub: HubClient, revision: String = "main") async throws -> String {
        let hyperparams = try await hub.file(hyperparamsFileName, in: .speakerEncoder, revision: revision)
        let directory = (hyperparams as NSString).deletingLastPathComponent
        let snapshot = (directory as NSString).lastPathComponent
        let pinned = snapshot.count == 40 && snapshot.allSatisfy(\.isHexDigit) ? snapshot : revision
        let checkpoint = try await hub.file(checkpointFileName, in: .speakerEncoder, revision: pinned)
        guard (checkpoint as NSString).deletingLastPathComponent == directory else {
            throw SpeechT5Error.invalidFile(
                path: checkpoint, reason: "is not in the same snapshot as \(hyperparams); clear the cache entry and retry")
        }
        return directory
    }
}
