import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// SearchRequestParser turns an OpenSearch `_search` or `_count` request (URL parameters and
/// JSON body) into a ``OpenSearchRequest`` or its parts; every unsupported or malformed member is
/// an `OpenSearchError` (400) naming it, in OpenSearch's words.
enum SearchRequestParser {
    /// Largest `from + size` (OpenSearch's `index.max_result_window`).
    static let maxResultWindow = 10_000
    /// Largest request body, decoded.
    static let maxBodyBytes = 1 << 20

    /// The `_search` request: its body (already read) and URL parameters.
    static func search(_ request: Request, body: [String: Any], idResolver: QueryDSL.IDResolver? = nil) throws -> OpenSearchRequest {
        for key in body.keys where !OpenSearchController.bodyKeys.contains(key) {
            let what = key == "aggs" || key == "aggregations" ? "aggregations are" : "[\(key)] is"
            throw OpenSearchError.badRequest("\(what) not supported by logstore's _search", type: "parsing_exception")
        }
        let dsl = try query(body: body, request: request, idResolver: idResolver)
        // URL parameters win over the body, as in OpenSearch.
        var size = 10
        var from = 0
        // Each within the result window before `from + size` is summed: no sum can overflow.
        let window = 0...maxResultWindow
        if let v = body["size"] { size = try RequestNumber.integer(json: v, name: "size", in: window) }
        if let v = body["from"] { from = try RequestNumber.integer(json: v, name: "from", in: window) }
        if let n = try RequestNumber.integer(request, "size", in: window) { size = n }
        if let n = try RequestNumber.integer(request, "from", in: window) { from = n }
        guard from + size <= maxResultWindow else {
            throw OpenSearchError.badRequest(
                "Result window is too large, from + size must be less than or equal to: [\(maxResultWindow)] but was [\(from + size)]. "
                    + "Page with search_after (the sort values of the last hit) instead.")
        }
        let sortValue = request.uri.queryParameters["sort"].map { String($0) } ?? body["sort"]
        let fieldSort = try SearchSort.parse(sortValue)
        let order = try fieldSort == nil ? parseSort(sortValue) : ReadOrder.ascending
        let after = try fieldSort == nil ? parseSearchAfter(body["search_after"], order: order) : nil
        let sortAfter = try fieldSort?.cursor(body["search_after"])
        if (after != nil || sortAfter != nil) && from > 0 {
            throw OpenSearchError.badRequest("`from` parameter must be set to 0 when `search_after` is used.")
        }
        let source = try parseSource(body["_source"], request: request)
        var trackTotal = true
        var totalLimit = maxResultWindow
        if let v = request.uri.queryParameters["track_total_hits"].map({ String($0) }) ?? body["track_total_hits"] {
            if let b = v as? NSNumber, !QueryDSL.isBool(b) {
                totalLimit = try RequestNumber.integer(json: b, name: "track_total_hits", in: 0...Int(Int32.max))
            } else if let text = v as? String, text.first.map({ $0.isNumber || $0 == "-" }) ?? false {
                totalLimit = try RequestNumber.integer(Substring(text), name: "track_total_hits", in: 0...Int(Int32.max))
            } else if let b = v as? Bool ?? (v as? String).flatMap({ Bool($0) }) {
                trackTotal = b
                if b { totalLimit = Int.max }
            } else {
                throw OpenSearchError.badRequest("[track_total_hits] must be true, false or an integer", type: "parsing_exception")
            }
        }
        var parsed = OpenSearchRequest(
            dsl: dsl, size: size, from: from, order: order, after: after, source: source, trackTotal: trackTotal,
            totalLimit: totalLimit, totalAsInt: request.uri.queryParameters["rest_total_hits_as_int"] == "true")
        parsed.sort = fieldSort
        parsed.sortAfter = sortAfter
        return parsed
    }

