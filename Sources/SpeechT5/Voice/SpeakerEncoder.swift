import Foundation

/// Speaker x-vectors from recordings: speechbrain's `spkrec-xvect-voxceleb` pipeline, the one that made
/// the x-vectors SpeechT5 was trained with (section 9 of SPEECHT5.md):
///
/// mono audio → resample to 16 kHz (`Resampler`, as speechbrain's `AudioNormalizer`) → `Fbank` (24-bin
/// log-mel, 25 ms / 10 ms) → sentence mean normalization → x-vector TDNN → statistics pooling → Linear (512)
/// → L2 normalization (`F.normalize`, eps 1e-12, as SpeechT5's x-vector script does).
///
/// Load it from a directory holding speechbrain's `hyperparams.yaml` and `embedding_model.ckpt` (a torch
/// checkpoint; `embedding_model.safetensors` is accepted too).
public struct SpeakerEncoder: Sendable {
    /// The model directory.
    public let directory: String
    /// Settings read from `hyperparams.yaml`.
    public let configuration: SpeakerEncoderConfiguration
    let fbank: Fbank
    let model: XvectorModel

    /// File names in a speechbrain model directory.
    public static let hyperparamsFileName = "hyperparams.yaml"
    public static let checkpointFileName = "embedding_model.ckpt"
    public static let safetensorsFileName = "embedding_model.safetensors"

    /// Longest recording accepted, in seconds.
    public static let maxDuration: Double = 3600
    /// Shortest recording accepted, in seconds (the network needs a few frames; 2 s of speech is advised).
    public static let minDuration: Double = 0.1

    /// Opens `directory` (`hyperparams.yaml` plus `embedding_model.ckpt` or `embedding_model.safetensors`).
    public init(directory: String) throws {
        guard BinaryFileIO.isDirectory(directory) else {
            if FileManager.default.fileExists(atPath: directory) {
                throw SpeechT5Error.invalidFile(path: directory, reason: "is not a directory; expected a speaker encoder directory (hyperparams.yaml, embedding_model.ckpt)")
            }
            throw SpeechT5Error.fileNotFound(path: directory)
        }
        let hyperparams = (directory as NSString).appendingPathComponent(Self.hyperparamsFileName)
        let configuration = try SpeakerEncoderConfiguration.load(path: hyperparams)
        let checkpoint = (directory as NSString).appendingPathComponent(Self.checkpointFileName)
        let safetensors = (directory as NSString).appendingPathComponent(Self.safetensorsFileName)
        let weights: WeightStore
        if FileManager.default.fileExists(atPath: checkpoint) {
            weights = try WeightStore(checkpointFile: checkpoint)
        } else if FileManager.default.fileExists(atPath: safetensors) {
            weights = try WeightStore(checkpointFile: safetensors)
        } else {
            throw SpeechT5Error.fileNotFound(path: checkpoint)
        }
        try self.init(configuration: configuration, weights: weights, directory: directory)
    }

    /// An encoder from a configuration and an opened checkpoint (keys as in `embedding_model.ckpt`).
    /// An inconsistent configuration → `.invalidConfig`; missing or mis-shaped weights → `.missingWeight`,
    /// `.shapeMismatch`.
    public init(configuration: SpeakerEncoderConfiguration, weights: WeightStore, directory: String? = nil) throws {
        try configuration.check(path: directory ?? weights.path)
        self.directory = directory ?? weights.path
        self.configuration = configuration
        fbank = Fbank(configuration: configuration)
        model = try XvectorModel(configuration: configuration, weights: weights)
    }

    /// Sample rate of the features (16 kHz for the published model); input at other rates is resampled.
    public var sampleRate: Int { configuration.sampleRate }
    /// Length of the x-vector (512 for the published model).
    public var dimension: Int { configuration.embeddingDimension }

    // MARK: - Embeddings

    /// The L2-normalized x-vector of a mono recording, ready for SpeechT5.
    /// Empty, silent, too short, too long or non-finite input → `.invalidArgument` naming the problem.
    public func embedding(samples: [Float], sampleRate: Int) throws -> [Float] {
        Self.l2Normalized(try rawEmbedding(samples: samples, sampleRate: sampleRate))
    }

    /// The x-vector as speechbrain's `encode_batch` returns it (before L2 normalization).
    public func rawEmbedding(samples: [Float], sampleRate: Int) throws -> [Float] {
        if let problem = Self.inputProblem(samples: samples, sampleRate: sampleRate) {
            throw SpeechT5Error.invalidArgument(name: "samples", reason: problem)
        }
        return try rawEmbeddingUnchecked(samples: samples, sampleRate: sampleRate)
    }

