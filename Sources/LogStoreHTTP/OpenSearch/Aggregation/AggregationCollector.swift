import Foundation
import LogStore

/// AggregationCollector computes a request's aggregations over the lines the engine visits
/// (`Storage.visitLines`): one pass, one state per aggregation per bucket, on the visiting
/// thread. Distinct bucket keys are bounded (``maxKeys``); beyond, the request is a 400.
final class AggregationCollector {
    /// The most distinct keys all bucket aggregations may gather before ordering and cutting.
    static let maxKeys = 500_000
    /// The most values `percentiles` keep (they are exact).
    static let maxPercentileValues = 20_000_000

    let roots: [AggregationState]
    let fields: LineFields
    let budget: Budget
    /// Matching lines seen (the answer's `hits.total`).
    var total = 0

    final class Budget {
        var keys = 0
        var values = 0
    }

    init(_ aggregations: [Aggregation], paths: [String]) {
        fields = LineFields(paths: paths)
        let budget = Budget()
        self.budget = budget
        roots = aggregations.map { AggregationState($0, budget: budget) }
    }

    /// Adds one visited line to every aggregation.
    func collect(_ line: VisitedLine) throws {
        total += 1
        if roots.isEmpty { return }
        fields.load(line.fields)
        let l = AggregationLine(
            timestamp: line.timestamp, lsn: line.lsn, stream: line.stream, key: line.key, message: line.message, rawFields: line.fields,
            fields: fields)
        for root in roots { try root.collect(l) }
    }
}

/// The doc count and sub-aggregation states of one bucket.
final class BucketState {
    var docCount = 0
    let subs: [AggregationState]

    init(_ specs: [Aggregation], budget: AggregationCollector.Budget) {
        subs = specs.map { AggregationState($0, budget: budget) }
    }

    func add(_ line: AggregationLine) throws {
        docCount += 1
        for sub in subs { try sub.collect(line) }
    }
}

/// The running state of one aggregation in one parent bucket.
final class AggregationState {
    let spec: Aggregation
    let budget: AggregationCollector.Budget
    /// Keyed buckets (terms, histograms).
    var keyed: [FieldValue: BucketState] = [:]
    /// Positional buckets (ranges, filters; the other bucket last).
    var positional: [BucketState] = []
    var metric = MetricState()
    var hits: [LogLine] = []
    var hitCount = 0
    let rounding: DateRounding?
    let matchers: [QueryMatcher]
    /// The buckets the last line went to, while the next line's values are the same (same
    /// fields generation and stream, or for `@timestamp` the same rounded key): lines of a
    /// block share their fields bytes, so most lines skip reading, hashing and looking up keys.
    private var memo: (generation: Int, stream: StreamID, key: Int64, buckets: [BucketState])?

    init(_ spec: Aggregation, budget: AggregationCollector.Budget) {
        self.spec = spec
        self.budget = budget
        switch spec.kind {
        case .dateHistogram(let d):
            rounding = DateRounding(step: d.interval, zone: d.zone, offset: d.offset)
            matchers = []
        case .filters(let f):
            rounding = nil
            matchers = f.filters.map { QueryMatcher($0.query.query) }
            positional = (0..<(f.filters.count + (f.otherBucketKey == nil ? 0 : 1))).map { _ in BucketState(spec.subs, budget: budget) }
        case .range(let r):
            rounding = nil
            matchers = []
            positional = r.ranges.map { _ in BucketState(spec.subs, budget: budget) }
        case .metric(let m):
            rounding = nil
            matchers = []
            if case .cardinality(let threshold) = m.kind { metric.cardinality = Cardinality(threshold: threshold) }
        default:
            rounding = nil
            matchers = []
        }
    }

    /// A fresh bucket with empty sub-aggregations (for buckets with no lines).
    func emptyBucket() -> BucketState { BucketState(spec.subs, budget: budget) }

    func bucket(_ key: FieldValue) throws -> BucketState {
        if let b = keyed[key] { return b }
        budget.keys += 1
        if budget.keys > AggregationCollector.maxKeys {
            throw OpenSearchError.badRequest(
                "aggregations gather more than \(AggregationCollector.maxKeys) distinct keys; narrow the query or use a coarser interval",
                type: "too_many_buckets_exception")
        }
        let b = BucketState(spec.subs, budget: budget)
        keyed[key] = b
        return b
    }

