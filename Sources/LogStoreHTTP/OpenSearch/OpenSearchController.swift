import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// The read side of OpenSearch that log readers use (REANA reads job and workflow logs with
/// opensearch-py): `GET /`, `HEAD /{index}`, `GET|POST [/{index}]/_search` and `/_count`.
/// What is supported and how it maps onto the store: docs/API.md, "OpenSearch compatibility".
struct OpenSearchController {
    let storage: Storage
    /// Gzip-compressed hits of whole sealed blocks (`_source` unfiltered), by block identity:
    /// a job log read again (REANA's UI and `reana-client logs --follow` poll) copies them
    /// instead of building and compressing the same JSON again.
    let hitCache: ByteBoundedLRU<BlockID, DeflatedPiece>

    /// `hitCacheBytes`: 64 MiB (the default) holds the compressed hits of ~2500 thousand-line
    /// job logs (~25 KB each).
    init(storage: Storage, hitCacheBytes: Int = 64 << 20) {
        self.storage = storage
        hitCache = ByteBoundedLRU(capacity: hitCacheBytes)
    }

    /// OpenSearch's `index.max_result_window`.
    static let maxResultWindow = 10_000
    /// Request bodies (queries) are small.
    static let maxBodyBytes = 1 << 20
    static let searchParameters: Set<String> = [
        "size", "from", "q", "sort", "_source", "_source_includes", "_source_excludes", "track_total_hits",
        "rest_total_hits_as_int", "timeout", "typed_keys", "ignore_unavailable", "allow_no_indices", "expand_wildcards",
        "search_type", "request_cache", "pretty", "human", "error_trace", "filter_path", "preference", "routing",
        "allow_partial_search_results", "batched_reduce_size", "ccs_minimize_roundtrips", "max_concurrent_shard_requests",
        "pre_filter_shard_size", "track_scores", "version", "seq_no_primary_term",
    ]
    static let countParameters: Set<String> = [
        "q", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "pretty", "human", "error_trace", "filter_path",
        "preference", "routing", "min_score", "terminate_after",
    ]
    static let bodyKeys: Set<String> = [
        "query", "size", "from", "sort", "search_after", "_source", "track_total_hits", "timeout", "track_scores", "version",
        "seq_no_primary_term", "explain", "stored_fields", "terminate_after",
    ]

    func addRoutes(to router: Router<LogStoreContext>) {
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

    func indexParameter(_ context: LogStoreContext) throws -> String {
        let raw = try context.parameters.require("index")
        return raw.removingPercentEncoding ?? raw
    }

    // MARK: GET /

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
        return Self.answer(json.bytes, request: request)
    }

    // MARK: Index patterns

    /// The indices (of stored streams) `pattern` names: a comma list of names and `*` globs;
    /// empty, `_all` and `*` name all.
    func matchingIndices(_ pattern: String) -> Set<String> {
        let all = storage.indexNames()
        let parts = pattern.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if parts.isEmpty || parts.contains("_all") { return all }
        return all.filter { index in parts.contains { Self.glob($0, index) } }
    }

    /// `*` matches any run of characters; everything else literally.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// The streams a request reads: those of the named indices that the query's field
    /// predicates allow. A concrete index name that matches nothing is a 404, as in OpenSearch.
    func selectStreams(index: String?, query: Query) throws -> [StreamInfo] {
        var streams = storage.streams(matching: query)
        guard let index else { return streams }
        let parts = index.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if parts.isEmpty || parts.contains("_all") { return streams }
        for part in parts where !part.contains("*") && !storage.hasIndex(part) {
            throw OpenSearchError(.notFound, type: "index_not_found_exception", reason: "no such index [\(part)]")
        }
        streams = streams.filter { stream in parts.contains { Self.glob($0, stream.key.index) } }
        return streams
    }

    // MARK: Request parsing

