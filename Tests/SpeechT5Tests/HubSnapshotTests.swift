import Foundation
import XCTest

@testable import SpeechT5

/// `modelSnapshot` / `resolveModelDirectory`: which files a model directory gets, online and offline.
final class HubSnapshotTests: HubTestCase {
    let ttsConfig = Array(#"{"model_type": "speecht5"}"#.utf8)
    let vocoderConfig = Array(#"{"model_type": "hifigan"}"#.utf8)
    let spm = hubTestBytes(2000, seed: 21)
    let bin = hubTestBytes(30_000, seed: 22)
    let safetensors = hubTestBytes(30_000, seed: 23)

    func testTTSRepoWithOnlyPytorchBin() async throws {
        try tree.add("microsoft/speecht5_tts", files: [
            "config.json": ttsConfig, "pytorch_model.bin": bin, "spm_char.model": spm,
            "tokenizer_config.json": Array("{}".utf8), "added_tokens.json": Array("{}".utf8),
            "special_tokens_map.json": Array("{}".utf8), "README.md": Array("# readme".utf8),
            "preprocessor_config.json": Array("{}".utf8),
        ])
        let hub = try startHub()
        let directory = try await client(hub).resolveModelDirectory("microsoft/speecht5_tts", revision: nil)
        XCTAssertTrue(directory.hasPrefix(cacheDirectory + "/models--microsoft--speecht5_tts/snapshots/"), directory)
        XCTAssertEqual(listing(directory), ["added_tokens.json", "config.json", "pytorch_model.bin", "special_tokens_map.json",
                                            "spm_char.model", "tokenizer_config.json"])
        XCTAssertEqual(try bytes(at: directory + "/pytorch_model.bin"), bin)
        XCTAssertEqual(try bytes(at: directory + "/spm_char.model"), spm)
        let commit = (directory as NSString).lastPathComponent
        let noExist = "\(cacheDirectory!)/models--microsoft--speecht5_tts/.no_exist/\(commit)"
        XCTAssertEqual(listing(noExist), ["generation_config.json", "model.safetensors", "model.safetensors.index.json"])

        // A second run asks the hub one question (config.json at main) and downloads nothing.
        let before = try await hub.requests().count
        let again = try await client(hub).resolveModelDirectory("microsoft/speecht5_tts", revision: "main")
        XCTAssertEqual(again, directory)
        let newRequests = try await hub.requests().dropFirst(before)
        XCTAssertEqual(newRequests.map(\.path), ["/microsoft/speecht5_tts/resolve/main/config.json"])

        // Offline, the same directory comes from the cache.
        let offline = try await client(hub, offline: true).resolveModelDirectory("microsoft/speecht5_tts", revision: nil)
        XCTAssertEqual(offline, directory)
    }

    func testSafetensorsIsPreferredWhenPresent() async throws {
        try tree.add("fakeorg/both", files: ["config.json": vocoderConfig, "pytorch_model.bin": bin, "model.safetensors": safetensors])
        let hub = try startHub()
        let directory = try await client(hub).modelSnapshot(HubRepo(id: "fakeorg/both"))
        XCTAssertEqual(listing(directory), ["config.json", "model.safetensors"])
        let requests = try await hub.requests()
        XCTAssertFalse(requests.contains { $0.path.hasSuffix("pytorch_model.bin") }, "the .bin is not even probed")
    }

    func testShardedSafetensorsFetchesEveryShard() async throws {
        let shard1 = hubTestBytes(5000, seed: 31), shard2 = hubTestBytes(6000, seed: 32)
        let index = #"{"metadata": {"total_size": 11000}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors", "c.weight": "model-00001-of-00002.safetensors"}}"#
        try tree.add("fakeorg/sharded", files: [
            "config.json": vocoderConfig, "model.safetensors.index.json": Array(index.utf8),
            "model-00001-of-00002.safetensors": shard1, "model-00002-of-00002.safetensors": shard2,
        ])
        let hub = try startHub()
        let directory = try await client(hub).modelSnapshot(HubRepo(id: "fakeorg/sharded"))
        XCTAssertEqual(listing(directory), ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                            "model.safetensors.index.json"])
        XCTAssertEqual(try bytes(at: directory + "/model-00002-of-00002.safetensors"), shard2)
    }

    func testHostileShardNameIsRejected() async throws {
        let index = #"{"weight_map": {"a": "../../../../etc/passwd"}}"#
        try tree.add("fakeorg/hostile", files: ["config.json": vocoderConfig, "model.safetensors.index.json": Array(index.utf8)])
        let hub = try startHub()
        let error = await expectError { _ = try await self.client(hub).modelSnapshot(HubRepo(id: "fakeorg/hostile")) }
        guard case .invalidFile(_, let reason)? = error as? SpeechT5Error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertTrue(reason.contains("shard name"), reason)
    }

    func testMissingWeightsAndMissingTokenizer() async throws {
        try tree.add("fakeorg/noweights", files: ["config.json": vocoderConfig])
        try tree.add("fakeorg/nospm", files: ["config.json": ttsConfig, "model.safetensors": safetensors])
        let hub = try startHub()
        let client = client(hub)
        var error = await expectError { _ = try await client.modelSnapshot(HubRepo(id: "fakeorg/noweights")) }
        XCTAssertEqual(error as? HubError, .entryNotFound(repo: HubRepo(id: "fakeorg/noweights"), revision: "main",
                                                          filename: "model.safetensors or pytorch_model.bin"))
        error = await expectError { _ = try await client.modelSnapshot(HubRepo(id: "fakeorg/nospm")) }
        XCTAssertEqual(error as? HubError, .entryNotFound(repo: HubRepo(id: "fakeorg/nospm"), revision: "main", filename: "spm_char.model"))
        error = await expectError { _ = try await client.modelSnapshot(HubRepo(id: "fakeorg/absent")) }
        guard case .repositoryNotFound? = error as? HubError else { return XCTFail("got \(String(describing: error))") }
    }

    func testVocoderWithoutTokenizerAndUnreachableHubFallback() async throws {
        try tree.add("microsoft/speecht5_hifigan", files: ["config.json": vocoderConfig, "pytorch_model.bin": bin])
        let hub = try startHub()
        let directory = try await client(hub).resolveModelDirectory("microsoft/speecht5_hifigan", revision: nil)
        XCTAssertEqual(listing(directory), ["config.json", "pytorch_model.bin"])
        hub.stop()
        let fallback = try await client(nil, endpoint: hub.endpoint).resolveModelDirectory("microsoft/speecht5_hifigan", revision: nil)
        XCTAssertEqual(fallback, directory)
    }

    func testOfflineSnapshotWithPartialCacheNamesWhatIsMissing() async throws {
        try tree.add("fakeorg/tts", files: ["config.json": ttsConfig, "model.safetensors": safetensors, "spm_char.model": spm])
        let hub = try startHub()
        _ = try await client(hub).file("config.json", in: HubRepo(id: "fakeorg/tts"))
        let error = await expectError { _ = try await self.client(hub, offline: true).modelSnapshot(HubRepo(id: "fakeorg/tts")) }
        XCTAssertEqual(error as? HubError, .offlineNotCached(repo: HubRepo(id: "fakeorg/tts"), revision: "main",
                                                             filename: "model.safetensors or pytorch_model.bin",
                                                             cacheDirectory: cacheDirectory))
    }
}