    func collect(_ line: AggregationLine) throws {
        switch spec.kind {
        case .dateHistogram(let d) where d.field.isTimestamp:
            let key = rounding!.round(DateRounding.floorDiv(line.timestamp, 1_000_000))
            if let memo, memo.key == key {
                for b in memo.buckets { try b.add(line) }
                return
            }
            var buckets: [BucketState] = []
            if !(d.hardBounds.min.map { key < rounding!.round($0) } ?? false) && !(d.hardBounds.max.map { key > $0 } ?? false) {
                buckets.append(try bucket(.number(Double(key))))
            }
            memo = (0, line.stream, key, buckets)
            for b in buckets { try b.add(line) }
        case .dateHistogram(let d):
            var keys = line.numbers(d.field).map { Int64($0.rounded(.down)) }
            if keys.isEmpty, let missing = d.missing { keys = [missing] }
            var done: [Int64] = []
            for ms in keys {
                let key = rounding!.round(ms)
                if done.contains(key) { continue }
                done.append(key)
                if let lo = d.hardBounds.min, key < rounding!.round(lo) { continue }
                if let hi = d.hardBounds.max, key > hi { continue }
                try bucket(.number(Double(key))).add(line)
            }
        case .histogram(let h):
            var values = line.numbers(h.field)
            if values.isEmpty, let missing = h.missing { values = [missing] }
            var done: Set<Double> = []
            for v in values {
                let key = ((v - h.offset) / h.interval).rounded(.down) * h.interval + h.offset
                if done.insert(key).inserted { try bucket(.number(key)).add(line) }
            }
        case .terms(let t):
            let reusable: Bool
            switch t.field.source {
            case .path, .index: reusable = true
            case .timestamp, .message: reusable = false
            }
            if reusable, let memo, memo.generation == line.fields.generation, memo.stream == line.stream {
                for b in memo.buckets { try b.add(line) }
                return
            }
            var values = line.values(t.field)
            if values.isEmpty, let missing = t.missing { values = [missing] }
            var buckets: [BucketState] = []
            var done: Set<FieldValue> = []
            for v in values {
                if t.include != nil || !t.exclude.isEmpty {
                    let text = AggregationParser.text(v)
                    if let include = t.include, !include.contains(text) { continue }
                    if t.exclude.contains(text) { continue }
                }
                if values.count == 1 || done.insert(v).inserted { buckets.append(try bucket(v)) }
            }
            if reusable { memo = (line.fields.generation, line.stream, 0, buckets) }
            for b in buckets { try b.add(line) }
        case .filters(let f):
            var any = false
            for (i, filter) in f.filters.enumerated() {
                let q = filter.query
                if let from = q.from, line.timestamp < from { continue }
                if let to = q.to, line.timestamp >= to { continue }
                if matchers[i].matches(message: line.message, fields: line.rawFields, timestamp: line.timestamp, stream: line.key) {
                    any = true
                    try positional[i].add(line)
                }
            }
            if !any, f.otherBucketKey != nil { try positional[f.filters.count].add(line) }
        case .range(let r):
            var values = line.numbers(r.field)
            if values.isEmpty, let missing = r.missing { values = [missing] }
            for (i, range) in r.ranges.enumerated()
            where values.contains(where: { v in (range.from.map { v >= $0 } ?? true) && (range.to.map { v < $0 } ?? true) }) {
                try positional[i].add(line)
            }
        case .metric(let m):
            switch m.kind {
            case .valueCount, .cardinality:
                var values = line.values(m.field)
                if values.isEmpty, let missing = m.missing { values = [missing] }
                if case .timestamp = m.field.source {} else if m.field.isDate { values = line.numbers(m.field).map { .number($0) } }
                for v in values {
                    metric.count += 1
                    metric.cardinality?.add(v)
                }
            default:
                var values = line.numbers(m.field)
                if values.isEmpty, let missing = m.missing?.number { values = [missing] }
                for v in values { metric.add(v) }
                if case .percentiles = m.kind {
                    budget.values += values.count
                    if budget.values > AggregationCollector.maxPercentileValues {
                        throw OpenSearchError.badRequest(
                            "percentiles keep more than \(AggregationCollector.maxPercentileValues) values; narrow the query",
                            type: "too_many_buckets_exception")
                    }
                    metric.values.append(contentsOf: values)
                }
            }
        case .topHits(let t):
            hitCount += 1
            let keep = t.from + t.size
            guard keep > 0 else { return }
            func before(_ a: (Int64, LSN), _ b: (Int64, LSN)) -> Bool {
                t.ascending ? (a.0 != b.0 ? a.0 < b.0 : a.1 < b.1) : (a.0 != b.0 ? a.0 > b.0 : a.1 > b.1)
            }
            if hits.count >= keep, let worst = hits.last, !before((line.timestamp, line.lsn), (worst.timestamp, worst.lsn)) { return }
            let copy = LogLine(
                lsn: line.lsn, timestamp: line.timestamp, stream: line.stream, message: String(decoding: line.message, as: UTF8.self),
                fields: String(decoding: line.rawFields, as: UTF8.self))
            let at = hits.firstIndex { before((copy.timestamp, copy.lsn), ($0.timestamp, $0.lsn)) } ?? hits.count
            hits.insert(copy, at: at)
            if hits.count > keep { hits.removeLast() }
        }
    }

