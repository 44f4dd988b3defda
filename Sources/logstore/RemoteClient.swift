import ArgumentParser
import Foundation

/// Reads from a running server's native API (the `--server URL` of `logs`, `search` and `stats`).
struct RemoteClient {
    let base: String

    /// GETs `path` with `query` and returns the decoded JSON object; 4xx/5xx become errors
    /// carrying the server's reason.
    func get(_ path: String, _ query: [(String, String?)]) async throws -> [String: Any] {
        let response = try await HTTPFetch.sendForCommand(.GET, base: base, path: path, query: query)
        let json = (try? JSONSerialization.jsonObject(with: response.data)) as? [String: Any] ?? [:]
        if response.status != 200 {
            let reason = ((json["error"] as? [String: Any])?["reason"] as? String) ?? response.text
            printError("error: \(base) answered \(response.status): \(reason)")
            throw ExitCode(1)
        }
        return json
    }
}
