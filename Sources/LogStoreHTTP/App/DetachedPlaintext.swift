import NIOCore

/// DetachedPlaintext sits right after the TLS handler and passes each decrypted read on in a
/// buffer of its own, sized to the bytes read.
///
/// NIOSSLHandler decrypts every read into one plaintext buffer that it keeps and reuses, and
/// hands that buffer on. The HTTP decoder passes the request body on as slices of it, which the
/// request's body stream holds until the handler has taken them in, so at the next read the TLS
/// handler finds its buffer shared and copies it whole (its capacity, up to a few hundred KB,
/// whatever the read holds) before decrypting into it. Copying just the bytes read here keeps
/// the TLS handler's buffer its own: one copy of the plaintext instead of one of the buffer per
/// read, and no fresh pages to fault in.
final class DetachedPlaintext: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let plaintext = unwrapInboundIn(data)
        var own = context.channel.allocator.buffer(capacity: plaintext.readableBytes)
        own.writeImmutableBuffer(plaintext)
        context.fireChannelRead(wrapInboundOut(own))
    }
}
