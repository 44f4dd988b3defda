import HummingbirdCore

extension HTTPServerBuilder {
    /// HTTPServerBuilder.http1 over TLS: HTTP/1.1 with `configuration`, each connection
    /// encrypted with the context `certificates` holds when it is accepted; plain HTTP/1.1
    /// when `certificates` is nil.
    static func http1(configuration: HTTP1Channel.Configuration, tls certificates: TLSCertificateStore?) -> HTTPServerBuilder {
        guard let certificates else { return .http1(configuration: configuration) }
        return .init { responder in
            ReloadingTLSChannel(baseChannel: HTTP1Channel(responder: responder, configuration: configuration), certificates: certificates)
        }
    }
}
