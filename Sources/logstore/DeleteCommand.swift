import ArgumentParser
import Foundation
import LogStore

/// `logstore delete --workflow W`.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a workflow's logs: hidden from every read at once, removed from the files by the next compaction.",
        discussion: "Asks the server (DELETE /v1/workflows/{id}) when one owns the data directory."
    )

    @OptionGroup var data: DataOptions
    @Option(help: "The workflow id.") var workflow: String
    @Option(help: "The server to ask when it owns the data directory.") var server: String?
    @OptionGroup(title: "Server access") var client: ClientOptions

    func run() async throws {
        do {
            let store = try Storage.open(directory: data.dataDirectory, logger: data.logger())
            defer { store.close() }
            let lines = store.streams(matching: StreamSelector(workflow: workflow)).reduce(0) { $0 + $1.stats.lines }
            try await store.deleteWorkflow(workflow)
            print("deleted workflow \(workflow) (\(lines) lines hidden; run `logstore compact` to remove them from the files)")
        } catch StorageError.locked {
            let base = server ?? HTTPFetch.localServer
            let path = "/v1/workflows/" + (workflow.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? workflow)
            let endpoint = try client.endpoint(base)
            let response = try await HTTPFetch.sendForCommand(.DELETE, to: endpoint, path: path)
            guard response.status == 200 else {
                printError(ServerRefusal(endpoint: endpoint, status: response.status, body: response.data, needs: .admin).description)
                throw ExitCode(1)
            }
            print(response.text)
        }
    }
}
