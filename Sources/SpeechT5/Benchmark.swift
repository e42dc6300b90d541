import Foundation

/// What `speecht5 bench` measures: per-stage timings of one synthesis with a fixed token and frame count.
public struct BenchmarkReport: Codable, Sendable {
    /// Settings of the run.
    public struct Settings: Codable, Sendable {
        public var tokens: Int
        public var frames: Int
        public var repeats: Int
        public var threads: Int
        public var precision: String
        public var batch: Int
        /// Kernel instruction-set level in use (`generic`, `avx2`, `avx512`, `avx512bf16`).
        public var cpu: String
    }
    public var settings: Settings
    /// Loading both checkpoints, in seconds.
    public var loadSeconds: Double
    /// Text encoder on `tokens` tokens, median milliseconds.
    public var encoderMs: Double
    /// One decoder step (pre-net, decoder layers, heads) for the whole batch, median milliseconds.
    public var decoderStepMs: Double
    /// Post-net over all frames, median milliseconds.
    public var postnetMs: Double
    /// Vocoder seconds per second of audio, median.
    public var vocoderSecondsPerAudioSecond: Double
    /// Streaming: milliseconds from the call to the first audio chunk, median.
    public var timeToFirstAudioMs: Double
    /// Whole synthesis (encoder, decoder, post-net, vocoder) seconds per audio second, median.
    public var realTimeFactor: Double
    /// Decoder frames per second over the batch (all rows together).
    public var framesPerSecond: Double
    /// Peak resident memory of the process, in megabytes.
    public var peakRSSMegabytes: Double
    /// Resident memory at the end, split into file-backed pages (memory-mapped weights) and anonymous
    /// memory (everything the process allocated), in megabytes (Linux only; 0 elsewhere).
    public var residentFileMegabytes: Double = 0
    public var residentAnonymousMegabytes: Double = 0
}

/// Runs the engine with a fixed amount of work so that timings compare across versions and with PyTorch.
public enum Benchmark {
    /// Median of a list of timings.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Seconds spent in `body`.
    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Peak resident set size of this process in megabytes.
    public static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        #if os(Linux)
        // VmHWM, not ru_maxrss: on Linux ru_maxrss keeps the high-water mark of the process image before
        // exec, so a bench started from a large parent (a Python script with torch loaded) reports its size.
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kilobytes / 1024
        }
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024          // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1024 / 1024   // bytes on Apple platforms
        #endif
    }

    /// `(RssFile, RssAnon)` of this process in megabytes, from /proc/self/status (zeros when unavailable).
    static func residentSplitMegabytes() -> (file: Double, anonymous: Double) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func value(_ key: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "") .map { $0 / 1024 } ?? 0
        }
        return (value("RssFile:"), value("RssAnon:"))
    }

    /// Loads the model and vocoder and measures each stage `repeats` times.
    public static func run(modelDirectory: String, vocoderDirectory: String, tokens: Int, frames: Int,
                           repeats: Int, batch: Int = 1, threads: Int, precision: Precision = .fp32) throws -> BenchmarkReport {
        var synthesizer: SpeechSynthesizer?
        let loadSeconds = try time {
            synthesizer = try SpeechSynthesizer(modelDirectory: modelDirectory, vocoderDirectory: vocoderDirectory, precision: precision)
        }
        guard let synthesizer, let vocoder = synthesizer.vocoder else {
            throw SpeechT5Error.invalidArgument(name: "vocoder", reason: "the benchmark needs a vocoder")
        }
        let model = synthesizer.model
        let config = model.config
        guard tokens >= 1, tokens <= config.maxTextPositions else {
            throw SpeechT5Error.invalidArgument(name: "tokens", reason: "must be in 1...\(config.maxTextPositions)")
        }
        let r = config.reductionFactor
        let steps = max(1, frames / r)
        guard steps <= config.maxSpeechPositions else {
            throw SpeechT5Error.invalidArgument(name: "frames", reason: "at most \(config.maxSpeechPositions * r) frames")
        }
        // Ordinary characters (ids 5…) followed by EOS; a fixed pattern keeps runs comparable.
        let firstCharacter = min(5, config.vocabSize - 1)
        let span = max(1, min(config.vocabSize, 79) - firstCharacter)
        let ids = (0..<(tokens - 1)).map { firstCharacter + ($0 * 7) % span } + [config.eosTokenId]
        var speaker = [Float](repeating: 0, count: config.speakerEmbeddingDim)
        for i in speaker.indices { speaker[i] = sin(Float(i) * 0.37) }
        // Forced length: the stop token never fires and maxlen lands exactly on `steps`.
        let options = GenerationOptions(threshold: .infinity, minLengthRatio: 0,
                                        maxLengthRatio: (Double(steps) + 0.5) * Double(r) / Double(tokens), seed: 1)

        var encoderTimes: [Double] = [], stepTimes: [Double] = [], postnetTimes: [Double] = []
        var vocoderTimes: [Double] = [], totalTimes: [Double] = [], firstAudio: [Double] = [], framesPerSecond: [Double] = []
        let audioSeconds = Double(vocoder.sampleCount(frames: steps * r)) / Double(vocoder.config.samplingRate)
        for _ in 0..<repeats {
            var sequences: [DecoderSequence] = []
            let total = try time {
                encoderTimes.append(try time {
                    sequences = try (0..<batch).map { _ in try model.makeSequence(ids: ids, speaker: speaker, options: options) }
                } / Double(batch))
                var decodeSeconds = 0.0
                while sequences.contains(where: { !$0.isFinished }) {
                    let seconds = time { model.step(sequences) }
                    stepTimes.append(seconds)
                    decodeSeconds += seconds
                }
                framesPerSecond.append(Double(steps * r * batch) / decodeSeconds)
                // As in a synthesis, the key/value caches go before the post-net and vocoder run.
                let frames = sequences[0].frames
                sequences = []
                var mel: [Float] = []
                postnetTimes.append(time { mel = model.postnet.refine(frames, frames: steps * r) })
                vocoderTimes.append(time { _ = vocoder(mel, frames: steps * r) } / audioSeconds)
            }
            totalTimes.append(total / audioSeconds)
            // Streaming: time to the first chunk.
            let start = DispatchTime.now().uptimeNanoseconds
            var first: Double?
            let sequence = try model.makeSequence(ids: ids, speaker: speaker, options: options)
            var incremental = IncrementalVocoder(postnet: model.postnet, vocoder: vocoder)
            while first == nil && !sequence.isFinished {
                model.step([sequence])
                let chunk = incremental.advance(frames: sequence.frames, available: sequence.steps * r,
                                                isFinal: sequence.isFinished, minimumChunk: 8)
                if !chunk.isEmpty { first = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
            }
            firstAudio.append(first ?? 0)
        }
        let resident = residentSplitMegabytes()
        return BenchmarkReport(
            settings: .init(tokens: tokens, frames: steps * r, repeats: repeats, threads: threads, precision: precision.rawValue, batch: batch,
                            cpu: Threading.cpuLevel.name),
            loadSeconds: loadSeconds,
            encoderMs: median(encoderTimes) * 1000,
            decoderStepMs: median(stepTimes) * 1000,
            postnetMs: median(postnetTimes) * 1000,
            vocoderSecondsPerAudioSecond: median(vocoderTimes),
            timeToFirstAudioMs: median(firstAudio),
            realTimeFactor: median(totalTimes),
            framesPerSecond: median(framesPerSecond),
            peakRSSMegabytes: peakRSSMegabytes(),
            residentFileMegabytes: resident.file, residentAnonymousMegabytes: resident.anonymous)
    }
}
