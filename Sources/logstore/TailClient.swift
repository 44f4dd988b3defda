import ArgumentParser
import Dispatch
import Foundation

/// GETs `/v1/tail` answers: the body as sent (text or NDJSON) and the `X-Logstore-Next` cursor.
struct TailClient {
    struct Answer {
        var body: Data
        var next: String
    }

    /// A 4xx (a wrong request or wrong credentials), or a URL this client cannot use:
    /// retrying will not help.
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    /// A 5xx (e.g. 503 while too many followers wait): worth retrying.
    struct Unavailable: Error {
        var status: Int
    }

    let endpoint: ServerEndpoint
    let timeout: Duration

    init(endpoint: ServerEndpoint, timeout: Double) {
        self.endpoint = endpoint
        self.timeout = .milliseconds(Int(timeout * 1000))
    }

    func get(_ path: String, _ query: [(String, String?)]) async throws -> Answer {
        let response: HTTPFetch.Response
        do {
            response = try await HTTPFetch.send(.GET, to: endpoint, path: path, query: query, timeout: timeout)
        } catch let error as HTTPFetch.BadURL {
            throw Refused(description: "error: \(error)")
        } catch let error as HTTPFetch.Unreachable where !error.retryable {
            throw Refused(description: "error: \(error)")
        }
        if (400..<500).contains(response.status) {
            throw Refused(description: ServerRefusal(endpoint: endpoint, status: response.status, body: response.data, needs: .read).description)
        }
        guard response.status == 200, let next = response.headers.first(name: "X-Logstore-Next") else {
            throw Unavailable(status: response.status)
        }
        return Answer(body: response.data, next: next)
    }
}
