import Foundation
import LogStore

/// AggregationParser reads the `aggs` (or `aggregations`) member of a `_search` body into
/// ``Aggregation``s. An unknown aggregation type, an unknown or unsupported option or a
/// malformed value is a 400 naming it, in OpenSearch's words; nothing is silently ignored
/// except options that change nothing on one shard (`shard_size`, `execution_hint`, …).
struct AggregationParser {
    /// The most aggregations one request may hold, and their deepest nesting.
    static let maxAggregations = 100
    static let maxDepth = 8
    /// The most buckets one answer may hold (OpenSearch's `search.max_buckets`).
    static let maxBuckets = 65_535

    static let supportedTypes =
        "date_histogram, histogram, terms, filters, filter, range, date_range, min, max, avg, sum, value_count, stats, "
        + "extended_stats, cardinality, percentiles, top_hits"

    /// The dotted field paths read from the lines' stored fields, by slot.
    private(set) var paths: [String] = []
    private var count = 0

    /// Parses `value` (the body's `aggs` object). Returns the aggregations and the field paths
    /// their slots refer to.
    static func parse(_ value: Any) throws -> (aggregations: [Aggregation], paths: [String]) {
        var parser = AggregationParser()
        let aggregations = try parser.aggregations(value, path: "aggs", depth: 1)
        return (aggregations, parser.paths)
    }

    static func bad(_ reason: String, type: String = "parsing_exception") -> OpenSearchError {
        OpenSearchError.badRequest(reason, type: type)
    }

    mutating func aggregations(_ value: Any, path: String, depth: Int) throws -> [Aggregation] {
        guard let object = value as? [String: Any] else { throw Self.bad("[\(path)] must be an object of named aggregations") }
        guard depth <= Self.maxDepth else { throw Self.bad("aggregations are nested deeper than \(Self.maxDepth) levels at [\(path)]") }
        var out: [Aggregation] = []
        for name in object.keys.sorted() {
            guard let body = object[name] as? [String: Any] else {
                throw Self.bad("Expected [START_OBJECT] under [\(name)], but got a \(type(of: object[name]!))")
            }
            count += 1
            guard count <= Self.maxAggregations else { throw Self.bad("a request may hold at most \(Self.maxAggregations) aggregations") }
            var typeName: String?
            var subs: Any?
            for (key, v) in body {
                switch key {
                case "aggs", "aggregations":
                    guard subs == nil else { throw Self.bad("Found two sub aggregation definitions under [\(name)]") }
                    subs = v
                case "meta": break
                default:
                    guard typeName == nil else {
                        throw Self.bad("Found two aggregation type definitions in [\(name)]: [\(typeName!)] and [\(key)]")
                    }
                    typeName = key
                }
            }
            guard let typeName, let options = body[typeName] as? [String: Any] else {
                throw Self.bad("Missing definition for aggregation [\(name)]")
            }
            let children = try subs.map { try aggregations($0, path: path + "." + name, depth: depth + 1) } ?? []
            let kind = try self.kind(typeName, options, name: name, subs: children)
            if case .metric = kind, !children.isEmpty {
                throw Self.bad("Aggregator [\(name)] of type [\(typeName)] cannot accept sub-aggregations", type: "aggregation_initialization_exception")
            }
            if case .topHits = kind, !children.isEmpty {
                throw Self.bad("Aggregator [\(name)] of type [top_hits] cannot accept sub-aggregations", type: "aggregation_initialization_exception")
            }
            out.append(Aggregation(name: name, kind: kind, subs: children))
        }
        return out
    }

    // MARK: Types

