import Foundation
import LogStore
import LogStoreIngest

/// Translates the subset of OpenSearch's query DSL that log readers use (REANA, dashboards'
/// simple searches) into a logstore `Query` plus a time window. Anything it cannot answer
/// exactly is refused with a 400 naming it: a wrong answer is never given.
///
/// Field names: `log`/`message` are the message text; `kubernetes.labels.job-name` and `job`
/// the stream's job; `kubernetes.labels.reana-run-job-workflow-uuid`,
/// `kubernetes.labels.reana-run-batch-workflow-uuid` and `workflow` the workflow; `_index` the
/// index (each label field with or without `.keyword`); `@timestamp` only in `range`.
///
/// Bounded for hostile bodies: at most `Limits.maxQueryClauses` clauses (every query object,
/// `terms` value, `match` term and `query_string` search term counts one) and at most
/// `maxDepth` nested query objects; beyond either the answer is a 400 naming the limit.
struct QueryDSL {
    /// QueryDSL.maxDepth is the deepest nesting of query objects (`bool` in `bool` …) accepted.
    /// The request body's JSON nesting is capped first (`JSONNesting.maxDepth`), which keeps
    /// this well under; it guards callers that hand over a parsed object directly.
    static let maxDepth = 64
    /// The translated query (normalized).
    var query: Query = .all
    /// `from ≤ timestamp < to` in nanoseconds, when a `range` constrains `@timestamp`.
    var from: Int64?
    var to: Int64?
    /// Clauses counted so far, against `Limits.maxQueryClauses`.
    private var clauses = 0
    /// Query objects open around the clause being translated.
    private var depth = 0

    /// The query's text predicates need reading lines (vs. stream selection alone).
    var hasTextPredicate: Bool { Self.hasText(query) }
    var hasWindow: Bool { from != nil || to != nil }

    /// Where a field maps to.
    enum Target: Equatable {
        case text
        case field(QueryField)
        case timestamp
    }

    static let supportedFields =
        "log, message, kubernetes.labels.job-name, job, kubernetes.labels.reana-run-job-workflow-uuid, "
        + "kubernetes.labels.reana-run-batch-workflow-uuid, workflow (each label field also with .keyword), _index, @timestamp (range only)"

    static let supportedQueries = "match_all, match_none, match, match_phrase, term, terms, prefix, bool, range, query_string"

    /// Translates `{"match_all":{}}`-style query objects (the value of the body's `query`).
    static func translate(_ value: Any?) throws(OpenSearchError) -> QueryDSL {
        var dsl = QueryDSL()
        guard let value else { return dsl }
        let q = try dsl.clause(value, positive: true, path: "query")
        dsl.query = q.normalized()
        if let from = dsl.from, let to = dsl.to, from >= to { dsl.query = .not(.all) }
        return dsl
    }

    /// The target of a field name, or a 400 listing the supported ones.
    static func target(_ name: String) throws(OpenSearchError) -> Target {
        var base = name
        let keyword = base.hasSuffix(".keyword")
        if keyword { base = String(base.dropLast(".keyword".count)) }
        switch base {
        case "log", "message":
            if keyword {
                throw shardError("field [\(name)] (the exact whole message) is not supported by logstore; use match_phrase on [log]")
            }
            return .text
        case "kubernetes.labels.job-name", "job": return .field(.job)
        case "kubernetes.labels.reana-run-job-workflow-uuid", "kubernetes.labels.reana-run-batch-workflow-uuid", "workflow":
            return .field(.workflow)
        case "_index", "index": return .field(.index)
        case "@timestamp":
            if keyword { break }
            return .timestamp
        default: break
        }
        throw shardError("field [\(name)] is not supported by logstore; supported: \(supportedFields)")
    }

    static func shardError(_ reason: String) -> OpenSearchError {
        OpenSearchError.badRequest(reason, type: "query_shard_exception")
    }

    static func parsingError(_ reason: String) -> OpenSearchError {
        OpenSearchError.badRequest(reason, type: "parsing_exception")
    }

    // MARK: Clauses

