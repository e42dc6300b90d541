import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// When downloads draw a progress bar on standard error.
public enum HubProgressMode: Sendable, Equatable {
    /// Only when standard error is a terminal and `HF_HUB_DISABLE_PROGRESS_BARS` is not set.
    case automatic
    /// Never.
    case never
}

/// A one-line progress bar redrawn in place with `\r`. It writes only to a terminal: on a pipe or a file it
/// stays silent, so logs and test output are not cluttered.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let descriptor: Int32
    private let label: String
    private var total: Int64?
    private var done: Int64
    private let startDone: Int64
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var finished = false

    /// Returns nil when nothing should be drawn (mode `.never`, or `descriptor` is not a terminal).
    static func make(mode: HubProgressMode, descriptor: Int32, label: String, total: Int64?, done: Int64) -> ProgressBar? {
        guard mode == .automatic, isatty(descriptor) == 1 else { return nil }
        return ProgressBar(descriptor: descriptor, label: label, total: total, done: done)
    }

    private init(descriptor: Int32, label: String, total: Int64?, done: Int64) {
        self.descriptor = descriptor
        self.label = label.count > 40 ? "…" + String(label.suffix(39)) : label
        self.total = total
        self.done = done
        self.startDone = done
    }

    /// Sets the byte count (after a restart from zero, say) and redraws at most ten times a second.
    func update(done: Int64, total: Int64? = nil) {
        lock.withLock {
            self.done = done
            if let total { self.total = total }
            let now = Date()
            if now.timeIntervalSince(lastDraw) >= 0.1 {
                lastDraw = now
                draw(final: false)
            }
        }
    }

    /// Adds received bytes.
    func advance(by count: Int) {
        let current = lock.withLock { done }
        update(done: current + Int64(count))
    }

    /// Draws the last state and ends the line.
    func finish() {
        lock.withLock {
            guard !finished else { return }
            finished = true
            draw(final: true)
        }
    }

    private func draw(final: Bool) {
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done - startDone) / elapsed
        var line = "\r\(label): "
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += String(format: "%3d%% ", Int(fraction * 100))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            line += "\(ProgressBar.bytes(done))/\(ProgressBar.bytes(total))"
        } else {
            line += ProgressBar.bytes(done)
        }
        line += "  \(ProgressBar.bytes(Int64(rate)))/s\u{1B}[K"
        if final { line += "\n" }
        let bytes = Array(line.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                guard let base = buffer.baseAddress else { return }
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
