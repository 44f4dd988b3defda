import NIOCore
import NIOHTTP1

/// HeadWithBody sends an answer's head and its body in one write. Hummingbird writes the head
/// and the body as two parts, each flushed, which made two `write`s and two TCP segments for
/// every answer — on FluentBit's small `_bulk` requests a large share of the server's CPU (the
/// receiver's side of loopback included) and a second wake-up of the client. A flush right
/// after a head that announces a body (`Content-Length` > 0) is held back: the body's flush
/// sends both. Heads of streamed answers (chunked: a tail, a long poll) and of bodiless
/// answers are flushed at once, as before; the end of an answer always flushes.
final class HeadWithBody: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// A head announcing a body was written and the body has not come yet.
    private var holding = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head): holding = Self.announcesBody(head)
        case .body, .end: holding = false
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if holding { return }
        context.flush()
    }

    /// True when `head` says a body of known, non-zero length follows.
    static func announcesBody(_ head: HTTPResponseHead) -> Bool {
        guard head.status.code >= 200, head.status != .noContent, head.status != .notModified else { return false }
        guard let length = head.headers.first(name: "content-length").flatMap({ Int($0) }) else { return false }
        return length > 0
    }
}
