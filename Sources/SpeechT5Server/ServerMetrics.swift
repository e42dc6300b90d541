import Foundation
import SpeechT5

/// A Prometheus histogram: cumulative bucket counts, sum and count.
struct Histogram: Sendable {
    let bounds: [Double]
    private(set) var counts: [UInt64]
    private(set) var sum = 0.0
    private(set) var count: UInt64 = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double, times: UInt64 = 1) {
        for (index, bound) in bounds.enumerated() where value <= bound { counts[index] += times }
        sum += value * Double(times)
        count += times
    }

    func render(name: String, labels: String, into text: inout String) {
        let prefix = labels.isEmpty ? "" : labels + ","
        for (bound, count) in zip(bounds, counts) {
            text += "\(name)_bucket{\(prefix)le=\"\(prometheusNumber(bound))\"} \(count)\n"
        }
        text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(count)\n"
        let braces = labels.isEmpty ? "" : "{\(labels)}"
        text += "\(name)_sum\(braces) \(prometheusNumber(sum))\n"
        text += "\(name)_count\(braces) \(count)\n"
    }
}

func prometheusNumber(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

/// The server's counters, written by hand in Prometheus' text format (version 0.0.4).
public final class ServerMetrics: @unchecked Sendable {
    static let latencyBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    struct RequestKey: Hashable, Comparable {
        let route: String
        let method: String
        let status: Int

        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.route, a.method, a.status) < (b.route, b.method, b.status)
        }
    }

    private let lock = NSLock()
    private var requests: [RequestKey: UInt64] = [:]
    private var latency: [String: Histogram] = [:]
    private var firstByte = Histogram(bounds: latencyBounds)
    private var inFlight = 0
    private var streamAborts: [String: UInt64] = [:]
    private var audioSecondsSent = 0.0

    public init() {}

    func requestStarted() {
        lock.lock(); inFlight += 1; lock.unlock()
    }

    /// Records a finished request (its body written, or failed) under its route pattern.
    func requestFinished(route: String, method: String, status: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        inFlight -= 1
        requests[RequestKey(route: route, method: method, status: status), default: 0] += 1
        latency[route, default: Histogram(bounds: Self.latencyBounds)].observe(seconds)
    }

    func firstAudioByte(after seconds: Double) {
        lock.lock(); firstByte.observe(seconds); lock.unlock()
    }

    func audioSent(seconds: Double) {
        lock.lock(); audioSecondsSent += seconds; lock.unlock()
    }

    func streamAborted(reason: String) {
        lock.lock(); streamAborts[reason, default: 0] += 1; lock.unlock()
    }

    /// Requests answered with `status` on `route` so far (for tests).
    public func requestCount(route: String, status: Int) -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        return requests.filter { $0.key.route == route && $0.key.status == status }.values.reduce(0, +)
    }

    /// The exposition text, with the scheduler's gauges and batch sizes.
    func render(scheduler: SynthesisScheduler.Statistics, maxBatch: Int, maxQueue: Int) -> String {
        lock.lock(); defer { lock.unlock() }
        var text = ""
        func header(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        header("speecht5_http_requests_total", "counter", "HTTP requests answered, by route, method and status.")
        for (key, count) in requests.sorted(by: { $0.key < $1.key }) {
            text += "speecht5_http_requests_total{route=\"\(escapeLabel(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(count)\n"
        }
        header("speecht5_http_request_duration_seconds", "histogram",
               "Time from receiving a request to the end of its response body, by route.")
        for (route, histogram) in latency.sorted(by: { $0.key < $1.key }) {
            histogram.render(name: "speecht5_http_request_duration_seconds", labels: "route=\"\(escapeLabel(route))\"", into: &text)
        }
        header("speecht5_http_requests_in_flight", "gauge", "HTTP requests being answered.")
        text += "speecht5_http_requests_in_flight \(inFlight)\n"
        header("speecht5_speech_time_to_first_byte_seconds", "histogram",
               "Time from receiving a speech request to handing its first audio bytes to the connection.")
        firstByte.render(name: "speecht5_speech_time_to_first_byte_seconds", labels: "", into: &text)
        header("speecht5_speech_streams_aborted_total", "counter",
               "Speech streams cut off after their headers were sent, by reason.")
        for reason in ["client_disconnected", "timeout", "error"] {
            text += "speecht5_speech_streams_aborted_total{reason=\"\(reason)\"} \(streamAborts[reason] ?? 0)\n"
        }
        header("speecht5_audio_seconds_sent_total", "counter", "Seconds of audio written to clients.")
        text += "speecht5_audio_seconds_sent_total \(prometheusNumber(audioSecondsSent))\n"
        header("speecht5_audio_seconds_generated_total", "counter",
               "Seconds of audio the model produced (including requests cancelled later).")
        text += "speecht5_audio_seconds_generated_total \(prometheusNumber(scheduler.audioSeconds))\n"
        header("speecht5_queue_depth", "gauge", "Speech requests waiting to join the decoder batch.")
        text += "speecht5_queue_depth \(scheduler.queueDepth)\n"
        header("speecht5_queue_limit", "gauge", "Most speech requests that may wait (more get 429).")
        text += "speecht5_queue_limit \(maxQueue)\n"
        header("speecht5_active_requests", "gauge", "Speech requests in the decoder batch.")
        text += "speecht5_active_requests \(scheduler.active)\n"
        header("speecht5_batch_size_limit", "gauge", "Most rows decoded together.")
        text += "speecht5_batch_size_limit \(maxBatch)\n"
        header("speecht5_batch_size", "histogram", "Rows decoded by each decoder step.")
        var batches = Histogram(bounds: [1, 2, 4, 8, 16, 32, 64, 128].map(Double.init))
        for (size, steps) in scheduler.stepsByBatchSize.enumerated() where steps > 0 {
            batches.observe(Double(size), times: UInt64(steps))
        }
        batches.render(name: "speecht5_batch_size", labels: "", into: &text)
        return text
    }
}

func escapeLabel(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
}
