import Foundation
import LogStore

/// SearchSort is a `_search` `sort` on document fields (anything beyond `@timestamp` and the
/// log-order tie-breakers, which read in log order instead): its keys, then the log position
/// as the last tie-breaker. Each hit's `sort` holds one value per key (`null` when missing)
/// and `"<ns>-<lsn>"`, its position; `search_after` takes those values back.
struct SearchSort {
    var keys: [SortKey]
    /// The tie-breaker (`_doc`, `_shard_doc`, `_id` or implied, ascending) is descending.
    var tieDescending = false

    /// Names that order by log position.
    static let tieBreakers: Set<String> = ["_doc", "_shard_doc", "_id"]

    /// One entry of a `sort` list: its field and options.
    struct Entry {
        var field: String
        var direction: String?
        var options: [String: Any] = [:]
    }

    /// The entries of a `sort` value: a name, `"name:desc"`, a comma list of those (URL), an
    /// object `{"name":"desc"}` or `{"name":{"order":…}}`, or a list of them.
    static func entries(_ value: Any) throws -> [Entry] {
        var list: [Any] = (value as? [Any]) ?? [value]
        if let s = value as? String { list = s.split(separator: ",").map { String($0) } }
        return try list.map { item -> Entry in
            if let s = item as? String {
                if let colon = s.lastIndex(of: ":") {
                    let d = s[s.index(after: colon)...].lowercased()
                    if d == "asc" || d == "desc" { return Entry(field: String(s[..<colon]), direction: d) }
                }
                return Entry(field: s)
            }
            if let o = item as? [String: Any], o.count == 1, let (f, spec) = o.first {
                if let d = spec as? String { return Entry(field: f, direction: d) }
                if let options = spec as? [String: Any] { return Entry(field: f, direction: options["order"] as? String, options: options) }
                throw OpenSearchError.badRequest("sort [\(f)] must be \"asc\", \"desc\" or {\"order\":…}", type: "parsing_exception")
            }
            throw OpenSearchError.badRequest("sort entries must be a field name or {\"<field>\":…}", type: "parsing_exception")
        }
    }

    /// The field sort `value` asks for; nil when it is log order (nothing, `@timestamp` first,
    /// tie-breakers and `_score`), which ``SearchRequestParser/parseSort(_:)`` reads.
    static func parse(_ value: Any?) throws -> SearchSort? {
        guard let value else { return nil }
        let list = try entries(value)
        let logOrder = list.enumerated().allSatisfy { i, e in
            tieBreakers.contains(e.field) || e.field == "_score" || (i == 0 && e.field == "@timestamp")
        }
        if logOrder { return nil }
        var sort = SearchSort(keys: [])
        var tied = false
        for e in list {
            var descending = false
            if let d = e.direction {
                switch d.lowercased() {
                case "asc": descending = false
                case "desc": descending = true
                default: throw OpenSearchError.badRequest("sort order [\(d)] must be asc or desc", type: "parsing_exception")
                }
            }
            var missingFirst = false
            var useMin: Bool?
            for (key, option) in e.options {
                switch key {
                case "order": break
                case "unmapped_type", "numeric_type":
                    guard option is String else { throw OpenSearchError.badRequest("sort option [\(key)] of [\(e.field)] must be a string", type: "parsing_exception") }
                case "format" where e.field == "@timestamp": break
                case "missing":
                    switch option as? String {
                    case "_last": missingFirst = false
                    case "_first": missingFirst = true
                    default:
                        throw OpenSearchError.badRequest(
                            "sort option [missing] of [\(e.field)] must be _first or _last (a replacement value is not supported by logstore)",
                            type: "parsing_exception")
                    }
                case "mode":
                    switch option as? String {
                    case "min": useMin = true
                    case "max": useMin = false
                    default:
                        throw OpenSearchError.badRequest(
                            "sort option [mode] of [\(e.field)] must be min or max (others are not supported by logstore)", type: "parsing_exception")
                    }
                default:
                    throw OpenSearchError.badRequest("sort option [\(key)] is not supported by logstore", type: "parsing_exception")
                }
            }
            if tied { continue }  // after a total tie-breaker nothing else decides
            let target: SortKey.Target
            switch e.field {
            case _ where tieBreakers.contains(e.field):
                sort.tieDescending = descending
                tied = true
                continue
            case "_score": target = .constant
            case "@timestamp": target = .timestamp
            case "_index", "_routing", "_seq_no", "_version", "_source", "_type", "_primary_term", "_geo_distance", "_script", "":
                throw OpenSearchError.badRequest("sort on [\(e.field)] is not supported by logstore", type: "query_shard_exception")
            default:
                var base = e.field
                let keyword = base.hasSuffix(".keyword")
                if keyword { base = String(base.dropLast(".keyword".count)) }
                guard !base.isEmpty, !base.hasPrefix("."), !base.hasSuffix("."), !base.contains("*") else {
                    throw OpenSearchError.badRequest("sort on [\(e.field)]: not a field name (patterns are not supported)", type: "query_shard_exception")
                }
                target = keyword ? .keyword(base) : .field(base)
            }
            sort.keys.append(SortKey(target: target, descending: descending, missingFirst: missingFirst, useMin: useMin))
        }
        return sort
    }

