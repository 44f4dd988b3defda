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

    /// RequestPartSignal.errorCaught answers a request the decoder refused (a head over its
    /// limits, a malformed request) with a 400 whose body names the problem, instead of an
    /// empty answer, and closes the connection; other errors pass on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        switch parserError {
        case .headerOverflow:
            deadline.refuse(
                status: 400, phrase: "Bad Request", type: "too_long_http_header_exception",
                reason: "the request line and headers are over the server's limit (80 KB)")
        default:
            deadline.refuse(status: 400, phrase: "Bad Request", type: "bad_http_request_exception", reason: "the HTTP request cannot be decoded: \(parserError)")
        }
    }
}