    /// Reads a WAV file (any encoding `WAVFile.read` accepts, channels averaged) and returns its
    /// L2-normalized x-vector with an analysis of the recording (speech duration, clipping) whose `warnings`
    /// a caller should show. Problems with the audio → `.invalidFile` naming the file.
    public func embedding(wavFile path: String) throws -> (embedding: [Float], analysis: RecordingAnalysis) {
        let (samples, rate) = try WAVFile.read(path: path)
        if let problem = Self.inputProblem(samples: samples, sampleRate: rate) {
            throw SpeechT5Error.invalidFile(path: path, reason: problem)
        }
        let analysis = RecordingAnalysis(samples: samples, sampleRate: rate)
        let raw = try rawEmbeddingUnchecked(samples: samples, sampleRate: rate)
        return (Self.l2Normalized(raw), analysis)
    }

    private func rawEmbeddingUnchecked(samples: [Float], sampleRate rate: Int) throws -> [Float] {
        let (features, frames) = try normalizedFeatures(samples: samples, sampleRate: rate)
        return model.embedding(features: features, frames: frames)
    }

    /// The log-mel filterbank `[frames, n_mels]` of a recording after resampling (speechbrain's
    /// `compute_features`), unnormalized.
    func filterbank(samples: [Float], sampleRate rate: Int) throws -> (values: [Float], frames: Int) {
        let audio = try Resampler.resample(samples, from: rate, to: configuration.sampleRate)
        let (values, frames) = fbank(audio)
        guard frames >= model.minimumFrames else {
            throw SpeechT5Error.invalidArgument(
                name: "samples", reason: "the recording gives \(frames) feature frames; the network needs at least \(model.minimumFrames)")
        }
        return (values, frames)
    }

    /// Filterbank features after `mean_var_norm` (speechbrain's input to the embedding model).
    func normalizedFeatures(samples: [Float], sampleRate rate: Int) throws -> (values: [Float], frames: Int) {
        var (values, frames) = try filterbank(samples: samples, sampleRate: rate)
        Fbank.normalizeSentence(&values, frames: frames, dim: configuration.melCount,
                                stdNorm: configuration.stdNorm, epsilon: configuration.normEpsilon)
        return (values, frames)
    }

    // MARK: - Vectors

    /// `v / max(‖v‖, 1e-12)` (torch's `F.normalize`); a zero vector stays zero.
    public static func l2Normalized(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let scale = 1 / max(norm, 1e-12)
        return vector.map { Float(Double($0) * scale) }
    }

    /// The voice of several recordings: the mean of their (normalized) x-vectors, L2-normalized again.
    /// No vectors, different lengths or non-finite values → `.invalidArgument`.
    public static func average(_ embeddings: [[Float]]) throws -> [Float] {
        guard let first = embeddings.first else {
            throw SpeechT5Error.invalidArgument(name: "embeddings", reason: "no x-vectors to average")
        }
        var sum = [Double](repeating: 0, count: first.count)
        for (i, vector) in embeddings.enumerated() {
            guard vector.count == first.count else {
                throw SpeechT5Error.invalidArgument(
                    name: "embeddings", reason: "x-vector \(i) has \(vector.count) values, the first has \(first.count)")
            }
            guard vector.allSatisfy(\.isFinite) else {
                throw SpeechT5Error.invalidArgument(name: "embeddings", reason: "x-vector \(i) holds a non-finite value")
            }
            for j in vector.indices { sum[j] += Double(vector[j]) }
        }
        return l2Normalized(sum.map { Float($0 / Double(embeddings.count)) })
    }

    // MARK: - Input checks

    /// Why `samples` cannot be encoded, or nil.
    static func inputProblem(samples: [Float], sampleRate: Int) -> String? {
        guard sampleRate >= 1, sampleRate <= WAVFile.maxSampleRate else {
            return "sample rate \(sampleRate) Hz is out of range (1...\(WAVFile.maxSampleRate))"
        }
        guard !samples.isEmpty else { return "the recording is empty (no samples)" }
        let duration = Double(samples.count) / Double(sampleRate)
        guard duration <= maxDuration else {
            return String(format: "the recording is %.0f s long; recordings longer than %.0f s (1 hour) are refused — use a few seconds to a few minutes of speech", duration, maxDuration)
        }
        guard duration >= minDuration else {
            return String(format: "the recording is %.3f s long, too short for a voice (at least %.1f s; 2 s or more of speech is advised)", duration, minDuration)
        }
        var peak: Float = 0
        for sample in samples {
            guard sample.isFinite else { return "the recording holds a non-finite sample (NaN or infinity)" }
            peak = max(peak, abs(sample))
        }
        guard peak >= RecordingAnalysis.silenceLevel else {
            return peak == 0
                ? "the recording is silent (every sample is zero)"
                : String(format: "the recording is silent (peak level %.1f dBFS, below one 16-bit step)", 20 * log10(Double(peak)))
        }
        return nil
    }
}