    /// `search_after` for this sort: one value per key (`null` for missing), optionally
    /// followed by the `"<ns>-<lsn>"` position of a hit.
    func cursor(_ value: Any?) throws -> SortCursor? {
        guard let value else { return nil }
        guard let list = value as? [Any], list.count == keys.count || list.count == keys.count + 1 else {
            throw OpenSearchError.badRequest(
                "search_after must be the sort values of a hit: \(keys.count) value(s), then optionally its \"<ns>-<lsn>\" position",
                type: "parsing_exception")
        }
        var values: [SortValue] = []
        for (k, key) in keys.enumerated() {
            let v = list[k]
            if v is NSNull {
                values.append(.missing)
            } else if let n = v as? NSNumber, !(v is String) {
                if QueryDSL.isBool(n) {
                    values.append(.number(n.boolValue ? 1 : 0))
                } else {
                    let d = n.doubleValue
                    guard d.isFinite else { throw OpenSearchError.badRequest("search_after[\(k)] must be finite", type: "parsing_exception") }
                    if case .keyword = key.target {
                        values.append(.string(Array(Self.numberText(d).utf8)))
                    } else {
                        values.append(.number(d))
                    }
                }
            } else if let s = v as? String {
                values.append(key.value(ofText: s))
            } else {
                throw OpenSearchError.badRequest("search_after[\(k)] must be a string, a number, a boolean or null", type: "parsing_exception")
            }
        }
        var position: LogPosition?
        if list.count == keys.count + 1 {
            guard let text = list[keys.count] as? String, let p = LogPosition(text) else {
                throw OpenSearchError.badRequest(
                    "search_after[\(keys.count)] must be the \"<ns>-<lsn>\" sort value of a hit", type: "parsing_exception")
            }
            position = p
        }
        return SortCursor(values: values, position: position)
    }

    /// A number as JSON text: integral values within 2^53 without a fraction.
    static func numberText(_ d: Double) -> String {
        if d == d.rounded(), d.magnitude < 9_007_199_254_740_992 { return String(Int64(d)) }
        return "\(d)"
    }

    /// `,"sort":[v…,"<ns>-<lsn>"]}`: the end of a hit of a field sort.
    static func writeSortValues(_ values: [SortValue], position: LogPosition, to json: inout JSONText) {
        json.raw(",\"sort\":[")
        for v in values {
            switch v {
            case .missing: json.raw("null")
            case .number(let d): json.raw(numberText(d))
            case .string(let bytes): json.string(bytes: bytes)
            }
            json.raw(",")
        }
        json.raw("\"")
        json.number(position.timestamp)
        json.raw("-")
        json.number(position.lsn)
        json.raw("\"]}")
    }
}
