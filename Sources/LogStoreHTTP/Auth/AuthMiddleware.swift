import Hummingbird
import LogStore
import Logging

/// AuthMiddleware decides, before any handler runs, whether a request may go on: it looks up
/// what its route needs in `RoutePermissions`, checks the `Authorization` header against the
/// users (HTTP Basic or a bearer API key) and the user's roles against the need.
///
/// Answers, in OpenSearch's error shape: 401 with `WWW-Authenticate: Basic realm="logstore"`
/// for missing or wrong credentials (wrong ones counted, logged with the client address and
/// throttled per address), 429 with `Retry-After` while an address is blocked, 403 naming the
/// permission when the roles do not allow the call. An ingest user limited to index patterns
/// gets them in `context.indexPermission` (the bulk handler refuses other indices per item);
/// FluentBit's http output names its index in the URL, which is checked here.
///
/// Without a users directory every request goes on unchanged.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = LogStoreContext

    let users: UserDirectory?
    let door: LoginDoor
    let openMetrics: Bool
    /// The index of FluentBit's http output when its URL names none.
    let defaultIndex: String
    let metrics: AuthMetrics
    let logger: Logger

    init(security: SecurityOptions, defaultIndex: String, metrics: ServerMetrics, logger: Logger) {
        users = security.users
        door = LoginDoor(throttle: security.throttle, metrics: metrics, logger: logger)
        openMetrics = security.openMetrics
        self.defaultIndex = defaultIndex
        self.metrics = door.metrics
        self.logger = logger
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let users else { return try await next(request, context) }
        let requirement = RoutePermissions.requirement(method: request.method, pattern: context.endpointPath, openMetrics: openMetrics)
        if requirement == .open { return try await next(request, context) }
        let user = try await authenticate(request, context: context, users: users)
        guard user.allows(requirement) else {
            metrics.forbidden.increment()
            throw OpenSearchError(
                .forbidden, type: "security_exception",
                reason: "no permissions for [\(requirement)] and User [name=\(user.name), roles=[\(user.roles.map(\.rawValue).joined(separator: ", "))]]"
                    + " on \(request.method) \(request.uri.path)")
        }
        var context = context
        context.indexPermission = user.indexPermission
        if requirement == .permission(.ingest), !context.indexPermission.allowsAll, Self.httpOutputRoutes.contains(context.endpointPath ?? "") {
            let index = request.uri.queryParameters["index"].map(String.init) ?? defaultIndex
            guard context.indexPermission.allows(index) else {
                metrics.forbidden.increment()
                throw OpenSearchError(
                    .forbidden, type: "security_exception",
                    reason: "no permissions to write index [\(index)] for User [name=\(user.name)]; allowed: \(user.indices?.joined(separator: ", ") ?? "")")
            }
        }
        return try await next(request, context)
    }

    /// The routes of FluentBit's http output, whose index is `?index=` or `defaultIndex`.
    static let httpOutputRoutes: Set<String> = ["/", "/ingest", "/v1/ingest"]

    /// AuthMiddleware.authenticate returns the user the request's credentials name, or throws
    /// the 401 or 429 answer.
    func authenticate(_ request: Request, context: Context, users: UserDirectory) async throws -> UserRecord {
        let address = context.channel?.remoteAddress?.ipAddress ?? "unknown"
        try door.checkNotBlocked(address)
        // A web viewer session (checked by UIMiddleware against the users in force).
        if let name = context.sessionUser, let user = users.user(named: name) { return user }
        guard let header = request.headers[.authorization] else {
            metrics.missing.increment()
            throw Self.unauthorized("missing authentication credentials for \(request.method) \(request.uri.path)")
        }
        switch await users.authenticate(header: header) {
        case .user(let user):
            door.succeeded(address)
            return user
        case .malformed:
            failed(address: address, name: nil)
            throw Self.unauthorized("the Authorization header is neither Basic nor Bearer NAME.KEY")
        case .rejected(let name):
            failed(address: address, name: name)
            throw Self.unauthorized("wrong user name, password or key")
        }
    }

    private func failed(address: String, name: String?) {
        door.failed(address: address, name: name, via: "Authorization header")
    }

    static func unauthorized(_ reason: String) -> OpenSearchError {
        var error = OpenSearchError(.unauthorized, type: "security_exception", reason: reason)
        error.headers[.wwwAuthenticate] = "Basic realm=\"logstore\""
        return error
    }
}
