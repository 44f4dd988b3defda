import Foundation
import LogStoreHTTP

/// ServerRefusal is the line a client command prints when the server refuses a request: the
/// status and the server's reason, and for 401 and 403 what to do about it.
struct ServerRefusal: CustomStringConvertible {
    let endpoint: ServerEndpoint
    let status: Int
    /// The server's `error.reason`, else its body as text.
    let reason: String
    /// The role the request needs (named in the 403 advice).
    let needs: Permission

    /// ServerRefusal.init reads the reason from an OpenSearch-shaped error body
    /// (`{"error":{"reason":…}}`), else takes the body as it is.
    init(endpoint: ServerEndpoint, status: Int, body: Data, needs: Permission) {
        self.endpoint = endpoint
        self.status = status
        self.needs = needs
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        reason = ((json?["error"] as? [String: Any])?["reason"] as? String) ?? String(decoding: body, as: UTF8.self)
    }

    var description: String {
        "error: \(endpoint.url) answered \(status): \(reason)" + advice.map { "\n  \($0)" }.joined()
    }

    /// ServerRefusal.advice is what to do about a 401 or a 403; empty for other statuses.
    var advice: [String] {
        switch status {
        case 401:
            let sent = endpoint.credentialSource.map { "sent: \($0)" } ?? "none were sent"
            return [
                "wrong or missing credentials (\(sent)): set LOGSTORE_PASSWORD and pass --user NAME (env LOGSTORE_USER),",
                "or set LOGSTORE_API_KEY to a key from `logstore user key NAME`",
            ]
        case 403:
            let who = endpoint.credentialSource ?? "the user"
            return ["\(who) lacks the role this needs: \(needs.rawValue) (or admin); see `logstore user list`"]
        default:
            return []
        }
    }
}
