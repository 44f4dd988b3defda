import Foundation
import Hummingbird
import HummingbirdCore
import LogStore
import Logging
import NIOCore
import ServiceLifecycle

/// What `logstore serve` is configured with.
public struct ServerOptions: Sendable {
    public var host: String
    public var port: Int
    public var serverName: String
    /// Limits and defaults of ingest.
    public var ingest: IngestOptions
    /// What retention keeps (empty: keep everything).
    public var retention = RetentionPolicy()
    /// How often retention and compaction run.
    public var maintenanceInterval: Duration = .seconds(3600)
    /// Limits of the long-poll `/v1/tail`.
    public var tail = TailOptions()
    /// Timeouts and the connection cap of the listener.
    public var connections = ConnectionOptions()
    /// Memory for compressed `_search` hits of whole sealed blocks (0 turns the cache off).
    public var answerCacheBytes = 64 << 20
    /// The metrics served at `GET /metrics` (a registry of its own per options value).
    public var metrics = ServerMetrics()
    /// TLS, users and roles, URL prefix (none of them by default).
    public var security = SecurityOptions()

    public init(host: String = "127.0.0.1", port: Int = 9200, serverName: String = "logstore", ingest: IngestOptions = IngestOptions()) {
        self.host = host
        self.port = port
        self.serverName = serverName
        self.ingest = ingest
    }

    /// Parses `host:port` (or `:port`, or a bare port); an IPv6 host in brackets, `[::1]:9200`.
    public init?(listen: String) {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1, let port = Int(parts[0]) {
            self.init(port: port)
        } else if parts.count >= 2, let port = Int(parts.last!), (0...65535).contains(port) {
            var host = parts.dropLast().joined(separator: ":")
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
        } else {
            return nil
        }
    }
}

/// The request context of every route: Hummingbird's basic context plus the connection the
/// request came on (a long-poll watches it to notice its client leaving).
public struct LogStoreContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request's connection; nil when the request did not come from a socket.
    public let channel: (any Channel)?
    /// The indices the request may write (set by `AuthMiddleware` for a user limited to index
    /// patterns; every index otherwise). The bulk handler refuses other indices per item.
    public var indexPermission = IndexPermission.any
    /// The user of the web viewer's session cookie (set by `UIMiddleware`; nil without one).
    public var sessionUser: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Builds the router with every route of the server.
public func buildRouter(storage: Storage, options: ServerOptions, logger: Logger) -> Router<LogStoreContext> {
    buildRouter(storage: storage, options: options, tailHub: TailHub(storage: storage, maxWaiters: options.tail.maxWaiters), logger: logger)
}

func buildRouter(storage: Storage, options: ServerOptions, tailHub: TailHub, logger: Logger) -> Router<LogStoreContext> {
    let router = Router(context: LogStoreContext.self)
    // First: small ingest requests are answered on the connection's event loop, the rest on
    // the cooperative pool (LoopOrPool, EventLoopExecutor).
    router.middlewares.add(LoopOrPool())
    // Outermost: counts and times every answer by route and status, errors included once the
    // inner middleware has turned them into answers (a no-op until swift-metrics is bootstrapped).
    router.middlewares.add(MetricsMiddleware())
    router.middlewares.add(ErrorMiddleware(directory: storage.directory))
    // The web viewer: a browser's `GET /` redirected, session cookies and their CSRF token.
    let uiSessions = UISessions()
    router.middlewares.add(UIMiddleware(users: options.security.users, sessions: uiSessions, pathPrefix: options.security.pathPrefix))
    // Before any handler: login and the route's permission (RoutePermissions).
    router.middlewares.add(AuthMiddleware(security: options.security, defaultIndex: options.ingest.defaultIndex, metrics: options.metrics, logger: logger))
    AdminController(storage: storage, retention: options.retention, tailHub: tailHub, metrics: options.metrics).addRoutes(to: router)
    LogsController(storage: storage).addRoutes(to: router.group("v1"))
    TailController(storage: storage, hub: tailHub, options: options.tail).addRoutes(to: router.group("v1"))
    SearchController(storage: storage, connections: tailHub.connections).addRoutes(to: router.group("v1"))
    IngestController(storage: storage, options: options.ingest, metrics: options.metrics).addRoutes(to: router)
    var openSearch = OpenSearchController(storage: storage, hitCacheBytes: options.answerCacheBytes)
    openSearch.connections = tailHub.connections
    openSearch.addRoutes(to: router)
    WorkflowsController(storage: storage).addRoutes(to: router.group("v1"))
    UIController(
        users: options.security.users, sessions: uiSessions,
        door: LoginDoor(throttle: options.security.throttle, metrics: options.metrics, logger: logger), secureCookie: options.security.tls != nil,
        directory: ProcessInfo.processInfo.environment["LOGSTORE_UI_DIR"]
    ).addRoutes(to: router)
    IndexController(storage: storage).addRoutes(to: router)
    DocumentController(storage: storage, options: options.ingest).addRoutes(to: router)
    FieldCapsController(storage: storage).addRoutes(to: router)
    return router
}

/// Builds the whole application around an open store. The store is closed when the
/// application shuts down (after the HTTP server stopped accepting and finished its requests).
///
/// - Parameters:
///   - storage: the open store; closed on shutdown.
///   - options: address and limits.
///   - logger: where the server logs.
///   - onServerRunning: called with the bound port once the server listens (port 0 picks one).
public func buildApplication(
    storage: Storage, options: ServerOptions, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let tailHub = TailHub(storage: storage, maxWaiters: options.tail.maxWaiters)
    let router = buildRouter(storage: storage, options: options, tailHub: tailHub, logger: logger)
    let connections = options.connections
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: [ConnectionWatcher(registry: tailHub.connections)],
        idleTimeout: TimeAmount.nanoseconds(connections.idleTimeout.nanoseconds))
    var app = Application(
        responder: PathPrefixResponder(prefix: options.security.pathPrefix, inner: router.buildResponder()),
        server: .guardedHTTP1(configuration: http1, connections: connections, tls: options.security.tls),
        configuration: ApplicationConfiguration(
            address: .hostname(options.host, port: options.port), serverName: options.serverName,
            availableConnectionsDelegate: MaximumAvailableConnections(connections.maxConnections, logger: logger)),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? options.port) },
        logger: logger)
    app.addServices(
        StorageService(storage: storage, logger: logger),
        TailService(hub: tailHub),
        MaintenanceService(storage: storage, policy: options.retention, interval: options.maintenanceInterval, logger: logger))
    if options.security.users != nil || options.security.tls != nil {
        app.addServices(
            SecurityReloadService(users: options.security.users, tls: options.security.tls, interval: options.security.reloadInterval, logger: logger))
    }
    return app
}

/// Closes the store on graceful shutdown.
struct StorageService: Service {
    let storage: Storage
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("closing the store")
        storage.close()
    }
}
