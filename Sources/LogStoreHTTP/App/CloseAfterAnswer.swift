import NIOCore
import NIOHTTP1

/// CloseAfterAnswer marks a request whose connection must close after its answer with the
/// exact `Connection: close` header the server's request loop looks for: an HTTP/1.0 request
/// without `Connection: keep-alive` (HTTP/1.0 closes by default), and an HTTP/1.1 request that
/// asks to close in any letter case (`Close`, `keep-alive, close`).
///
/// It sits between the HTTP/1 decoder, which still knows the request's version, and the
/// conversion to HTTP types, which drops it.
final class CloseAfterAnswer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let tokens = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        let close: Bool
        if head.version.major == 1 && head.version.minor == 0 {
            close = !tokens.contains("keep-alive") || tokens.contains("close")
        } else {
            close = tokens.contains("close")
        }
        if close && head.headers["connection"] != ["close"] {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
        } else {
            context.fireChannelRead(data)
        }
    }
}
