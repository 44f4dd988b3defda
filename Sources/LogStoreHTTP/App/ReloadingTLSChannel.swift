import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// ReloadingTLSChannel is HummingbirdTLS's `TLSChannel` with one difference: each new
/// connection takes the TLS context in force in its `TLSCertificateStore`, so a renewed
/// certificate is served without a restart (`TLSChannel` builds its context once). With no
/// store the channel is `baseChannel` unchanged (plain HTTP). `DetachedPlaintext` follows the
/// TLS handler.
struct ReloadingTLSChannel<BaseChannel: ServerChildChannel>: ServerChildChannel {
    typealias Value = BaseChannel.Value

    let baseChannel: BaseChannel
    let certificates: TLSCertificateStore?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard let certificates else { return baseChannel.setup(channel: channel, logger: logger) }
        let context = certificates.context
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers(NIOSSLServerHandler(context: context), DetachedPlaintext())
        }.flatMap {
            baseChannel.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: BaseChannel.Value, logger: Logger) async {
        await baseChannel.handle(value: value, logger: logger)
    }
}

extension ReloadingTLSChannel: HTTPChannelHandler where BaseChannel: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { baseChannel.responder }
}
