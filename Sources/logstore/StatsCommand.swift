import ArgumentParser
import Foundation
import LogStore

/// `logstore stats`: what a data directory holds.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show segments, streams, lines, raw and stored bytes, compression ratio and time range.",
        discussion: """
            Reads the data directory directly (read-only; safe while a server runs on it), or with \
            --server asks a running server (GET /v1/stats, the same figures plus its tail waiters).
            """
    )

    @OptionGroup var data: DataOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Ask this running server (e.g. http://127.0.0.1:9200) instead of reading the files.")
    var server: String?

    @OptionGroup(title: "Server access") var client: ClientOptions

    func run() async throws {
        if let server {
            try await remote(server)
            return
        }
        let store = try Storage.open(directory: data.dataDirectory, options: StorageOptions(readOnly: true), logger: data.logger())
        defer { store.close() }
        let stats = try store.stats()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(stats), as: UTF8.self))
            return
        }
        print(StatsFormatter.render(stats))
    }

    /// `GET /v1/stats` of `base`: printed as the server sent it (`--json`) or as the table.
    func remote(_ base: String) async throws {
        let object = try await RemoteClient(endpoint: try client.endpoint(base)).get("/v1/stats", [])
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        if json {
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: pretty, as: UTF8.self))
            return
        }
        let stats: StoreStats
        do {
            stats = try JSONDecoder().decode(StoreStats.self, from: data)
        } catch {
            printError("error: \(base)/v1/stats is not what this logstore understands: \(error)")
            throw ExitCode(1)
        }
        print(StatsFormatter.render(stats))
        if let waiters = object["tailWaiters"] as? Int { print("tail waiters     \(waiters)") }
    }
}
