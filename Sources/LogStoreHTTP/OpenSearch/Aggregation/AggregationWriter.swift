import Foundation
import LogStore

/// AggregationWriter writes collected aggregations in OpenSearch's answer shapes: buckets with
/// `key`, `key_as_string` (dates, booleans), `doc_count`; `terms`' `sum_other_doc_count` and
/// `doc_count_error_upper_bound` (0: one shard counts exactly); metrics' `value` (and
/// `value_as_string` for dates); `percentiles`' `values`; `top_hits`' `hits`.
struct AggregationWriter {
    /// `typed_keys`: names written as `type#name`.
    var typedKeys = false
    /// The stream keys of the lines `top_hits` return (their `_index`).
    var keys: [StreamID: StreamKey] = [:]
    /// The `_id` of a line `top_hits` returns.
    var documentID: (LogLine) -> String = { Storage.generatedID($0.lsn) }
    private var formatters: [String: DateFormatter] = [:]
    private var buckets = 0

    init(typedKeys: Bool, keys: [StreamID: StreamKey]) {
        self.typedKeys = typedKeys
        self.keys = keys
    }

    /// `{"name":{…},…}` for `states`.
    mutating func write(_ states: [AggregationState], into json: inout JSONText) throws {
        json.raw("{")
        for (i, state) in states.enumerated() {
            if i > 0 { json.raw(",") }
            json.string(typedKeys ? state.spec.typeName + "#" + state.spec.name : state.spec.name)
            json.raw(":")
            try write(state, into: &json)
        }
        json.raw("}")
    }

    static func number(_ d: Double, into json: inout JSONText) {
        if !d.isFinite {
            json.raw("null")
        } else {
            json.raw(String(d))
        }
    }

    private mutating func count(_ n: Int) throws {
        buckets += n
        if buckets > AggregationParser.maxBuckets {
            throw OpenSearchError.badRequest(
                "Trying to create too many buckets. Must be less than or equal to: [\(AggregationParser.maxBuckets)] but was [\(buckets)]. "
                    + "Use a coarser interval or a narrower time range.",
                type: "too_many_buckets_exception")
        }
    }

    private mutating func bucketBody(_ bucket: BucketState, into json: inout JSONText) throws {
        json.raw("\"doc_count\":")
        json.number(bucket.docCount)
        for sub in bucket.subs {
            json.raw(",")
            json.string(typedKeys ? sub.spec.typeName + "#" + sub.spec.name : sub.spec.name)
            json.raw(":")
            try write(sub, into: &json)
        }
    }

    /// Orders `list` by `order` (metric values through the buckets' sub-aggregations).
    static func sort(_ list: inout [(key: FieldValue, bucket: BucketState)], _ order: BucketOrder) {
        func metric(_ b: BucketState, _ name: String, _ stat: String?) -> Double? {
            b.subs.first { $0.spec.name == name }?.orderValue(stat: stat)
        }
        list.sort { a, b in
            for (key, ascending) in order.keys {
                switch key {
                case .count:
                    if a.bucket.docCount != b.bucket.docCount { return ascending ? a.bucket.docCount < b.bucket.docCount : a.bucket.docCount > b.bucket.docCount }
                case .key:
                    if a.key != b.key { return ascending ? a.key < b.key : b.key < a.key }
                case .metric(let name, let stat):
                    let x = metric(a.bucket, name, stat)
                    let y = metric(b.bucket, name, stat)
                    if x != y {
                        // Buckets without a value come last either way.
                        guard let x else { return false }
                        guard let y else { return true }
                        return ascending ? x < y : x > y
                    }
                }
            }
            return false
        }
    }

