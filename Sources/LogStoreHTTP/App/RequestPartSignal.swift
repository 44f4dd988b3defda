import NIOCore
import NIOHTTP1

/// RequestPartSignal tells a connection's `RequestHeadDeadline` where requests begin and end,
/// as the HTTP/1 decoder right before it finds them: a decoded head stops the head clock, the
/// end of a request lets the next bytes start it again. It passes every part on unchanged.
///
/// An error answer (4xx, 5xx) to a request whose body is still coming gets `Connection: close`
/// and closes the connection gracefully after it (`RequestHeadDeadline.lingerAfterAnswer`):
/// reading the rest of a refused body could take as long as the client wants.
final class RequestPartSignal: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let deadline: RequestHeadDeadline
    /// Whether the answer being written closes the connection after its end.
    private var closeAfterAnswer = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 400 && deadline.bodyPending:
            closeAfterAnswer = true
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closeAfterAnswer:
            closeAfterAnswer = false
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.write(data, promise: written)
            deadline.lingerAfterAnswer(written.futureResult)
        default:
            context.write(data, promise: promise)
        }
    }

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