    func readBody(_ request: Request) async throws -> [String: Any] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw OpenSearchError(.contentTooLarge, type: "content_too_long_exception", reason: "request body is over \(Self.maxBodyBytes) bytes")
        }
        var bytes = Array(buffer.readableBytesView)
        if let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces), !encoding.isEmpty {
            do {
                bytes = try ContentDecoder.decode(bytes, encoding: encoding, maxOutput: Self.maxBodyBytes)
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

    static func checkParameters(_ request: Request, allowed: Set<String>) throws {
        for (name, _) in request.uri.queryParameters where !allowed.contains(String(name)) {
            throw OpenSearchError.badRequest(
                "request [\(request.uri.path)] contains unrecognized parameter: [\(name)]")
        }
    }

    static func intParameter(_ request: Request, _ name: String) throws -> Int? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        guard let value = Int(text) else {
            throw OpenSearchError.badRequest("Failed to parse int parameter [\(name)] with value [\(text)]", type: "number_format_exception")
        }
        return value
    }

    /// The body's `query` and the URL's `q` (both must hold when both are given).
    static func query(body: [String: Any], request: Request) throws -> QueryDSL {
        var dsl = try QueryDSL.translate(body["query"])
        if let q = request.uri.queryParameters["q"] {
            let parsed = try QueryDSL.parseQueryString(String(q), path: "q")
            dsl.query = Query.and([dsl.query, parsed]).normalized()
        }
        return dsl
    }

    // MARK: _search

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
                        case "format", "unmapped_type", "numeric_type", "missing": break
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
        guard let ms = QueryDSL.scalarString(list[0]).flatMap({ Int64($0) }) ?? (list[0] as? NSNumber).map({ Int64($0.doubleValue) }),
            abs(ms) < 9_000_000_000_000
        else {
            throw OpenSearchError.badRequest("search_after[0] must be epoch milliseconds", type: "parsing_exception")
        }
        let ns = ms * 1_000_000
        return order == .ascending ? LogPosition(timestamp: ns + 999_999, lsn: .max) : LogPosition(timestamp: ns, lsn: 0)
    }

    enum SourceFilter {
        case all
        case none
        case filter(includes: [String], excludes: [String])
    }

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

    func search(_ request: Request, context: LogStoreContext, index: String?) async throws -> Response {
        let started = ContinuousClock.now
        try Self.checkParameters(request, allowed: Self.searchParameters)
        let body = try await readBody(request)
        for key in body.keys where !Self.bodyKeys.contains(key) {
            let what = key == "aggs" || key == "aggregations" ? "aggregations are" : "[\(key)] is"
            throw OpenSearchError.badRequest("\(what) not supported by logstore's _search", type: "parsing_exception")
        }
        let dsl = try Self.query(body: body, request: request)
        // URL parameters win over the body, as in OpenSearch.
        var size = 10
        var from = 0
        if let v = body["size"] {
            guard let n = QueryDSL.int(v) else { throw OpenSearchError.badRequest("[size] must be an integer", type: "parsing_exception") }
            size = n
        }
        if let v = body["from"] {
            guard let n = QueryDSL.int(v) else { throw OpenSearchError.badRequest("[from] must be an integer", type: "parsing_exception") }
            from = n
        }
        if let n = try Self.intParameter(request, "size") { size = n }
        if let n = try Self.intParameter(request, "from") { from = n }
        guard size >= 0 else { throw OpenSearchError.badRequest("[size] parameter cannot be negative, found [\(size)]") }
        guard from >= 0 else { throw OpenSearchError.badRequest("[from] parameter cannot be negative, found [\(from)]") }
        guard from + size <= Self.maxResultWindow else {
            throw OpenSearchError.badRequest(
                "Result window is too large, from + size must be less than or equal to: [\(Self.maxResultWindow)] but was [\(from + size)]. "
                    + "Page with search_after (the sort values of the last hit) instead.")
        }
        let order = try Self.parseSort(request.uri.queryParameters["sort"].map { String($0) } ?? body["sort"])
        let after = try Self.parseSearchAfter(body["search_after"], order: order)
        if after != nil && from > 0 {
            throw OpenSearchError.badRequest("`from` parameter must be set to 0 when `search_after` is used.")
        }
        let source = try Self.parseSource(body["_source"], request: request)
        var trackTotal = true
        var totalLimit = Self.maxResultWindow
        if let v = request.uri.queryParameters["track_total_hits"].map({ String($0) }) ?? body["track_total_hits"] {
            if let n = QueryDSL.int(v) {
                totalLimit = max(0, n)
            } else if let b = v as? Bool ?? (v as? String).flatMap({ Bool($0) }) {
                trackTotal = b
                if b { totalLimit = Int.max }
            } else {
                throw OpenSearchError.badRequest("[track_total_hits] must be true, false or an integer", type: "parsing_exception")
            }
        }
        let totalAsInt = request.uri.queryParameters["rest_total_hits_as_int"] == "true"

        let streams = try selectStreams(index: index, query: dsl.query)
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        let filter: Query? = dsl.query.isMatchAll ? nil : dsl.query
        var page = LinePage.empty
        if !streams.isEmpty && size > 0 {
            page = try await storage.readLinesAsync(
                LogQuery(streams: streams.map(\.id), after: after, limit: from + size, order: order, from: dsl.from, to: dsl.to, filter: filter))
        }
        let lines = page.lines.dropFirst(from)
        let truncated = page.truncated
        // hits.total: exact from the stream statistics when no line-level predicate; from the
        // page itself when it was read from the start and not cut; else counted up to the limit.
        var total = 0
        var relation = "eq"
        if trackTotal {
            if !dsl.hasTextPredicate && !dsl.hasWindow {
                total = streams.reduce(0) { $0 + Int($1.stats.lines) }
            } else if after == nil && size > 0 && !truncated {
                total = from + lines.count
            } else {
                (total, relation) = try await countLines(streams: streams, dsl: dsl, limit: totalLimit)
            }
            if total > totalLimit {
                total = totalLimit
                relation = "gte"
            }
        }

        var json = JSONText(capacity: 256 + lines.count * 640)
        json.raw("{\"took\":")
        let took = started.duration(to: .now)
        json.number(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)
        json.raw(",\"timed_out\":false,\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0},\"hits\":{")
        if trackTotal {
            if totalAsInt {
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
        if case .all = source, Self.acceptsGzip(request), !lines.isEmpty {
            return .gzipped(writeHitsGzip(lines, of: page, keys: keys, head: json.bytes))
        }
        var out = ByteBufferAllocator().buffer(capacity: json.bytes.count + lines.count * 640 + 8)
        out.writeBytes(json.bytes)
        Self.writeHits(lines, of: page, keys: keys, source: source, into: &out)
        out.writeStaticString("]}}")
        return Self.answer(out, request: request)
    }

    /// The answer from `head` (up to `"hits":[`) on, gzip-compressed.
    ///
    /// The hits are cut into pieces, each deflated on its own (`DeflatedPiece`): one per whole
    /// sealed block (cached under the block's identity, so a later answer copies it as it is)
    /// and runs of at most `looseRun` other lines (head lines, blocks cut by the window). The
    /// pieces not in the cache are built on every core at once: a first read of a long job log
    /// is mostly JSON writing and deflate, and one answer then takes about 1/cores of it.
    func writeHitsGzip(_ lines: ArraySlice<LinePage.Ref>, of page: LinePage, keys: [StreamID: StreamKey], head: [UInt8]) -> [UInt8] {
        struct Part {
            let range: Range<Int>
            let block: BlockID?
            var piece: DeflatedPiece?
        }
        var parts: [Part] = []
        var i = lines.startIndex
        while i < lines.endIndex {
            if let (id, n) = page.wholeBlock(startingAt: i, in: lines) {
                parts.append(Part(range: i..<(i + n), block: id, piece: hitCache.get(id)))
                i += n
                continue
            }
            // Up to the next block start, at most `looseRun` lines.
            var j = i + 1
            while j < lines.endIndex, j - i < Self.looseRun, !lines[j].startsSource { j += 1 }
            parts.append(Part(range: i..<j, block: nil, piece: nil))
            i = j
        }
        let missing = parts.indices.filter { parts[$0].piece == nil }
        // The work: each missing part, big parts in slices of about (missing lines / cores) so
        // that every core gets a share (a thousand-line job is often one block); a part's
        // slices are joined back into its piece.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let parallel = cores > 1 && lines.count >= Self.parallelLines
        let missingLines = missing.reduce(0) { $0 + parts[$1].range.count }
        let slice = max(Self.parallelLines / 2, (missingLines + cores - 1) / cores)
        var tasks: [(part: Int, range: Range<Int>)] = []
        for k in missing {
            let range = parts[k].range
            let ways = parallel ? max(1, (range.count + slice / 2) / slice) : 1
            for w in 0..<ways {
                let lo = range.lowerBound + range.count * w / ways
                let hi = range.lowerBound + range.count * (w + 1) / ways
                tasks.append((k, lo..<hi))
            }
        }
        let build = { @Sendable (range: Range<Int>, leadingComma: Bool) -> DeflatedPiece in
            GzipWriter.piece(capacity: range.count * 40) { json, flush in
                if leadingComma { json.writeInteger(UInt8(ascii: ",")) }
                var r = range.lowerBound
                while r < range.upperBound {
                    let end = min(r + 64, range.upperBound)
                    if r > range.lowerBound { json.writeInteger(UInt8(ascii: ",")) }
                    Self.writeHits(lines[r..<end], of: page, keys: keys, source: .all, into: &json)
                    flush(&json)
                    r = end
                }
            }
        }
        // A slice after its part's first line starts with the comma between them.
        let work = tasks.map { ($0.range, $0.range.lowerBound != parts[$0.part].range.lowerBound) }
        var built: [DeflatedPiece] = []
        if parallel && work.count > 1 {
            let slots = Slots<DeflatedPiece>(count: work.count)
            defer { slots.deallocate() }
            DispatchQueue.concurrentPerform(iterations: work.count) { t in
                slots.set(t, build(work[t].0, work[t].1))
            }
            built = (0..<work.count).map { slots.get($0)! }
        } else {
            built = work.map { build($0.0, $0.1) }
        }
        for (t, task) in tasks.enumerated() {
            parts[task.part].piece = parts[task.part].piece.map { $0.joined(with: built[t]) } ?? built[t]
        }
        for k in missing {
            if let id = parts[k].block, let piece = parts[k].piece { hitCache.put(id, piece, size: piece.memorySize + id.memorySize) }
        }
        let gzip = GzipWriter.make(capacity: 64 + parts.reduce(0) { $0 + ($1.piece?.deflated.count ?? 0) + 16 })
        gzip.write(head)
        let comma: [UInt8] = [UInt8(ascii: ",")]
        for (k, part) in parts.enumerated() {
            guard let piece = part.piece else { continue }
            if k > 0 { gzip.write(comma) }
            gzip.append(piece)
        }
        gzip.write(Array("]}}".utf8))
        return gzip.finish()
    }

    /// Result slots written by concurrent workers, each slot by one worker only.
    struct Slots<T>: @unchecked Sendable {
        private let buffer: UnsafeMutableBufferPointer<T?>
        init(count: Int) {
            buffer = .allocate(capacity: count)
            buffer.initialize(repeating: nil)
        }
        func set(_ i: Int, _ value: T) { buffer[i] = value }
        func get(_ i: Int) -> T? { buffer[i] }
        func deallocate() {
            _ = buffer.deinitialize()
            buffer.deallocate()
        }
    }

    /// Lines of a gzip piece that is not a whole block (never cached).
    static let looseRun = 256
    /// Answers with at least this many hits build their missing pieces on all cores.
    static let parallelLines = 256

    /// The hits of `lines`, comma-separated, written from the decoded blocks in place.
    static func writeHits(
        _ lines: ArraySlice<LinePage.Ref>, of page: LinePage, keys: [StreamID: StreamKey], source: SourceFilter, into out: inout ByteBuffer
    ) {
        // `{"_index":"<index>","_id":"` once per stream.
        var prefixes: [StreamID: [UInt8]] = [:]
        for (id, key) in keys {
            var p = JSONText(capacity: 32 + key.index.utf8.count)
            p.raw("{\"_index\":")
            p.string(key.index)
            p.raw(",\"_id\":\"")
            prefixes[id] = p.bytes
        }
        let unknown = Array("{\"_index\":\"\",\"_id\":\"".utf8)
        // FluentBit repeats a container's labels on every line: the splice check of the same
        // fields bytes as the previous line's is not done again.
        var lastFields: (base: UnsafeRawPointer?, count: Int, verdict: Range<Int>??) = (nil, -1, nil)
        var first = true
        var prefix = unknown
        var prefixStream: StreamID?
        var clock = RFC3339Writer()
        // Hits whose fields cannot be spliced as they are (and `_source` filters) go through here.
        var slow = JSONText(capacity: 0)
        for line in lines {
            if line.stream != prefixStream {
                prefix = prefixes[line.stream] ?? unknown
                prefixStream = line.stream
            }
            var spliced = false
            if case .all = source {
                spliced = page.withMessageAndFields(line) { message, fields -> Bool in
                    let verdict: Range<Int>??
                    // (Lines of one block share their fields bytes: the same address.)
                    if fields.count == lastFields.count, let previous = lastFields.base, let base = fields.baseAddress,
                        previous == base || memcmp(previous, base, fields.count) == 0
                    {
                        verdict = lastFields.verdict
                    } else {
                        verdict = splicableFields(fields)
                        lastFields = (fields.baseAddress, fields.count, verdict)
                    }
                    guard let body = verdict else { return false }
                    prefix.withUnsafeBytes { prefix in
                        // the id and sort values: 4 numbers of ≤ 20 digits; keys and punctuation < 80.
                        let most = 1 + prefix.count + 160 + 2 * JSONCursor.maxTimestampCount
                            + JSONCursor.maxStringCount(message.count) + (body?.count ?? 0)
                        out.writeJSON(maxCount: most) { c in
                            if !first { c.byte(UInt8(ascii: ",")) }
                            c.raw(prefix)
                            c.number(line.lsn)
                            c.raw("\",\"_score\":null,\"_source\":{\"@timestamp\":\"")
                            c.timestamp(line.timestamp, &clock)
                            c.raw("\",\"log\":")
                            c.string(message)
                            if let body {
                                c.byte(UInt8(ascii: ","))
                                c.raw(UnsafeRawBufferPointer(rebasing: fields[body]))
                            }
                            c.byte(UInt8(ascii: "}"))
                            Self.writeSort(line, to: &c)
                        }
                    }
                    return true
                }
            }
            if !spliced {
                slow.bytes.removeAll(keepingCapacity: true)
                if !first { slow.raw(",") }
                slow.raw(prefix)
                slow.number(line.lsn)
                slow.raw("\",\"_score\":null")
                writeSource(page.logLine(line), filter: source, into: &slow)
                out.writeBytes(slow.bytes)
                out.writeJSON(maxCount: 128) { Self.writeSort(line, to: &$0) }
            }
            first = false
        }
    }

    /// `,"sort":[<epoch ms>,"<ns>-<lsn>"]}`: the end of a hit (at most 128 bytes).
    @inline(__always)
    static func writeSort(_ line: LinePage.Ref, to c: inout JSONCursor) {
        c.raw(",\"sort\":[")
        c.number(Self.epochMillis(line.timestamp))
        c.raw(",\"")
        c.number(line.timestamp)
        c.byte(UInt8(ascii: "-"))
        c.number(line.lsn)
        c.raw("\"]}")
    }

    static func epochMillis(_ ns: Int64) -> Int64 {
        ns >= 0 ? ns / 1_000_000 : (ns - 999_999) / 1_000_000
    }

    /// `,"_source":{…}` (or nothing for `_source: false`).
    /// The stored fields (a compact JSON object) without its braces, when they can be spliced
    /// into `_source` as they are: nil when they are not an object or hold their own `log` or
    /// `@timestamp` member. Byte scans only: this runs for every line of every `_search` answer.
    /// The same check on bytes: the range of the object's body (nil inside when there is
    /// nothing to add), or nil when the fields cannot be spliced.
    static func splicableFields(_ bytes: UnsafeRawBufferPointer) -> Range<Int>?? {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 { end -= 1 }
        if end - start <= 2 { return .some(nil) }  // "" or "{}": nothing to add
        guard bytes[start] == UInt8(ascii: "{"), bytes[end - 1] == UInt8(ascii: "}") else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(end - 1)])
        if contains(body, "\"log\"") || contains(body, "\"@timestamp\"") { return nil }
        return .some((start + 1)..<(end - 1))
    }

    static func splicableFields(_ fields: String) -> Substring.UTF8View?? {
        var scratch = fields
        return scratch.withUTF8 { bytes -> Substring.UTF8View?? in
            var start = 0
            var end = bytes.count
            while start < end, bytes[start] == 0x20 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 { end -= 1 }
            if end - start <= 2 { return .some(nil) }  // "" or "{}": nothing to add
            guard bytes[start] == UInt8(ascii: "{"), bytes[end - 1] == UInt8(ascii: "}") else { return nil }
            let body = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[(start + 1)..<(end - 1)])
            if contains(body, "\"log\"") || contains(body, "\"@timestamp\"") { return nil }
            let text = Substring(fields)
            let utf8 = text.utf8
            return .some(utf8[utf8.index(utf8.startIndex, offsetBy: start + 1)..<utf8.index(utf8.startIndex, offsetBy: end - 1)])
        }
    }

    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0, haystack.count >= n, let base = haystack.baseAddress else { return false }
        let first = Int32(needle.utf8Start[0])
        let end = base + haystack.count
        var p = base
        // memchr to each candidate first byte, then compare (a byte loop was 6 % of `_search`).
        while end - p >= n {
            guard let hit = memchr(p, first, end - p - n + 1) else { return false }
            if memcmp(hit, needle.utf8Start, n) == 0 { return true }
            p = UnsafeRawPointer(hit) + 1
        }
        return false
    }

    static func writeSource(_ line: LogLine, filter: SourceFilter, into json: inout JSONText) {
        let splice = splicableFields(line.fields)
        switch filter {
        case .none:
            return
        case .all where splice != nil:
            json.raw(",\"_source\":{\"@timestamp\":")
            json.string(Timestamp.formatRFC3339(line.timestamp))
            json.raw(",\"log\":")
            json.string(line.message)
            if let body = splice ?? nil {
                json.raw(",")
                json.raw(body)
            }
            json.raw("}")
        default:
            let fields = line.fields
            var object = (try? JSONSerialization.jsonObject(with: Data(fields.utf8))) as? [String: Any] ?? [:]
            object["@timestamp"] = Timestamp.formatRFC3339(line.timestamp)
            object["log"] = line.message
            if case .filter(let includes, let excludes) = filter {
                object = filterSource(object, prefix: "", includes: includes, excludes: excludes)
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            json.raw(",\"_source\":")
            json.raw([UInt8](data))
        }
    }

    /// Keeps the members whose dotted path an include pattern names (or lies under, or above),
    /// minus those an exclude pattern names.
    static func filterSource(_ object: [String: Any], prefix: String, includes: [String], excludes: [String]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in object {
            let path = prefix.isEmpty ? key : prefix + "." + key
            if excludes.contains(where: { glob($0, path) }) { continue }
            let included = includes.isEmpty || includes.contains { glob($0, path) || path.hasPrefix($0 + ".") }
            if included {
                if let child = value as? [String: Any], !excludes.isEmpty {
                    out[key] = filterSource(child, prefix: path, includes: [], excludes: excludes)
                } else {
                    out[key] = value
                }
            } else if let child = value as? [String: Any], includes.contains(where: { $0.hasPrefix(path + ".") || $0.hasPrefix("*") }) {
                let inner = filterSource(child, prefix: path, includes: includes, excludes: excludes)
                if !inner.isEmpty { out[key] = inner }
            }
        }
        return out
    }

    /// Counts matching lines by reading, up to `limit` (then relation "gte").
    func countLines(streams: [StreamInfo], dsl: QueryDSL, limit: Int) async throws -> (Int, String) {
        if streams.isEmpty { return (0, "eq") }
        if !dsl.hasTextPredicate && !dsl.hasWindow {
            let n = streams.reduce(0) { $0 + Int($1.stats.lines) }
            return n > limit ? (limit, "gte") : (n, "eq")
        }
        let filter: Query? = dsl.query.isMatchAll ? nil : dsl.query
        let ids = streams.map(\.id)
        var count = 0
        var after: LogPosition?
        // Every page moves the cursor forward; the store's line count bounds the loop.
        for _ in 0..<1_000_000 {
            let pageLimit = min(100_000, limit == Int.max ? 100_000 : limit - count + 1)
            let page = try await storage.readAsync(
                LogQuery(streams: ids, after: after, limit: max(1, pageLimit), order: .ascending, from: dsl.from, to: dsl.to, filter: filter))
            count += page.lines.count
            if count > limit { return (limit, "gte") }
            guard page.truncated, let next = page.next else { break }
            after = next
        }
        return (count, "eq")
    }

    // MARK: _count

    func count(_ request: Request, context: LogStoreContext, index: String?) async throws -> Response {
        try Self.checkParameters(request, allowed: Self.countParameters)
        let body = try await readBody(request)
        for key in body.keys where key != "query" {
            throw OpenSearchError.badRequest("[\(key)] is not supported by _count; give only [query]", type: "parsing_exception")
        }
        let dsl = try Self.query(body: body, request: request)
        let streams = try selectStreams(index: index, query: dsl.query)
        let (n, _) = try await countLines(streams: streams, dsl: dsl, limit: Int.max)
        var json = JSONText(capacity: 128)
        json.raw("{\"count\":")
        json.number(n)
        json.raw(",\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0}}")
        return Self.answer(json.bytes, request: request)
    }

    // MARK: Answers

    /// JSON, gzip-compressed when the client accepts it (opensearch-py with http_compress does;
    /// so do browsers and `curl --compressed` on the native API's answers).
    static func answer(_ bytes: [UInt8], request: Request) -> Response {
        answer(bytes, gzip: acceptsGzip(request))
    }

    /// JSON, gzip-compressed (level 1) when `gzip` and longer than 256 bytes.
    static func answer(_ bytes: [UInt8], gzip: Bool) -> Response {
        guard gzip, bytes.count > 256 else { return .json(bytes) }
        return .gzipped(ContentDecoder.gzip(bytes, level: 1))
    }

    /// `answer(_:request:)` for a body written into a buffer.
    static func answer(_ buffer: ByteBuffer, request: Request) -> Response {
        guard acceptsGzip(request), buffer.readableBytes > 256 else { return .json(buffer) }
        return .gzipped(ContentDecoder.gzip(Array(buffer.readableBytesView), level: 1))
    }

    static func acceptsGzip(_ request: Request) -> Bool {
        request.headers[.acceptEncoding]?.lowercased().contains("gzip") ?? false
    }

}
