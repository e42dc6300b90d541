import Foundation

/// Serves many concurrent syntheses with one decoder batch (dynamic batching).
///
/// Requests that arrive while others are being decoded join the batch at the next step; a request that
/// finishes or is cancelled leaves it at once. Each request streams its audio as it is made, with the same
/// windowed post-net and vocoder as `SpeechSynthesizer.stream`, so its audio equals its own synthesis.
/// All model work happens on one worker thread, which keeps the weight reads shared between rows.
public final class SynthesisScheduler: @unchecked Sendable {
    /// Why a request was refused.
    public enum Refusal: Error, CustomStringConvertible, Equatable {
        /// The waiting queue is full; retry after a moment.
        case queueFull(limit: Int)
        /// The scheduler is shutting down.
        case shutDown

        public var description: String {
            switch self {
            case .queueFull(let limit): return "the server is busy: \(limit) requests are already waiting"
            case .shutDown: return "the server is shutting down"
            }
        }
    }

    /// Counters for metrics.
    public struct Statistics: Sendable {
        /// Requests waiting to join the batch.
        public var queueDepth: Int
        /// Requests in the batch.
        public var active: Int
        /// Rows decoded in the last step.
        public var lastBatchSize: Int
        /// Seconds of audio produced so far.
        public var audioSeconds: Double
        /// Decoder steps so far, by batch size: `stepsByBatchSize[n]` steps decoded `n` rows.
        public var stepsByBatchSize: [Int] = []
    }

    /// One request's state, owned by the worker thread once admitted.
    final class Request: @unchecked Sendable {
        let text: String
        let speaker: [Float]
        let options: SynthesisOptions
        let emit: (AudioChunk) -> Void
        let finish: (Error?) -> Void
        let cancelled = CancellationFlag()
        var stream: PieceStream?

        init(text: String, speaker: [Float], options: SynthesisOptions,
             emit: @escaping (AudioChunk) -> Void, finish: @escaping (Error?) -> Void) {
            self.text = text
            self.speaker = speaker
            self.options = options
            self.emit = emit
            self.finish = finish
        }
    }

    /// The synthesizer whose model and vocoder serve the requests.
    public let synthesizer: SpeechSynthesizer
    /// Most rows decoded together.
    public let maxBatch: Int
    /// Most requests waiting to join; more are refused with `Refusal.queueFull`.
    public let maxQueue: Int
    /// The largest chunk; chunks grow to it from the first (see ``SpeechSynthesizer/stream``).
    public let chunkFrames: Int
    /// Frames of a request's first chunk (small, for a short time to first audio).
    public let firstChunkFrames: Int

    private let condition = NSCondition()
    private var waiting: [Request] = []
    private var active: [Request] = []
    private var running = true
    private var statistics = Statistics(queueDepth: 0, active: 0, lastBatchSize: 0, audioSeconds: 0)

    /// Starts the worker thread.
    public init(synthesizer: SpeechSynthesizer, maxBatch: Int = 16, maxQueue: Int = 64,
                firstChunkFrames: Int = 8, chunkFrames: Int = 256) {
        self.synthesizer = synthesizer
        self.maxBatch = max(1, maxBatch)
        self.maxQueue = max(0, maxQueue)
        self.firstChunkFrames = max(1, firstChunkFrames)
        self.chunkFrames = max(1, chunkFrames)
        let thread = Thread { [weak self] in self?.work() }
        thread.stackSize = 8 << 20
        thread.name = "speecht5-scheduler"
        thread.start()
    }

