import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// GuardedHTTP1Channel is Hummingbird's HTTP/1 channel with the connection hygiene of
/// `ConnectionOptions` around it: `RequestHeadDeadline` first in the pipeline (raw bytes), and
/// `RequestPartSignal`, `CloseAfterAnswer` and `HeadWithBody` right after the HTTP/1 decoder; a client address
/// over `maxConnectionsPerClient` is answered 429 and closed. The idle timeout is Hummingbird's own
/// (`HTTP1Channel.Configuration.idleTimeout`), which never cuts a request being answered.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let connections: ConnectionOptions
    /// Counts connections per client address (`ConnectionOptions.maxConnectionsPerClient`).
    let perClient: ClientConnectionLimit

    init(http1: HTTP1Channel, connections: ConnectionOptions) {
        self.http1 = http1
        self.connections = connections
        perClient = ClientConnectionLimit(maxPerClient: connections.maxConnectionsPerClient)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let refusedClient = perClient.admit(channel)
        let connections = connections
        return channel.eventLoop.makeCompletedFuture {
            let deadline = RequestHeadDeadline(
                timeout: connections.headerTimeout, bodyTimeout: connections.bodyTimeout, lingerTimeout: connections.lingerTimeout)
            // First, or right after TLS (and its DetachedPlaintext) when the connection is encrypted: it reads and writes
            // the HTTP bytes.
            if let tls = try? channel.pipeline.syncOperations.handler(type: DetachedPlaintext.self) {
                try channel.pipeline.syncOperations.addHandler(deadline, position: .after(tls))
            } else {
                try channel.pipeline.syncOperations.addHandler(deadline, position: .first)
            }
        }.flatMap {
            http1.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let deadline = try channel.pipeline.syncOperations.handler(type: RequestHeadDeadline.self)
            try channel.pipeline.syncOperations.addHandlers(
                [RequestPartSignal(deadline: deadline), CloseAfterAnswer(), HeadWithBody()], position: .after(decoder))
            if let refusedClient {
                deadline.refuse(
                    status: 429, phrase: "Too Many Requests", type: "too_many_connections_exception",
                    reason: "too many connections from \(refusedClient): at most \(connections.maxConnectionsPerClient) per client address (--max-client-connections)")
            }
            return value
        }
    }

    /// Handles the connection on its event loop (`EventLoopExecutor`; `LoopOrPool` moves the
    /// requests that are not small ingest to the cooperative pool).
    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopExecutor.for(value.channel.eventLoop)) {
            await http1.handle(value: value, logger: logger)
        }
    }
}