    /// The JSON object of the request body (`[:]` when blank), decoded per its Content-Encoding
    /// within ``maxBodyBytes``.
    static func readBody(_ request: Request) async throws -> [String: Any] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw OpenSearchError(.contentTooLarge, type: "content_too_long_exception", reason: "request body is over \(maxBodyBytes) bytes")
        } catch is NIOTooManyBytesError {
            throw OpenSearchError(.contentTooLarge, type: "content_too_long_exception", reason: "request body is over \(maxBodyBytes) bytes")
        }
        var bytes = Array(buffer.readableBytesView)
        if let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces), !encoding.isEmpty {
            do {
                bytes = try ContentDecoder.decode(bytes, encoding: encoding, maxOutput: maxBodyBytes)
            } catch .unsupportedEncoding(let name) {
                throw OpenSearchError(
                    .unsupportedMediaType, type: "illegal_argument_exception",
                    reason: "Content-Encoding '\(name)' is not supported; use gzip, deflate or identity")
            } catch {
                throw OpenSearchError.badRequest("cannot decode the \(encoding) body: \(error)", type: "parse_exception")
            }
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        try JSONNesting.check(bytes)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw OpenSearchError.badRequest("the request body is not valid JSON: \(error.localizedDescription)", type: "parse_exception")
        }
        guard let dictionary = object as? [String: Any] else {
            throw OpenSearchError.badRequest("the request body must be a JSON object", type: "parse_exception")
        }
        return dictionary
    }

    /// Throws a 400 naming the first URL parameter not in `allowed`.
    static func checkParameters(_ request: Request, allowed: Set<String>) throws {
        for (name, _) in request.uri.queryParameters where !allowed.contains(String(name)) {
            throw OpenSearchError.badRequest(
                "request [\(request.uri.path)] contains unrecognized parameter: [\(name)]")
        }
    }

    /// The body's `query` and the URL's `q` (both must hold when both are given).
    static func query(body: [String: Any], request: Request, idResolver: QueryDSL.IDResolver? = nil) throws -> QueryDSL {
        var dsl = try QueryDSL.translate(body["query"], idResolver: idResolver)
        if let q = request.uri.queryParameters["q"] {
            let parsed = try QueryDSL.parseQueryString(String(q), path: "q")
            dsl.query = Query.and([dsl.query, parsed]).normalized()
        }
        return dsl
    }

    /// The read order a `sort` asks for: only `@timestamp` (and tie-breakers consistent with it).
    static func parseSort(_ value: Any?) throws -> ReadOrder {
        guard let value else { return .ascending }
        let list: [Any] = (value as? [Any]) ?? [value]
        var order: ReadOrder?
        for (i, item) in list.enumerated() {
            var field: String
            var direction: String?
            if let s = item as? String {
                // `@timestamp`, or the URL form `@timestamp:desc`.
                if let colon = s.lastIndex(of: ":"), s[s.index(after: colon)...] == "asc" || s[s.index(after: colon)...] == "desc" {
                    field = String(s[..<colon])
                    direction = String(s[s.index(after: colon)...])
                } else {
                    field = s
                }
            } else if let o = item as? [String: Any], o.count == 1, let (f, spec) = o.first {
                field = f
                if let d = spec as? String {
                    direction = d
                } else if let options = spec as? [String: Any] {
                    for (key, option) in options {
                        switch key {
                        case "order": direction = option as? String
                        case "format", "unmapped_type", "numeric_type", "missing", "mode": break
                        default: throw OpenSearchError.badRequest("sort option [\(key)] is not supported by logstore", type: "parsing_exception")
                        }
                    }
                } else {
                    throw OpenSearchError.badRequest("sort [\(f)] must be \"asc\", \"desc\" or {\"order\":…}", type: "parsing_exception")
                }
            } else {
                throw OpenSearchError.badRequest("sort entries must be a field name or {\"<field>\":…}", type: "parsing_exception")
            }
            var dir: ReadOrder?
            if let direction {
                guard let d = ReadOrder(rawValue: direction.lowercased()) else {
                    throw OpenSearchError.badRequest("sort order [\(direction)] must be asc or desc", type: "parsing_exception")
                }
                dir = d
            }
            switch field {
            case "@timestamp" where i == 0:
                order = dir ?? .ascending
            case "_doc", "_id", "_shard_doc", "_score":
                // Tie-breakers consistent with log order (no scores: _score is log order too).
                if i == 0 { order = dir == .descending && field != "_score" ? .descending : .ascending }
            default:
                throw OpenSearchError.badRequest(
                    "sort on [\(field)] is not supported by logstore; sort on [@timestamp] (asc or desc)", type: "query_shard_exception")
            }
        }
        return order ?? .ascending
    }

    /// `search_after`: `[epoch_ms]` (continue after that millisecond) or `[epoch_ms, "<ns>-<lsn>"]`.
    static func parseSearchAfter(_ value: Any?, order: ReadOrder) throws -> LogPosition? {
        guard let value else { return nil }
        guard let list = value as? [Any], list.count == 1 || list.count == 2 else {
            throw OpenSearchError.badRequest(
                "search_after must be the sort values of a hit: [epoch_ms] or [epoch_ms, \"<ns>-<lsn>\"]", type: "parsing_exception")
        }
        if list.count == 2 {
            guard let text = list[1] as? String, let position = LogPosition(text) else {
                throw OpenSearchError.badRequest(
                    "search_after[1] must be the \"<ns>-<lsn>\" sort value of a hit", type: "parsing_exception")
            }
            return position
        }
        let ms = try RequestNumber.integer(json: list[0], name: "search_after[0]", in: RequestNumber.epochMilliseconds)
        let ns = Int64(ms) * 1_000_000
        return order == .ascending ? LogPosition(timestamp: ns + 999_999, lsn: .max) : LogPosition(timestamp: ns, lsn: 0)
    }

    /// The `_source` filter of the body and the URL.
    static func parseSource(_ value: Any?, request: Request) throws -> SourceFilter {
        func strings(_ v: Any?) throws -> [String] {
            guard let v else { return [] }
            if let s = v as? String { return s.split(separator: ",").map(String.init) }
            if let l = v as? [Any] {
                return try l.map { item in
                    guard let s = item as? String else { throw OpenSearchError.badRequest("_source fields must be strings", type: "parsing_exception") }
                    return s
                }
            }
            throw OpenSearchError.badRequest("_source must be true, false, a field list or {includes, excludes}", type: "parsing_exception")
        }
        var source: Any? = value
        if let text = request.uri.queryParameters["_source"] {
            source = text == "true" ? true as Any : text == "false" ? false as Any : String(text) as Any
        }
        var includes: [String] = []
        var excludes: [String] = []
        if let flag = source as? Bool, !(source is String) {
            if !flag { return .none }
        } else if let object = source as? [String: Any] {
            includes = try strings(object["includes"] ?? object["include"])
            excludes = try strings(object["excludes"] ?? object["exclude"])
        } else if source != nil {
            includes = try strings(source)
        }
        if let text = request.uri.queryParameters["_source_includes"] { includes = text.split(separator: ",").map(String.init) }
        if let text = request.uri.queryParameters["_source_excludes"] { excludes = text.split(separator: ",").map(String.init) }
        return includes.isEmpty && excludes.isEmpty ? .all : .filter(includes: includes, excludes: excludes)
    }
}
