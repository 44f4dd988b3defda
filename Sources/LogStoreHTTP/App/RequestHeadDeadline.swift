import LogStore
import NIOCore

/// RequestHeadDeadline closes a connection whose request head (request line and headers) is not
/// complete `timeout` after its first byte arrived, answering `408 Request Timeout` first: a
/// client sending its headers a byte at a time (slowloris) holds a connection for `timeout`,
/// not forever.
///
/// It sits first in the pipeline and sees raw bytes; `RequestPartSignal`, right after the
/// HTTP/1 decoder, tells it where requests begin and end (`headReceived`, `requestEnded`).
/// The first bytes after the end of a request (or on a new connection) start the clock; the
/// decoded head stops it. Body bytes are never timed here (the idle timeout bounds them).
final class RequestHeadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum State {
        /// Waiting for the first byte of a head.
        case idle
        /// Inside a head: the clock runs.
        case head
        /// Between a head and the end of its request.
        case request
    }

    private let timeout: TimeAmount
    private var state = State.idle
    private var deadline: Scheduled<Void>?
    /// This handler's context (first in the pipeline): raw answers written through it reach the
    /// socket without the HTTP encoders.
    private var context: ChannelHandlerContext?
    /// Whether a raw answer was written: nothing more is.
    private var refused = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    init(timeout: Duration) {
        self.timeout = .nanoseconds(timeout.nanoseconds)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = state, unwrapInboundIn(data).readableBytes > 0 {
            state = .head
            startDeadline(context)
        }
        context.fireChannelRead(data)
    }

    /// RequestHeadDeadline.headReceived stops the clock: the decoder has a whole head.
    func headReceived() {
        deadline?.cancel()
        deadline = nil
        state = .request
    }

    /// RequestHeadDeadline.requestEnded marks the end of a request: the next bytes start a head.
    func requestEnded() {
        if case .request = state { state = .idle }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    /// RequestHeadDeadline.refuse answers `status` with an OpenSearch-shaped JSON error body
    /// (`type`, `reason`) written as raw bytes, then closes the connection: for requests the
    /// HTTP/1 decoder cannot decode (a head over its limits, a malformed request line), which
    /// never reach a handler that could answer.
    func refuse(status: Int, phrase: String, type: String, reason: String) {
        guard let context, !refused else { return }
        refused = true
        deadline?.cancel()
        deadline = nil
        var text = JSONText(capacity: 160 + reason.utf8.count * 2)
        text.raw("{\"error\":{\"root_cause\":[{\"type\":")
        text.string(type)
        text.raw(",\"reason\":")
        text.string(reason)
        text.raw("}],\"type\":")
        text.string(type)
        text.raw(",\"reason\":")
        text.string(reason)
        text.raw("},\"status\":")
        text.number(status)
        text.raw("}")
        let head = "HTTP/1.1 \(status) \(phrase)\r\nContent-Type: application/json; charset=UTF-8\r\n"
            + "Content-Length: \(text.bytes.count)\r\nConnection: close\r\n\r\n"
        var answer = context.channel.allocator.buffer(capacity: head.utf8.count + text.bytes.count)
        answer.writeString(head)
        answer.writeBytes(text.bytes)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(answer))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func startDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let seconds = timeout.nanoseconds / 1_000_000_000
        deadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) { [self] in
            deadline = nil
            guard case .head = state else { return }
            refuse(status: 408, phrase: "Request Timeout", type: "timeout_exception", reason: "the request head was not complete within \(seconds) s")
        }
    }
}
