import ArgumentParser
import Foundation
import LogStoreHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 exchange with a logstore server over SwiftNIO: the client of the CLI's
/// `--server` commands (`logs`, `search`, `stats`, `tail`, and `compact`/`delete` when a server
/// holds the data directory).
///
/// It replaces `URLSession`, whose module (FoundationNetworking) loads libcurl, GnuTLS, Kerberos
/// and OpenSSL into every `logstore` process at start — `serve` included, where they held ~6 MB
/// of resident memory for nothing. An `https://` server is reached through NIOSSL (the
/// server's own TLS library), with the trust and credentials of the ``ServerEndpoint``.
struct HTTPFetch {
    /// What the server answered.
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
        var data: Data { Data(body) }
    }

    /// The server could not be reached, or the exchange broke off or timed out.
    struct Unreachable: Error, CustomStringConvertible {
        var description: String
        /// False when trying again cannot help (a certificate that does not verify).
        var retryable = true
    }

    /// The URL given is not one this client can use.
    struct BadURL: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `method` to the endpoint's URL + `path` with the non-nil `query` items and the
    /// endpoint's credentials, and returns the answer (any status); gives up after `timeout`.
    static func send(
        _ method: HTTPMethod, to endpoint: ServerEndpoint, path: String, query: [(String, String?)] = [], timeout: Duration = .seconds(60)
    ) async throws -> Response {
        let trimmed = endpoint.url
        guard var components = URLComponents(string: trimmed + path), let urlHost = components.host, !urlHost.isEmpty else {
            throw BadURL(description: "'\(trimmed)' is not a URL")
        }
        // An IPv6 literal keeps its brackets in the Host header, not in the address to connect to.
        let host = urlHost.hasPrefix("[") && urlHost.hasSuffix("]") ? String(urlHost.dropFirst().dropLast()) : urlHost
        let tls = components.scheme == "https" ? endpoint.tls : nil
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        components.queryItems = items.isEmpty ? nil : items
        // `+` is a space in form-encoded query strings: send it escaped.
        let encodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let target = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath) + (encodedQuery.map { "?" + $0 } ?? "")
        let port = components.port ?? (tls == nil ? 80 : 443)

        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: components.port.map { "\(urlHost):\($0)" } ?? urlHost)
        head.headers.add(name: "Connection", value: "close")
        if let authorization = endpoint.authorization { head.headers.add(name: "Authorization", value: authorization) }
        if method != .GET && method != .HEAD { head.headers.add(name: "Content-Length", value: "0") }

        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            let handler = try NIOSSLClientHandler(context: tls, serverHostname: ServerEndpoint.serverHostname(host))
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw Unreachable(description: "cannot reach \(trimmed): \(Self.reason(error))")
        }
        // The timeout closes the connection, which ends the read below.
        let started = ContinuousClock.now
        let (seconds, attoseconds) = timeout.components
        let timer = channel.channel.eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            channel.channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, outbound in
                    // Head and end in one write: the server may answer a bodiless request as
                    // soon as it has the head and close the connection (`Connection: close`),
                    // so a separate second write could fail on a closed channel (it did, in CI).
                    // A failed write is not the end either: the answer may already be inbound.
                    do {
                        try await outbound.write(contentsOf: [.head(head), .end(nil)])
                    } catch {}
                    var response: Response?
                    for try await part in inbound {
                        switch part {
                        case .head(let h): response = Response(status: Int(h.status.code), headers: h.headers, body: [])
                        case .body(let buffer): response?.body.append(contentsOf: buffer.readableBytesView)
                        case .end: if let response { return response }
                        }
                    }
                    throw Unreachable(description: "\(trimmed) closed the connection before answering")
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch {
            try Task.checkCancellation()
            if ContinuousClock.now - started >= timeout { throw Unreachable(description: "\(trimmed) did not answer within \(timeout)") }
            if let error = error as? Unreachable { throw error }
            let hint = Self.hint(error, tls: tls != nil)
            throw Unreachable(description: "\(trimmed): \(error)" + hint, retryable: hint.isEmpty)
        }
    }

    /// `send` for a command's one request: a bad `--server` URL is a usage error, an unreachable
    /// server a one-line `error:` and exit status 1.
    static func sendForCommand(
        _ method: HTTPMethod, to endpoint: ServerEndpoint, path: String, query: [(String, String?)] = [], timeout: Duration = .seconds(60)
    ) async throws -> Response {
        do {
            return try await send(method, to: endpoint, path: path, query: query, timeout: timeout)
        } catch let error as BadURL {
            throw ValidationError("--server \(error)")
        } catch let error as Unreachable {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// The server on this host that a default `logstore serve` runs (its `--listen` from
    /// `LOGSTORE_LISTEN`, a wildcard address reached through loopback; https:// when
    /// `LOGSTORE_TLS_CERT` is set): where `compact` and `delete` send their request when a
    /// server holds the data directory and no `--server` is given.
    static var localServer: String {
        let listen = ServeCommand.defaultListen
        let scheme = ProcessInfo.processInfo.environment["LOGSTORE_TLS_CERT"] == nil ? "http" : "https"
        guard let options = ServerOptions(listen: listen) else { return "\(scheme)://" + listen }
        let host = switch options.host {
        case "0.0.0.0": "127.0.0.1"
        case "::": "::1"
        default: options.host
        }
        return "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(options.port)"
    }

    /// What to check after a failed exchange: the trust for a TLS error, the scheme for an
    /// answer that is not HTTP (an http:// URL for a TLS server); empty otherwise.
    static func hint(_ error: any Error, tls: Bool) -> String {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            return "; the server's certificate must be signed by a CA in --ca-cert (env LOGSTORE_CA_CERT) or the system's store, and name the URL's host"
        }
        if !tls && error is HTTPParserError { return "; if the server serves TLS, use an https:// URL" }
        return ""
    }

    /// The system's words for a connection failure ("Connection refused"), else the error itself.
    static func reason(_ error: any Error) -> String {
        let underlying = (error as? NIOConnectionError)?.connectionErrors.first?.error ?? error
        if let io = underlying as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(underlying)"
    }
}
