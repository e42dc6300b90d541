import Foundation

/// Calls handlers at their deadlines from one thread, for every request of a server.
///
/// A sleeping task per request would do, but a cancelled `Task.sleep` keeps its timer (and some memory)
/// until its original deadline: with a five-minute timeout that grows the memory with the request rate.
/// Here a cancelled entry is gone at once. The thread exits when nothing is scheduled.
final class DeadlineTimer: @unchecked Sendable {
    private let condition = NSCondition()
    private var entries: [Int: (deadline: ContinuousClock.Instant, fire: @Sendable () -> Void)] = [:]
    private var nextID = 0
    private var threadRunning = false

    init() {}

    /// Calls `fire` at `deadline` (from the timer's thread) unless cancelled first.
    func schedule(at deadline: ContinuousClock.Instant, _ fire: @escaping @Sendable () -> Void) -> Int {
        condition.lock()
        defer { condition.unlock() }
        nextID += 1
        entries[nextID] = (deadline, fire)
        if threadRunning {
            condition.signal()
        } else {
            threadRunning = true
            let thread = Thread { [self] in run() }
            thread.name = "speecht5-deadlines"
            thread.start()
        }
        return nextID
    }

    func cancel(_ id: Int) {
        condition.lock()
        entries[id] = nil
        condition.unlock()
    }

    /// Entries waiting (for tests).
    var pendingCount: Int {
        condition.lock(); defer { condition.unlock() }
        return entries.count
    }

    private func run() {
        condition.lock()
        while true {
            guard let earliest = entries.min(by: { $0.value.deadline < $1.value.deadline }) else {
                threadRunning = false
                condition.unlock()
                return
            }
            let now = ContinuousClock.now
            if earliest.value.deadline <= now {
                entries[earliest.key] = nil
                condition.unlock()
                earliest.value.fire()
                condition.lock()
                continue
            }
            let remaining = now.duration(to: earliest.value.deadline)
            _ = condition.wait(until: Date().addingTimeInterval(min(remaining.seconds, 3600)))
        }
    }
}
