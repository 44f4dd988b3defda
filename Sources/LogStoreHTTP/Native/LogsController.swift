import Hummingbird
import LogStore
import LogStoreIngest

/// `GET /v1/logs`: one job's or workflow's log in `(@timestamp, LSN)` order, with a cursor.
struct LogsController {
    let storage: Storage

    static let parameters: Set<String> = ["workflow", "job", "index", "after", "limit", "order", "format", "fields"]
    static let maxLimit = 100_000

    func addRoutes(to group: RouterGroup<LogStoreContext>) {
        group.get("logs") { request, _ -> Response in
            try await logs(request)
        }
    }

    func logs(_ request: Request) async throws -> Response {
        let q = LogParameters(request)
        try q.check(allowed: Self.parameters)
        let selector = try q.selector()
        var after: LogPosition?
        if let text = q["after"] {
            guard let position = LogPosition(text) else {
                throw OpenSearchError.badRequest("after '\(text)' is not a cursor (expected <timestamp ns>-<lsn>)")
            }
            after = position
        }
        let limit = try q.integer("limit", in: 1...Self.maxLimit) ?? 1000
        var order = ReadOrder.ascending
        if let text = q["order"] {
            guard let value = ReadOrder(rawValue: text) else {
                throw OpenSearchError.badRequest("order '\(text)' must be asc or desc")
            }
            order = value
        }
        let format = try q.format()
        let fields = try q.fields()
        let streams = storage.streams(matching: selector)
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        // A page past the byte bound of a read ends early: the client pages on with `next`.
        var query = LogQuery(streams: streams.map(\.id), after: after, limit: limit, order: order)
        query.shortPages = true
        let page = try await storage.readLinesAsync(query)
        return format.response(page, keys: keys, fields: fields, gzip: JSONAnswer.acceptsGzip(request)) { out in
            out.raw(",\"next\":")
            if let next = page.next { out.string(next.description) } else { out.raw("null") }
            out.raw(",\"truncated\":\(page.truncated)")
        }
    }
}
