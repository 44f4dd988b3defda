import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// OpenSearchController routes the read side of OpenSearch that log readers use (REANA reads
/// job and workflow logs with opensearch-py): `GET /`, `HEAD /{index}`,
/// `GET|POST [/{index}]/_search` and `/_count`. Requests are parsed by ``SearchRequestParser``,
/// hits written by ``HitWriter`` (or ``GzipHitsWriter``). What is supported and how it maps
/// onto the store: docs/API.md, "OpenSearch compatibility".
struct OpenSearchController {
    let storage: Storage
    /// Gzip-compressed hits of whole sealed blocks (`_source` unfiltered), by block identity:
    /// a job log read again (REANA's UI and `reana-client logs --follow` poll) copies them
    /// instead of building and compressing the same JSON again.
    let gzipHits: GzipHitsWriter
    /// The open connections: a read stops when its client goes away.
    var connections = ConnectionRegistry()
    /// Open scrolls and points in time.
    let contexts = SearchContexts()

    /// `hitCacheBytes`: 64 MiB (the default) holds the compressed hits of ~2500 thousand-line
    /// job logs (~25 KB each).
    init(storage: Storage, hitCacheBytes: Int = 64 << 20) {
        self.storage = storage
        gzipHits = GzipHitsWriter(hitCache: ByteBoundedLRU(capacity: hitCacheBytes))
    }

    /// URL parameters `_search` accepts (most are ignored, as they change nothing here).
    static let searchParameters: Set<String> = [
        "size", "from", "q", "sort", "_source", "_source_includes", "_source_excludes", "track_total_hits",
        "rest_total_hits_as_int", "timeout", "typed_keys", "ignore_unavailable", "allow_no_indices", "expand_wildcards",
        "search_type", "request_cache", "pretty", "human", "error_trace", "filter_path", "preference", "routing",
        "allow_partial_search_results", "batched_reduce_size", "ccs_minimize_roundtrips", "max_concurrent_shard_requests",
        "pre_filter_shard_size", "track_scores", "version", "seq_no_primary_term",
        "scroll",
    ]
    /// URL parameters `_count` accepts.
    static let countParameters: Set<String> = [
        "q", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "pretty", "human", "error_trace", "filter_path",
        "preference", "routing", "min_score", "terminate_after",
    ]
    /// Members of a `_search` body that logstore understands.
    static let bodyKeys: Set<String> = [
        "query", "size", "from", "sort", "search_after", "_source", "track_total_hits", "timeout", "track_scores", "version",
        "seq_no_primary_term", "explain", "stored_fields", "terminate_after",
        // Read by `SearchRequestParser.extras`.
        "aggs", "aggregations", "highlight", "pit", "script_fields",
        // Dashboards and Grafana ask for these; the hits' `_source` holds the same values.
        "docvalue_fields", "fields",
    ]

    func addRoutes(to router: Router<LogStoreContext>) {
        addMultiSearchRoutes(to: router)
        addContextRoutes(to: router)
        router.get("/") { request, _ in try info(request) }
        router.head("/") { _, _ in Response(status: .ok) }
        router.head(":index") { _, context in
            let pattern = try indexParameter(context)
            return Response(status: matchingIndices(pattern).isEmpty ? .notFound : .ok)
        }
        for method in [HTTPRequest.Method.get, .post] {
            router.on("_search", method: method) { request, context in try await search(request, context: context, index: nil) }
            router.on(":index/_search", method: method) { request, context in
                try await search(request, context: context, index: try indexParameter(context))
            }
            router.on("_count", method: method) { request, context in try await count(request, context: context, index: nil) }
            router.on(":index/_count", method: method) { request, context in
                try await count(request, context: context, index: try indexParameter(context))
            }
        }
    }

    /// The `{index}` path parameter, percent-decoded.
    func indexParameter(_ context: LogStoreContext) throws -> String {
        let raw = try context.parameters.require("index")
        return raw.removingPercentEncoding ?? raw
    }

    // MARK: GET /

