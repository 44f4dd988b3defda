import Foundation
import Hummingbird
import LogStore
import NIOCore

extension OpenSearchController {
    /// `_search` with a sort on document fields: every matching line is visited once off the
    /// event loop (within the query deadline), the best `from + size` kept by
    /// ``Storage/sortedSearch(_:)``; `hits.total` is the exact count of that visit.
    func sortedSearch(
        _ request: Request, context: LogStoreContext, index: String?, search: OpenSearchRequest, sort: SearchSort, extras: SearchExtras,
        body: [String: Any], started: ContinuousClock.Instant
    ) async throws -> Response {
        if request.uri.queryParameters["scroll"] != nil {
            throw OpenSearchError.badRequest(
                "scroll with a sort on a field is not supported by logstore; page with search_after (and a pit) instead",
                type: "illegal_argument_exception")
        }
        if extras.highlight != nil {
            throw OpenSearchError.badRequest("[highlight] with a sort on a field is not supported by logstore", type: "illegal_argument_exception")
        }
        let dsl = search.dsl
        let snapshot = try snapshotOf(extras, body: body, request: request, index: index)
        let streams = try selectStreams(index: snapshot?.index ?? index, query: dsl.query)
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        let deadline = storage.queryDeadline()
        var sorted = SortedPage.empty
        if !streams.isEmpty && (search.size > 0 || (search.trackTotal && extras.aggregations == nil)) {
            let query = SortedSearch(
                visit: LineVisit(
                    query: dsl.query, streams: Set(streams.map(\.id)), from: dsl.from, to: dsl.to, throughLSN: snapshot?.lsn, deadline: deadline),
                keys: sort.keys, tieDescending: sort.tieDescending, after: search.sortAfter, limit: search.from + search.size)
            let storage = storage
            sorted = try await connections.cancelling(deadline, whenClosed: context.channel) { try await storage.sortedSearchAsync(query) }
        }
        var aggregated: AggregationAnswer?
        if let aggregations = extras.aggregations {
            aggregated = try await aggregate(
                aggregations, paths: extras.paths, dsl: dsl, streams: streams, index: snapshot?.index ?? index, throughLSN: snapshot?.lsn,
                typedKeys: extras.typedKeys, deadline: deadline, context: context)
        }
        var total = aggregated?.total ?? sorted.total
        var relation = "eq"
        if total > search.totalLimit {
            total = search.totalLimit
            relation = "gte"
        }
        let lines = sorted.page.lines.dropFirst(search.from)
        let values = sorted.values.dropFirst(search.from)

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
        let ids = storage.documentIDs(for: lines)
        // Each hit as the log-order writer writes it, its `sort` tail replaced by the field values.
        var hit = ByteBufferAllocator().buffer(capacity: 1024)
        var tail = ByteBufferAllocator().buffer(capacity: 128)
        for (n, (line, lineValues)) in zip(lines, values).enumerated() {
            hit.clear()
            tail.clear()
            HitWriter.writeHits(sorted.page.lines[(search.from + n)...(search.from + n)], of: sorted.page, keys: keys, source: search.source, ids: ids, into: &hit)
            tail.writeJSON(maxCount: 128) { HitWriter.writeSort(line, to: &$0) }
            let bytes = hit.readableBytesView
            guard bytes.count >= tail.readableBytes, bytes.suffix(tail.readableBytes).elementsEqual(tail.readableBytesView) else {
                throw OpenSearchError(.internalServerError, type: "exception", reason: "a hit does not end with its sort values")
            }
            if n > 0 { json.raw(",") }
            json.raw(bytes.dropLast(tail.readableBytes))
            SearchSort.writeSortValues(lineValues, position: line.position, to: &json)
        }
        json.raw("]}")
        if let aggregated {
            json.raw(",\"aggregations\":")
            json.raw(aggregated.json)
        }
        if let snapshot {
            json.raw(",\"pit_id\":")
            json.string(snapshot.id)
        }
        json.raw("}")
        return JSONAnswer.answer(json.bytes, request: request)
    }
}
