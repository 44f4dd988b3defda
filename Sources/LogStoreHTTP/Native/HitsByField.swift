import Foundation
import Hummingbird
import LogStore
import LogStoreIngest

extension SearchController {
    /// `/v1/hits?by=FIELD` for a field other than `job` and `workflow`: the counts per time
    /// bucket and per value of FIELD (a dotted path in the lines' fields, `_index`, or the
    /// message), as `"by_FIELD":{"value":count,…}`. A line counts once per distinct value; lines
    /// without the field are counted in the buckets and the total, not under `by_FIELD`.
    func hits(
        _ query: Query, from: Int64?, to: Int64?, step: Int64, byField name: String, request: Request, context: LogStoreContext
    ) async throws -> Response {
        guard !name.isEmpty, name.utf8.count <= 512 else { throw OpenSearchError.badRequest("by must name a field (at most 512 bytes)") }
        var parser = AggregationParser()
        let field = try parser.field(["field": name], name: "by", type: "hits", date: false)
        let paths = parser.paths
        let deadline = storage.queryDeadline()
        let visit = LineVisit(query: query, from: from, to: to, deadline: deadline)
        let json = try await connections.cancelling(deadline, whenClosed: context.channel) {
            try await storage.visitLinesAsync(visit) { storage, visit -> [UInt8] in
                let fields = LineFields(paths: paths)
                var buckets: [Int64: Int] = [:]
                var groups: [String: Int] = [:]
                var total = 0
                try storage.visitLines(visit) { line in
                    total += 1
                    let ts = line.timestamp
                    buckets[ts >= 0 ? ts / step * step : ((ts + 1) / step - 1) * step, default: 0] += 1
                    fields.load(line.fields)
                    let l = AggregationLine(
                        timestamp: line.timestamp, lsn: line.lsn, stream: line.stream, key: line.key, message: line.message,
                        rawFields: line.fields, fields: fields)
                    var seen = Set<String>()
                    for value in l.values(field) {
                        let text = AggregationParser.text(value)
                        if seen.insert(text).inserted {
                            if groups[text] == nil && groups.count >= AggregationCollector.maxKeys {
                                throw OpenSearchError.badRequest(
                                    "[\(name)] has more than \(AggregationCollector.maxKeys) distinct values in the window; narrow it",
                                    type: "too_many_buckets_exception")
                            }
                            groups[text, default: 0] += 1
                        }
                    }
                }
                // The shape of `HitsResult.json`, then by_FIELD.
                var text = JSONText()
                text.raw("{\"total\":")
                text.number(total)
                text.raw(",\"buckets\":[")
                for (i, (start, count)) in buckets.sorted(by: { $0.key < $1.key }).enumerated() {
                    if i > 0 { text.raw(",") }
                    text.raw("{\"start\":")
                    text.string(Timestamp.formatRFC3339(start))
                    text.raw(",\"count\":")
                    text.number(count)
                    text.raw("}")
                }
                text.raw("]")
                text.raw(",")
                text.string("by_" + name)
                text.raw(":{")
                for (i, (value, count)) in groups.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }).enumerated() {
                    if i > 0 { text.raw(",") }
                    text.string(value)
                    text.raw(":")
                    text.number(count)
                }
                text.raw("}}")
                return text.bytes
            }
        }
        return JSONAnswer.answer(json, request: request)
    }
}