    /// `GET /`: the cluster information clients check before anything else.
    func info(_ request: Request) throws -> Response {
        let name = ProcessInfo.processInfo.hostName
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in storage.directory.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var json = JSONText(capacity: 600)
        json.raw("{\"name\":")
        json.string(name)
        json.raw(",\"cluster_name\":\"logstore\",\"cluster_uuid\":")
        json.string("logstore-" + String(hash, radix: 16))
        json.raw(
            ",\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.11.0\",\"build_type\":\"logstore\",\"build_hash\":\"logstore\","
                + "\"build_date\":\"2023-10-13T02:55:55.511945994Z\",\"build_snapshot\":false,\"lucene_version\":\"9.7.0\","
                + "\"minimum_wire_compatibility_version\":\"7.10.0\",\"minimum_index_compatibility_version\":\"7.0.0\"},"
                + "\"tagline\":\"The OpenSearch Project: https://opensearch.org/\"}")
        return JSONAnswer.answer(json.bytes, request: request)
    }

    /// Resolves `_id`s for `ids` queries through this storage.
    var idResolver: QueryDSL.IDResolver {
        let storage = storage
        return { ids in try? storage.lsns(ofDocumentIDs: ids) }
    }

    // MARK: Index patterns

    /// The indices (of stored streams) `pattern` names: a comma list of names and `*` globs;
    /// empty, `_all` and `*` name all.
    func matchingIndices(_ pattern: String) -> Set<String> {
        let pattern = IndexPattern(pattern)
        return storage.indexNames().filter { pattern.matches($0) }
    }

    /// The streams a request reads: those of the named indices that the query's field
    /// predicates allow. A concrete index name that matches nothing is a 404, as in OpenSearch.
    func selectStreams(index: String?, query: Query) throws -> [StreamInfo] {
        var streams = storage.streams(matching: query)
        guard let index else { return streams }
        let pattern = IndexPattern(index)
        if pattern.isAll { return streams }
        for name in pattern.concreteNames where !storage.hasIndex(name) {
            throw OpenSearchError(.notFound, type: "index_not_found_exception", reason: "no such index [\(name)]")
        }
        streams = streams.filter { pattern.matches($0.key.index) }
        return streams
    }

    /// `_search`: reads the page of hits (log order, `search_after` cursor), counts
    /// `hits.total` as asked and writes the answer.
    func search(_ request: Request, context: LogStoreContext, index: String?) async throws -> Response {
        let started = ContinuousClock.now
        try SearchRequestParser.checkParameters(request, allowed: Self.searchParameters)
        var body = try await SearchRequestParser.readBody(request)
        SearchRequestParser.normalizeSort(&body)
        let search = try SearchRequestParser.search(request, body: body, idResolver: idResolver)
        let extras = try SearchRequestParser.extras(body, request: request)
        if let sort = search.sort { return try await sortedSearch(request, context: context, index: index, search: search, sort: sort, extras: extras, body: body, started: started) }
        let (dsl, size, from, order, after) = (search.dsl, search.size, search.from, search.order, search.after)
        let snapshot = try snapshotOf(extras, body: body, request: request, index: index)
        let streams = try selectStreams(index: snapshot?.index ?? index, query: dsl.query)
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        let filter: Query? = dsl.query.isMatchAll ? nil : dsl.query
        var page = LinePage.empty
        let deadline = storage.queryDeadline()
        if !streams.isEmpty && size > 0 {
            let query = LogQuery(
                streams: streams.map(\.id), after: after, limit: from + size, order: order, from: dsl.from, to: dsl.to, filter: filter,
                deadline: deadline, throughLSN: snapshot?.lsn)
            page = try await connections.cancelling(deadline, whenClosed: context.channel) { try await storage.readLinesAsync(query) }
        }
        let lines = page.lines.dropFirst(from)
        let truncated = page.truncated
        // hits.total: exact from the stream statistics when no line-level predicate; from the
        // page itself when it was read from the start and not cut; else counted up to the limit.
        var total = 0
        var relation = "eq"
        var aggregated: AggregationAnswer?
        if let aggregations = extras.aggregations {
            aggregated = try await aggregate(
                aggregations, paths: extras.paths, dsl: dsl, streams: streams, index: snapshot?.index ?? index, throughLSN: snapshot?.lsn,
                typedKeys: extras.typedKeys, deadline: deadline, context: context)
        }
        if search.trackTotal {
            if let aggregated {
                total = aggregated.total
            } else if snapshot != nil {
                (total, relation) = try await connections.cancelling(deadline, whenClosed: context.channel) {
                    try await countLines(streams: streams, dsl: dsl, limit: search.totalLimit, deadline: deadline, throughLSN: snapshot?.lsn)
                }
            } else if !dsl.hasTextPredicate && !dsl.hasWindow {
                total = streams.reduce(0) { $0 + Int($1.stats.lines) }
            } else if after == nil && size > 0 && !truncated {
                total = from + lines.count
            } else {
                (total, relation) = try await connections.cancelling(deadline, whenClosed: context.channel) {
                    try await countLines(streams: streams, dsl: dsl, limit: search.totalLimit, deadline: deadline)
                }
            }
            if total > search.totalLimit {
                total = search.totalLimit
                relation = "gte"
            }
        }

        var json = JSONText(capacity: 256 + lines.count * 640)
        json.raw("{\"took\":")
        let took = started.duration(to: .now)
        json.number(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)
        json.raw(",\"timed_out\":false,\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0},\"hits\":{")
        if search.trackTotal {
            if search.totalAsInt {
                json.raw("\"total\":")
                json.number(total)
                json.raw(",")
            } else {
                json.raw("\"total\":{\"value\":")
                json.number(total)
                json.raw(",\"relation\":\"\(relation)\"},")
            }
        }
        json.raw("\"max_score\":null,\"hits\":[")
        let ids = storage.documentIDs(for: lines)  // client `_id`s
        if aggregated != nil || extras.highlight != nil || snapshot != nil {
            return try finishSearch(
                json, lines: lines, page: page, keys: keys, ids: ids, search: search, extras: extras, aggregated: aggregated,
                snapshot: snapshot, request: request)
        }
        if case .all = search.source, JSONAnswer.acceptsGzip(request), !lines.isEmpty {
            return .gzipped(gzipHits.write(lines, of: page, keys: keys, ids: ids, head: json.bytes))
        }
        var out = ByteBufferAllocator().buffer(capacity: json.bytes.count + lines.count * 640 + 8)
        out.writeBytes(json.bytes)
        HitWriter.writeHits(lines, of: page, keys: keys, source: search.source, ids: ids, into: &out)
        out.writeStaticString("]}}")
        return JSONAnswer.answer(out, request: request)
    }

