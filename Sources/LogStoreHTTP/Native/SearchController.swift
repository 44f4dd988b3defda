import Foundation
import Hummingbird
import LogStore
import LogStoreIngest

/// Native search API: `GET /v1/search`, `GET /v1/hits`, `GET /v1/streams`.
struct SearchController {
    let storage: Storage
    /// The open connections: a read stops when its client goes away.
    var connections = ConnectionRegistry()

    func addRoutes(to group: RouterGroup<LogStoreContext>) {
        group.get("search") { request, context in try await search(request, context: context) }
        group.get("hits") { request, context in try await hits(request, context: context) }
        group.get("streams") { request, _ in try streams(request) }
    }

    /// The longest `/v1/hits` step: ten years of 366 days.
    static let maxStep: Duration = .seconds(3660 * 86_400)

    /// SearchController.time returns the time parameter `name` (RFC 3339, or epoch milliseconds
    /// within ``RequestNumber/epochMilliseconds``) as epoch nanoseconds, nil when absent; a 400
    /// naming it otherwise.
    static func time(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        if let first = text.utf8.first, first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")),
            text.utf8.dropFirst().allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        {
            return try RequestNumber.nanoseconds(milliseconds: text, name: name)
        }
        if let ns = Timestamp.parse(String(text)) { return ns }
        throw OpenSearchError.badRequest("\(name) '\(text)' is not a time (RFC 3339 or epoch milliseconds)")
    }

    static func query(_ request: Request) throws -> Query {
        try LogParameters(request).query()
    }

    func search(_ request: Request, context: LogStoreContext) async throws -> Response {
        try LogParameters.check(request, allowed: ["q", "from", "to", "limit", "cursor", "order", "fields"])
        let q = request.uri.queryParameters
        let query = try Self.query(request)
        var limit = 100
        if let value = try RequestNumber.integer(request, "limit", in: 1...10_000) { limit = value }
        var cursor: LSN?
        if let text = q["cursor"] {
            guard let value = LSN(text) else { throw OpenSearchError.badRequest("cursor '\(text)' is not a cursor (an LSN from `next`)") }
            cursor = value
        }
        var order = ReadOrder.descending
        if let text = q["order"] {
            guard let value = ReadOrder(rawValue: String(text)) else { throw OpenSearchError.badRequest("order '\(text)' must be asc or desc") }
            order = value
        }
        let gzip = JSONAnswer.acceptsGzip(request)
        let fields = try LogParameters(request).fields()
        let deadline = storage.queryDeadline()
        let request = SearchRequest(
            query: query, from: try Self.time(request, "from"), to: try Self.time(request, "to"), limit: limit, order: order, cursor: cursor,
            deadline: deadline)
        let storage = self.storage
        let page = try await connections.cancelling(deadline, whenClosed: context.channel) { try await storage.searchAsync(request) }
        var keys: [StreamID: StreamKey] = [:]
        for line in page.lines where keys[line.stream] == nil {
            if let key = storage.stream(line.stream)?.key { keys[line.stream] = key }
        }
        var writer = LogLineWriter(keys: keys, fields: fields)
        var out = JSONText(capacity: page.lines.count * 200 + 64)
        out.raw("{\"lines\":[")
        for (i, line) in page.lines.enumerated() {
            if i > 0 { out.raw(",") }
            writer.append(line, to: &out)
        }
        out.raw("],\"next\":")
        if let next = page.next { out.number(next) } else { out.raw("null") }
        out.raw("}")
        return JSONAnswer.answer(out.bytes, gzip: gzip)
    }

    func hits(_ request: Request, context: LogStoreContext) async throws -> Response {
        try LogParameters.check(request, allowed: ["q", "from", "to", "step", "by"])
        let q = request.uri.queryParameters
        let query = try Self.query(request)
        var step: Int64 = 3600 * 1_000_000_000
        if let value = try RequestNumber.duration(request, "step", in: .seconds(1)...Self.maxStep) { step = value.nanoseconds }
        var grouping: HitsGrouping?
        let (from, to) = (try Self.time(request, "from"), try Self.time(request, "to"))
        if let text = q["by"] {
            guard let value = HitsGrouping(rawValue: String(text)) else {
                return try await hits(query, from: from, to: to, step: step, byField: String(text), request: request, context: context)
            }
            grouping = value
        }
        let (storage, width) = (self.storage, step)
        let deadline = storage.queryDeadline()
        let result = try await connections.cancelling(deadline, whenClosed: context.channel) {
            try await storage.hitsAsync(query, from: from, to: to, step: width, deadline: deadline)
        }
        return JSONAnswer.answer(result.json(groups: grouping.map { ($0, storage.group(result, by: $0)) }), request: request)
    }

    func streams(_ request: Request) throws -> Response {
        try LogParameters.check(request, allowed: ["workflow", "job", "index", "limit"])
        // A bounded answer: a store holds up to millions of streams.
        let limit = try LogParameters(request).integer("limit", in: 1...100_000) ?? 10_000
        let q = request.uri.queryParameters
        let selector = StreamSelector(index: q["index"].map(String.init), workflow: q["workflow"].map(String.init), job: q["job"].map(String.init))
        let streams = storage.streams(matching: selector)
        var out = JSONText()
        out.raw("{\"streams\":[")
        for (i, stream) in streams.prefix(limit).enumerated() {
            if i > 0 { out.raw(",") }
            out.raw("{\"index\":")
            out.string(stream.key.index)
            out.raw(",\"workflow\":")
            out.string(stream.key.workflow)
            out.raw(",\"job\":")
            out.string(stream.key.job)
            out.raw(",\"lines\":")
            out.number(stream.stats.lines)
            out.raw(",\"first\":")
            if stream.stats.lines > 0 { out.string(Timestamp.formatRFC3339(stream.stats.firstTimestamp)) } else { out.raw("null") }
            out.raw(",\"last\":")
            if stream.stats.lines > 0 { out.string(Timestamp.formatRFC3339(stream.stats.lastTimestamp)) } else { out.raw("null") }
            out.raw("}")
        }
        out.raw("],\"total\":")
        out.number(streams.count)
        out.raw("}")
        return JSONAnswer.answer(out.bytes, request: request)
    }
}
