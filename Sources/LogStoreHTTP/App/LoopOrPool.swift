import Hummingbird
import HTTPTypes

/// LoopOrPool decides where a request is answered. A connection is handled on its event loop
/// (`EventLoopExecutor`); a small ingest request — a `_bulk` or `http`-output body of at most
/// `loopBodyBytes`, with a Content-Length and no Content-Encoding, FluentBit's per-flush chunk —
/// is answered right there: its parsing costs microseconds and the commit waits on the writer
/// thread, not on the loop. Every other request (reads, searches, aggregations, large or
/// compressed bodies) is answered on Swift's global concurrent executor, as if the connection
/// had no executor preference.
struct LoopOrPool<Context: RequestContext>: RouterMiddleware {
    /// Bodies up to this size are parsed on the event loop.
    static var loopBodyBytes: Int { 64 * 1024 }

    static func staysOnLoop(_ request: Request) -> Bool {
        guard request.method == .post || request.method == .put else { return false }
        guard request.headers[.contentEncoding] == nil,
            let length = request.headers[.contentLength].flatMap({ Int($0) }), length <= loopBodyBytes
        else { return false }
        let path = request.uri.path
        if path.hasSuffix("/_bulk") { return true }
        return request.method == .post && (path == "/" || path.hasSuffix("/ingest"))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.staysOnLoop(request) { return try await next(request, context) }
        return try await withTaskExecutorPreference(globalConcurrentExecutor) { try await next(request, context) }
    }
}
