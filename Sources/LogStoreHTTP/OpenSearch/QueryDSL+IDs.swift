import Foundation
import LogStore
import Hummingbird

/// `ids` and `term`/`terms` on `_id`: the lines whose `_id` (client or generated) is one of the
/// values. The ids are resolved to LSNs while translating, through the `idResolver` that the
/// request paths able to evaluate an LSN set pass to `translate`; elsewhere such a query is a 400.
extension QueryDSL {
    /// Resolves `_id`s to the LSNs of their lines (`Storage.lsns(ofDocumentIDs:)`); nil: failed.
    typealias IDResolver = @Sendable ([String]) -> Set<LSN>?

    /// `{"ids":{"values":["a","b"]}}`.
    mutating func idsClause(body: Any, here: String) throws(OpenSearchError) -> Query {
        guard let object = body as? [String: Any] else { throw Self.parsingError("[\(here)] must be an object {\"values\": [ids]}") }
        var values: [String] = []
        for (key, option) in object {
            switch key {
            case "boost", "_name", "type", "types": break
            case "values":
                guard let list = option as? [Any] else { throw Self.parsingError("[\(here)] [values] must be an array of ids") }
                values = try Self.idStrings(list, here: here)
            default: throw Self.parsingError("[\(here)] option [\(key)] is not supported by logstore")
            }
        }
        try count(values.count - 1, at: here)
        return try resolve(values, here: here)
    }

    /// `{"term":{"_id":"a"}}`, `{"terms":{"_id":["a","b"]}}`.
    mutating func idTermClause(type: String, spec: Any, here: String) throws(OpenSearchError) -> Query {
        var values: [String]
        if type == "term" {
            var raw: Any? = spec
            if let options = spec as? [String: Any] {
                raw = options["value"]
                for key in options.keys where !["value", "boost", "_name"].contains(key) {
                    throw Self.parsingError("[\(here)] option [\(key)] is not supported on [_id] by logstore")
                }
            }
            guard let raw else { throw Self.parsingError("[\(here)] needs a value") }
            values = try Self.idStrings([raw], here: here)
        } else {
            guard let list = spec as? [Any] else { throw Self.parsingError("[\(here)] [_id] must be an array of ids") }
            values = try Self.idStrings(list, here: here)
            try count(list.count - 1, at: here)
        }
        return try resolve(values, here: here)
    }

    static func idStrings(_ list: [Any], here: String) throws(OpenSearchError) -> [String] {
        var values: [String] = []
        for item in list {
            guard let v = scalarString(item) else { throw parsingError("[\(here)] ids must be strings or numbers") }
            values.append(v)
        }
        return values
    }

    func resolve(_ ids: [String], here: String) throws(OpenSearchError) -> Query {
        guard let resolver = idResolver else {
            throw Self.parsingError("[\(here)] finding documents by _id is supported by logstore only in a _search or _count query")
        }
        guard let lsns = resolver(ids) else {
            throw OpenSearchError(.internalServerError, type: "exception", reason: "[\(here)] the _id tables could not be read")
        }
        return .lsns(lsns)
    }
}
