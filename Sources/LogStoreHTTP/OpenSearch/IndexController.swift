import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// IndexController answers OpenSearch's index and document management as one node with one
/// shard per index: `PUT /{index}`, `DELETE /{index}` (names, comma lists and `*` globs),
/// `GET|HEAD /{index}/_doc/{id}`, `_cat/indices`, `_cat/health`, `_cluster/health`.
struct IndexController {
    let storage: Storage

    func addRoutes(to router: Router<LogStoreContext>) {
        router.put(":index") { request, context in try await create(request, context: context) }
        router.delete(":index") { request, context in try await delete(request, context: context) }
        router.get(":index/_doc/:id") { request, context in try getDocument(request, context: context, head: false) }
        router.head(":index/_doc/:id") { request, context in try getDocument(request, context: context, head: true) }
        router.delete(":index/_doc/:id") { _, _ -> Response in
            throw OpenSearchError.badRequest("deleting one document is not supported; DELETE /{index} deletes a whole index")
        }
        router.get("_cat/indices") { request, _ in try catIndices(request, pattern: nil) }
        router.get("_cat/indices/:index") { request, context in try catIndices(request, pattern: try parameter("index", context)) }
        router.get("_cat/health") { request, _ in try catHealth(request) }
        router.get("_cluster/health") { request, _ in try clusterHealth(request, pattern: nil) }
        router.get("_cluster/health/:index") { request, context in try clusterHealth(request, pattern: try parameter("index", context)) }
    }

    func parameter(_ name: String, _ context: LogStoreContext) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    /// Refuses URL parameters outside `allowed` (400 naming the first).
    func check(_ request: Request, allowed: Set<String>) throws {
        for (name, _) in request.uri.queryParameters where !allowed.contains(String(name)) {
            throw OpenSearchError.badRequest("request [\(request.uri.path)] contains unrecognized parameter: [\(name)]")
        }
    }

    static let common: Set<String> = ["pretty", "human", "error_trace", "filter_path", "master_timeout", "cluster_manager_timeout", "timeout"]

    // MARK: PUT / DELETE

