import NIOCore
import Synchronization

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
