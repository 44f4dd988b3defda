import NIOCore

/// RequestHeadDeadline closes a connection whose request head (request line and headers) is not
/// complete `timeout` after its first byte arrived, answering `408 Request Timeout` first: a
/// client sending its headers a byte at a time (slowloris) holds a connection for `timeout`,
/// not forever.
///
/// It sits first in the pipeline and sees raw bytes: a head ends at the first empty line
/// (`CRLF CRLF`). After a head the bytes are a body until the server writes an answer; the next
/// bytes after that start the next head. (A pipelined head that arrives before the previous
/// answer is not timed; the idle timeout still applies to it.)
final class RequestHeadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum State {
        /// Waiting for the first byte of a head.
        case idle
        /// Inside a head; `last` holds its last (up to) four bytes.
        case head(last: UInt32)
        /// Between the end of a head and the answer.
        case request
    }

    private let timeout: TimeAmount
    private var state = State.idle
    private var deadline: Scheduled<Void>?

    init(timeout: Duration) {
        self.timeout = .nanoseconds(timeout.nanoseconds)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var last: UInt32
        switch state {
        case .request:
            context.fireChannelRead(data)
            return
        case .idle:
            guard buffer.readableBytes > 0 else {
                context.fireChannelRead(data)
                return
            }
            last = 0
            startDeadline(context)
        case .head(let previous):
            last = previous
        }
        state = .head(last: last)
        for byte in buffer.readableBytesView {
            last = last << 8 | UInt32(byte)
            if last == 0x0D0A_0D0A {
                endHead()
                break
            }
        }
        if case .head = state { state = .head(last: last) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .request = state { state = .idle }
        context.write(data, promise: promise)
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
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(answer))).whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func endHead() {
        deadline?.cancel()
        deadline = nil
        state = .request
    }
}