    /// `PUT /{index}`: the index exists from now on (settings and mappings in the body are
    /// accepted and not used: every field is mapped dynamically).
    func create(_ request: Request, context: LogStoreContext) async throws -> Response {
        try check(request, allowed: Self.common.union(["wait_for_active_shards", "include_type_name"]))
        let name = try parameter("index", context)
        do throws(IngestError) { try NameLimits.checkIndexName(name) } catch {
            throw OpenSearchError(.badRequest, type: "invalid_index_name_exception", reason: "\(error)")
        }
        guard try await storage.createIndex(name) else {
            throw OpenSearchError(.badRequest, type: "resource_already_exists_exception", reason: "index [\(name)] already exists")
        }
        var json = JSONText(capacity: 96)
        json.raw("{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":")
        json.string(name)
        json.raw("}")
        return JSONAnswer.answer(json.bytes, request: request)
    }

    /// `DELETE /{index}`: the named indices' lines disappear from every read at once; a concrete
    /// name that matches nothing is a 404 (a glob matching nothing is not, as in OpenSearch).
    func delete(_ request: Request, context: LogStoreContext) async throws -> Response {
        try check(request, allowed: Self.common.union(["ignore_unavailable", "allow_no_indices", "expand_wildcards"]))
        let raw = try parameter("index", context)
        let pattern = IndexPattern(raw)
        let existing = storage.indexNames()
        if request.uri.queryParameters["ignore_unavailable"] != "true" {
            for name in pattern.concreteNames where name != "_all" && !existing.contains(name) {
                throw OpenSearchError(.notFound, type: "index_not_found_exception", reason: "no such index [\(name)]")
            }
        }
        try await storage.deleteIndices(existing.filter { pattern.matches($0) })
        return JSONAnswer.answer(Array("{\"acknowledged\":true}".utf8), request: request)
    }

    // MARK: _doc

    /// `GET /{index}/_doc/{id}` (and `HEAD`): the document in OpenSearch's shape, or
    /// `{"found":false}` with 404; a missing index is `index_not_found_exception`.
    func getDocument(_ request: Request, context: LogStoreContext, head: Bool) throws -> Response {
        try check(request, allowed: Self.common.union(["realtime", "refresh", "routing", "preference", "_source"]))
        let index = try parameter("index", context)
        let id = try parameter("id", context)
        guard storage.hasIndex(index) else {
            if head { return Response(status: .notFound) }
            throw OpenSearchError(.notFound, type: "index_not_found_exception", reason: "no such index [\(index)]")
        }
        let source: SourceFilter
        switch request.uri.queryParameters["_source"].map(String.init) {
        case nil, "true": source = .all
        case "false": source = .none
        case let other?: throw OpenSearchError.badRequest("_source=\(other) is not supported on _doc; use true or false")
        }
        let document = try storage.document(index: index, id: id)
        if head { return Response(status: document == nil ? .notFound : .ok) }
        var json = JSONText(capacity: 256)
        json.raw("{\"_index\":")
        json.string(index)
        json.raw(",\"_id\":")
        json.string(id)
        guard let document else {
            json.raw(",\"found\":false}")
            var response = JSONAnswer.answer(json.bytes, request: request)
            response.status = .notFound
            return response
        }
        json.raw(",\"_version\":1,\"_seq_no\":")
        json.number(document.line.lsn)
        json.raw(",\"_primary_term\":1,\"found\":true")
        SourceWriter.writeSource(document.line, filter: source, into: &json)
        json.raw("}")
        return JSONAnswer.answer(json.bytes, request: request)
    }

    // MARK: _cat and _cluster

    /// `GET /_cat/indices[/{index}]`: one row per index (`v`, `h`, `s`, `bytes`, `format=json`).
    func catIndices(_ request: Request, pattern: String?) throws -> Response {
        try check(request, allowed: Self.common.union(["v", "h", "s", "format", "bytes", "help", "local", "health", "pri", "expand_wildcards"]))
        let selected = pattern.map(IndexPattern.init)
        if let selected {
            let names = storage.indexNames()
            for name in selected.concreteNames where name != "_all" && !names.contains(name) {
                throw OpenSearchError(.notFound, type: "index_not_found_exception", reason: "no such index [\(name)]")
            }
        }
        let bytesUnit = try CatTable.bytesUnit(request)
        var table = CatTable(columns: [
            "health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size", "pri.store.size",
        ])
        for index in storage.indexSummaries() where selected?.matches(index.name) ?? true {
            let size = CatTable.size(index.storeBytes, unit: bytesUnit)
            table.rows.append([
                "green", "open", index.name, Self.uuid(index.name), "1", "0", String(index.documents), "0", size, size,
            ])
        }
        return try table.answer(request)
    }

    /// `GET /_cat/health`: one node, always green.
    func catHealth(_ request: Request) throws -> Response {
        try check(request, allowed: Self.common.union(["v", "h", "s", "format", "help", "local", "ts"]))
        let shards = String(storage.indexNames().count)
        let now = Storage.now() / 1_000_000_000
        var clock = tm()
        var seconds = time_t(now)
        gmtime_r(&seconds, &clock)
        let timestamp = String(format: "%02d:%02d:%02d", clock.tm_hour, clock.tm_min, clock.tm_sec)
        var table = CatTable(columns: [
            "epoch", "timestamp", "cluster", "status", "node.total", "node.data", "discovered_cluster_manager", "shards", "pri", "relo",
            "init", "unassign", "pending_tasks", "max_task_wait_time", "active_shards_percent",
        ])
        table.rows.append([String(now), timestamp, "logstore", "green", "1", "1", "true", shards, shards, "0", "0", "0", "0", "-", "100.0%"])
        return try table.answer(request)
    }

    /// `GET /_cluster/health[/{index}]`: green with one shard per index; a concrete index that
    /// does not exist answers at once what OpenSearch answers after its wait: red, timed out, 408.
    func clusterHealth(_ request: Request, pattern: String?) throws -> Response {
        try check(
            request,
            allowed: Self.common.union([
                "level", "local", "wait_for_status", "wait_for_nodes", "wait_for_active_shards", "wait_for_no_relocating_shards",
                "wait_for_no_initializing_shards", "wait_for_events", "expand_wildcards", "awareness_attribute",
            ]))
        let names = storage.indexNames()
        var shards = names.count
        var missing = false
        if let pattern {
            let selected = IndexPattern(pattern)
            missing = selected.concreteNames.contains { $0 != "_all" && !names.contains($0) }
            shards = names.filter { selected.matches($0) }.count
        }
        var json = JSONText(capacity: 600)
        json.raw("{\"cluster_name\":\"logstore\",\"status\":")
        json.raw(missing ? "\"red\",\"timed_out\":true" : "\"green\",\"timed_out\":false")
        json.raw(",\"number_of_nodes\":1,\"number_of_data_nodes\":1,\"discovered_master\":true,\"discovered_cluster_manager\":true")
        json.raw(",\"active_primary_shards\":")
        json.number(shards)
        json.raw(",\"active_shards\":")
        json.number(shards)
        json.raw(
            ",\"relocating_shards\":0,\"initializing_shards\":0,\"unassigned_shards\":0,\"delayed_unassigned_shards\":0"
                + ",\"number_of_pending_tasks\":0,\"number_of_in_flight_fetch\":0,\"task_max_waiting_in_queue_millis\":0"
                + ",\"active_shards_percent_as_number\":100.0}")
        var response = JSONAnswer.answer(json.bytes, request: request)
        if missing { response.status = .requestTimeout }
        return response
    }

    /// A stable uuid-like name of an index (22 characters, as OpenSearch's).
    static func uuid(_ name: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            second = (second ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var out = ""
        for i in 0..<22 {
            let word = i < 11 ? hash : second
            out.append(alphabet[Int((word >> UInt64((i % 11) * 6)) & 63)])
        }
        return out
    }
}
