import Foundation
import LogStore
import LogStoreIngest

/// `query_string` and `simple_query_string`: logstore's query language with `field:value`.
extension QueryDSL {
    /// QueryDSL.queryStringClause parses a `query_string` (or `simple_query_string`) in
    /// logstore's query language with `field:value`, the fields mapped as in the DSL.
    mutating func queryStringClause(body: Any, here: String, simple: Bool) throws(OpenSearchError) -> Query {
        var text: String?
        var defaultFields: [String] = ["*"]
        var orDefault = true
        if let options = body as? [String: Any] {
            for (key, option) in options {
                switch key {
                case "query": text = option as? String
                case "default_field":
                    guard let f = option as? String else { throw Self.parsingError("[\(here)] default_field must be a field name") }
                    defaultFields = [f]
                case "fields":
                    guard let fs = option as? [String], !fs.isEmpty else {
                        throw Self.parsingError("[\(here)] fields must be a list of field names")
                    }
                    defaultFields = fs.map { f in f.firstIndex(of: "^").map { String(f[..<$0]) } ?? f }
                case "default_operator":
                    guard let op = (option as? String)?.lowercased(), op == "and" || op == "or" else {
                        throw Self.parsingError("[\(here)] default_operator must be AND or OR")
                    }
                    orDefault = op == "or"
                case "boost", "_name", "analyze_wildcard", "lenient", "analyzer", "auto_generate_synonyms_phrase_query": break
                case "flags" where simple: break
                default: throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
                }
            }
        }
        guard let text else { throw Self.parsingError("[\(here)] needs a string [query]") }
        let parsed = try Self.parseQueryString(text, path: here, orDefault: orDefault)
        try count(Self.leafCount(parsed) - 1, at: here)
        return try mapFields(parsed, defaultFields: defaultFields, here: here)
    }

    /// Maps the fields of a parsed query string as the DSL does, and bare words onto the
    /// default fields (the message for `*`).
    mutating func mapFields(_ q: Query, defaultFields: [String], here: String) throws(OpenSearchError) -> Query {
        switch q {
        case .all, .field, .lsns:
            return q
        case .and(let qs):
            var out: [Query] = []
            for x in qs { out.append(try mapFields(x, defaultFields: defaultFields, here: here)) }
            return .and(out)
        case .or(let qs):
            var out: [Query] = []
            for x in qs { out.append(try mapFields(x, defaultFields: defaultFields, here: here)) }
            return .or(out)
        case .not(let x):
            return .not(try mapFields(x, defaultFields: defaultFields, here: here))
        case .term, .phrase, .prefix:
            var out: [Query] = []
            for f in defaultFields {
                if f == "*" || f == "_all" {
                    out.append(q)
                    continue
                }
                switch try Self.target(f) {
                case .text: out.append(q)
                case .field(let attribute):
                    guard case .term(let t) = q else { throw Self.shardError("[\(here)] only single words can search [\(f)]") }
                    out.append(.field(attribute, t))
                case .timestamp:
                    throw Self.shardError("[\(here)] default_field [\(f)] is not supported by logstore")
                case .doc(let name, let keyword):
                    switch q {
                    case .term(let t): out.append(keyword ? Self.doc(name, .equals(t)) : .or([Self.doc(name, .equals(t)), Self.doc(name, .tokens([t]))]))
                    case .phrase(let ts): out.append(Self.doc(name, .tokens(ts)))
                    case .prefix(let p): out.append(keyword ? Self.doc(name, .prefix(p, caseInsensitive: true)) : Self.doc(name, .phrasePrefix([p])))
                    default: break
                    }
                }
            }
            return out.count == 1 ? out[0] : .or(out)
        case .doc(let p):
            // `name:value` from the query string: analyzed for a text field, exact for `.keyword`.
            switch p.test {
            case .equals(let value):
                return try match(type: "match_phrase", field: p.field, value: value, andOperator: false, here: here)
            default:
                switch try Self.target(p.field) {
                case .doc(let name, _): return .doc(FieldPredicate(field: name, test: p.test))
                case .timestamp: return .doc(FieldPredicate(field: "@timestamp", test: p.test))
                case .text:
                    if case .exists = p.test { return q }
                    if case .prefix(let v, _) = p.test { return Self.doc("", .tokenPattern(v.lowercased() + "*")) }
                    if case .wildcard(let v, _) = p.test { return Self.doc("", .tokenPattern(v.lowercased())) }
                    return .doc(FieldPredicate(field: "", test: p.test))
                case .field(let f):
                    if case .exists = p.test { return .not(.field(f, "")) }
                    throw Self.shardError("[\(here)] only exact values can search [\(p.field)] (the stream's \(f.rawValue))")
                }
            }
        }
    }

    static func parseQueryString(_ text: String, path: String, orDefault: Bool = false) throws(OpenSearchError) -> Query {
        do {
            return try QueryParser.parse(text, defaultOperator: orDefault ? .or : .and)
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
}
