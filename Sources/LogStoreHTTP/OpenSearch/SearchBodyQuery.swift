import Foundation
import LogStore

/// SearchBodyQuery translates the `query` of a `_search`/`_count` body the way the server
/// reads it: the nesting check (`JSONNesting`), JSON, then the query DSL (`QueryDSL`).
/// It returns the normalized query, or throws the `OpenSearchError` (a 400) the server answers.
/// For callers outside the server that hold a body: the CLI, tests and the fuzz targets.
public enum SearchBodyQuery {
    /// SearchBodyQuery.parse returns the query of `body` (`.all` for an empty body or one
    /// without `query`), or throws the 400 that names the problem.
    public static func parse(_ body: [UInt8]) throws(OpenSearchError) -> Query {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .all }
        try JSONNesting.check(body)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw OpenSearchError.badRequest("the request body is not valid JSON: \(error.localizedDescription)", type: "parse_exception")
        }
        guard let dictionary = object as? [String: Any] else {
            throw OpenSearchError.badRequest("the request body must be a JSON object", type: "parse_exception")
        }
        return try QueryDSL.translate(dictionary["query"]).query
    }
}
