import Foundation
import LogStore

/// Whole blocks counted without their lines (`Storage.visitBlocks`): a `date_histogram` of
/// `@timestamp` from the block's time range or its timestamp column alone, a `terms` on a
/// document field from the value the field index proves every line of the block holds (or on
/// `_index` from the stream), a `terms` with such a `date_histogram` below it. Any other
/// aggregation takes the block's lines one by one.
extension AggregationCollector {
    /// The document path whose proven value per block `collect(block:)` can use: the field of
    /// the `terms` aggregations (nil when there are none or they disagree).
    var blockValuePath: String? {
        var found: String?
        func walk(_ specs: [Aggregation]) {
            for spec in specs {
                if case .terms(let t) = spec.kind, case .path(let path, _) = t.field.source { found = found ?? path }
                walk(spec.subs)
            }
        }
        walk(roots.map(\.spec))
        return found
    }

    /// True when every aggregation can take whole blocks at all (else there is no point asking
    /// the engine for them).
    var takesBlocks: Bool { roots.allSatisfy { $0.takesBlocks(valuePath: blockValuePath) } }

    /// True when taking `block` reads its timestamp column (read ahead on every core; a block
    /// offered without it is visited line by line).
    func wantsTimestamps(_ block: VisitedBlock) -> Bool {
        block.everyLine && roots.allSatisfy { $0.canTake(block, column: true) } && roots.contains { $0.needsTimestamps(block) }
    }

    /// Adds all the matching lines of `block` when every aggregation can count them from what
    /// the block offers; false (nothing added) when its lines must be visited.
    func collect(block: VisitedBlock) throws -> Bool {
        for root in roots where !root.canTake(block) { return false }
        for root in roots { try root.take(block) }
        total += block.count
        return true
    }
}

extension AggregationState {
    func takesBlocks(valuePath: String?) -> Bool {
        switch spec.kind {
        case .dateHistogram(let d): return d.field.isTimestamp && spec.subs.isEmpty
        case .terms(let t):
            if t.field.isDate { return false }
            switch t.field.source {
            case .path(let path, _): guard path == valuePath else { return false }
            case .index: break
            case .timestamp, .message: return false
            }
            if t.order.keys.contains(where: { if case .metric = $0.key { return true } else { return false } }) { return false }
            return spec.subs.allSatisfy { sub in
                if case .dateHistogram(let d) = sub.kind { return d.field.isTimestamp && sub.subs.isEmpty }
                return false
            }
        default: return false
        }
    }

    /// True when `take(block)` adds exactly what visiting the block's lines would (`column`:
    /// as if its timestamp column were there; by default, when it is).
    func canTake(_ block: VisitedBlock, column: Bool? = nil) -> Bool {
        let column = column ?? (block.timestamps != nil)
        switch spec.kind {
        case .dateHistogram(let d) where d.field.isTimestamp && spec.subs.isEmpty:
            return oneBucket(block, d) != nil || block.everyLine && column
        case .terms(let t):
            if t.field.isDate { return false }
            switch t.field.source {
            case .path: if block.value == nil { return false }
            case .index: break
            case .timestamp, .message: return false
            }
            if t.order.keys.contains(where: { if case .metric = $0.key { return true } else { return false } }) { return false }
            return spec.subs.allSatisfy { sub in
                guard case .dateHistogram(let d) = sub.kind, d.field.isTimestamp, sub.subs.isEmpty else { return false }
                return oneBucket(block, d) != nil || block.everyLine && column
            }
        default:
            return false
        }
    }

    func needsTimestamps(_ block: VisitedBlock) -> Bool {
        switch spec.kind {
        case .dateHistogram(let d): return oneBucket(block, d) == nil
        case .terms:
            return spec.subs.contains { sub in
                if case .dateHistogram(let d) = sub.kind { return oneBucket(block, d) == nil }
                return false
            }
        default: return false
        }
    }

    /// The key of the one bucket all of `block`'s lines fall in, when its time range shows it
    /// (a fixed-offset zone: rounding is then monotonic).
    private func oneBucket(_ block: VisitedBlock, _ d: DateHistogram) -> Int64? {
        guard d.zone.fixedOffset != nil else { return nil }
        let rounding = DateRounding(step: d.interval, zone: d.zone, offset: d.offset)
        let low = rounding.round(DateRounding.floorDiv(block.minTimestamp, 1_000_000))
        return low == rounding.round(DateRounding.floorDiv(block.maxTimestamp, 1_000_000)) ? low : nil
    }

    /// Adds `block` (checked by `canTake`).
    func take(_ block: VisitedBlock) throws {
        switch spec.kind {
        case .dateHistogram(let d):
            if let key = oneBucket(block, d) {
                if inBounds(key, d) { try bucket(.number(Double(key))).docCount += block.count }
                return
            }
            let rounding = self.rounding!
            let timestamps = block.timestamps!
            if d.zone.fixedOffset != nil {
                // Rounding is monotonic: each bucket is a run of the ascending column, its end
                // found by binary search (a block of a few minutes: a few searches, not a loop
                // over its lines).
                var i = 0
                while i < timestamps.count {
                    let key = rounding.round(DateRounding.floorDiv(timestamps[i], 1_000_000))
                    let (endNs, overflow) = rounding.next(key).multipliedReportingOverflow(by: 1_000_000)
                    var (low, high) = (i + 1, timestamps.count)
                    if !overflow {
                        while low < high {
                            let mid = (low + high) / 2
                            if timestamps[mid] < endNs { low = mid + 1 } else { high = mid }
                        }
                    }
                    if inBounds(key, d) { try bucket(.number(Double(key))).docCount += (overflow ? high : low) - i }
                    i = overflow ? high : low
                }
                return
            }
            var key = Int64.min
            var run = 0
            func flush() throws {
                if run > 0, inBounds(key, d) { try bucket(.number(Double(key))).docCount += run }
                run = 0
            }
            for ts in timestamps {
                let k = rounding.round(DateRounding.floorDiv(ts, 1_000_000))
                if k != key {
                    try flush()
                    key = k
                }
                run += 1
            }
            try flush()
        case .terms(let t):
            let value: String
            switch t.field.source {
            case .path: value = block.value!
            default: value = block.key.index
            }
            if let include = t.include, !include.contains(value) { return }
            if t.exclude.contains(value) { return }
            let b = try bucket(.string(value))
            b.docCount += block.count
            for sub in b.subs { try sub.take(block) }
        default:
            preconditionFailure("BUG: take(block) on an aggregation that cannot")
        }
    }

    private func inBounds(_ key: Int64, _ d: DateHistogram) -> Bool {
        !(d.hardBounds.min.map { key < rounding!.round($0) } ?? false) && !(d.hardBounds.max.map { key > $0 } ?? false)
    }
}
