import HTTPTypes
import Hummingbird

/// UIMiddleware runs before `AuthMiddleware`, for the web viewer:
///
/// - a browser's `GET /` (`Accept: text/html`) is redirected to the viewer; other clients of
///   `GET /` (opensearch-py, curl) still get the cluster info;
/// - a request without `Authorization` but with a live session cookie is made on behalf of its
///   user (`context.sessionUser`, which `AuthMiddleware` accepts); an unsafe method (POST, PUT,
///   PATCH, DELETE) made so must repeat the session's CSRF token in `X-CSRF-Token` (403
///   otherwise);
/// - an unsafe request a browser marks `Sec-Fetch-Site: cross-site` is refused (403): another
///   site's page must not post logs or deletions with the cookie or remembered Basic credentials;
/// - a 401 to a request of the viewer (`X-Logstore-UI`) carries no `WWW-Authenticate`, so the
///   browser does not open its own login prompt.
struct UIMiddleware: RouterMiddleware {
    typealias Context = LogStoreContext

    let users: UserDirectory?
    let sessions: UISessions
    let pathPrefix: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if request.method == .get, path == "/", request.headers[.accept]?.contains("text/html") == true {
            return UIController.redirect(to: pathPrefix.map { $0 + "/ui/" } ?? "ui/")
        }
        let unsafe = ![.get, .head, .options].contains(request.method)
        if unsafe, request.headers[HTTPField.Name("Sec-Fetch-Site")!] == "cross-site" {
            throw OpenSearchError(.forbidden, type: "security_exception", reason: "cross-site \(request.method) \(path) refused")
        }
        var context = context
        if let users, request.headers[.authorization] == nil, let token = UISessions.token(cookieHeader: request.headers[.cookie]) {
            if let session = sessions.session(token), let user = users.user(named: session.user), user.password == session.passwordStamp {
                if unsafe && path != "/ui/login" {
                    guard let sent = request.headers[UIController.csrfHeader], Self.equal(sent, session.csrf) else {
                        throw OpenSearchError(.forbidden, type: "security_exception", reason: "missing or wrong X-CSRF-Token for \(request.method) \(path)")
                    }
                }
                context.sessionUser = user.name
            } else {
                sessions.end(token)
            }
        }
        do {
            return try await next(request, context)
        } catch var error as OpenSearchError where error.status == .unauthorized && request.headers[UIController.clientHeader] != nil {
            error.headers[.wwwAuthenticate] = nil
            throw error
        }
    }

    /// Compares two tokens in time independent of where they differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