    mutating func kind(_ type: String, _ o: [String: Any], name: String, subs: [Aggregation]) throws -> Aggregation.Kind {
        switch type {
        case "date_histogram": return .dateHistogram(try dateHistogram(o, name: name, subs: subs))
        case "histogram": return .histogram(try histogram(o, name: name, subs: subs))
        case "terms": return .terms(try terms(o, name: name, subs: subs))
        case "filters": return .filters(try filters(o, name: name))
        case "filter":
            let dsl = try QueryDSL.translate(o)
            return .filters(Filters(filters: [(name: nil, query: Self.windowed(dsl))], keyed: false, otherBucketKey: nil, single: true))
        case "range": return .range(try ranges(o, name: name, isDate: false))
        case "date_range": return .range(try ranges(o, name: name, isDate: true))
        case "min": return .metric(try metric(.min, o, name: name, type: type))
        case "max": return .metric(try metric(.max, o, name: name, type: type))
        case "avg": return .metric(try metric(.avg, o, name: name, type: type))
        case "sum": return .metric(try metric(.sum, o, name: name, type: type))
        case "value_count": return .metric(try metric(.valueCount, o, name: name, type: type))
        case "stats": return .metric(try metric(.stats, o, name: name, type: type))
        case "extended_stats": return .metric(try metric(.extendedStats, o, name: name, type: type))
        case "cardinality":
            try check(o, name: name, type: type, allowed: ["field", "missing", "precision_threshold", "execution_hint"])
            let threshold = try o["precision_threshold"].map { try integer($0, "precision_threshold", in: 0...Int.max) } ?? 3000
            return .metric(try metric(.cardinality(threshold: min(threshold, 40_000)), o, name: name, type: type, checked: true))
        case "percentiles":
            try check(o, name: name, type: type, allowed: ["field", "missing", "percents", "keyed", "tdigest", "format"])
            var percents = [1.0, 5, 25, 50, 75, 95, 99]
            if let list = o["percents"] {
                guard let items = list as? [Any], !items.isEmpty else { throw Self.bad("[percents] must be a non-empty array of numbers") }
                percents = try items.map { item in
                    guard let n = item as? NSNumber, !Self.isBoolean(item), (0...100).contains(n.doubleValue) else {
                        throw Self.bad("percent must be in [0,100], got [\(item)]: [percents]", type: "illegal_argument_exception")
                    }
                    return n.doubleValue
                }
            }
            let keyed = try o["keyed"].map { try bool($0, "keyed") } ?? true
            return .metric(try metric(.percentiles(percents, keyed: keyed), o, name: name, type: type, checked: true))
        case "top_hits": return .topHits(try topHits(o, name: name))
        default:
            throw Self.bad("Unknown aggregation type [\(type)] in [\(name)]; logstore supports \(Self.supportedTypes)", type: "parsing_exception")
        }
    }

    /// A query and its `@timestamp` window as one `Query` plus window.
    static func windowed(_ dsl: QueryDSL) -> FilterQuery {
        FilterQuery(query: dsl.query, from: dsl.from, to: dsl.to)
    }

    mutating func dateHistogram(_ o: [String: Any], name: String, subs: [Aggregation]) throws -> DateHistogram {
        try check(
            o, name: name, type: "date_histogram",
            allowed: [
                "field", "fixed_interval", "calendar_interval", "interval", "min_doc_count", "extended_bounds", "hard_bounds", "time_zone",
                "format", "offset", "keyed", "missing", "order",
            ])
        let field = try self.field(o, name: name, type: "date_histogram", date: true)
        var step: DateStep?
        var given = 0
        if let v = o["fixed_interval"] {
            step = try DateStep.parseFixed(try string(v, "fixed_interval"), name: "fixed_interval")
            given += 1
        }
        if let v = o["calendar_interval"] {
            step = try DateStep.parseCalendar(try string(v, "calendar_interval"), name: "calendar_interval")
            given += 1
        }
        if let v = o["interval"] {
            let text: String
            if let n = v as? NSNumber, !(v is String) {
                text = "\(n.int64Value)ms"
            } else {
                text = try string(v, "interval")
            }
            step = try DateStep.legacy(text)
            given += 1
        }
        guard given == 1, let step else {
            throw Self.bad(
                given == 0
                    ? "Required one of fields [fixed_interval, calendar_interval, interval] in [\(name)], but none were specified."
                    : "Cannot use more than one of [fixed_interval, calendar_interval, interval] in [\(name)]",
                type: "illegal_argument_exception")
        }
        let zone = try AggregationTimeZone.parse(try o["time_zone"].map { try string($0, "time_zone") })
        var offset: Int64 = 0
        if let v = o["offset"] {
            let text = try string(v, "offset")
            let negative = text.hasPrefix("-")
            let body = negative || text.hasPrefix("+") ? String(text.dropFirst()) : text
            guard let ms = DateStep.fixedMillis(body) else { throw Self.bad("[offset] must be a time value like +6h or -30m, got [\(text)]") }
            offset = negative ? -ms : ms
        }
        let minDocCount = try o["min_doc_count"].map { try integer($0, "min_doc_count", in: 0...Int.max) } ?? 0
        let extended = try bounds(o["extended_bounds"], "extended_bounds")
        let hard = try bounds(o["hard_bounds"], "hard_bounds")
        if let lo = extended.min, let hi = extended.max, lo > hi {
            throw Self.bad("[extended_bounds.min][\(lo)] cannot be greater than [extended_bounds.max][\(hi)] for histogram aggregation [\(name)]", type: "illegal_argument_exception")
        }
        let missing = try o["missing"].map { try RequestDate.millis($0, name: "missing") }
        return DateHistogram(
            field: field, interval: step, zone: zone, offset: offset, minDocCount: minDocCount, extendedBounds: extended, hardBounds: hard,
            format: DateFormat.parse(try o["format"].map { try string($0, "format") }), keyed: try o["keyed"].map { try bool($0, "keyed") } ?? false,
            missing: missing, order: try order(o["order"], subs: subs, default: BucketOrder(keys: [(.key, true)])))
    }