    /// Adds per-stream line counts to this `terms` on `_index` (a stream's lines all share its index).
    func addStreamCounts(_ counts: [StreamID: Int], keys: [StreamID: StreamKey]) throws {
        guard case .terms(let t) = spec.kind else { return }
        for (stream, n) in counts where n > 0 {
            guard let index = keys[stream]?.index else { continue }
            if let include = t.include, !include.contains(index) { continue }
            if t.exclude.contains(index) { continue }
            try bucket(.string(index)).docCount += n
        }
    }

    /// The value a bucket order names (`name` or `name.stat`) of this metric state.
    func orderValue(stat: String?) -> Double? {
        guard case .metric(let m) = spec.kind else { return nil }
        switch m.kind {
        case .min: return metric.count > 0 ? metric.min : nil
        case .max: return metric.count > 0 ? metric.max : nil
        case .avg: return metric.count > 0 ? metric.sum / Double(metric.count) : nil
        case .sum: return metric.sum
        case .valueCount: return Double(metric.count)
        case .cardinality: return Double(metric.cardinality?.estimate ?? 0)
        case .stats, .extendedStats:
            switch stat {
            case "count": return Double(metric.count)
            case "min": return metric.count > 0 ? metric.min : nil
            case "max": return metric.count > 0 ? metric.max : nil
            case "avg": return metric.count > 0 ? metric.sum / Double(metric.count) : nil
            default: return metric.sum
            }
        case .percentiles:
            guard let stat, let p = Double(stat) else { return nil }
            return metric.percentile(p)
        }
    }
}

/// Count, sum, min, max, the sum of squares and (for percentiles) the values of a metric.
struct MetricState {
    var count = 0
    var sum = 0.0
    var sumOfSquares = 0.0
    var min = Double.infinity
    var max = -Double.infinity
    var values: [Double] = []
    var sorted = false
    var cardinality: Cardinality?

    mutating func add(_ v: Double) {
        count += 1
        sum += v
        sumOfSquares += v * v
        if v < min { min = v }
        if v > max { max = v }
    }

    /// The `p`th percentile (0…100): linear interpolation between the closest ranks.
    mutating func percentile(_ p: Double) -> Double? {
        if values.isEmpty { return nil }
        if !sorted {
            values.sort()
            sorted = true
        }
        return Self.percentile(p, ofSorted: values)
    }

    static func percentile(_ p: Double, ofSorted values: [Double]) -> Double {
        let rank = p / 100 * Double(values.count - 1)
        let lo = Int(rank.rounded(.down))
        let hi = Swift.min(lo + 1, values.count - 1)
        return values[lo] + (values[hi] - values[lo]) * (rank - Double(lo))
    }
}

/// Distinct values: exact (a set of 64-bit hashes) up to `threshold`, then a HyperLogLog++
/// sketch of 2^14 registers (standard error ~0.8 %), as OpenSearch's `cardinality`.
struct Cardinality {
    static let precision = 14
    let threshold: Int
    var exact: Set<UInt64>? = []
    var registers: [UInt8] = []

    init(threshold: Int) { self.threshold = threshold }

    static func hash(_ v: FieldValue) -> UInt64 {
        var text: String
        switch v {
        case .bool(let b): text = b ? "T" : "F"
        case .number(let d): text = "N" + String(d)
        case .string(let s): text = "S" + s
        }
        return text.withUTF8 { XXH64.hash(UnsafeRawBufferPointer($0), seed: 0x9E37_79B9_7F4A_7C15) }
    }

    mutating func add(_ v: FieldValue) {
        let h = Self.hash(v)
        if exact != nil {
            exact!.insert(h)
            if exact!.count <= threshold { return }
            registers = Array(repeating: 0, count: 1 << Self.precision)
            for x in exact! { addToSketch(x) }
            exact = nil
            return
        }
        addToSketch(h)
    }

    private mutating func addToSketch(_ h: UInt64) {
        let index = Int(h >> UInt64(64 - Self.precision))
        let rest = (h << UInt64(Self.precision)) | (1 << UInt64(Self.precision - 1))
        let rank = UInt8(rest.leadingZeroBitCount + 1)
        if rank > registers[index] { registers[index] = rank }
    }

    var estimate: Int {
        if let exact { return exact.count }
        let m = Double(registers.count)
        var sum = 0.0
        var zeros = 0
        for r in registers {
            sum += pow(2, -Double(r))
            if r == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        let raw = alpha * m * m / sum
        if raw <= 2.5 * m, zeros > 0 { return Int((m * log(m / Double(zeros))).rounded()) }
        return Int(raw.rounded())
    }
}
