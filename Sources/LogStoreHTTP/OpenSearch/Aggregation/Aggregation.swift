import Foundation
import LogStore

/// One aggregation of a `_search` body (`"aggs": {name: {type: {…}, "aggs": {…}}}`), parsed by
/// ``AggregationParser``, computed by ``AggregationCollector`` over the matching lines and
/// written by ``AggregationWriter`` in OpenSearch's answer shapes.
struct Aggregation: Sendable {
    let name: String
    let kind: Kind
    let subs: [Aggregation]

    enum Kind: Sendable {
        case dateHistogram(DateHistogram)
        case histogram(Histogram)
        case terms(Terms)
        case filters(Filters)
        case range(Ranges)
        case metric(Metric)
        case topHits(TopHits)
    }

    /// The OpenSearch type name (`typed_keys` prefixes it to the name).
    var typeName: String {
        switch kind {
        case .dateHistogram: return "date_histogram"
        case .histogram: return "histogram"
        case .terms(let t): return t.field.isDate ? "lterms" : "sterms"
        case .filters(let f): return f.single ? "filter" : "filters"
        case .range(let r): return r.isDate ? "date_range" : "range"
        case .metric(let m):
            switch m.kind {
            case .percentiles: return "tdigest_percentiles"
            default: return m.kind.name
            }
        case .topHits: return "top_hits"
        }
    }

    /// True when this aggregation or one below reads a field other than `@timestamp`.
    var readsFields: Bool {
        if case .filters = kind { return true }
        if case .topHits = kind { return true }
        if let f = field, !f.isTimestamp { return true }
        return subs.contains { $0.readsFields }
    }

    var field: AggregationField? {
        switch kind {
        case .dateHistogram(let d): return d.field
        case .histogram(let h): return h.field
        case .terms(let t): return t.field
        case .range(let r): return r.field
        case .metric(let m): return m.field
        case .filters, .topHits: return nil
        }
    }
}

/// A field an aggregation reads: the line's time, its message, its index, or a dotted path in
/// its stored fields (nested objects and flat dotted keys alike).
struct AggregationField: Sendable, Hashable {
    enum Source: Sendable, Hashable {
        case timestamp
        case message
        case index
        /// A path in the fields object, with its slot in the request's path set.
        case path(String, slot: Int)
    }
    let name: String
    var source: Source
    /// Values are dates (epoch milliseconds): `@timestamp`, or a field read by a date aggregation.
    var isDate: Bool

    var isTimestamp: Bool { source == .timestamp }
}

/// A value read from a line, as aggregations compare and group them.
enum FieldValue: Hashable, Sendable, Comparable {
    case bool(Bool)
    case number(Double)
    case string(String)

    var number: Double? {
        switch self {
        case .number(let d): return d
        case .bool(let b): return b ? 1 : 0
        case .string: return nil
        }
    }

    static func < (a: FieldValue, b: FieldValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return !x && y
        case (.number(let x), .number(let y)): return x < y
        case (.string(let x), .string(let y)): return x < y
        case (.bool, _): return true
        case (.number, .string): return true
        default: return false
        }
    }
}

struct DateHistogram: Sendable {
    let field: AggregationField
    let interval: DateStep
    let zone: AggregationTimeZone
    let offset: Int64
    let minDocCount: Int
    let extendedBounds: (min: Int64?, max: Int64?)
    let hardBounds: (min: Int64?, max: Int64?)
    let format: DateFormat
    let keyed: Bool
    let missing: Int64?
    let order: BucketOrder
}

struct Histogram: Sendable {
    let field: AggregationField
    let interval: Double
    let offset: Double
    let minDocCount: Int
    let extendedBounds: (min: Double?, max: Double?)
    let keyed: Bool
    let missing: Double?
    let order: BucketOrder
}

/// How a bucket aggregation orders its buckets.
struct BucketOrder: Sendable {
    enum Key: Sendable, Equatable {
        case count
        case key
        /// A metric sub-aggregation's value (`name` or `name.stat`).
        case metric(name: String, stat: String?)
    }
    var keys: [(key: Key, ascending: Bool)]
}

struct Terms: Sendable {
    let field: AggregationField
    let size: Int
    let minDocCount: Int
    let missing: FieldValue?
    let order: BucketOrder
    let include: Set<String>?
    let exclude: Set<String>
}

struct Filters: Sendable {
    /// Named filters (keyed answer) or anonymous ones (a list), each with its query.
    let filters: [(name: String?, query: FilterQuery)]
    let keyed: Bool
    let otherBucketKey: String?
    /// `filter`: one bucket, answered as `{"doc_count":N,…}`.
    let single: Bool
}

struct Ranges: Sendable {
    struct Range: Sendable {
        let key: String?
        let from: Double?
        let to: Double?
    }
    let field: AggregationField
    let ranges: [Range]
    let keyed: Bool
    let isDate: Bool
    let format: DateFormat
    let zone: AggregationTimeZone
    let missing: Double?
}

struct Metric: Sendable {
    enum Kind: Sendable, Equatable {
        case min, max, avg, sum, valueCount, stats, extendedStats, cardinality(threshold: Int), percentiles([Double], keyed: Bool)

        var name: String {
            switch self {
            case .min: return "min"
            case .max: return "max"
            case .avg: return "avg"
            case .sum: return "sum"
            case .valueCount: return "value_count"
            case .stats: return "stats"
            case .extendedStats: return "extended_stats"
            case .cardinality: return "cardinality"
            case .percentiles: return "percentiles"
            }
        }
    }
    let kind: Kind
    let field: AggregationField
    let missing: FieldValue?
    let format: DateFormat?
}

struct TopHits: Sendable {
    let size: Int
    let from: Int
    let ascending: Bool
    let source: SourceFilter
}
