import Foundation
import NIOCore

/// Notices when a client closes its side of the connection (or the connection drops), so that a
/// speech request can stop at once instead of at its next write.
///
/// One per connection, placed after the HTTP decoder. Hummingbird's server allows half-closure, so a
/// client that closes its socket shows up as an `inputClosed` event before any write fails.
final class DisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny

    private let lock = NSLock()
    private var closed = false
    private var handlers: [Int: @Sendable () -> Void] = [:]
    private var nextToken = 0

    init() {}

    /// Calls `handler` once when the client goes away (at once if it already has). Returns a token for `remove`.
    func onDisconnect(_ handler: @escaping @Sendable () -> Void) -> Int? {
        lock.lock()
        if closed {
            lock.unlock()
            handler()
            return nil
        }
        nextToken += 1
        let token = nextToken
        handlers[token] = handler
        lock.unlock()
        return token
    }

    func remove(_ token: Int?) {
        guard let token else { return }
        lock.lock(); handlers[token] = nil; lock.unlock()
    }

    var isDisconnected: Bool {
        lock.lock(); defer { lock.unlock() }
        return closed
    }

    private func fire() {
        lock.lock()
        closed = true
        let pending = handlers.values
        handlers.removeAll()
        lock.unlock()
        pending.forEach { $0() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fire()
        context.fireErrorCaught(error)
    }
}
