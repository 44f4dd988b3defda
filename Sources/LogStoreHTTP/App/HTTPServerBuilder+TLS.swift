import HummingbirdCore

extension HTTPServerBuilder {
    /// HTTPServerBuilder.guardedHTTP1 is HTTP/1.1 with `configuration` and the connection
    /// hygiene of `GuardedHTTP1Channel` (a deadline for each request head), each connection
    /// encrypted with the context `certificates` holds when it is accepted; plain HTTP/1.1
    /// when `certificates` is nil.
    static func guardedHTTP1(
        configuration: HTTP1Channel.Configuration, connections: ConnectionOptions, tls certificates: TLSCertificateStore?
    ) -> HTTPServerBuilder {
        .init { responder in
            ReloadingTLSChannel(
                baseChannel: GuardedHTTP1Channel(
                    http1: HTTP1Channel(responder: responder, configuration: configuration), connections: connections),
                certificates: certificates)
        }
    }
}
