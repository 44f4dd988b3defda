import ArgumentParser
import Dispatch
import Foundation

/// GETs `/v1/tail` answers: the body as sent (text or NDJSON) and the `X-Logstore-Next` cursor.
struct TailClient {
    struct Answer {
        var body: Data
        var next: String
    }

    /// A 4xx: the request itself is wrong; retrying will not help.
    struct Refused: Error {
        var status: Int
        var reason: String
    }

    /// A 5xx (e.g. 503 while too many followers wait): worth retrying.
    struct Unavailable: Error {
        var status: Int
    }

    let base: String
    let timeout: Duration

    init(base: String, timeout: Double) {
        self.base = base
        self.timeout = .milliseconds(Int(timeout * 1000))
    }

    func get(_ path: String, _ query: [(String, String?)]) async throws -> Answer {
        let response: HTTPFetch.Response
        do {
            response = try await HTTPFetch.send(.GET, base: base, path: path, query: query, timeout: timeout)
        } catch let error as HTTPFetch.BadURL {
            throw Refused(status: 0, reason: error.description)
        }
        if (400..<500).contains(response.status) {
            let json = (try? JSONSerialization.jsonObject(with: response.data)) as? [String: Any]
            let reason = ((json?["error"] as? [String: Any])?["reason"] as? String) ?? response.text
            throw Refused(status: response.status, reason: reason)
        }
        guard response.status == 200, let next = response.headers.first(name: "X-Logstore-Next") else {
            throw Unavailable(status: response.status)
        }
        return Answer(body: response.data, next: next)
    }
}
