import NIOCore
import NIOHTTP1

/// RequestPartSignal tells a connection's `RequestHeadDeadline` where requests begin and end,
/// as the HTTP/1 decoder right before it finds them: a decoded head stops the head clock, the
/// end of a request lets the next bytes start it again. It passes every part on unchanged.
final class RequestPartSignal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let deadline: RequestHeadDeadline

    init(deadline: RequestHeadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadline.headReceived()
        case .end: deadline.requestEnded()
        case .body: break
        }
        context.fireChannelRead(data)
    }
}
