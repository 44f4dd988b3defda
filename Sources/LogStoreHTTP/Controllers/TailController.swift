import Foundation
import HTTPTypes
import Hummingbird
import LogStore
import ServiceLifecycle

/// Limits of `/v1/tail`.
public struct TailOptions: Sendable {
    /// At most this many requests wait at once; more are answered 503 (`--max-tail-waiters`).
    public var maxWaiters = 10_000
    /// How long a request waits when it gives no `wait`.
    public var defaultWait: Duration = .seconds(25)
    /// The largest `wait` accepted, in seconds.
    public var maxWaitSeconds = 60.0

    public init() {}
}

/// `GET /v1/tail`: a long-poll follow of a job's or workflow's log in commit (LSN) order.
///
/// Answers at once when lines after the cursor exist; otherwise the request waits (a
/// continuation in `TailHub`, no thread) until a matching line is committed, `wait` runs out, the
/// client leaves or the server shuts down, then answers the lines (or none) and `next`.
struct TailController {
    let storage: Storage
    let hub: TailHub
    let options: TailOptions

    static let parameters: Set<String> = ["workflow", "job", "index", "q", "after", "tail", "limit", "wait", "format"]
    static let maxLimit = 10_000
    /// The `X-Logstore-Next` header: the cursor to pass as `after` next time (every format).
    static let nextHeader = HTTPField.Name("X-Logstore-Next")!

    func addRoutes(to group: RouterGroup<LogStoreContext>) {
        group.get("tail") { request, context -> Response in
            try await tail(request, context: context)
        }
    }

    func tail(_ request: Request, context: LogStoreContext) async throws -> Response {
        try LogParameters.check(request, allowed: Self.parameters)
        let q = request.uri.queryParameters
        let selector = try LogParameters.selector(request)
        let query = try SearchController.query(request)
        var after: LSN?
        if let text = q["after"] {
            guard let value = LSN(text) else { throw OpenSearchError.badRequest("after '\(text)' is not a cursor (an LSN from `next`)") }
            after = value
        }
        let last = try LogParameters.integer(request, "tail", in: 0...Self.maxLimit)
        if after != nil && last != nil { throw OpenSearchError.badRequest("give either after (continue) or tail (start with the last lines), not both") }
        let limit = try LogParameters.integer(request, "limit", in: 1...Self.maxLimit) ?? 1000
        var wait = options.defaultWait
        if let text = q["wait"] {
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= options.maxWaitSeconds else {
                throw OpenSearchError.badRequest("wait '\(text)' must be a number of seconds from 0 to \(Int(options.maxWaitSeconds))")
            }
            wait = .milliseconds(Int64((seconds * 1000).rounded()))
        }
        let format = try LogFormat.parse(request)
        let deadline = ContinuousClock.now + wait

        let matcher = query.isMatchAll ? nil : QueryMatcher(query)
        let filter: Query? = matcher == nil ? nil : query
        var generation = hub.generation
        var streams = resolve(selector, matcher)
        func answer(_ lines: [LogLine], next: LSN, truncated: Bool) -> Response {
            let keys = Dictionary(streams.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
            return format.response(lines, keys: keys, headers: [Self.nextHeader: String(next)]) { out in
                out.raw(",\"next\":")
                out.number(next)
                out.raw(",\"truncated\":\(truncated)")
            }
        }

        var cursor: LSN
        if let after {
            cursor = after
        } else {
            // From the end: the last `tail` lines now, or wait for the next ones.
            let page = try await storage.readCommittedAsync(streams: streams.map(\.id), range: .last(last ?? 0), filter: filter)
            cursor = page.next
            if !page.lines.isEmpty { return answer(page.lines, next: cursor, truncated: page.truncated) }
        }
        var admitted = false
        defer { if admitted { hub.release() } }
        var connection: ConnectionState?
        return try await withGracefulShutdownHandler {
            while true {
                let page = try await storage.readCommittedAsync(streams: streams.map(\.id), range: .after(cursor, limit: limit), filter: filter)
                cursor = page.next
                if !page.lines.isEmpty || ContinuousClock.now >= deadline || hub.isShuttingDown {
                    return answer(page.lines, next: cursor, truncated: page.truncated)
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
                    if let channel = context.channel { connection = await ConnectionWatcher.state(of: channel) }
                }
                let wake = await hub.wait(
                    selector: selector, streams: Set(streams.map(\.id)), after: cursor, generation: generation, deadline: deadline,
                    connection: connection)
                switch wake {
                case .commit:
                    let current = hub.generation
                    if current != generation {
                        // A stream appeared: resolve the selection again (generation first).
                        generation = current
                        streams = resolve(selector, matcher)
                    }
                case .timeout, .shutdown, .clientGone:
                    return answer([], next: cursor, truncated: false)
                }
            }
        } onGracefulShutdown: {
            hub.shutdown()
        }
    }

    /// The streams `selector` names that the query's field predicates do not rule out.
    func resolve(_ selector: StreamSelector, _ matcher: QueryMatcher?) -> [StreamInfo] {
        let streams = storage.streams(matching: selector)
        guard let matcher else { return streams }
        return streams.filter { matcher.matches(stream: $0.key) != false }
    }
}

/// Resumes waiting tail requests at their deadline (a few times a second) while the server
/// runs, and answers all of them on shutdown.
struct TailService: Service {
    let hub: TailHub

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(50)) }
            } catch {
                break
            }
            hub.expire(now: .now)
        }
        hub.shutdown()
    }
}
