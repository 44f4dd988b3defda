import Hummingbird

/// PathPrefixResponder lets every route also answer under a URL prefix (REANA's
/// `REANA_OPENSEARCH_URL_PREFIX`, a reverse proxy's path): a request for `PREFIX/rest` is
/// answered as `/rest`, `PREFIX` alone as `/`; other requests are passed on unchanged.
///
/// It also reads a `+` in the query string as a space, as HTML forms, Python's `urlencode` and
/// OpenSearch do (Hummingbird's query parser decodes only `%XX`): `?q=hello+world` is rewritten
/// to `?q=hello%20world` before routing. A literal plus is sent as `%2B`.
struct PathPrefixResponder<Inner: HTTPResponder>: HTTPResponder {
    typealias Context = Inner.Context

    /// `/opensearch` (see `SecurityOptions.normalizedPrefix`); nil passes every request on.
    let prefix: String?
    let inner: Inner

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        if let path = request.head.path, let plain = Self.queryPlusAsSpace(path) {
            request = Self.request(request, path: plain)
        }
        guard let prefix, let path = request.head.path, path.hasPrefix(prefix) else {
            return try await inner.respond(to: request, context: context)
        }
        let rest = path.dropFirst(prefix.count)
        switch rest.first {
        case nil: return try await inner.respond(to: Self.request(request, path: "/"), context: context)
        case "/": return try await inner.respond(to: Self.request(request, path: String(rest)), context: context)
        case "?": return try await inner.respond(to: Self.request(request, path: "/" + rest), context: context)
        default: return try await inner.respond(to: request, context: context)
        }
    }

    /// `path` with each `+` of its query string written `%20`, or nil when its query has none.
    static func queryPlusAsSpace(_ path: String) -> String? {
        let utf8 = path.utf8
        guard let question = utf8.firstIndex(of: UInt8(ascii: "?")),
            utf8[question...].contains(UInt8(ascii: "+"))
        else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count + 8)
        out.append(contentsOf: utf8[..<question])
        for byte in utf8[question...] {
            if byte == UInt8(ascii: "+") {
                out.append(contentsOf: "%20".utf8)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func request(_ request: Request, path: String) -> Request {
        var head = request.head
        head.path = path
        return Request(head: head, body: request.body)
    }
}
