import Foundation
import LogStore
import LogStoreIngest

/// Translates OpenSearch's query DSL into a logstore `Query` plus a time window. Anything it
/// cannot answer exactly is refused with a 400 naming it: a wrong answer is never given.
///
/// Fields (docs/QUERY.md, "Fields"): `log`/`message` are the message text (tokenized);
/// `kubernetes.labels.job-name`/`job`, the REANA workflow labels/`workflow` and `_index` are
/// the stream's (each also with `.keyword`); `@timestamp` in `range` is the line's time window;
/// every other name is a document field, dynamically mapped as OpenSearch does: strings exact
/// (`field` and `field.keyword`) and tokenized for `match`, numbers and dates ordered for
/// `range`, booleans.
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
    /// What `now` is in date math (fixed for the whole request).
    var now: Int64 = QueryDSL.currentTime()
    /// Resolves `_id`s to LSNs for `ids` and `term(s)` on `_id`; nil where a query cannot test LSNs.
    var idResolver: IDResolver?
    /// Clauses counted so far, against `Limits.maxQueryClauses`.
    private var clauses = 0
    /// Query objects open around the clause being translated.
    private var depth = 0

    /// The query's text predicates need reading lines (vs. stream selection alone).
    var hasTextPredicate: Bool { Self.hasText(query) }
    var hasWindow: Bool { from != nil || to != nil }

    /// Where a field maps to.
    enum Target: Equatable {
        /// The message, tokenized.
        case text
        /// A stream attribute.
        case field(QueryField)
        /// The line's time (`@timestamp`).
        case timestamp
        /// A document field; `keyword`: named with `.keyword` (exact values only).
        case doc(String, keyword: Bool)
    }

    static let supportedQueries =
        "match_all, match_none, match, match_phrase, match_phrase_prefix, multi_match, term, terms, prefix, wildcard, exists, "
        + "range, bool, query_string, simple_query_string, ids"

    static func currentTime() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1_000_000) * 1000
    }

    /// Translates `{"match_all":{}}`-style query objects (the value of the body's `query`).
    static func translate(_ value: Any?, idResolver: IDResolver? = nil) throws(OpenSearchError) -> QueryDSL {
        var dsl = QueryDSL()
        dsl.idResolver = idResolver
        guard let value else { return dsl }
        let q = try dsl.clause(value, positive: true, path: "query")
        dsl.query = q.normalized()
        if let from = dsl.from, let to = dsl.to, from >= to { dsl.query = .not(.all) }
        return dsl
    }

    /// The target of a field name (a 400 for names that cannot be a field).
    static func target(_ name: String) throws(OpenSearchError) -> Target {
        var base = name
        let keyword = base.hasSuffix(".keyword")
        if keyword { base = String(base.dropLast(".keyword".count)) }
        switch base {
        case "log", "message":
            return keyword ? .doc(base, keyword: true) : .text
        case "kubernetes.labels.job-name", "job": return .field(.job)
        case "kubernetes.labels.reana-run-job-workflow-uuid", "kubernetes.labels.reana-run-batch-workflow-uuid", "workflow":
            return .field(.workflow)
        case "_index", "index": return .field(.index)
        case "@timestamp":
            return keyword ? .doc(base, keyword: true) : .timestamp
        case "_id", "_routing", "_seq_no", "_version", "_source", "_score", "_type":
            throw shardError("field [\(name)] is not supported by logstore in queries")
        default: break
        }
        guard !base.isEmpty, !base.hasPrefix("."), !base.hasSuffix("."), !base.contains("*") else {
            throw shardError("field [\(name)] is not a field name logstore can search (field patterns are not supported)")
        }
        return .doc(base, keyword: keyword)
    }

    static func shardError(_ reason: String) -> OpenSearchError {
        OpenSearchError.badRequest(reason, type: "query_shard_exception")
    }

    static func parsingError(_ reason: String) -> OpenSearchError {
        OpenSearchError.badRequest(reason, type: "parsing_exception")
    }

    static func doc(_ field: String, _ test: FieldPredicate.Test) -> Query {
        .doc(FieldPredicate(field: field, test: test))
    }

    // MARK: Clauses

    /// One query clause. `positive`: the clause is in an AND position from the root (a
    /// `range` on `@timestamp` there narrows the time window; elsewhere it tests the field).
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
        case "match", "match_phrase", "match_phrase_prefix":
            return try matchClause(type: type, body: body, here: here)
        case "multi_match":
            return try multiMatchClause(body: body, here: here)
        case "term", "terms":
            return try termClause(type: type, body: body, here: here)
        case "prefix", "wildcard":
            return try patternClause(type: type, body: body, here: here)
        case "exists":
            return try existsClause(body: body, here: here)
        case "bool":
            return try boolClause(body, positive: positive, path: here)
        case "range":
            return try rangeClause(body: body, positive: positive, here: here)
        case "query_string", "simple_query_string":
            return try queryStringClause(body: body, here: here, simple: type == "simple_query_string")
        case "ids":
            return try idsClause(body: body, here: here)
        default:
            throw Self.parsingError("unknown or unsupported query [\(type)] at [\(path)]; logstore supports: \(Self.supportedQueries)")
        }
    }

    /// QueryDSL.matchClause translates `match`, `match_phrase` and `match_phrase_prefix` on one field.
    mutating func matchClause(type: String, body: Any, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here)
        var text: Any? = spec
        var andOperator = false
        if let options = spec as? [String: Any] {
            text = options["query"]
            for (key, option) in options {
                switch key {
                case "query", "boost", "_name", "analyzer", "auto_generate_synonyms_phrase_query", "lenient", "max_expansions": break
                case "zero_terms_query" where (option as? String)?.lowercased() == "none": break
                case "operator" where type == "match":
                    guard let op = (option as? String)?.lowercased(), op == "and" || op == "or" else {
                        throw Self.parsingError("[\(here)] operator must be \"and\" or \"or\"")
                    }
                    andOperator = op == "and"
                case "slop" where type != "match" && Self.int(option) == 0: break
                default:
                    throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
                }
            }
        }
        guard let value = text.flatMap(Self.scalarString) else {
            throw Self.parsingError("[\(here)] needs a query value (a string, number or boolean)")
        }
        return try match(type: type, field: field, value: value, andOperator: andOperator, here: here)
    }

    /// `match` (`type` "match", "match_phrase" or "match_phrase_prefix") of `value` on `field`.
    mutating func match(type: String, field: String, value: String, andOperator: Bool, here: String) throws(OpenSearchError) -> Query {
        let tokens = Tokenizer.tokens(value)
        switch try Self.target(field) {
        case .text:
            switch type {
            case "match_phrase":
                return tokens.isEmpty ? .all : .phrase(tokens)
            case "match_phrase_prefix":
                return tokens.isEmpty ? .all : Self.doc("", .phrasePrefix(tokens))
            default:
                // OpenSearch's zero_terms_query "none": a query without tokens matches nothing.
                if tokens.isEmpty { return .not(.all) }
                try count(tokens.count - 1, at: here)
                let terms = tokens.map { Query.term($0) }
                return andOperator ? .and(terms) : .or(terms)
            }
        case .field(let f):
            return .field(f, value)
        case .timestamp:
            return Self.doc("@timestamp", .equals(value))
        case .doc(let name, let keyword):
            let exact = Self.doc(name, .equals(value))
            if keyword || tokens.isEmpty { return exact }
            switch type {
            case "match_phrase":
                return .or([exact, Self.doc(name, .tokens(tokens))])
            case "match_phrase_prefix":
                return .or([exact, Self.doc(name, .phrasePrefix(tokens))])
            default:
                try count(tokens.count - 1, at: here)
                let terms = tokens.map { Self.doc(name, .tokens([$0])) }
                return .or([exact, andOperator ? .and(terms) : .or(terms)])
            }
        }
    }

    /// QueryDSL.multiMatchClause: `match` of one text on several fields (any of them).
    mutating func multiMatchClause(body: Any, here: String) throws(OpenSearchError) -> Query {
        guard let options = body as? [String: Any] else { throw Self.parsingError("[\(here)] must be an object") }
        var fields = ["*"]
        var type = "best_fields"
        var andOperator = false
        for (key, option) in options {
            switch key {
            case "query", "boost", "_name", "analyzer", "lenient", "tie_breaker", "auto_generate_synonyms_phrase_query": break
            case "fields":
                guard let list = option as? [String] ?? (option as? String).map({ [$0] }), !list.isEmpty else {
                    throw Self.parsingError("[\(here)] fields must be a list of field names")
                }
                // `field^2`: boosts change scores only.
                fields = list.map { f in f.firstIndex(of: "^").map { String(f[..<$0]) } ?? f }
            case "type":
                guard let t = option as? String, ["best_fields", "most_fields", "cross_fields", "phrase", "phrase_prefix"].contains(t) else {
                    throw Self.parsingError("[\(here)] type must be best_fields, most_fields, cross_fields, phrase or phrase_prefix")
                }
                type = t
            case "operator":
                guard let op = (option as? String)?.lowercased(), op == "and" || op == "or" else {
                    throw Self.parsingError("[\(here)] operator must be \"and\" or \"or\"")
                }
                andOperator = op == "and"
            default:
                throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
            }
        }
        guard let value = options["query"].flatMap(Self.scalarString) else {
            throw Self.parsingError("[\(here)] needs a query value (a string, number or boolean)")
        }
        if type == "cross_fields" && andOperator && fields.count > 1 {
            throw Self.parsingError("[\(here)] cross_fields with operator and over several fields is not supported by logstore")
        }
        let matchType = type == "phrase" ? "match_phrase" : type == "phrase_prefix" ? "match_phrase_prefix" : "match"
        var parts: [Query] = []
        try count(fields.count - 1, at: here)
        for field in fields {
            let name = field == "*" || field == "_all" ? "log" : field
            parts.append(try match(type: matchType, field: name, value: value, andOperator: andOperator, here: here))
        }
        return .or(parts)
    }

    /// QueryDSL.termClause translates `term` and `terms` (exact values) on one field.
    mutating func termClause(type: String, body: Any, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here, ignoring: ["boost", "_name"])
        if field == "_id" { return try idTermClause(type: type, spec: spec, here: here) }
        var values: [String] = []
        var caseInsensitive = false
        if type == "term" {
            var raw: Any? = spec
            if let options = spec as? [String: Any] {
                raw = options["value"]
                for (key, option) in options {
                    switch key {
                    case "value", "boost", "_name": break
                    case "case_insensitive": caseInsensitive = (option as? Bool) ?? false
                    default: throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
                    }
                }
            }
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
        if caseInsensitive, values.contains(where: { $0.contains("*") || $0.contains("?") }) {
            throw Self.parsingError("[\(here)] case_insensitive with * or ? in the value is not supported by logstore")
        }
        switch try Self.target(field) {
        case .text: return .or(values.map { Query.term($0) })
        case .field(let f):
            if caseInsensitive { throw Self.shardError("[\(here)] case_insensitive is not supported on [\(field)]") }
            return .or(values.map { Query.field(f, $0) })
        case .timestamp:
            return .or(values.map { Self.doc("@timestamp", .equals($0)) })
        case .doc(let name, _):
            if caseInsensitive { return .or(values.map { Self.doc(name, .wildcard($0, caseInsensitive: true)) }) }
            return .or(values.map { Self.doc(name, .equals($0)) })
        }
    }

    /// QueryDSL.patternClause translates `prefix` and `wildcard`.
    mutating func patternClause(type: String, body: Any, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here)
        var raw: Any? = spec
        var caseInsensitive = false
        if let options = spec as? [String: Any] {
            raw = options["value"] ?? (type == "wildcard" ? options["wildcard"] : nil)
            for (key, option) in options {
                switch key {
                case "value", "wildcard", "boost", "_name", "rewrite": break
                case "case_insensitive": caseInsensitive = (option as? Bool) ?? false
                default: throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
                }
            }
        }
        guard let v = raw.flatMap(Self.scalarString) else { throw Self.parsingError("[\(here)] needs a string value") }
        if v.contains("\\") || (type == "prefix" && (v.contains("*") || v.contains("?"))) {
            throw Self.parsingError("[\(here)] escapes (and * or ? in a prefix) are not supported by logstore")
        }
        let test: FieldPredicate.Test =
            type == "prefix" ? .prefix(v, caseInsensitive: caseInsensitive) : .wildcard(v, caseInsensitive: caseInsensitive)
        switch try Self.target(field) {
        case .text:
            // On the message the pattern applies to its tokens, lowercased (OpenSearch's text fields).
            if type == "prefix" && Tokenizer.tokens(v) == [v.lowercased()] { return .prefix(v) }
            return Self.doc("", .tokenPattern(v.lowercased() + (type == "prefix" ? "*" : "")))
        case .field(let f):
            throw Self.shardError("[\(here)] on [\(field)] is not supported by logstore (it is the stream's \(f.rawValue); use term)")
        case .timestamp:
            return Self.doc("@timestamp", test)
        case .doc(let name, _):
            return Self.doc(name, test)
        }
    }

    /// QueryDSL.existsClause: `{"exists":{"field":"name"}}`.
    mutating func existsClause(body: Any, here: String) throws(OpenSearchError) -> Query {
        guard let options = body as? [String: Any], let field = options["field"] as? String else {
            throw Self.parsingError("[\(here)] must be {\"field\": \"<name>\"}")
        }
        for key in options.keys where !["field", "boost", "_name"].contains(key) {
            throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
        }
        switch try Self.target(field) {
        case .text: return Self.doc(field, .exists)
        case .field(let f): return .not(.field(f, ""))
        case .timestamp: return Self.doc("@timestamp", .exists)
        case .doc(let name, _): return Self.doc(name, .exists)
        }
    }

    /// QueryDSL.rangeClause: a `range` on `@timestamp` in an AND position narrows the time
    /// window; any other range tests the field's values (numbers, dates, strings).
    mutating func rangeClause(body: Any, positive: Bool, here: String) throws(OpenSearchError) -> Query {
        let (field, spec) = try Self.singleField(body, path: here)
        guard let options = spec as? [String: Any] else { throw Self.parsingError("[\(here)] [\(field)] must be an object") }
        var lower: RangeBound?
        var upper: RangeBound?
        let includeLower = (options["include_lower"] as? Bool) ?? true
        let includeUpper = (options["include_upper"] as? Bool) ?? true
        for key in options.keys.sorted() {
            let bound = options[key]!
            switch key {
            case "format", "time_zone", "boost", "_name", "relation", "include_lower", "include_upper": continue
            case "gte", "gt", "lte", "lt", "from", "to": break
            default: throw Self.parsingError("[\(here)] option [\(key)] is not supported")
            }
            if bound is NSNull { continue }
            let isLower = key == "gte" || key == "gt" || key == "from"
            let inclusive: Bool
            switch key {
            case "gte", "lte": inclusive = true
            case "gt", "lt": inclusive = false
            case "from": inclusive = includeLower
            default: inclusive = includeUpper
            }
            // Date math rounds `gt` and `lte` up to the end of the unit, `gte` and `lt` down.
            let roundUp = isLower != inclusive
            let b = try Self.bound(bound, inclusive: inclusive, roundUp: roundUp, now: now, here: here, key: key)
            if isLower { lower = b } else { upper = b }
        }
        let target = try Self.target(field)
        if case .timestamp = target, positive {
            for (b, isLower) in [(lower, true), (upper, false)] {
                guard let b else { continue }
                guard let ns = b.date else {
                    throw Self.parsingError(
                        "[\(here)] \(b.text) is not a date: give an ISO 8601 / RFC 3339 date, date math (now-1h/h) or epoch milliseconds")
                }
                if isLower { narrow(from: b.inclusive ? ns : ns &+ 1) } else { narrow(to: b.inclusive ? ns &+ 1 : ns) }
            }
            return .all
        }
        switch target {
        case .text: return Self.doc("", .range(lower: lower, upper: upper))
        case .field(let f): throw Self.shardError("[\(here)] on [\(field)] is not supported by logstore (it is the stream's \(f.rawValue))")
        case .timestamp: return Self.doc("@timestamp", .range(lower: lower, upper: upper))
        case .doc(let name, _): return Self.doc(name, .range(lower: lower, upper: upper))
        }
    }

    /// One range bound, read as a number, a date (date math included) and a text.
    static func bound(_ value: Any, inclusive: Bool, roundUp: Bool, now: Int64, here: String, key: String) throws(OpenSearchError)
        -> RangeBound
    {
        if let n = value as? NSNumber, !isBool(n) {
            return RangeBound(text: n.stringValue, number: n.doubleValue, date: nanoseconds(n), inclusive: inclusive)
        }
        guard let s = value as? String else {
            throw Self.parsingError("[\(here)] [\(key)] must be a number or a string")
        }
        let number = DocumentFields.number(s)
        var date: Int64?
        if s.hasPrefix("now") || s.contains("||") {
            guard let d = DateMath.evaluate(s, now: now, roundUp: roundUp) else {
                throw Self.parsingError("[\(here)] [\(key)] \(s) is not valid date math (e.g. now-1h/h, 2024-01-01||+1M/d)")
            }
            date = d
        } else {
            date = nanoseconds(s)
        }
        return RangeBound(text: s, number: number, date: date, inclusive: inclusive)
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
        case .all, .term, .prefix, .phrase, .field, .doc, .lsns: return 1
        case .and(let qs), .or(let qs): return max(1, qs.reduce(0) { $0 + leafCount($1) })
        case .not(let q): return leafCount(q)
        }
    }

    mutating func narrow(from value: Int64) { from = max(from ?? .min, value) }
    mutating func narrow(to value: Int64) { to = min(to ?? .max, value) }
}