/// What a recording looks like to a voice-cloning user: how much of it is speech, and whether it clips.
public struct RecordingAnalysis: Sendable, Equatable {
    /// Length in seconds.
    public let duration: Double
    /// Number of samples.
    public let sampleCount: Int
    /// Seconds of frames the energy detector counts as speech.
    public let speechDuration: Double
    /// Largest absolute sample value.
    public let peak: Float
    /// Samples in clipped runs (at least `clipRun` consecutive samples at or above `clipLevel`).
    public let clippedSamples: Int
    /// Level of the loudest 25 ms stretch, in dBFS (RMS; a full-scale sine is −3 dBFS).
    public let loudestLevel: Double

    /// Advised minimum of speech, in seconds.
    public static let minimumSpeech: Double = 2
    /// A sample this close to full scale counts as clipped when it is part of a run.
    public static let clipLevel: Float = 0.999
    /// Consecutive full-scale samples that make a run (a clean peak touches full scale for 1–2 samples).
    public static let clipRun = 3
    /// Fraction of clipped samples above which the recording is called clipped.
    public static let clipFraction = 1e-4
    /// Below one 16-bit step: digital silence.
    public static let silenceLevel: Float = 1.0 / 32768
    /// Energy detector: 25 ms frames every 10 ms; speech = within 35 dB of the loudest frame and above −70 dBFS.
    static let frameSeconds = 0.025
    static let hopSeconds = 0.010
    static let relativeThreshold = 35.0
    static let absoluteThreshold = -70.0

    public init(samples: [Float], sampleRate: Int) {
        let rate = max(sampleRate, 1)
        duration = Double(samples.count) / Double(rate)
        sampleCount = samples.count
        var peak: Float = 0
        var clipped = 0
        var run = 0
        var runSign: Float = 0
        for sample in samples {
            let magnitude = abs(sample)
            peak = max(peak, magnitude)
            if magnitude >= Self.clipLevel, run == 0 || (sample > 0) == (runSign > 0) {
                run += 1
                runSign = sample
            } else {
                if run >= Self.clipRun { clipped += run }
                run = magnitude >= Self.clipLevel ? 1 : 0
                runSign = sample
            }
        }
        if run >= Self.clipRun { clipped += run }
        self.peak = peak
        clippedSamples = clipped

        let frame = max(1, Int(Self.frameSeconds * Double(rate)))
        let hop = max(1, Int(Self.hopSeconds * Double(rate)))
        var energies: [Double] = []
        if samples.count >= frame {
            var start = 0
            while start + frame <= samples.count {
                var sum = 0.0
                for i in start..<(start + frame) { sum += Double(samples[i]) * Double(samples[i]) }
                energies.append(10 * log10(max(sum / Double(frame), 1e-20)))
                start += hop
            }
        } else if !samples.isEmpty {
            let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
            energies.append(10 * log10(max(sum / Double(samples.count), 1e-20)))
        }
        let loudest = energies.max() ?? -200
        loudestLevel = loudest
        let threshold = max(loudest - Self.relativeThreshold, Self.absoluteThreshold)
        let speechFrames = energies.filter { $0 > threshold }.count
        speechDuration = min(duration, Double(speechFrames) * Double(hop) / Double(rate))
    }

    /// Whether enough samples sit in clipped runs to distort the voice (at least one run, and at least
    /// `clipFraction` of the samples).
    public var isClipped: Bool {
        clippedSamples >= Self.clipRun && Double(clippedSamples) >= Self.clipFraction * Double(sampleCount)
    }

    /// Human-readable warnings (empty when the recording looks fine).
    public var warnings: [String] {
        var result: [String] = []
        if speechDuration == 0 {
            result.append(String(format: "no speech detected: the loudest part is at %.0f dBFS, below the %.0f dBFS the detector needs",
                                 loudestLevel, Self.absoluteThreshold))
        } else if speechDuration < Self.minimumSpeech {
            result.append(String(format: "only %.1f s of speech detected (in %.1f s); %.0f s or more gives a more faithful voice",
                                 speechDuration, duration, Self.minimumSpeech))
        }
        if isClipped {
            result.append(String(format: "the recording is clipped (%d samples at full scale); distortion will colour the voice",
                                 clippedSamples))
        }
        return result
    }
}
