import Foundation
import HTTPTypes
import Hummingbird
import LogStore

/// UIController serves the web viewer at `/ui/`: its files (compiled into the binary, see
/// `UIAsset`) with their type, a strong ETag (`If-None-Match` → 304), `Cache-Control: no-cache`
/// (revalidated at each load: the file names carry no version) and gzip when the client accepts
/// it; and, with users, the login: `POST /ui/login`, `POST /ui/logout`, `GET /ui/session`.
///
/// Every URL the viewer uses is relative (`../v1/logs`), so it works under `--path-prefix` and
/// behind a reverse proxy that moves it.
struct UIController {
    let users: UserDirectory?
    let sessions: UISessions
    /// The throttle, counters and log of failed logins, shared with HTTP Basic.
    let door: LoginDoor
    /// Set the cookie's `Secure` attribute (the server speaks TLS).
    let secureCookie: Bool
    /// Serve the files from this directory instead of the embedded copies (`LOGSTORE_UI_DIR`).
    let directory: String?

    /// The header every request of the viewer carries: a 401 to it has no `WWW-Authenticate`
    /// (the viewer shows its own login form instead of the browser's prompt), and a cross-site
    /// page cannot send it without a CORS preflight, which the server never grants.
    static let clientHeader = HTTPField.Name("X-Logstore-UI")!
    /// The header that repeats the session's CSRF token on unsafe requests made with the cookie.
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    func addRoutes(to router: Router<LogStoreContext>) {
        router.get("ui") { request, _ in
            // `/ui` without its slash: relative URLs would resolve one level too high.
            request.uri.path.hasSuffix("/") ? asset("index.html", request) : Self.redirect(to: "ui/")
        }
        router.get("ui/session") { request, _ in try session(request) }
        router.post("ui/login") { request, context in try await login(request, context: context) }
        router.post("ui/logout") { request, _ in logout(request) }
        router.get("ui/{file}") { request, context in
            asset(context.parameters.get("file") ?? "", request)
        }
    }

    static func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    func asset(_ name: String, _ request: Request) -> Response {
        guard let file = UIAsset.named(name, directory: directory) else {
            return Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "no such file\n")))
        }
        var headers: HTTPFields = [
            .eTag: file.etag, .cacheControl: "no-cache", .vary: "Accept-Encoding", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ]
        if file.contentType.hasPrefix("text/html") {
            headers[HTTPField.Name("Content-Security-Policy")!] =
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        }
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == file.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = file.contentType
        if JSONAnswer.acceptsGzip(request), file.gzipped.count < file.bytes.count {
            headers[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.gzipped)))
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }

    /// `GET /ui/session`: whether a login is needed, and who is signed in with which CSRF token.
    func session(_ request: Request) throws -> Response {
        var out = JSONText()
        out.raw("{\"login\":\(users != nil)")
        if let users, let token = UISessions.token(cookieHeader: request.headers[.cookie]), let session = sessions.session(token),
            let user = users.user(named: session.user), user.password == session.passwordStamp
        {
            Self.member(&out, user: user, csrf: session.csrf)
        } else {
            out.raw(",\"user\":null")
        }
        out.raw("}")
        var response = Response.json(out.bytes)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    static func member(_ out: inout JSONText, user: UserRecord, csrf: String) {
        out.raw(",\"user\":")
        out.string(user.name)
        out.raw(",\"roles\":[")
        out.raw(user.roles.map { "\"\($0.rawValue)\"" }.joined(separator: ","))
        out.raw("],\"csrf\":")
        out.string(csrf)
    }

    struct LoginBody: Decodable {
        var user: String
        var password: String
    }

    /// `POST /ui/login` with `{"user":…,"password":…}` and the `X-Logstore-UI` header: checks the
    /// password as HTTP Basic would (same users, same throttle per address) and sets the session
    /// cookie.
    func login(_ request: Request, context: LogStoreContext) async throws -> Response {
        guard let users else { throw OpenSearchError.badRequest("this server has no users: no login is needed") }
        guard request.headers[Self.clientHeader] != nil else {
            throw OpenSearchError(.forbidden, type: "security_exception", reason: "a login must carry the X-Logstore-UI header")
        }
        let address = context.channel?.remoteAddress?.ipAddress ?? "unknown"
        try door.checkNotBlocked(address)
        let body = try await request.body.collect(upTo: 16 << 10)
        guard let form = try? JSONDecoder().decode(LoginBody.self, from: Data(body.readableBytesView)) else {
            throw OpenSearchError.badRequest("the login body must be {\"user\":\"…\",\"password\":\"…\"}")
        }
        let header = "Basic " + Data("\(form.user):\(form.password)".utf8).base64EncodedString()
        guard UserRecord.isValidName(form.user), case .user(let user) = await users.authenticate(header: header) else {
            door.failed(address: address, name: UserRecord.isValidName(form.user) ? form.user : nil, via: "login form")
            throw OpenSearchError(.unauthorized, type: "security_exception", reason: "wrong user name or password")
        }
        door.succeeded(address)
        let (token, session) = sessions.create(user: user.name, passwordStamp: user.password)
        var out = JSONText()
        out.raw("{\"login\":true")
        Self.member(&out, user: user, csrf: session.csrf)
        out.raw("}")
        var response = Response.json(out.bytes)
        response.headers[.cacheControl] = "no-store"
        response.headers[.setCookie] = cookie(token, maxAge: Int(sessions.lifetime.components.seconds))
        return response
    }

    /// `POST /ui/logout`: ends the cookie's session (the middleware checked its CSRF token).
    func logout(_ request: Request) -> Response {
        if let token = UISessions.token(cookieHeader: request.headers[.cookie]) { sessions.end(token) }
        var response = Response.json(Array("{\"login\":true,\"user\":null}".utf8))
        response.headers[.setCookie] = cookie("", maxAge: 0)
        return response
    }

    func cookie(_ value: String, maxAge: Int) -> String {
        "\(UISessions.cookieName)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secureCookie ? "; Secure" : "")
    }
}