    mutating func write(_ state: AggregationState, into json: inout JSONText) throws {
        switch state.spec.kind {
        case .dateHistogram(let d):
            var list = state.keyed.map { (key: $0.key, bucket: $0.value) }
            if d.minDocCount == 0, let rounding = state.rounding {
                var present = Set(state.keyed.keys.compactMap { $0.number.map { Int64($0) } })
                var lo = present.min()
                var hi = present.max()
                if let e = d.extendedBounds.min { lo = Swift.min(lo ?? Int64.max, rounding.round(e)) }
                if let e = d.extendedBounds.max { hi = Swift.max(hi ?? Int64.min, rounding.round(e)) }
                if let hb = d.hardBounds.min, let l = lo { lo = Swift.max(l, rounding.round(hb)) }
                if let hb = d.hardBounds.max, let h = hi { hi = Swift.min(h, hb) }
                if var key = lo, let hi {
                    var added = 0
                    while key <= hi {
                        if !present.contains(key) {
                            list.append((.number(Double(key)), state.emptyBucket()))
                            present.insert(key)
                            added += 1
                            try count(added > AggregationParser.maxBuckets ? added : 0)
                            if added > AggregationParser.maxBuckets { break }
                        }
                        let next = rounding.next(key)
                        if next <= key { break }
                        key = next
                    }
                }
            } else {
                list.removeAll { $0.bucket.docCount < d.minDocCount }
            }
            Self.sort(&list, d.order)
            try count(list.count)
            json.raw(d.keyed ? "{\"buckets\":{" : "{\"buckets\":[")
            for (i, item) in list.enumerated() {
                if i > 0 { json.raw(",") }
                let ms = Int64(item.key.number ?? 0)
                let text = d.format.format(ms, zone: d.zone, formatters: &formatters)
                if d.keyed {
                    json.string(text)
                    json.raw(":")
                }
                json.raw("{\"key_as_string\":")
                json.string(text)
                json.raw(",\"key\":")
                json.number(ms)
                json.raw(",")
                try bucketBody(item.bucket, into: &json)
                json.raw("}")
            }
            json.raw(d.keyed ? "}}" : "]}")
        case .histogram(let h):
            var list = state.keyed.map { (key: $0.key, bucket: $0.value) }
            if h.minDocCount == 0 {
                let present = Set(state.keyed.keys.compactMap(\.number))
                var lo = present.min()
                var hi = present.max()
                func floorKey(_ v: Double) -> Double { ((v - h.offset) / h.interval).rounded(.down) * h.interval + h.offset }
                if let e = h.extendedBounds.min { lo = Swift.min(lo ?? .infinity, floorKey(e)) }
                if let e = h.extendedBounds.max { hi = Swift.max(hi ?? -.infinity, floorKey(e)) }
                if let lo, let hi {
                    let first = ((lo - h.offset) / h.interval).rounded()
                    let last = ((hi - h.offset) / h.interval).rounded()
                    guard last - first < Double(AggregationParser.maxBuckets) else {
                        try count(AggregationParser.maxBuckets + 1)
                        return
                    }
                    var k = first
                    while k <= last {
                        let key = k * h.interval + h.offset
                        if !present.contains(key) { list.append((.number(key), state.emptyBucket())) }
                        k += 1
                    }
                }
            } else {
                list.removeAll { $0.bucket.docCount < h.minDocCount }
            }
            Self.sort(&list, h.order)
            try count(list.count)
            json.raw(h.keyed ? "{\"buckets\":{" : "{\"buckets\":[")
            for (i, item) in list.enumerated() {
                if i > 0 { json.raw(",") }
                if h.keyed {
                    json.string(String(item.key.number ?? 0))
                    json.raw(":")
                }
                json.raw("{\"key\":")
                Self.number(item.key.number ?? 0, into: &json)
                json.raw(",")
                try bucketBody(item.bucket, into: &json)
                json.raw("}")
            }
            json.raw(h.keyed ? "}}" : "]}")
        case .terms(let t):
            var list = state.keyed.map { (key: $0.key, bucket: $0.value) }.filter { $0.bucket.docCount >= t.minDocCount }
            Self.sort(&list, t.order)
            let shown = list.prefix(t.size)
            let other = list.dropFirst(t.size).reduce(0) { $0 + $1.bucket.docCount }
            try count(shown.count)
            json.raw("{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":")
            json.number(other)
            json.raw(",\"buckets\":[")
            for (i, item) in shown.enumerated() {
                if i > 0 { json.raw(",") }
                json.raw("{\"key\":")
                switch item.key {
                case .string(let s): json.string(s)
                case .number(let d):
                    if t.field.isDate || t.field.isTimestamp {
                        json.number(Int64(d))
                        json.raw(",\"key_as_string\":")
                        json.string(DateFormat.iso.format(Int64(d), zone: .utc, formatters: &formatters))
                    } else if d == d.rounded(), abs(d) < 9e15 {
                        json.number(Int64(d))
                    } else {
                        Self.number(d, into: &json)
                    }
                case .bool(let b):
                    json.raw(b ? "1,\"key_as_string\":\"true\"" : "0,\"key_as_string\":\"false\"")
                }
                json.raw(",")
                try bucketBody(item.bucket, into: &json)
                json.raw("}")
            }
            json.raw("]}")
        case .filters(let f) where f.single:
            json.raw("{")
            try bucketBody(state.positional[0], into: &json)
            json.raw("}")
        case .filters(let f):
            try count(state.positional.count)
            json.raw(f.keyed ? "{\"buckets\":{" : "{\"buckets\":[")
            for (i, bucket) in state.positional.enumerated() {
                if i > 0 { json.raw(",") }
                if f.keyed {
                    json.string(i < f.filters.count ? f.filters[i].name ?? String(i) : f.otherBucketKey ?? "_other_")
                    json.raw(":")
                }
                json.raw("{")
                try bucketBody(bucket, into: &json)
                json.raw("}")
            }
            json.raw(f.keyed ? "}}" : "]}")
        case .range(let r):
            try count(state.positional.count)
            json.raw(r.keyed ? "{\"buckets\":{" : "{\"buckets\":[")
            for (i, range) in r.ranges.enumerated() {
                if i > 0 { json.raw(",") }
                func text(_ v: Double?) -> String {
                    guard let v else { return "*" }
                    return r.isDate ? r.format.format(Int64(v), zone: r.zone, formatters: &formatters) : String(v)
                }
                let key = range.key ?? text(range.from) + "-" + text(range.to)
                if r.keyed {
                    json.string(key)
                    json.raw(":{")
                } else {
                    json.raw("{\"key\":")
                    json.string(key)
                    json.raw(",")
                }
                if let from = range.from {
                    json.raw("\"from\":")
                    Self.number(from, into: &json)
                    if r.isDate {
                        json.raw(",\"from_as_string\":")
                        json.string(text(from))
                    }
                    json.raw(",")
                }
                if let to = range.to {
                    json.raw("\"to\":")
                    Self.number(to, into: &json)
                    if r.isDate {
                        json.raw(",\"to_as_string\":")
                        json.string(text(to))
                    }
                    json.raw(",")
                }
                try bucketBody(state.positional[i], into: &json)
                json.raw("}")
            }
            json.raw(r.keyed ? "}}" : "]}")
        case .metric(let m):
            writeMetric(m, state, into: &json)
        case .topHits:
            json.raw("{\"hits\":{\"total\":{\"value\":")
            json.number(state.hitCount)
            json.raw(",\"relation\":\"eq\"},\"max_score\":null,\"hits\":[")
            guard case .topHits(let t) = state.spec.kind else { return }
            for (i, line) in state.hits.dropFirst(t.from).enumerated() {
                if i > 0 { json.raw(",") }
                json.raw("{\"_index\":")
                json.string(keys[line.stream]?.index ?? "")
                json.raw(",\"_id\":")
                json.string(documentID(line))
                json.raw(",\"_score\":null")
                SourceWriter.writeSource(line, filter: t.source, into: &json)
                json.raw(",\"sort\":[")
                json.number(HitWriter.epochMillis(line.timestamp))
                json.raw("]}")
            }
            json.raw("]}}")
        }
    }

    private mutating func writeMetric(_ m: Metric, _ state: AggregationState, into json: inout JSONText) {
        var s = state.metric
        let format = m.format
        func value(_ name: String, _ v: Double?, _ comma: Bool = true) {
            if comma { json.raw(",") }
            json.string(name)
            json.raw(":")
            guard let v else {
                json.raw("null")
                return
            }
            Self.number(v, into: &json)
            if let format {
                json.raw(",")
                json.string(name + "_as_string")
                json.raw(":")
                json.string(format.format(Int64(v.rounded(.down)), zone: .utc, formatters: &formatters))
            }
        }
        let some = s.count > 0
        json.raw("{")
        switch m.kind {
        case .min: value("value", some ? s.min : nil, false)
        case .max: value("value", some ? s.max : nil, false)
        case .avg: value("value", some ? s.sum / Double(s.count) : nil, false)
        case .sum:
            json.raw("\"value\":")
            Self.number(s.sum, into: &json)
        case .valueCount:
            json.raw("\"value\":")
            json.number(s.count)
        case .cardinality:
            json.raw("\"value\":")
            json.number(s.cardinality?.estimate ?? 0)
        case .stats, .extendedStats:
            json.raw("\"count\":")
            json.number(s.count)
            value("min", some ? s.min : nil)
            value("max", some ? s.max : nil)
            value("avg", some ? s.sum / Double(s.count) : nil)
            json.raw(",\"sum\":")
            Self.number(s.sum, into: &json)
            if case .extendedStats = m.kind {
                let n = Double(s.count)
                let mean = some ? s.sum / n : 0
                let variance = some ? Swift.max(0, s.sumOfSquares / n - mean * mean) : nil
                let sampling = s.count > 1 ? Swift.max(0, (s.sumOfSquares - n * mean * mean) / (n - 1)) : nil
                json.raw(",\"sum_of_squares\":")
                if some { Self.number(s.sumOfSquares, into: &json) } else { json.raw("null") }
                for (name, v) in [
                    ("variance", variance), ("variance_population", variance), ("variance_sampling", sampling),
                    ("std_deviation", variance.map { $0.squareRoot() }), ("std_deviation_population", variance.map { $0.squareRoot() }),
                    ("std_deviation_sampling", sampling.map { $0.squareRoot() }),
                ] {
                    json.raw(",")
                    json.string(name)
                    json.raw(":")
                    if let v { Self.number(v, into: &json) } else { json.raw("null") }
                }
                let sd = variance.map { $0.squareRoot() }
                json.raw(",\"std_deviation_bounds\":{\"upper\":")
                if let sd { Self.number(mean + 2 * sd, into: &json) } else { json.raw("null") }
                json.raw(",\"lower\":")
                if let sd { Self.number(mean - 2 * sd, into: &json) } else { json.raw("null") }
                json.raw("}")
            }
        case .percentiles(let percents, let keyed):
            json.raw(keyed ? "\"values\":{" : "\"values\":[")
            for (i, p) in percents.enumerated() {
                if i > 0 { json.raw(",") }
                let v = s.percentile(p)
                if keyed {
                    json.string(String(p))
                    json.raw(":")
                    if let v { Self.number(v, into: &json) } else { json.raw("null") }
                } else {
                    json.raw("{\"key\":")
                    Self.number(p, into: &json)
                    json.raw(",\"value\":")
                    if let v { Self.number(v, into: &json) } else { json.raw("null") }
                    json.raw("}")
                }
            }
            json.raw(keyed ? "}" : "]")
        }
        json.raw("}")
        state.metric = s
    }
}
