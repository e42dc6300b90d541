import Foundation
import SpeechT5

/// Relays a scheduler stream to one response, and ends it early on a timeout or a client disconnect.
///
/// Ending the relay for any reason (including dropping it) cancels the task that reads the scheduler's
/// stream, which removes the request from the decoder batch at the next step: no work continues.
final class AudioRelay: @unchecked Sendable {
    private let continuation: AsyncThrowingStream<AudioChunk, any Error>.Continuation
    private var iterator: AsyncThrowingStream<AudioChunk, any Error>.AsyncIterator
    private let timer: DeadlineTimer
    private let timerID: Int?

    /// - Parameters:
    ///   - deadline: when the request must be done by (`nil` for never); at that moment the relay ends
    ///     with `StreamEnd.timeout`.
    ///   - timer: the server's deadline timer.
    init(source: AsyncThrowingStream<AudioChunk, any Error>, deadline: ContinuousClock.Instant?, timer: DeadlineTimer) {
        let (stream, continuation) = AsyncThrowingStream<AudioChunk, any Error>.makeStream()
        self.continuation = continuation
        self.timer = timer
        iterator = stream.makeAsyncIterator()
        timerID = deadline.map { deadline in
            timer.schedule(at: deadline) { continuation.finish(throwing: StreamEnd.timeout) }
        }
        let pump = Task {
            do {
                for try await chunk in source { continuation.yield(chunk) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let timerID = self.timerID
        continuation.onTermination = { _ in
            pump.cancel()
            if let timerID { timer.cancel(timerID) }
        }
    }

    deinit {
        continuation.finish()
        if let timerID { timer.cancel(timerID) }
    }

    /// The next chunk; nil at the end; throws the synthesis error, `StreamEnd.timeout` or `StreamEnd.clientDisconnected`.
    /// Called by one task at a time.
    func next() async throws -> AudioChunk? {
        try await iterator.next()
    }

    /// Ends the relay with `reason` (from any thread); a pending `next` throws it.
    func end(_ reason: StreamEnd) {
        continuation.finish(throwing: reason)
    }

    /// Ends the relay quietly (the response is done).
    func close() {
        continuation.finish()
        if let timerID { timer.cancel(timerID) }
    }
}
