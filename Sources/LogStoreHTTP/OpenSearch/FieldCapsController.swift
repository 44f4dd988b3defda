import Foundation
import Hummingbird
import LogStore
import LogStoreIngest

/// FieldCapsController answers `GET /{index}/_mapping` (and `/_mapping`) and
/// `GET|POST [/{index}]/_field_caps` from the store's field catalog
/// (`Storage.fieldCatalog`), in OpenSearch's shapes: what Grafana and OpenSearch Dashboards ask
/// when an index pattern is created. Strings are mapped as OpenSearch's dynamic mapping does
/// (`text` with a `keyword` sub-field), dotted names as nested objects.
struct FieldCapsController {
    let storage: Storage

    func addRoutes(to router: Router<LogStoreContext>) {
        router.get("_mapping") { request, _ in try await mapping(request, index: nil) }
        router.get(":index/_mapping") { request, context in try await mapping(request, index: try indexParameter(context)) }
        for method in [HTTPRequest.Method.get, .post] {
            router.on("_field_caps", method: method) { request, _ in try await fieldCaps(request, index: nil) }
            router.on(":index/_field_caps", method: method) { request, context in
                try await fieldCaps(request, index: try indexParameter(context))
            }
        }
    }

    func indexParameter(_ context: LogStoreContext) throws -> String {
        let raw = try context.parameters.require("index")
        return raw.removingPercentEncoding ?? raw
    }

    /// The indices `pattern` names (all when nil); a concrete name that does not exist is a 404.
    func indices(_ pattern: String?) throws -> [String] {
        let all = storage.indexNames()
        guard let pattern else { return all.sorted() }
        let p = IndexPattern(pattern)
        for name in p.concreteNames where !all.contains(name) {
            throw OpenSearchError(.notFound, type: "index_not_found_exception", reason: "no such index [\(name)]")
        }
        return all.filter { p.isAll || p.matches($0) }.sorted()
    }

    /// The catalog of each index, read off the event loop.
    func catalogs(_ names: [String]) async throws -> [String: [String: Set<String>]] {
        let storage = storage
        let deadline = storage.queryDeadline()
        return try await blocking(cancelling: deadline) {
            var out: [String: [String: Set<String>]] = [:]
            for name in names { out[name] = try storage.fieldCatalog(indices: [name], deadline: deadline) }
            return out
        }
    }

    /// The one type a field is shown with in a mapping (the first OpenSearch would have kept
    /// is unknown here: the most general one wins).
    static func mainType(_ types: Set<String>) -> String {
        for t in ["text", "float", "long", "date", "boolean", "object"] where types.contains(t) { return t }
        return types.sorted().first ?? "object"
    }

    // MARK: _mapping

    func mapping(_ request: Request, index: String?) async throws -> Response {
        try SearchRequestParser.checkParameters(
            request, allowed: ["pretty", "human", "error_trace", "filter_path", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "local", "master_timeout", "cluster_manager_timeout"])
        let names = try indices(index)
        let catalogs = try await catalogs(names)
        var answer: [String: Any] = [:]
        for name in names {
            answer[name] = ["mappings": ["properties": Self.properties(catalogs[name] ?? [:])]]
        }
        let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys, .withoutEscapingSlashes])
        return JSONAnswer.answer([UInt8](data), request: request)
    }

    /// Nested `properties` of a catalog: `a.b` becomes `a` → `properties` → `b`.
    static func properties(_ catalog: [String: Set<String>]) -> [String: Any] {
        var root: [String: Any] = [:]
        func insert(_ parts: ArraySlice<String>, _ types: Set<String>, into node: inout [String: Any]) {
            guard let first = parts.first else { return }
            if parts.count == 1 {
                let type = mainType(types)
                if type == "object" {
                    if node[first] == nil { node[first] = ["properties": [String: Any]()] }
                    return
                }
                var leaf: [String: Any] = ["type": type]
                if type == "text" { leaf["fields"] = ["keyword": ["type": "keyword", "ignore_above": 256]] }
                if var existing = node[first] as? [String: Any], existing["properties"] != nil {
                    existing["type"] = nil
                    node[first] = existing
                    return
                }
                node[first] = leaf
                return
            }
            var child = (node[first] as? [String: Any]) ?? [:]
            var props = (child["properties"] as? [String: Any]) ?? [:]
            insert(parts.dropFirst(), types, into: &props)
            child = ["properties": props]
            node[first] = child
        }
        // Objects first, so a leaf never hides the object it is in.
        for (path, types) in catalog.sorted(by: { $0.key < $1.key }) {
            insert(path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)[...], types, into: &root)
        }
        return root
    }

    // MARK: _field_caps

    func fieldCaps(_ request: Request, index: String?) async throws -> Response {
        try SearchRequestParser.checkParameters(
            request,
            allowed: ["fields", "pretty", "human", "error_trace", "filter_path", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "include_unmapped", "index_filter"])
        var patterns: [String] = request.uri.queryParameters["fields"].map { $0.split(separator: ",").map(String.init) } ?? []
        let body = try await SearchRequestParser.readBody(request)
        for key in body.keys where key != "fields" && key != "index_filter" {
            throw OpenSearchError.badRequest("[\(key)] is not supported by _field_caps", type: "parsing_exception")
        }
        if let fields = body["fields"] {
            guard let list = (fields as? [String]) ?? (fields as? String).map({ $0.split(separator: ",").map(String.init) }) else {
                throw OpenSearchError.badRequest("[fields] must be a list of field names", type: "parsing_exception")
            }
            patterns += list
        }
        if patterns.isEmpty { throw OpenSearchError.badRequest("specified fields can't be null or empty") }
        let names = try indices(index)
        let catalogs = try await catalogs(names)
        // field → type → indices.
        var caps: [String: [String: [String]]] = [:]
        func add(_ field: String, _ type: String, _ index: String) { caps[field, default: [:]][type, default: []].append(index) }
        for name in names {
            for (path, types) in catalogs[name] ?? [:] {
                for type in types {
                    add(path, type, name)
                    if type == "text" { add(path + ".keyword", "keyword", name) }
                }
            }
            for (meta, type) in [("_id", "_id"), ("_index", "_index"), ("_source", "_source")] { add(meta, type, name) }
        }
        var fields: [String: Any] = [:]
        for (field, types) in caps where patterns.contains(where: { IndexPattern.glob($0, field) }) {
            var entry: [String: Any] = [:]
            for (type, inIndices) in types {
                let searchable = type != "object" && type != "_source"
                let aggregatable = ["keyword", "long", "float", "date", "boolean", "_id", "_index"].contains(type)
                var cap: [String: Any] = ["type": type, "searchable": searchable, "aggregatable": aggregatable]
                if types.count > 1 || inIndices.count < names.count { cap["indices"] = inIndices.sorted() }
                if field.hasPrefix("_") && ["_id", "_index", "_source"].contains(field) { cap["metadata_field"] = true }
                entry[type] = cap
            }
            fields[field] = entry
        }
        let answer: [String: Any] = ["indices": names, "fields": fields]
        let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys, .withoutEscapingSlashes])
        return JSONAnswer.answer([UInt8](data), request: request)
    }
}