    /// One query clause. `positive`: the clause is in an AND position from the root (a
    /// `range` there narrows the time window; under `should`/`must_not` it is refused).
    mutating func clause(_ value: Any, positive: Bool, path: String) throws(OpenSearchError) -> Query {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth {
            throw Self.parsingError("[\(path)] query objects nest too deep: at most \(Self.maxDepth) levels of bool are allowed")
        }
        try count(1, at: path)
        guard let object = value as? [String: Any] else {
            throw Self.parsingError("[\(path)] must be an object holding one query, e.g. {\"match_all\":{}}")
        }
        guard object.count == 1, let (type, body) = object.first else {
            throw Self.parsingError(
                "[\(path)] must hold exactly one query, found \(object.count): \(object.keys.sorted().joined(separator: ", "))")
        }
        let here = "\(path).\(type)"
        switch type {
        case "match_all":
            return .all
        case "match_none":
            return .not(.all)
        case "match", "match_phrase":
            return try matchClause(type: type, body: body, here: here)
        case "term", "terms":
            return try termClause(type: type, body: body, here: here)
        case "prefix":
            return try prefixClause(body: body, here: here)
        case "bool":
            return try boolClause(body, positive: positive, path: here)
        case "range":
            return try rangeClause(body: body, positive: positive, here: here)
        case "query_string":
            return try queryStringClause(body: body, here: here)
        default:
            throw Self.parsingError("unknown or unsupported query [\(type)] at [\(path)]; logstore supports: \(Self.supportedQueries)")
        }
    }

