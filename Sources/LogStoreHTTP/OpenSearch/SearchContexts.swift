import Foundation
import LogStore
import Synchronization

/// SearchContexts holds the open points in time and scrolls: each is a snapshot of the store
/// by LSN (lines committed after it are not seen), the index pattern it reads and, for a
/// scroll, the search it repeats and where its last page ended. A context expires `keepAlive`
/// after its last use. The number of contexts and the bytes of the searches they keep are
/// bounded: opening one beyond either bound is a 429, never unbounded growth.
final class SearchContexts: Sendable {
    /// The most open contexts.
    let maxContexts: Int
    /// The most bytes of kept search bodies.
    let maxBytes: Int
    /// The longest keep-alive (OpenSearch's `search.max_keep_alive`).
    static let maxKeepAlive: Duration = .seconds(24 * 3600)

    struct Context: Sendable {
        var index: String?
        var lsn: LSN
        var keepAlive: Duration
        var expires: ContinuousClock.Instant
        /// For a scroll: the search body (JSON) and URL parameters to repeat, and the sort
        /// values of the last hit sent.
        var scroll: Scroll?
        var created: Int64

        var bytes: Int { 256 + (scroll?.body.count ?? 0) }
    }

    struct Scroll: Sendable {
        var body: [UInt8]
        var parameters: [(String, String)]
        var after: LogPosition?
        var ascending: Bool
    }

    private let state = Mutex<(contexts: [String: Context], bytes: Int)>(([:], 0))

    init(maxContexts: Int = 500, maxBytes: Int = 64 << 20) {
        self.maxContexts = maxContexts
        self.maxBytes = maxBytes
    }

    static func keepAlive(_ value: Any?, name: String) throws -> Duration {
        guard let value else { throw OpenSearchError.badRequest("[\(name)] is required (e.g. 1m)", type: "action_request_validation_exception") }
        let d = try KeepAlive.parse(value, name: name)
        guard d <= maxKeepAlive else {
            throw OpenSearchError.badRequest(
                "Keep alive for request (\(value)) is too large. It must be less than (24h). This limit can be set by changing the "
                    + "[search.max_keep_alive] cluster level setting.")
        }
        return d
    }

    /// Opens a context; 429 when the bounds are reached (after dropping expired ones).
    func open(_ context: Context) throws -> String {
        let id = Self.newID(scroll: context.scroll != nil)
        try state.withLock { s in
            Self.purge(&s)
            guard s.contexts.count < maxContexts, s.bytes + context.bytes <= maxBytes else {
                throw OpenSearchError(
                    .tooManyRequests, type: "rejected_execution_exception",
                    reason: "Trying to create too many search contexts (\(s.contexts.count) open, \(s.bytes) bytes kept; the most are "
                        + "\(maxContexts) and \(maxBytes) bytes). Close scrolls and points in time when done, or shorten keep_alive.")
            }
            s.contexts[id] = context
            s.bytes += context.bytes
        }
        return id
    }

    /// The context `id`, its expiry moved `keepAlive` (its own when nil) from now; 404 when it
    /// is unknown or expired.
    func use(_ id: String, keepAlive: Duration?) throws -> Context {
        try state.withLock { s in
            Self.purge(&s)
            guard var c = s.contexts[id] else {
                throw OpenSearchError(.notFound, type: "search_context_missing_exception", reason: "No search context found for id [\(id)]")
            }
            if let keepAlive { c.keepAlive = keepAlive }
            c.expires = .now.advanced(by: c.keepAlive)
            s.contexts[id] = c
            return c
        }
    }

    /// Records where a scroll's last page ended.
    func advance(_ id: String, after: LogPosition) {
        state.withLock { s in
            s.contexts[id]?.scroll?.after = after
        }
    }

    /// Closes the contexts `ids` (all of the kind when nil); returns the ids freed.
    func close(_ ids: [String]?, scrolls: Bool) -> [String] {
        state.withLock { s in
            Self.purge(&s)
            let targets = ids ?? s.contexts.filter { ($0.value.scroll != nil) == scrolls }.map(\.key)
            var freed: [String] = []
            for id in targets {
                if let c = s.contexts.removeValue(forKey: id) {
                    s.bytes -= c.bytes
                    freed.append(id)
                }
            }
            return freed
        }
    }

    /// Open points in time (not scrolls): id, creation time, keep-alive.
    func points() -> [(String, Context)] {
        state.withLock { s in
            Self.purge(&s)
            return s.contexts.filter { $0.value.scroll == nil }.map { ($0.key, $0.value) }
        }
    }

    var count: Int { state.withLock { $0.contexts.count } }

    private static func purge(_ s: inout (contexts: [String: Context], bytes: Int)) {
        let now = ContinuousClock.now
        for (id, c) in s.contexts where c.expires <= now {
            s.contexts[id] = nil
            s.bytes -= c.bytes
        }
    }

    private static func newID(scroll: Bool) -> String {
        var g = SystemRandomNumberGenerator()
        let a = g.next() as UInt64
        let b = g.next() as UInt64
        let bytes = withUnsafeBytes(of: (a, b)) { Array($0) }
        return (scroll ? "scroll-" : "pit-") + Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "=", with: "")
    }
}
