import Foundation
import Hummingbird
import LogStore

/// What a `_search` body asks for besides hits: aggregations, highlighting, a point in time.
struct SearchExtras {
    var aggregations: [Aggregation]?
    /// The field paths the aggregations read (their slots).
    var paths: [String] = []
    var highlight: Highlight?
    /// `pit.id` and `pit.keep_alive`.
    var pit: (id: String, keepAlive: Duration?)?
    /// `typed_keys=true`: aggregation names written as `type#name`.
    var typedKeys = false
}

extension SearchRequestParser {
    /// The members of a `_search` body that `search` leaves to other parts: `aggs` /
    /// `aggregations`, `highlight`, `pit`; `script_fields` is refused naming it.
    static func extras(_ body: [String: Any], request: Request) throws -> SearchExtras {
        var extras = SearchExtras()
        if let scripts = body["script_fields"], !((scripts as? [String: Any])?.isEmpty ?? false) {
            throw OpenSearchError.badRequest(
                "[script_fields] is not supported by logstore (no scripts); request the fields in _source instead", type: "parsing_exception")
        }
        if body["aggs"] != nil && body["aggregations"] != nil {
            throw OpenSearchError.badRequest("Found two aggregation definitions: [aggs] and [aggregations]", type: "parsing_exception")
        }
        if let aggs = body["aggs"] ?? body["aggregations"] {
            let (aggregations, paths) = try AggregationParser.parse(aggs)
            extras.aggregations = aggregations
            extras.paths = paths
        }
        if let h = body["highlight"] { extras.highlight = try Highlight.parse(h) }
        if let p = body["pit"] {
            guard let o = p as? [String: Any], let id = o["id"] as? String else {
                throw OpenSearchError.badRequest("[pit] must be {\"id\": \"…\", \"keep_alive\": \"1m\"}", type: "parsing_exception")
            }
            var keepAlive: Duration?
            if let k = o["keep_alive"] { keepAlive = try KeepAlive.parse(k, name: "pit.keep_alive") }
            extras.pit = (id, keepAlive)
        }
        extras.typedKeys = request.uri.queryParameters["typed_keys"] == "true"
        return extras
    }
}

extension SearchRequestParser {
    /// Grafana's backend sends `sort` as one object of several fields
    /// (`{"@timestamp":{…},"_doc":{…}}`): the same as a list of one-field objects, fields
    /// before the `_doc`-like tie-breakers (a JSON object's order is not kept by the parser).
    static func normalizeSort(_ body: inout [String: Any]) {
        guard let sort = body["sort"] as? [String: Any], sort.count > 1 else { return }
        let names = sort.keys.sorted { a, b in (a.hasPrefix("_") ? 1 : 0, a) < (b.hasPrefix("_") ? 1 : 0, b) }
        body["sort"] = names.map { [$0: sort[$0]!] as [String: Any] }
    }
}

/// `keep_alive` and `scroll` durations: `<n><unit>` with unit ms, s, m, h or d.
enum KeepAlive {
    static func parse(_ value: Any, name: String) throws -> Duration {
        guard let text = value as? String, let ms = DateStep.fixedMillis(text) else {
            throw OpenSearchError.badRequest("failed to parse [\(name)] [\(value)] as a time value: use <number><ms|s|m|h|d>", type: "parse_exception")
        }
        return .milliseconds(ms)
    }
}
