import Foundation
import Hummingbird
import LogStore
import NIOCore

/// What `_search` computed besides its page of hits.
struct AggregationAnswer: Sendable {
    /// `{"name":{…},…}`: the `aggregations` member.
    var json: [UInt8]
    /// The number of lines the query matches (exact).
    var total: Int
}

extension OpenSearchController {
    /// Computes `aggregations` over the lines `dsl` matches in `streams` (committed at or before
    /// `throughLSN` when set) on a background thread, and writes them. A lone `terms` on `_index`
    /// is counted by `Storage.hits` from per-stream counts; `date_histogram`s of `@timestamp` and
    /// `terms` (with such a `date_histogram` below) take whole blocks from `Storage.visitBlocks`
    /// where the index proves their counts and values (timestamp columns only, no messages).
    func aggregate(
        _ aggregations: [Aggregation], paths: [String], dsl: QueryDSL, streams: [StreamInfo], index: String?, throughLSN: LSN?,
        typedKeys: Bool, deadline: QueryDeadline, context: LogStoreContext
    ) async throws -> AggregationAnswer {
        let storage = self.storage
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        if streams.isEmpty {
            return try await blocking {
                let collector = AggregationCollector(aggregations, paths: paths)
                var writer = AggregationWriter(typedKeys: typedKeys, keys: keys)
                var json = JSONText()
                try writer.write(collector.roots, into: &json)
                return AggregationAnswer(json: json.bytes, total: 0)
            }
        }
        var query = dsl.query
        if let index, !IndexPattern(index).isAll {
            let names = Set(streams.map(\.key.index)).sorted()
            query = Query.and([query, .or(names.map { .field(.index, $0) })]).normalized()
        }
        if throughLSN == nil, Self.countsPerStream(aggregations) {
            // `terms` on `_index`: every line of a stream has its stream's index, so the counts
            // per stream `Storage.hits` keeps (from the index where it knows them) are the answer.
            let (from, to) = (dsl.from, dsl.to)
            let result = try await connections.cancelling(deadline, whenClosed: context.channel) {
                try await storage.hitsAsync(query, from: from, to: to, step: Self.wholeTime, deadline: deadline)
            }
            return try await blocking {
                let collector = AggregationCollector(aggregations, paths: paths)
                try collector.roots[0].addStreamCounts(result.byStream, keys: keys)
                var writer = AggregationWriter(typedKeys: typedKeys, keys: keys)
                var json = JSONText()
                try writer.write(collector.roots, into: &json)
                return AggregationAnswer(json: json.bytes, total: result.total)
            }
        }
        let visit = LineVisit(query: dsl.query, streams: Set(streams.map(\.id)), from: dsl.from, to: dsl.to, throughLSN: throughLSN, deadline: deadline)
        return try await connections.cancelling(deadline, whenClosed: context.channel) {
            try await storage.visitLinesAsync(visit) { storage, visit in
                let collector = AggregationCollector(aggregations, paths: paths)
                if collector.takesBlocks {
                    try storage.visitBlocks(
                        visit, valuePath: collector.blockValuePath, wantsTimestamps: { collector.wantsTimestamps($0) },
                        block: { try collector.collect(block: $0) }, line: { try collector.collect($0) })
                } else {
                    try storage.visitLines(visit) { try collector.collect($0) }
                }
                var writer = AggregationWriter(typedKeys: typedKeys, keys: keys)
                writer.documentID = { storage.documentID(timestamp: $0.timestamp, lsn: $0.lsn) }
                var json = JSONText()
                try writer.write(collector.roots, into: &json)
                return AggregationAnswer(json: json.bytes, total: collector.total)
            }
        }
    }

    /// A bucket width wider than any line's time (one bucket: blocks are counted from the index).
    static let wholeTime: Int64 = 1 << 62

    /// True when `aggregations` is one `terms` on `_index` without sub-aggregations.
    static func countsPerStream(_ aggregations: [Aggregation]) -> Bool {
        guard aggregations.count == 1, aggregations[0].subs.isEmpty, case .terms(let t) = aggregations[0].kind, t.field.source == .index
        else { return false }
        return true
    }

    /// Hits written with their `highlight` (the slow path: each hit's `_source` through
    /// `SourceWriter`).
    static func writeHighlightedHits(
        _ lines: ArraySlice<LinePage.Ref>, of page: LinePage, keys: [StreamID: StreamKey], ids: [LSN: String], source: SourceFilter,
        highlight: Highlight,
        query: Query, into json: inout JSONText
    ) throws(OpenSearchError) {
        let (tokens, prefixes) = Highlight.terms(query)
        var left = Highlight.maxAnswerBytes
        for (i, ref) in lines.enumerated() {
            if i > 0 { json.raw(",") }
            let line = page.logLine(ref)
            json.raw("{\"_index\":")
            json.string(keys[ref.stream]?.index ?? "")
            json.raw(",\"_id\":")
            json.string(ids[ref.lsn] ?? Storage.generatedID(ref.lsn))
            json.raw(",\"_score\":null")
            SourceWriter.writeSource(line, filter: source, into: &json)
            if let marked = try highlight.mark(line.message, tokens: tokens, prefixes: prefixes, limit: left) {
                left -= marked.utf8.count * highlight.fields.count
                if left < 0 { throw Highlight.tooLarge() }
                json.raw(",\"highlight\":{")
                for (k, name) in highlight.fields.enumerated() {
                    if k > 0 { json.raw(",") }
                    json.string(name)
                    json.raw(":[")
                    json.string(marked)
                    json.raw("]")
                }
                json.raw("}")
            }
            json.raw(",\"sort\":[")
            json.number(HitWriter.epochMillis(ref.timestamp))
            json.raw(",\"")
            json.number(ref.timestamp)
            json.raw("-")
            json.number(ref.lsn)
            json.raw("\"]}")
        }
    }
}
