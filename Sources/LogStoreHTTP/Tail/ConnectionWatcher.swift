import NIOCore
import Synchronization

/// Whether a connection's client is gone, and what to do when it goes.
///
/// Hummingbird does not cancel a suspended handler when its client disconnects (the server
/// enables remote half-closure and reads the connection only between requests), so a long-poll
/// learns of it from `ConnectionWatcher`.
final class ConnectionState: Sendable {
    private struct State {
        var closed = false
        var onClose: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    /// Sets what runs when the client goes away; false (and nothing set) when it already went.
    func onClose(_ action: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            if s.closed { return false }
            s.onClose = action
            return true
        }
    }

    func clearOnClose() {
        state.withLock { $0.onClose = nil }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Marks the client gone and runs the action set, once.
    func close() {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            s.closed = true
            defer { s.onClose = nil }
            return s.onClose
        }
        action?()
    }
}

/// The `ConnectionState` of every open connection, by channel: a request finds its own without
/// a hop to the channel's event loop.
final class ConnectionRegistry: Sendable {
    private let states = Mutex<[ObjectIdentifier: ConnectionState]>([:])

    func add(_ channel: any Channel, _ state: ConnectionState) {
        states.withLock { $0[ObjectIdentifier(channel)] = state }
    }

    func remove(_ channel: any Channel) {
        _ = states.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// The state of `channel`'s connection; nil when it has none (no watcher, e.g. a test
    /// router). A connection already closed has a closed state.
    func state(of channel: any Channel) -> ConnectionState? {
        if let state = states.withLock({ $0[ObjectIdentifier(channel)] }) { return state }
        guard !channel.isActive else { return nil }
        let closed = ConnectionState()
        closed.close()
        return closed
    }

    var count: Int { states.withLock { $0.count } }
}

/// A channel handler on every HTTP/1 connection that notices the client closing it: end of
/// input (the client closed or shut down its sending side — as Go's net/http, a long-poll takes
/// that as the client leaving) or the connection becoming inactive.
final class ConnectionWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let state = ConnectionState()
    let registry: ConnectionRegistry

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        registry.add(context.channel, state)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        registry.remove(context.channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { state.close() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.close()
        registry.remove(context.channel)
        context.fireChannelInactive()
    }
}
