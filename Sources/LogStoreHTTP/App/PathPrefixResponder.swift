import Hummingbird

/// PathPrefixResponder lets every route also answer under a URL prefix (REANA's
/// `REANA_OPENSEARCH_URL_PREFIX`, a reverse proxy's path): a request for `PREFIX/rest` is
/// answered as `/rest`, `PREFIX` alone as `/`; other requests are passed on unchanged.
struct PathPrefixResponder<Inner: HTTPResponder>: HTTPResponder {
    typealias Context = Inner.Context

    /// `/opensearch` (see `SecurityOptions.normalizedPrefix`); nil passes every request on.
    let prefix: String?
    let inner: Inner

    func respond(to request: Request, context: Context) async throws -> Response {
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

    static func request(_ request: Request, path: String) -> Request {
        var head = request.head
        head.path = path
        return Request(head: head, body: request.body)
    }
}
