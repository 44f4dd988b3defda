import Hummingbird
import LogStore
import LogStoreIngest

/// `GET /v1/logs`: one job's or workflow's log in `(@timestamp, LSN)` order, with a cursor.
struct LogsController {
    let storage: Storage

    static let parameters: Set<String> = ["workflow", "job", "index", "after", "limit", "order", "format"]
    static let maxLimit = 100_000

    func addRoutes(to group: RouterGroup<LogStoreContext>) {
        group.get("logs") { request, _ -> Response in
            try await logs(request)
        }
    }

    func logs(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        for (name, _) in q where !Self.parameters.contains(String(name)) {
            throw HTTPError(.badRequest, message: "unknown parameter '\(name)'; expected one of \(Self.parameters.sorted().joined(separator: ", "))")
        }
        let selector = StreamSelector(index: q["index"].map(String.init), workflow: q["workflow"].map(String.init), job: q["job"].map(String.init))
        if selector.workflow == nil && selector.job == nil && selector.index == nil {
            throw HTTPError(.badRequest, message: "give workflow, job or index")
        }
        var after: LogPosition?
        if let text = q["after"] {
            guard let position = LogPosition(String(text)) else {
                throw HTTPError(.badRequest, message: "after '\(text)' is not a cursor (expected <timestamp ns>-<lsn>)")
            }
            after = position
        }
        var limit = 1000
        if let text = q["limit"] {
            guard let value = Int(text), value >= 1, value <= Self.maxLimit else {
                throw HTTPError(.badRequest, message: "limit '\(text)' must be an integer from 1 to \(Self.maxLimit)")
            }
            limit = value
        }
        var order = ReadOrder.ascending
        if let text = q["order"] {
            guard let value = ReadOrder(rawValue: String(text)) else {
                throw HTTPError(.badRequest, message: "order '\(text)' must be asc or desc")
            }
            order = value
        }
        let format = q["format"].map(String.init) ?? "json"
        guard ["json", "ndjson", "text"].contains(format) else {
            throw HTTPError(.badRequest, message: "format '\(format)' must be json, ndjson or text")
        }
        let streams = storage.streams(matching: selector)
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        let page = try await storage.readAsync(LogQuery(streams: streams.map(\.id), after: after, limit: limit, order: order))
        var out = JSONText(capacity: page.lines.count * 200 + 64)
        switch format {
        case "text":
            for line in page.lines {
                out.raw(line.message)
                if !line.message.hasSuffix("\n") { out.raw("\n") }
            }
            return .text(out.bytes, contentType: "text/plain; charset=utf-8")
        case "ndjson":
            for line in page.lines {
                line.appendJSON(key: keys[line.stream], to: &out)
                out.raw("\n")
            }
            return .text(out.bytes, contentType: "application/x-ndjson")
        default:
            out.raw("{\"lines\":[")
            for (i, line) in page.lines.enumerated() {
                if i > 0 { out.raw(",") }
                line.appendJSON(key: keys[line.stream], to: &out)
            }
            out.raw("],\"next\":")
            if let next = page.next { out.string(next.description) } else { out.raw("null") }
            out.raw(",\"truncated\":\(page.truncated)}")
            return .json(out.bytes)
        }
    }
}
