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
/// decoded head stops it and starts the body's clock (`bodyTimeout`), which the end of the
/// request stops: a body not complete in time gets `408` too.
///
/// It also closes connections gracefully (`linger`): after a refusal, or an error answer to a
/// request whose body was not read, it stops sending (half-close), reads and drops what the
/// client still sends for at most `lingerTimeout`, then closes. Closing with unread bytes
/// would make the kernel reset the connection, and the client could lose the answer.
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
    private let bodyTimeout: TimeAmount
    private let lingerTimeout: TimeAmount
    private var state = State.idle
    private var deadline: Scheduled<Void>?
    /// Whether something was written since the current request's head (its answer began).
    private var answerStarted = false
    /// Whether the connection is closing gracefully: input is read and dropped.
    private var lingering = false
    private var lingerTimer: Scheduled<Void>?
    /// When a lingering connection is closed even if the client is still sending.
    private var lingerEnd = NIODeadline.now()
    /// The longest a connection lingers (nginx's `lingering_time`).
    static let maxLinger = TimeAmount.seconds(30)

    /// Closes a lingering connection after `lingerTimeout` without input, or at `lingerEnd`.
    private func scheduleLingerClose(_ context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        let at = min(NIODeadline.now() + lingerTimeout, lingerEnd)
        lingerTimer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: at) { [self] in
            lingerTimer = nil
            self.context?.close(promise: nil)
        }
    }
    /// This handler's context (first in the pipeline): raw answers written through it reach the
    /// socket without the HTTP encoders.
    private var context: ChannelHandlerContext?
    /// Whether a raw answer was written: nothing more is.
    private var refused = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    init(timeout: Duration, bodyTimeout: Duration = .zero, lingerTimeout: Duration = .seconds(2)) {
        self.timeout = .nanoseconds(timeout.nanoseconds)
        self.bodyTimeout = .nanoseconds(bodyTimeout.nanoseconds)
        self.lingerTimeout = .nanoseconds(lingerTimeout.nanoseconds)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lingering || refused {
            // Closing: what the client still sends is dropped, and read on so it cannot fill
            // the window and see a reset; a client still sending keeps the connection up to
            // `maxLinger` (one that sends its whole body before reading must get the answer).
            if lingering { scheduleLingerClose(context) }
            context.read()
            return
        }
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
        answerStarted = false
        if bodyTimeout > .zero, let context { startBodyDeadline(context) }
    }

    /// RequestHeadDeadline.requestEnded marks the end of a request: the next bytes start a head.
    func requestEnded() {
        if case .request = state {
            state = .idle
            deadline?.cancel()
            deadline = nil
        }
    }

    /// True while the current request's body is still arriving (its end was not decoded).
    var bodyPending: Bool {
        if case .request = state { return true }
        return false
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .request = state { answerStarted = true }
        context.write(data, promise: promise)
    }

    /// A close asked for while bytes of the request are still coming closes gracefully.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, lingering || bodyPending else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let promise { context.channel.closeFuture.cascade(to: promise) }
        linger(context)
    }

    /// RequestHeadDeadline.lingerAfterAnswer closes gracefully once the answer written so far
    /// is sent (an error answer to a request whose body is still coming).
    func lingerAfterAnswer(_ written: EventLoopFuture<Void>) {
        if let context { linger(context, after: written) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if lingering, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// RequestHeadDeadline.linger closes the connection gracefully once what was written is
    /// sent: stops sending, drops what arrives until the client closes or `lingerTimeout`
    /// passes, then closes.
    func linger(_ context: ChannelHandlerContext, after written: EventLoopFuture<Void>? = nil) {
        guard !lingering else { return }
        lingering = true
        deadline?.cancel()
        deadline = nil
        lingerEnd = .now() + Self.maxLinger
        scheduleLingerClose(context)
        context.read()
        // After the answer's last write completed (or, without one, an empty write, which
        // completes after every write before it): closing the output fails pending writes.
        let sent: EventLoopFuture<Void>
        if let written {
            context.flush()
            sent = written
        } else {
            sent = context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))))
        }
        sent.assumeIsolated().whenComplete { result in
            guard case .success = result else { return context.close(promise: nil) }
            let halfClosed = context.eventLoop.makePromise(of: Void.self)
            halfClosed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            context.close(mode: .output, promise: halfClosed)
            context.read()
        }
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
        let written = context.writeAndFlush(wrapOutboundOut(.byteBuffer(answer)))
        linger(context, after: written)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        context.fireChannelInactive()
    }

    private func startBodyDeadline(_ context: ChannelHandlerContext) {
        let seconds = bodyTimeout.nanoseconds / 1_000_000_000
        deadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: bodyTimeout) { [self] in
            deadline = nil
            guard case .request = state, let context = self.context else { return }
            if answerStarted {
                // Its answer is on the way: no other answer can follow it on this connection.
                linger(context)
            } else {
                refuse(
                    status: 408, phrase: "Request Timeout", type: "timeout_exception",
                    reason: "the request body was not complete within \(seconds) s (--body-timeout)")
            }
        }
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