    func bounds(_ value: Any?, _ name: String) throws -> (min: Int64?, max: Int64?) {
        guard let value else { return (nil, nil) }
        guard let o = value as? [String: Any] else { throw Self.bad("[\(name)] must be an object with min and max") }
        for key in o.keys where key != "min" && key != "max" { throw Self.bad("[\(name)] unknown field [\(key)]") }
        return (try o["min"].map { try RequestDate.millis($0, name: name + ".min") }, try o["max"].map { try RequestDate.millis($0, name: name + ".max") })
    }

    mutating func histogram(_ o: [String: Any], name: String, subs: [Aggregation]) throws -> Histogram {
        try check(o, name: name, type: "histogram", allowed: ["field", "interval", "offset", "min_doc_count", "extended_bounds", "keyed", "missing", "order"])
        let field = try self.field(o, name: name, type: "histogram", date: false)
        guard let iv = o["interval"] else { throw Self.bad("Required [interval] in [\(name)]") }
        let interval = try double(iv, "interval")
        guard interval > 0 else { throw Self.bad("[interval] must be >0 for histogram aggregation [\(name)]", type: "illegal_argument_exception") }
        var extended: (min: Double?, max: Double?) = (nil, nil)
        if let v = o["extended_bounds"] {
            guard let e = v as? [String: Any] else { throw Self.bad("[extended_bounds] must be an object with min and max") }
            extended = (try e["min"].map { try double($0, "extended_bounds.min") }, try e["max"].map { try double($0, "extended_bounds.max") })
        }
        return Histogram(
            field: field, interval: interval, offset: try o["offset"].map { try double($0, "offset") } ?? 0,
            minDocCount: try o["min_doc_count"].map { try integer($0, "min_doc_count", in: 0...Int.max) } ?? 0, extendedBounds: extended,
            keyed: try o["keyed"].map { try bool($0, "keyed") } ?? false, missing: try o["missing"].map { try double($0, "missing") },
            order: try order(o["order"], subs: subs, default: BucketOrder(keys: [(.key, true)])))
    }

