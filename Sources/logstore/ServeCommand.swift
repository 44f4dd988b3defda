import ArgumentParser
import Foundation
import Hummingbird
import LogStore
import LogStoreHTTP

/// `logstore serve`: runs the HTTP server on a data directory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (OpenSearch-compatible ingest and search, native log API).",
        discussion: "Stops gracefully on SIGTERM or SIGINT: stops accepting, finishes the commit in flight, closes the store."
    )

    @OptionGroup var data: DataOptions

    @Option(help: "Address to listen on, host:port (env LOGSTORE_LISTEN).")
    var listen: String = ProcessInfo.processInfo.environment["LOGSTORE_LISTEN"] ?? "127.0.0.1:9200"

    func validate() throws {
        if ServerOptions(listen: listen) == nil { throw ValidationError("--listen '\(listen)' is not host:port") }
    }

    func run() async throws {
        let logger = data.logger()
        let storage: Storage
        do {
            storage = try Storage.open(directory: data.dataDirectory, logger: logger)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let options = ServerOptions(listen: listen)!
        logger.info("logstore serving", metadata: ["data": "\(data.dataDirectory)", "listen": "\(options.host):\(options.port)"])
        let app = buildApplication(storage: storage, options: options, logger: logger)
        try await app.runService()
    }
}
