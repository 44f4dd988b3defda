import Foundation
import HTTPTypes
import Hummingbird
import LogStore
import NIOCore
import ServiceLifecycle

/// `GET /v1/tail`: a long-poll follow of a job's or workflow's log in commit (LSN) order.
///
/// Answers at once when lines after the cursor exist; otherwise the request waits (a
/// continuation in `TailHub`, no thread) until a matching line is committed, `wait` runs out, the
/// client leaves or the server shuts down, then answers the lines (or none) and `next`.
struct TailController {
    let storage: Storage
    let hub: TailHub
    let options: TailOptions

    static let parameters: Set<String> = ["workflow", "job", "index", "q", "after", "tail", "limit", "wait", "format", "fields"]
    static let maxLimit = 10_000
    /// A cursor this close to the last LSN reads lines written moments ago (in the page cache).
    static let recentLSNs: LSN = 100_000
    /// The `X-Logstore-Next` header: the cursor to pass as `after` next time (every format).
    static let nextHeader = HTTPField.Name("X-Logstore-Next")!

    func addRoutes(to group: RouterGroup<LogStoreContext>) {
        group.get("tail") { request, context -> Response in
            try await tail(request, context: context)
        }
    }

    func tail(_ request: Request, context: LogStoreContext) async throws -> Response {
        let q = LogParameters(request)
        try q.check(allowed: Self.parameters)
        let selector = try q.selector()
        let query = try q.query()
        var after: LSN?
        if let text = q["after"] {
            guard let value = LSN(text) else { throw OpenSearchError.badRequest("after '\(text)' is not a cursor (an LSN from `next`)") }
            after = value
        }
        let last = try q.integer("tail", in: 0...Self.maxLimit)
        if after != nil && last != nil { throw OpenSearchError.badRequest("give either after (continue) or tail (start with the last lines), not both") }
        let limit = try q.integer("limit", in: 1...Self.maxLimit) ?? 1000
        var wait = options.defaultWait
        if let text = q["wait"] {
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= options.maxWaitSeconds else {
                throw OpenSearchError.badRequest("wait '\(text)' must be a number of seconds from 0 to \(Int(options.maxWaitSeconds))")
            }
            wait = .milliseconds(Int64((seconds * 1000).rounded()))
        }
        let matcher = query.isMatchAll ? nil : QueryMatcher(query)
        let follow = Follow(
            selector: selector, matcher: matcher, filter: matcher == nil ? nil : query, after: after, last: last ?? 0, limit: limit,
            deadline: ContinuousClock.now + wait, format: try q.format(), fields: try q.fields(), channel: context.channel)
        return try await self.follow(follow)
    }

    /// A parsed `/v1/tail` request.
    struct Follow: Sendable {
        var selector: StreamSelector
        var matcher: QueryMatcher?
        var filter: Query?
        var after: LSN?
        var last: Int
        var limit: Int
        var deadline: ContinuousClock.Instant
        var format: LogFormat
        /// Whether lines carry their stored fields (`fields=true`).
        var fields: Bool
        var channel: (any Channel)?
    }

    /// Answers `request`: at once when there are lines, else after waiting for them.
    func follow(_ request: Follow) async throws -> Response {
        let (selector, matcher, filter, limit, deadline, format) =
            (request.selector, request.matcher, request.filter, request.limit, request.deadline, request.format)
        var (generation, streams) = resolve(selector, matcher)
        func answer(_ lines: [LogLine], next: LSN, truncated: Bool) -> Response {
            let keys = Dictionary(streams.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
            return format.response(lines, keys: keys, fields: request.fields, headers: [Self.nextHeader: String(next)]) { out in
                out.raw(",\"next\":")
                out.number(next)
                out.raw(",\"truncated\":\(truncated)")
            }
        }

        var cursor: LSN
        if let after = request.after {
            cursor = after
        } else {
            // From the end: the last `tail` lines now, or wait for the next ones.
            let page = try await storage.readCommittedAsync(streams: streams.map(\.id), range: .last(request.last), filter: filter)
            cursor = page.next
            if !page.lines.isEmpty { return answer(page.lines, next: cursor, truncated: page.truncated) }
        }
        var admitted = false
        defer { if admitted { hub.release() } }
        var connection: ConnectionState?
        var woken = false
        return try await withGracefulShutdownHandler {
            while true {
                // No commit above the cursor touched these streams: nothing to read (the hub knows
                // the last commit of every stream), wait at once.
                if woken || hub.hasCommits(after: cursor, in: streams) {
                    let ids = streams.map(\.id)
                    let range = CommitOrderRange.after(cursor, limit: limit)
                    // Woken by a commit, or close behind the last commit, the lines to read were
                    // just written (their pages are in memory): read them here rather than hop to
                    // another thread, which was most of the latency under load. A catch-up over
                    // old pages that may need the disk is read off the pool.
                    let page =
                        woken || storage.lastLSN - min(cursor, storage.lastLSN) <= Self.recentLSNs
                        ? try storage.readCommitted(streams: ids, range: range, filter: filter)
                        : try await storage.readCommittedAsync(streams: ids, range: range, filter: filter)
                    cursor = page.next
                    if !page.lines.isEmpty { return answer(page.lines, next: cursor, truncated: page.truncated) }
                }
                if ContinuousClock.now >= deadline || hub.isShuttingDown {
                    return answer([], next: cursor, truncated: false)
                }
                if !admitted {
                    guard hub.admit() else {
                        var error = OpenSearchError(
                            .serviceUnavailable, type: "es_rejected_execution_exception",
                            reason: "too many tail requests waiting (max-tail-waiters \(hub.maxWaiters)); retry later")
                        error.headers[.retryAfter] = "1"
                        throw error
                    }
                    admitted = true
                    connection = request.channel.flatMap { hub.connections.state(of: $0) }
                }
                let wake = await hub.wait(
                    selector: selector, streams: Set(streams.map(\.id)), after: cursor, generation: generation, deadline: deadline,
                    connection: connection)
                woken = wake == .commit
                switch wake {
                case .commit:
                    if hub.generation != generation {
                        // A stream appeared: resolve the selection again.
                        (generation, streams) = resolve(selector, matcher)
                    }
                case .timeout, .shutdown, .clientGone:
                    return answer([], next: cursor, truncated: false)
                }
            }
        } onGracefulShutdown: {
            hub.shutdown()
        }
    }

    /// The streams `selector` names that the query's field predicates do not rule out, and the
    /// hub's stream generation they were resolved at.
    func resolve(_ selector: StreamSelector, _ matcher: QueryMatcher?) -> (UInt64, [StreamInfo]) {
        let (generation, streams) = hub.streams(matching: selector)
        guard let matcher else { return (generation, streams) }
        return (generation, streams.filter { matcher.matches(stream: $0.key) != false })
    }
}
