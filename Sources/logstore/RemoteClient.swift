import ArgumentParser
import Foundation
import LogStoreHTTP

/// Reads from a running server's native API (the `--server URL` of `logs`, `search` and `stats`).
struct RemoteClient {
    let endpoint: ServerEndpoint

    /// GETs `path` with `query` and returns the decoded JSON object. Any other status than 200
    /// prints the server's reason (with advice for 401 and 403; the routes need `read`) and
    /// exits with status 1.
    func get(_ path: String, _ query: [(String, String?)]) async throws -> [String: Any] {
        let response = try await HTTPFetch.sendForCommand(.GET, to: endpoint, path: path, query: query)
        if response.status != 200 {
            printError(ServerRefusal(endpoint: endpoint, status: response.status, body: response.data, needs: .read).description)
            throw ExitCode(1)
        }
        return (try? JSONSerialization.jsonObject(with: response.data)) as? [String: Any] ?? [:]
    }
}