    /// QueryDSL.matchClause translates `match` and `match_phrase` on one field.
    mutating func matchClause(type: String, body: Any, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here)
        var text: Any? = spec
        var andOperator = false
        if let options = spec as? [String: Any] {
            text = options["query"]
            for (key, option) in options {
                switch key {
                case "query", "boost", "_name", "analyzer", "auto_generate_synonyms_phrase_query", "lenient": break
                case "operator" where type == "match":
                    guard let op = (option as? String)?.lowercased(), op == "and" || op == "or" else {
                        throw Self.parsingError("[\(here)] operator must be \"and\" or \"or\"")
                    }
                    andOperator = op == "and"
                case "slop" where type == "match_phrase" && Self.int(option) == 0: break
                default:
                    throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
                }
            }
    }
    guard let value = text.flatMap(Self.scalarString) else {
        throw Self.parsingError("[\(here)] needs a query value (a string, number or boolean)")
    }
    switch try Self.target(field) {
    case .text:
        let tokens = Tokenizer.tokens(value)
        if type == "match_phrase" {
            return tokens.isEmpty ? .all : .phrase(tokens)
        }
        // OpenSearch's zero_terms_query "none": a query without tokens matches nothing.
        if tokens.isEmpty { return .not(.all) }
        try count(tokens.count - 1, at: here)
        let terms = tokens.map { Query.term($0) }
        return andOperator ? .and(terms) : .or(terms)
    case .field(let f):
        return .field(f, value)
    case .timestamp:
        throw Self.shardError("[\(here)] on [@timestamp] is not supported by logstore; use a range query")
    }
    }

    /// QueryDSL.termClause translates `term` and `terms` (exact values) on one field.
    mutating func termClause(type: String, body: Any, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here, ignoring: ["boost", "_name"])
        var values: [String] = []
        if type == "term" {
            var raw: Any? = spec
            if let options = spec as? [String: Any] { raw = options["value"] }
            guard let v = raw.flatMap(Self.scalarString) else {
                throw Self.parsingError("[\(here)] needs a value (a string, number or boolean)")
            }
            values = [v]
        } else {
            guard let list = spec as? [Any] else {
                throw Self.parsingError("[\(here)] [\(field)] must be an array of values (terms lookup is not supported)")
            }
            try count(list.count - 1, at: here)
            for item in list {
                guard let v = Self.scalarString(item) else { throw Self.parsingError("[\(here)] values must be strings, numbers or booleans") }
                values.append(v)
            }
    }
    switch try Self.target(field) {
    case .text: return .or(values.map { Query.term($0) })
    case .field(let f): return .or(values.map { Query.field(f, $0) })
    case .timestamp: throw Self.shardError("[\(here)] on [@timestamp] is not supported by logstore; use a range query")
    }
    }

    /// QueryDSL.prefixClause translates `prefix` on the message field.
    mutating func prefixClause(body: Any, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here)
        var raw: Any? = spec
        if let options = spec as? [String: Any] { raw = options["value"] }
        guard let v = raw as? String else { throw Self.parsingError("[\(here)] needs a string value") }
        guard try Self.target(field) == .text else {
            throw Self.shardError("[\(here)] is supported on [log] only")
    }
    return .prefix(v)
    }

    /// QueryDSL.rangeClause narrows the time window by a `range` on `@timestamp` (AND positions only).
    mutating func rangeClause(body: Any, positive: Bool, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here)
        guard try Self.target(field) == .timestamp else {
            throw Self.shardError("[\(here)] on field [\(field)] is not supported by logstore; range works on [@timestamp] only")
    }
    guard positive else {
        throw Self.shardError("[\(here)] under bool should or must_not is not supported by logstore; put it in must or filter")
    }
    guard let options = spec as? [String: Any] else { throw Self.parsingError("[\(here)] [\(field)] must be an object") }
    for (key, bound) in options {
        switch key {
        case "format", "time_zone", "boost", "_name", "relation": continue
        case "gte", "gt", "lte", "lt", "from", "to", "include_lower", "include_upper": break
        default: throw Self.parsingError("[\(here)] option [\(key)] is not supported")
        }
        if key == "include_lower" || key == "include_upper" { continue }
        if bound is NSNull { continue }
        guard let ns = Self.nanoseconds(bound) else {
            throw Self.parsingError("[\(here)] [\(key)] \(bound) is not a date: give an ISO 8601 / RFC 3339 date or epoch milliseconds")
        }
        let includeLower = (options["include_lower"] as? Bool) ?? true
        let includeUpper = (options["include_upper"] as? Bool) ?? true
        switch key {
        case "gte": narrow(from: ns)
        case "gt": narrow(from: ns &+ 1)
        case "lte": narrow(to: ns &+ 1)
        case "lt": narrow(to: ns)
        case "from": narrow(from: includeLower ? ns : ns &+ 1)
        default: narrow(to: includeUpper ? ns &+ 1 : ns)
        }
    }
    return .all
    }

    /// QueryDSL.queryStringClause parses a `query_string` in logstore's query language.
    mutating func queryStringClause(body: Any, here: String) throws(OpenSearchError) -> Query {
        var text: String?
        if let options = body as? [String: Any] {
            for (key, option) in options {
                switch key {
                case "query": text = option as? String
                case "default_field":
                    guard let f = option as? String, f == "*" || (try? Self.target(f)) == .text else {
                        throw Self.shardError("[\(here)] default_field must be [log] (or [message])")
                    }
                case "fields":
                    guard let fs = option as? [String], fs.allSatisfy({ $0 == "*" || (try? Self.target($0)) == .text }) else {
                        throw Self.shardError("[\(here)] fields must be [log] (or [message])")
                    }
                case "default_operator":
                    // logstore's language ANDs juxtaposed terms (docs/QUERY.md).
                    guard (option as? String)?.lowercased() == "and" else {
                        throw Self.parsingError("[\(here)] default_operator must be AND: logstore's query language ANDs juxtaposed terms")
                    }
                case "boost", "_name", "analyze_wildcard": break
                default: throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
                }
            }
    }
    guard let text else { throw Self.parsingError("[\(here)] needs a string [query]") }
    let parsed = try Self.parseQueryString(text, path: here)
    try count(Self.leafCount(parsed) - 1, at: here)
    return parsed
    }

    static func parseQueryString(_ text: String, path: String) throws(OpenSearchError) -> Query {
        do {
            return try QueryParser.parse(text)
        } catch {
            throw OpenSearchError.badRequest(
                "[\(path)] failed to parse query [\(Self.excerpt(text))]: \(error.description) (syntax: docs/QUERY.md)",
                type: "query_shard_exception")
        }
    }

    /// The first 100 characters of a query text for an error message, so the problem itself
    /// stays within the answer's reason.
    static func excerpt(_ text: String) -> String {
        text.count <= 100 ? text : text.prefix(100) + "…"
    }

    mutating func boolClause(_ body: Any, positive: Bool, path: String) throws(OpenSearchError) -> Query {
        guard let object = body as? [String: Any] else { throw Self.parsingError("[\(path)] must be an object") }
        var must: [Query] = []
        var should: [Query] = []
        var mustNot: [Query] = []
        var minimumShouldMatch: Int?
        var hasMust = false
        for key in object.keys.sorted() {
            let value = object[key]!
            let list: [Any] = (value as? [Any]) ?? [value]
            switch key {
            case "must", "filter":
                hasMust = true
                for (i, item) in list.enumerated() { must.append(try clause(item, positive: positive, path: "\(path).\(key)[\(i)]")) }
            case "should":
                for (i, item) in list.enumerated() { should.append(try clause(item, positive: false, path: "\(path).should[\(i)]")) }
            case "must_not":
                for (i, item) in list.enumerated() { mustNot.append(try clause(item, positive: false, path: "\(path).must_not[\(i)]")) }
            case "minimum_should_match":
                guard let n = Self.int(value), n >= 0 else {
                    throw Self.parsingError("[\(path)] minimum_should_match must be 0 or 1 (an integer)")
                }
                minimumShouldMatch = n
            case "boost", "_name", "adjust_pure_negative": break
            default: throw Self.parsingError("[\(path)] unknown key [\(key)]; expected must, filter, should, must_not, minimum_should_match")
            }
        }
        var parts = must
        // OpenSearch: without must/filter, at least one should clause must match; with them,
        // should clauses only score (logstore does not score), unless minimum_should_match says.
        let needed = minimumShouldMatch ?? (hasMust ? 0 : (should.isEmpty ? 0 : 1))
        switch needed {
        case 0: break
        case 1: parts.append(.or(should))
        case should.count: parts.append(.and(should))
        default:
            throw Self.parsingError("[\(path)] minimum_should_match \(needed) is not supported by logstore (only 0, 1 or all)")
        }
        for q in mustNot { parts.append(.not(q)) }
        return .and(parts)
    }

    /// Counts `n` more clauses found at `path`; past `Limits.maxQueryClauses` the query is
    /// refused with OpenSearch's `too_many_clauses`.
    mutating func count(_ n: Int, at path: String) throws(OpenSearchError) {
        clauses += max(n, 0)
        if clauses > Limits.maxQueryClauses {
            throw OpenSearchError.badRequest(
                "[\(path)] the query has too many clauses: maxClauseCount is set to \(Limits.maxQueryClauses) "
                    + "(every query object, terms value, match term and query_string term counts one)",
                type: "too_many_clauses")
        }
    }

    /// The number of predicates (leaves) of `query`, at least 1.
    static func leafCount(_ query: Query) -> Int {
        switch query {
        case .all, .term, .prefix, .phrase, .field: return 1
        case .and(let qs), .or(let qs): return max(1, qs.reduce(0) { $0 + leafCount($1) })
        case .not(let q): return leafCount(q)
        }
    }

    mutating func narrow(from value: Int64) { from = max(from ?? .min, value) }
    mutating func narrow(to value: Int64) { to = min(to ?? .max, value) }

    // MARK: Helpers

    /// `{"field": spec}` (plus ignorable options) → the field and its spec.
    static func singleField(_ body: Any, path: String, ignoring: Set<String> = []) throws(OpenSearchError) -> (String, Any) {
        guard let object = body as? [String: Any] else { throw parsingError("[\(path)] must be an object {\"<field>\": …}") }
        let fields = object.filter { !ignoring.contains($0.key) }
        guard fields.count == 1, let (field, spec) = fields.first else {
            throw parsingError("[\(path)] must name exactly one field, found \(fields.count)")
        }
        return (field, spec)
    }

    /// A JSON string, number or boolean as text.
    static func scalarString(_ value: Any) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber {
            if isBool(n) { return n.boolValue ? "true" : "false" }
            return n.stringValue
        }
        return nil
    }

    static func isBool(_ n: NSNumber) -> Bool {
        let type = String(cString: n.objCType)
        return type == "c" || type == "B"
    }

    /// A non-negative integer from a JSON number or a numeric string.
    static func int(_ value: Any) -> Int? {
        if let s = value as? String { return Int(s) }
        if let n = value as? NSNumber, !isBool(n) {
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 1e15 else { return nil }
            return Int(d)
        }
        return nil
    }

    /// A date bound: an ISO 8601 / RFC 3339 text, or epoch milliseconds (number or digits).
    static func nanoseconds(_ value: Any) -> Int64? {
        if let s = value as? String {
            if !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }), let ms = Int64(s) {
                return millisToNanos(ms)
            }
            return Timestamp.parse(s)
        }
        if let n = value as? NSNumber, !isBool(n) {
            let d = n.doubleValue
            // Integral milliseconds in exact integer arithmetic (a Double loses nanoseconds).
            if d.rounded() == d, abs(d) < 9e15 { return millisToNanos(n.int64Value) }
            return millisToNanos(d)
        }
        return nil
    }

    static func millisToNanos(_ ms: Int64) -> Int64? {
        let (ns, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : ns
    }

    static func millisToNanos(_ ms: Double) -> Int64? {
        let ns = ms * 1_000_000
        guard ns.isFinite, abs(ns) < 9.2e18 else { return nil }
        return Int64(ns.rounded())
    }

    static func hasText(_ query: Query) -> Bool {
        switch query {
        case .all, .field: return false
        case .term, .prefix, .phrase: return true
        case .and(let qs), .or(let qs): return qs.contains { hasText($0) }
        case .not(let q): return hasText(q)
        }
    }
}
