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
            let body = #"{"error":{"root_cause":[{"type":"timeout_exception","reason":"the request head was not complete within \#(seconds) s"}],"#
                + #""type":"timeout_exception","reason":"the request head was not complete within \#(seconds) s"},"status":408}"#
            let head = "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=UTF-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            let answer = context.channel.allocator.buffer(string: head + body)
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(answer))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