    mutating func terms(_ o: [String: Any], name: String, subs: [Aggregation]) throws -> Terms {
        try check(
            o, name: name, type: "terms",
            allowed: [
                "field", "size", "shard_size", "min_doc_count", "shard_min_doc_count", "order", "missing", "include", "exclude",
                "execution_hint", "collect_mode", "show_term_doc_count_error", "value_type", "format",
            ])
        let field = try self.field(o, name: name, type: "terms", date: false)
        let size = try o["size"].map { try integer($0, "size", in: 1...Self.maxBuckets) } ?? 10
        let minDocCount = try o["min_doc_count"].map { try integer($0, "min_doc_count", in: 0...Int.max) } ?? 1
        if minDocCount == 0 {
            throw Self.bad("[min_doc_count] 0 of terms aggregation [\(name)] (terms of lines the query leaves out) is not supported by logstore; use 1 or more")
        }
        var missing: FieldValue?
        if let v = o["missing"] { missing = try Self.value(v, "missing") }
        func set(_ v: Any?, _ key: String) throws -> Set<String>? {
            guard let v else { return nil }
            if let list = v as? [Any] {
                return Set(try list.map { item -> String in
                    if let s = item as? String { return s }
                    if let n = item as? NSNumber { return Self.text(.number(n.doubleValue)) }
                    throw Self.bad("[\(key)] values must be strings or numbers")
                })
            }
            throw Self.bad("[\(key)] as a regular expression or partition is not supported by logstore; give a list of exact values")
        }
        return Terms(
            field: field, size: size, minDocCount: minDocCount, missing: missing,
            order: try order(o["order"], subs: subs, default: BucketOrder(keys: [(.count, false), (.key, true)])),
            include: try set(o["include"], "include"), exclude: try set(o["exclude"], "exclude") ?? [])
    }

    func filters(_ o: [String: Any], name: String) throws -> Filters {
        try check(o, name: name, type: "filters", allowed: ["filters", "other_bucket", "other_bucket_key"])
        var list: [(String?, FilterQuery)] = []
        var keyed = true
        if let named = o["filters"] as? [String: Any] {
            for key in named.keys.sorted() { list.append((key, Self.windowed(try QueryDSL.translate(named[key])))) }
        } else if let anonymous = o["filters"] as? [Any] {
            keyed = false
            for q in anonymous { list.append((nil, Self.windowed(try QueryDSL.translate(q)))) }
        } else {
            throw Self.bad("[filters] of [\(name)] must be an object of named queries or an array of queries")
        }
        var other: String?
        if let k = o["other_bucket_key"] { other = try string(k, "other_bucket_key") }
        if let b = o["other_bucket"], try bool(b, "other_bucket") { other = other ?? "_other_" }
        return Filters(filters: list.map { (name: $0.0, query: $0.1) }, keyed: keyed, otherBucketKey: other, single: false)
    }

    mutating func ranges(_ o: [String: Any], name: String, isDate: Bool) throws -> Ranges {
        let type = isDate ? "date_range" : "range"
        try check(o, name: name, type: type, allowed: ["field", "ranges", "keyed", "format", "time_zone", "missing"])
        let field = try self.field(o, name: name, type: type, date: isDate)
        guard let list = o["ranges"] as? [Any], !list.isEmpty else { throw Self.bad("No [ranges] specified for the [\(name)] aggregation") }
        let zone = try AggregationTimeZone.parse(try o["time_zone"].map { try string($0, "time_zone") })
        let ranges = try list.map { item -> Ranges.Range in
            guard let r = item as? [String: Any] else { throw Self.bad("[ranges] entries must be objects with from, to and key") }
            for key in r.keys where !["from", "to", "key"].contains(key) { throw Self.bad("[range] unknown field [\(key)]") }
            func bound(_ v: Any?, _ n: String) throws -> Double? {
                guard let v, !(v is NSNull) else { return nil }
                return isDate ? Double(try RequestDate.millis(v, name: n)) : try double(v, n)
            }
            return Ranges.Range(key: try r["key"].map { try string($0, "key") }, from: try bound(r["from"], "from"), to: try bound(r["to"], "to"))
        }
        var missing: Double?
        if let v = o["missing"] { missing = isDate ? Double(try RequestDate.millis(v, name: "missing")) : try double(v, "missing") }
        return Ranges(
            field: field, ranges: ranges, keyed: try o["keyed"].map { try bool($0, "keyed") } ?? false, isDate: isDate,
            format: DateFormat.parse(try o["format"].map { try string($0, "format") }), zone: zone, missing: missing)
    }

