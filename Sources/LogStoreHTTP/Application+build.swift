import Foundation
import Hummingbird
import LogStore
import Logging
import ServiceLifecycle

/// What `logstore serve` is configured with.
public struct ServerOptions: Sendable {
    public var host: String
    public var port: Int
    public var serverName: String

    public init(host: String = "127.0.0.1", port: Int = 9200, serverName: String = "logstore") {
        self.host = host
        self.port = port
        self.serverName = serverName
    }

    /// Parses `host:port` (or `:port`, or a bare port).
    public init?(listen: String) {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1, let port = Int(parts[0]) {
            self.init(port: port)
        } else if parts.count >= 2, let port = Int(parts.last!) {
            let host = parts.dropLast().joined(separator: ":")
            self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
        } else {
            return nil
        }
    }
}

/// The request context of every route.
public typealias LogStoreContext = BasicRequestContext

/// Builds the router with every route of the server.
public func buildRouter(storage: Storage, logger: Logger) -> Router<LogStoreContext> {
    let router = Router(context: LogStoreContext.self)
    router.middlewares.add(ErrorMiddleware())
    AdminController(storage: storage).addRoutes(to: router)
    LogsController(storage: storage).addRoutes(to: router.group("v1"))
    return router
}

/// Builds the whole application around an open store. The store is closed when the
/// application shuts down (after the HTTP server stopped accepting and finished its requests).
public func buildApplication(storage: Storage, options: ServerOptions, logger: Logger) -> some ApplicationProtocol {
    let router = buildRouter(storage: storage, logger: logger)
    var app = Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: options.serverName),
        logger: logger)
    app.addServices(StorageService(storage: storage, logger: logger))
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
