import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Reads from a running server's native API (the `--server URL` of `logs` and `search`).
struct RemoteClient {
    let base: String

    /// GETs `path` with `query` and returns the decoded JSON object; 4xx/5xx become errors
    /// carrying the server's reason.
    func get(_ path: String, _ query: [(String, String?)]) async throws -> [String: Any] {
        guard var components = URLComponents(string: base.hasSuffix("/") ? String(base.dropLast()) + path : base + path) else {
            throw ValidationError("--server '\(base)' is not a URL")
        }
        components.queryItems = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        guard let url = components.url else { throw ValidationError("--server '\(base)' is not a URL") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(from: url)
        } catch {
            printError("error: cannot reach \(base): \((error as NSError).localizedDescription)")
            throw ExitCode(1)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        if status != 200 {
            let reason = ((json["error"] as? [String: Any])?["reason"] as? String) ?? String(decoding: data, as: UTF8.self)
            printError("error: \(base) answered \(status): \(reason)")
            throw ExitCode(1)
        }
        return json
    }
}