    mutating func metric(_ kind: Metric.Kind, _ o: [String: Any], name: String, type: String, checked: Bool = false) throws -> Metric {
        if !checked { try check(o, name: name, type: type, allowed: ["field", "missing", "format", "sigma"]) }
        let field = try self.field(o, name: name, type: type, date: false)
        var missing: FieldValue?
        if let v = o["missing"] { missing = try Self.value(v, "missing") }
        let format = try o["format"].map { DateFormat.parse(try string($0, "format")) }
        return Metric(kind: kind, field: field, missing: missing, format: format ?? (field.isDate ? .iso : nil))
    }

    func topHits(_ o: [String: Any], name: String) throws -> TopHits {
        try check(o, name: name, type: "top_hits", allowed: ["size", "from", "sort", "_source", "version", "seq_no_primary_term", "explain", "track_scores"])
        let size = try o["size"].map { try integer($0, "size", in: 0...100) } ?? 3
        let from = try o["from"].map { try integer($0, "from", in: 0...100) } ?? 0
        var ascending = false
        if let sort = o["sort"] {
            let order = try SearchRequestParser.parseSort(sort)
            ascending = order == .ascending
        }
        let source = try Self.source(o["_source"])
        return TopHits(size: size, from: from, ascending: ascending, source: source)
    }

    static func source(_ value: Any?) throws -> SourceFilter {
        guard let value else { return .all }
        if let n = value as? NSNumber, QueryDSL.isBool(n) { return n.boolValue ? .all : .none }
        func strings(_ v: Any?) throws -> [String] {
            guard let v else { return [] }
            if let s = v as? String { return [s] }
            if let l = v as? [String] { return l }
            throw bad("_source fields must be strings")
        }
        if let o = value as? [String: Any] {
            return .filter(includes: try strings(o["includes"] ?? o["include"]), excludes: try strings(o["excludes"] ?? o["exclude"]))
        }
        return .filter(includes: try strings(value), excludes: [])
    }

    // MARK: Parts

    /// The order of a bucket aggregation: `{"_count":"desc"}`, `{"_key":"asc"}`, a metric
    /// sub-aggregation (`{"avg_cpu":"desc"}`, `{"cpu_stats.max":"asc"}`) or a list of these.
    func order(_ value: Any?, subs: [Aggregation], default fallback: BucketOrder) throws -> BucketOrder {
        guard let value else { return fallback }
        let items: [Any] = (value as? [Any]) ?? [value]
        var keys: [(BucketOrder.Key, Bool)] = []
        for item in items {
            guard let o = item as? [String: Any], o.count == 1, let (path, d) = o.first, let dir = d as? String,
                dir == "asc" || dir == "desc"
            else { throw Self.bad("[order] entries must be {\"<path>\": \"asc\"|\"desc\"}") }
            let ascending = dir == "asc"
            switch path {
            case "_count": keys.append((.count, ascending))
            case "_key", "_term", "_time": keys.append((.key, ascending))
            default:
                let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
                let subName = parts[0]
                let stat = parts.count > 1 ? parts[1] : nil
                guard let sub = subs.first(where: { $0.name == subName }), case .metric(let m) = sub.kind else {
                    throw Self.bad(
                        "Invalid aggregation order path [\(path)]: no metric sub-aggregation named [\(subName)]", type: "aggregation_execution_exception")
                }
                switch m.kind {
                case .stats, .extendedStats:
                    guard let stat, ["count", "min", "max", "avg", "sum"].contains(stat) else {
                        throw Self.bad("Invalid aggregation order path [\(path)]: name one of count, min, max, avg, sum of [\(subName)]", type: "aggregation_execution_exception")
                    }
                case .percentiles(let ps, _):
                    guard let stat, let p = Double(stat), ps.contains(p) else {
                        throw Self.bad("Invalid aggregation order path [\(path)]: name one of the percents of [\(subName)]", type: "aggregation_execution_exception")
                    }
                default:
                    if stat != nil && stat != "value" {
                        throw Self.bad("Invalid aggregation order path [\(path)]: [\(subName)] is a single-value metric", type: "aggregation_execution_exception")
                    }
                }
                keys.append((.metric(name: subName, stat: stat), ascending))
            }
        }
        // Ties are broken by key, ascending (OpenSearch's rule).
        if !keys.contains(where: { $0.0 == .key }) { keys.append((.key, true)) }
        return BucketOrder(keys: keys.map { (key: $0.0, ascending: $0.1) })
    }

