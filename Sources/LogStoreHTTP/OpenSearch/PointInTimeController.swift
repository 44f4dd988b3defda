import Foundation
import Hummingbird
import LogStore
import NIOCore

/// The snapshot a search reads: a point in time or a scroll.
struct SearchSnapshot {
    var id: String
    var index: String?
    var lsn: LSN
    var isScroll: Bool
}

/// Scroll (`scroll=1m`, `/_search/scroll`) and point in time (`/_search/point_in_time`,
/// `/_pit`): both are ``SearchContexts`` entries, a snapshot of the store by LSN; a scroll
/// also keeps its search and where its last page ended, and each `/_search/scroll` repeats
/// the search after that position (`search_after`), in the snapshot.
extension OpenSearchController {
    func addContextRoutes(to router: Router<LogStoreContext>) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("_search/scroll", method: method) { request, context in try await scroll(request, context: context, id: nil) }
            router.on("_search/scroll/:id", method: method) { request, context in
                try await scroll(request, context: context, id: try context.parameters.require("id"))
            }
        }
        router.delete("_search/scroll") { request, _ in try await clearScroll(request, id: nil) }
        router.delete("_search/scroll/:id") { request, context in try await clearScroll(request, id: try context.parameters.require("id")) }
        router.post(":index/_search/point_in_time") { request, context in try openPointInTime(request, index: try indexParameter(context), elastic: false) }
        router.post(":index/_pit") { request, context in try openPointInTime(request, index: try indexParameter(context), elastic: true) }
        router.get("_search/point_in_time/_all") { request, _ in listPointsInTime(request) }
        router.delete("_search/point_in_time") { request, _ in try await closePointsInTime(request, all: false, elastic: false) }
        router.delete("_search/point_in_time/_all") { request, _ in try await closePointsInTime(request, all: true, elastic: false) }
        router.delete("_pit") { request, _ in try await closePointsInTime(request, all: false, elastic: true) }
    }

    /// The snapshot of a `_search`: its `pit`, or a new scroll when `scroll=` is given.
    func snapshotOf(_ extras: SearchExtras, body: [String: Any], request: Request, index: String?) throws -> SearchSnapshot? {
        let scroll = request.uri.queryParameters["scroll"].map(String.init)
        if let pit = extras.pit {
            if index != nil {
                throw OpenSearchError.badRequest(
                    "[indices] cannot be used with point in time. Do not specify any index with point in time.", type: "action_request_validation_exception")
            }
            if scroll != nil { throw OpenSearchError.badRequest("using [point in time] is not allowed in a scroll context", type: "action_request_validation_exception") }
            let c = try contexts.use(pit.id, keepAlive: pit.keepAlive.map { min($0, SearchContexts.maxKeepAlive) })
            return SearchSnapshot(id: pit.id, index: c.index, lsn: c.lsn, isScroll: c.scroll != nil)
        }
        guard let scroll else { return nil }
        let keepAlive = try SearchContexts.keepAlive(scroll, name: "scroll")
        if body["search_after"] != nil {
            throw OpenSearchError.badRequest("`search_after` cannot be used in a scroll context.", type: "action_request_validation_exception")
        }
        let order = try SearchRequestParser.parseSort(request.uri.queryParameters["sort"].map { String($0) } ?? body["sort"])
        var kept = body
        kept["aggs"] = nil
        kept["aggregations"] = nil
        kept["from"] = nil
        let bytes = Array(try JSONSerialization.data(withJSONObject: kept))
        var parameters: [(String, String)] = []
        for (name, value) in request.uri.queryParameters where !["scroll", "from", "track_total_hits", "typed_keys"].contains(String(name)) {
            parameters.append((String(name), String(value)))
        }
        let lsn = storage.lastLSN
        let id = try contexts.open(
            SearchContexts.Context(
                index: index, lsn: lsn, keepAlive: keepAlive, expires: .now.advanced(by: keepAlive),
                scroll: SearchContexts.Scroll(body: bytes, parameters: parameters, after: nil, ascending: order == .ascending),
                created: Storage.now() / 1_000_000))
        return SearchSnapshot(id: id, index: index, lsn: lsn, isScroll: true)
    }

    /// The end of a `_search` answer that carries aggregations, highlights or a snapshot id:
    /// `head` (up to `"hits":[`), the hits, then the rest.
    func finishSearch(
        _ head: JSONText, lines: ArraySlice<LinePage.Ref>, page: LinePage, keys: [StreamID: StreamKey], ids: [LSN: String],
        search: OpenSearchRequest,
        extras: SearchExtras, aggregated: AggregationAnswer?, snapshot: SearchSnapshot?, request: Request
    ) throws -> Response {
        var out = ByteBufferAllocator().buffer(capacity: head.bytes.count + lines.count * 640 + (aggregated?.json.count ?? 0) + 128)
        out.writeBytes(head.bytes)
        if let highlight = extras.highlight {
            var json = JSONText(capacity: lines.count * 640)
            try Self.writeHighlightedHits(
                lines, of: page, keys: keys, ids: ids, source: search.source, highlight: highlight, query: search.dsl.query, into: &json)
            out.writeBytes(json.bytes)
        } else {
            HitWriter.writeHits(lines, of: page, keys: keys, source: search.source, ids: ids, into: &out)
        }
        out.writeStaticString("]}")
        if let aggregated {
            out.writeStaticString(",\"aggregations\":")
            out.writeBytes(aggregated.json)
        }
        if let snapshot {
            var json = JSONText()
            json.raw(snapshot.isScroll ? ",\"_scroll_id\":" : ",\"pit_id\":")
            json.string(snapshot.id)
            out.writeBytes(json.bytes)
            if snapshot.isScroll, let last = lines.last { contexts.advance(snapshot.id, after: last.position) }
        }
        out.writeStaticString("}")
        return JSONAnswer.answer(out, request: request)
    }

    /// `/_search/scroll`: the next page of a scroll.
    func scroll(_ request: Request, context: LogStoreContext, id pathID: String?) async throws -> Response {
        try SearchRequestParser.checkParameters(request, allowed: ["scroll", "scroll_id", "rest_total_hits_as_int", "pretty", "human", "error_trace", "filter_path"])
        let body = try await SearchRequestParser.readBody(request)
        for key in body.keys where key != "scroll" && key != "scroll_id" {
            throw OpenSearchError.badRequest("[\(key)] is not a scroll parameter; give scroll_id and scroll", type: "parsing_exception")
        }
        guard let id = pathID ?? (body["scroll_id"] as? String) ?? request.uri.queryParameters["scroll_id"].map(String.init) else {
            throw OpenSearchError.badRequest("scrollId is missing", type: "action_request_validation_exception")
        }
        var scrollValue: Any? = body["scroll"]
        if scrollValue == nil, let text = request.uri.queryParameters["scroll"] { scrollValue = String(text) }
        let keepAlive = try scrollValue.map { try SearchContexts.keepAlive($0, name: "scroll") }
        let c = try contexts.use(id, keepAlive: keepAlive)
        guard let scroll = c.scroll else {
            throw OpenSearchError.badRequest("[\(id)] is a point in time, not a scroll; search with {\"pit\":{\"id\":…}}", type: "illegal_argument_exception")
        }
        guard var repeated = try JSONSerialization.jsonObject(with: Data(scroll.body)) as? [String: Any] else {
            throw OpenSearchError(.internalServerError, type: "exception", reason: "the kept scroll search is not an object")
        }
        repeated["pit"] = ["id": id]
        repeated["track_total_hits"] = false
        if let after = scroll.after {
            repeated["search_after"] = [HitWriter.epochMillis(after.timestamp), "\(after.timestamp)-\(after.lsn)"] as [Any]
        }
        var path = "/_search"
        var parameters = scroll.parameters
        if let p = request.uri.queryParameters["rest_total_hits_as_int"] { parameters.append(("rest_total_hits_as_int", String(p))) }
        if !parameters.isEmpty {
            path += "?" + parameters.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        var head = HTTPRequest(method: .post, scheme: nil, authority: nil, path: path)
        head.headerFields = request.headers
        head.headerFields[.contentEncoding] = nil
        head.headerFields[.contentLength] = nil
        let inner = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: repeated)))))
        return try await search(inner, context: context, index: nil)
    }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }

    /// The ids of a clear request's body member `name` (a string or a list).
    static func ids(_ value: Any?, name: String) throws -> [String]? {
        guard let value else { return nil }
        if let s = value as? String { return s.split(separator: ",").map(String.init) }
        if let l = value as? [Any] {
            return try l.map {
                guard let s = $0 as? String else { throw OpenSearchError.badRequest("[\(name)] must hold strings", type: "parsing_exception") }
                return s
            }
        }
        throw OpenSearchError.badRequest("[\(name)] must be a string or a list of strings", type: "parsing_exception")
    }

    /// `DELETE /_search/scroll`: frees scrolls (`_all`, ids in the path or the body).
    func clearScroll(_ request: Request, id: String?) async throws -> Response {
        let body = try await SearchRequestParser.readBody(request)
        var ids: [String]?
        if let id, id != "_all" {
            ids = id.split(separator: ",").map(String.init)
        } else if id == nil {
            ids = try Self.ids(body["scroll_id"], name: "scroll_id") ?? request.uri.queryParameters["scroll_id"].map { $0.split(separator: ",").map(String.init) }
            guard ids != nil else { throw OpenSearchError.badRequest("scrollId is missing", type: "action_request_validation_exception") }
        }
        let freed = contexts.close(ids, scrolls: true)
        let status: HTTPResponse.Status = ids != nil && freed.isEmpty ? .notFound : .ok
        return .json(Array("{\"succeeded\":true,\"num_freed\":\(freed.count)}".utf8), status: status)
    }

    /// `POST /{index}/_search/point_in_time?keep_alive=` (and Elasticsearch's `/{index}/_pit`).
    func openPointInTime(_ request: Request, index: String, elastic: Bool) throws -> Response {
        try SearchRequestParser.checkParameters(
            request,
            allowed: ["keep_alive", "preference", "routing", "expand_wildcards", "allow_partial_pit_creation", "ignore_unavailable", "pretty", "human", "error_trace", "filter_path"])
        let keepAlive = try SearchContexts.keepAlive(request.uri.queryParameters["keep_alive"].map(String.init), name: "keep_alive")
        _ = try selectStreams(index: index, query: .all)
        let created = Storage.now() / 1_000_000
        let id = try contexts.open(
            SearchContexts.Context(index: index, lsn: storage.lastLSN, keepAlive: keepAlive, expires: .now.advanced(by: keepAlive), scroll: nil, created: created))
        var json = JSONText()
        if elastic {
            json.raw("{\"id\":")
            json.string(id)
            json.raw("}")
        } else {
            json.raw("{\"pit_id\":")
            json.string(id)
            json.raw(",\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0},\"creation_time\":")
            json.number(created)
            json.raw("}")
        }
        return .json(json.bytes)
    }

    func listPointsInTime(_ request: Request) -> Response {
        var json = JSONText()
        json.raw("{\"pits\":[")
        for (i, (id, c)) in contexts.points().enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"pit_id\":")
            json.string(id)
            json.raw(",\"creation_time\":")
            json.number(c.created)
            json.raw(",\"keep_alive\":")
            json.number(c.keepAlive.components.seconds * 1000 + c.keepAlive.components.attoseconds / 1_000_000_000_000_000)
            json.raw("}")
        }
        json.raw("]}")
        return .json(json.bytes)
    }

    /// `DELETE /_search/point_in_time` (`{"pit_id": […]}`), `…/_all`, and Elasticsearch's
    /// `DELETE /_pit` (`{"id": "…"}`).
    func closePointsInTime(_ request: Request, all: Bool, elastic: Bool) async throws -> Response {
        let body = try await SearchRequestParser.readBody(request)
        var ids: [String]?
        if !all {
            ids = try Self.ids(elastic ? body["id"] : body["pit_id"], name: elastic ? "id" : "pit_id")
            guard ids != nil else {
                throw OpenSearchError.badRequest(elastic ? "[id] is required" : "[pit_id] is required", type: "action_request_validation_exception")
            }
        }
        let freed = contexts.close(ids, scrolls: false)
        var json = JSONText()
        if elastic {
            json.raw("{\"succeeded\":true,\"num_freed\":")
            json.number(freed.count)
            json.raw("}")
            return .json(json.bytes, status: freed.isEmpty ? .notFound : .ok)
        }
        json.raw("{\"pits\":[")
        let freedSet = Set(freed)
        for (i, id) in (ids ?? freed).enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"pit_id\":")
            json.string(id)
            json.raw(",\"successful\":\(freedSet.contains(id))}")
        }
        json.raw("]}")
        return .json(json.bytes)
    }
}
