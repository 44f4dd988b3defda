import Foundation
import NIOCore
import NIOSSL

/// ServerEndpoint is how a client command reaches a running server: the `--server` URL
/// (`http://` or `https://`, with an optional path prefix such as `/opensearch` that is put
/// before every request path), the TLS context of an `https://` URL and the `Authorization`
/// header sent with every request.
struct ServerEndpoint: Sendable {
    /// The URL as given, without a trailing slash, e.g. `https://logs.example:9200/opensearch`.
    let url: String
    /// The TLS context for an `https://` URL; nil for `http://`.
    let tls: NIOSSLContext?
    /// The `Authorization` header value (`Basic …` or `Bearer NAME.SECRET`); nil sends none.
    let authorization: String?
    /// Where the credentials came from, named in the 401 hint; nil when none were sent.
    let credentialSource: String?

    /// ServerEndpoint.init checks that `url` is an http:// or https:// URL with a host; an
    /// https:// URL needs a `tls` context.
    ///
    /// - Throws: `HTTPFetch.BadURL` for anything else.
    init(url: String, tls: NIOSSLContext? = nil, authorization: String? = nil, credentialSource: String? = nil) throws {
        let trimmed = url.hasSuffix("/") ? String(url.dropLast()) : url
        guard let components = URLComponents(string: trimmed), let host = components.host, !host.isEmpty else {
            throw HTTPFetch.BadURL(description: "'\(url)' is not a URL")
        }
        switch components.scheme {
        case "http": break
        case "https" where tls != nil: break
        case "https": throw HTTPFetch.BadURL(description: "'\(url)': https:// needs a TLS context")
        default: throw HTTPFetch.BadURL(description: "'\(url)': only http:// and https:// URLs are supported")
        }
        self.url = trimmed
        self.tls = tls
        self.authorization = authorization
        self.credentialSource = credentialSource
    }

    /// ServerEndpoint.serverHostname is the name sent in TLS SNI and checked against the
    /// certificate: nil for an IP address (the certificate's IP SAN is checked against the
    /// address connected to instead).
    static func serverHostname(_ host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }
}