    /// Counts matching lines up to `limit` (then relation "gte") within `deadline`: from the
    /// stream statistics when no line-level predicate, else blocks the index counts exactly are
    /// added up and the others read (`Storage.count`).
    func countLines(
        streams: [StreamInfo], dsl: QueryDSL, limit: Int, deadline: QueryDeadline, throughLSN: LSN? = nil
    ) async throws -> (Int, String) {
        if streams.isEmpty { return (0, "eq") }
        if !dsl.hasTextPredicate && !dsl.hasWindow && throughLSN == nil {
            let n = streams.reduce(0) { $0 + Int($1.stats.lines) }
            return n > limit ? (limit, "gte") : (n, "eq")
        }
        let visit = LineVisit(
            query: dsl.query, streams: Set(streams.map(\.id)), from: dsl.from, to: dsl.to, throughLSN: throughLSN, deadline: deadline)
        let count = try await storage.countAsync(visit, upTo: limit)
        return count > limit ? (limit, "gte") : (count, "eq")
    }

    // MARK: _count

    /// `_count`: the number of matching lines.
    func count(_ request: Request, context: LogStoreContext, index: String?) async throws -> Response {
        try SearchRequestParser.checkParameters(request, allowed: Self.countParameters)
        let body = try await SearchRequestParser.readBody(request)
        for key in body.keys where key != "query" {
            throw OpenSearchError.badRequest("[\(key)] is not supported by _count; give only [query]", type: "parsing_exception")
        }
        let dsl = try SearchRequestParser.query(body: body, request: request, idResolver: idResolver)
        let streams = try selectStreams(index: index, query: dsl.query)
        let deadline = storage.queryDeadline()
        let (n, _) = try await connections.cancelling(deadline, whenClosed: context.channel) {
            try await countLines(streams: streams, dsl: dsl, limit: Int.max, deadline: deadline)
        }
        var json = JSONText(capacity: 128)
        json.raw("{\"count\":")
        json.number(n)
        json.raw(",\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0}}")
        return JSONAnswer.answer(json.bytes, request: request)
    }
}
