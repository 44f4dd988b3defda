import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// GuardedHTTP1Channel is Hummingbird's HTTP/1 channel with the connection hygiene of
/// `ConnectionOptions` around it: `RequestHeadDeadline` first in the pipeline (raw bytes), and
/// `RequestPartSignal` and `CloseAfterAnswer` right after the HTTP/1 decoder. The idle timeout is Hummingbird's own
/// (`HTTP1Channel.Configuration.idleTimeout`), which never cuts a request being answered.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let headerTimeout: Duration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadline = RequestHeadDeadline(timeout: headerTimeout)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(deadline, position: .first)
        }.flatMap {
            http1.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandlers([RequestPartSignal(deadline: deadline), CloseAfterAnswer()], position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}
