import ArgumentParser
import Foundation

/// Reads from a running server's native API (the `--server URL` of `logs`, `search` and `stats`).
struct RemoteClient {
    let base: String

    /// GETs `path` with `query` and returns the decoded JSON object; 4xx/5xx become errors
    /// carrying the server's reason.
    func get(_ path: String, _ query: [(String, String?)]) async throws -> [String: Any] {
        let response: HTTPFetch.Response
        do {
            response = try await HTTPFetch.send(.GET, base: base, path: path, query: query)
        } catch let error as HTTPFetch.BadURL {
            throw ValidationError("--server \(error)")
        } catch let error as HTTPFetch.Unreachable {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let json = (try? JSONSerialization.jsonObject(with: response.data)) as? [String: Any] ?? [:]
        if response.status != 200 {
            let reason = ((json["error"] as? [String: Any])?["reason"] as? String) ?? response.text
            printError("error: \(base) answered \(response.status): \(reason)")
            throw ExitCode(1)
        }
        return json
    }
}
