import Foundation
import SpeechT5

/// Relays a scheduler stream to one response, and ends it early on a timeout or a client disconnect.
///
/// Ending the relay for any reason (including dropping it) cancels the task that reads the scheduler's
/// stream, which removes the request from the decoder batch at the next step: no work continues.
final class AudioRelay: @unchecked Sendable {
    private let continuation: AsyncThrowingStream<AudioChunk, any Error>.Continuation
    private var iterator: AsyncThrowingStream<AudioChunk, any Error>.AsyncIterator

    /// - Parameter deadline: when the request must be done by (`nil` for never).
    init(source: AsyncThrowingStream<AudioChunk, any Error>, deadline: ContinuousClock.Instant?) {
        let (stream, continuation) = AsyncThrowingStream<AudioChunk, any Error>.makeStream()
        self.continuation = continuation
        iterator = stream.makeAsyncIterator()
        let pump = Task {
            do {
                for try await chunk in source { continuation.yield(chunk) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let timer = deadline.map { deadline in
            Task {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    continuation.finish(throwing: StreamEnd.timeout)
                } catch {
                    // Cancelled: the request ended first.
                }
            }
        }
        continuation.onTermination = { _ in
            pump.cancel()
            timer?.cancel()
        }
    }

    deinit {
        continuation.finish()
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
    }
}