    /// Stops the worker after the current step; pending and active requests fail with `Refusal.shutDown`.
    public func shutDown() {
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// A snapshot of the counters.
    public var currentStatistics: Statistics {
        condition.lock(); defer { condition.unlock() }
        return statistics
    }

    /// Queues a synthesis and returns its audio stream. Text problems (empty, unspeakable, bad speaker)
    /// surface as the stream's error; a full queue throws `Refusal.queueFull` at once. Cancelling the
    /// consuming task (or dropping the stream) removes the request from the batch at the next step.
    public func submit(_ text: String, speaker: [Float], options: SynthesisOptions = .init()) throws -> AsyncThrowingStream<AudioChunk, Error> {
        guard synthesizer.vocoder != nil else {
            throw SpeechT5Error.invalidArgument(name: "vocoder", reason: "the scheduler needs a vocoder")
        }
        let (stream, continuation) = AsyncThrowingStream<AudioChunk, Error>.makeStream()
        let request = Request(text: text, speaker: speaker, options: options,
                              emit: { continuation.yield($0) },
                              finish: { error in
                                  if let error { continuation.finish(throwing: error) } else { continuation.finish() }
                              })
        continuation.onTermination = { [weak self] _ in
            request.cancelled.set()
            self?.wake()
        }
        condition.lock()
        defer { condition.unlock() }
        guard running else { throw Refusal.shutDown }
        // Requests cancelled while waiting (their clients gave up) must not hold queue places.
        waiting.removeAll { $0.cancelled.isSet }
        guard waiting.count < maxQueue else { throw Refusal.queueFull(limit: maxQueue) }
        waiting.append(request)
        statistics.queueDepth = waiting.count
        condition.signal()
        return stream
    }

    private func wake() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    // MARK: Worker

    private func work() {
        while true {
            condition.lock()
            while running && waiting.isEmpty && active.isEmpty { condition.wait() }
            if !running {
                let abandoned = waiting + active
                waiting.removeAll()
                active.removeAll()
                condition.unlock()
                abandoned.forEach { $0.finish(Refusal.shutDown) }
                return
            }
            // A request cancelled while it waited leaves the queue now, not when its turn comes.
            waiting.removeAll { $0.cancelled.isSet }
            var admitted: [Request] = []
            while active.count + admitted.count < maxBatch, !waiting.isEmpty {
                admitted.append(waiting.removeFirst())
            }
            statistics.queueDepth = waiting.count
            condition.unlock()

            for request in admitted where start(request) { active.append(request) }
            active.removeAll { request in
                if request.cancelled.isSet { request.finish(CancellationError()); return true }
                return false
            }
            let sequences = active.compactMap { $0.stream?.sequence }
            if !sequences.isEmpty { synthesizer.model.step(sequences) }
            var produced = 0.0
            active.removeAll { request in
                let (finished, samples) = advance(request)
                produced += Double(samples)
                return finished
            }
            condition.lock()
            statistics.active = active.count
            statistics.lastBatchSize = sequences.count
            if !sequences.isEmpty {
                if statistics.stepsByBatchSize.count <= sequences.count {
                    statistics.stepsByBatchSize += Array(repeating: 0, count: sequences.count + 1 - statistics.stepsByBatchSize.count)
                }
                statistics.stepsByBatchSize[sequences.count] += 1
            }
            statistics.audioSeconds += produced / Double(max(1, synthesizer.sampleRate))
            condition.unlock()
        }
    }

    /// Prepares a request's pieces and its first sequence; false (and the stream finished) on error.
    private func start(_ request: Request) -> Bool {
        do {
            request.stream = try PieceStream(synthesizer: synthesizer, text: request.text, speaker: request.speaker,
                                             options: request.options, firstChunkFrames: firstChunkFrames,
                                             chunkFrames: chunkFrames)
            return true
        } catch {
            request.finish(error)
            return false
        }
    }

    /// Emits what the last step made final; returns whether the request is done and how many samples it emitted.
    private func advance(_ request: Request) -> (Bool, Int) {
        guard let stream = request.stream else { return (true, 0) }
        var emitted = 0
        for samples in stream.collect() {
            request.emit(AudioChunk(samples: samples, sampleRate: synthesizer.sampleRate))
            emitted += samples.count
        }
        guard stream.sequence == nil else { return (false, emitted) }
        request.finish(stream.failure)
        return (true, emitted)
    }
}