    /// The `field` of an aggregation; `script` is refused.
    mutating func field(_ o: [String: Any], name: String, type: String, date: Bool) throws -> AggregationField {
        if o["script"] != nil {
            throw Self.bad("[script] in aggregation [\(name)] is not supported by logstore; aggregate a field")
        }
        guard let v = o["field"] else { throw Self.bad("Required [field] for aggregation [\(name)] of type [\(type)]", type: "illegal_argument_exception") }
        let text = try string(v, "field")
        guard !text.isEmpty else { throw Self.bad("[field] of aggregation [\(name)] is empty") }
        var base = text
        if base.hasSuffix(".keyword") { base = String(base.dropLast(".keyword".count)) }
        switch base {
        case "@timestamp": return AggregationField(name: text, source: .timestamp, isDate: true)
        case "log", "message": return AggregationField(name: text, source: .message, isDate: false)
        case "_index": return AggregationField(name: text, source: .index, isDate: false)
        default:
            let slot: Int
            if let known = paths.firstIndex(of: base) {
                slot = known
            } else {
                slot = paths.count
                paths.append(base)
            }
            return AggregationField(name: text, source: .path(base, slot: slot), isDate: date)
        }
    }

    func check(_ o: [String: Any], name: String, type: String, allowed: Set<String>) throws {
        for key in o.keys.sorted() where !allowed.contains(key) {
            if key == "script" { throw Self.bad("[script] in aggregation [\(name)] is not supported by logstore; aggregate a field") }
            throw Self.bad("[\(type)] unknown field [\(key)] in aggregation [\(name)] (not supported by logstore)")
        }
    }

    func string(_ v: Any, _ name: String) throws -> String {
        guard let s = v as? String else { throw Self.bad("[\(name)] must be a string") }
        return s
    }

    func bool(_ v: Any, _ name: String) throws -> Bool {
        if let n = v as? NSNumber, QueryDSL.isBool(n) { return n.boolValue }
        if let s = v as? String, let b = Bool(s) { return b }
        throw Self.bad("[\(name)] must be true or false")
    }

    func integer(_ v: Any, _ name: String, in range: ClosedRange<Int>) throws -> Int {
        var n: Int?
        if let x = v as? NSNumber, !Self.isBoolean(v), x.doubleValue == x.doubleValue.rounded(), abs(x.doubleValue) < 9e15 { n = x.intValue }
        if let s = v as? String { n = Int(s) }
        guard let n, range.contains(n) else { throw Self.bad("[\(name)] must be an integer in \(range.lowerBound)…\(range.upperBound), got [\(v)]") }
        return n
    }

    func double(_ v: Any, _ name: String) throws -> Double {
        if let x = v as? NSNumber, !Self.isBoolean(v), x.doubleValue.isFinite { return x.doubleValue }
        if let s = v as? String, let d = Double(s), d.isFinite { return d }
        throw Self.bad("[\(name)] must be a number, got [\(v)]")
    }

    /// A JSON `true`/`false` (JSONSerialization gives NSNumbers for both numbers and booleans).
    static func isBoolean(_ v: Any) -> Bool {
        if let n = v as? NSNumber { return QueryDSL.isBool(n) }
        return v is Bool
    }

    static func value(_ v: Any, _ name: String) throws -> FieldValue {
        if let n = v as? NSNumber { return QueryDSL.isBool(n) ? .bool(n.boolValue) : .number(n.doubleValue) }
        if let s = v as? String { return .string(s) }
        throw bad("[\(name)] must be a string, a number or a boolean")
    }

    /// How a value is written as a key or compared with `include`/`exclude`.
    static func text(_ v: FieldValue) -> String {
        switch v {
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return s
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        }
    }
}

/// A `filter`/`filters` query with its `@timestamp` window.
struct FilterQuery: Sendable {
    let query: Query
    let from: Int64?
    let to: Int64?
}
