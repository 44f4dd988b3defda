import LogStore
import LogStoreIngest

/// How hits are grouped besides time.
public enum HitsGrouping: String, Sendable, CaseIterable {
    case job, workflow
}

extension Storage {
    /// Counts of `result` per job or workflow name.
    public func group(_ result: HitsResult, by grouping: HitsGrouping) -> [String: Int] {
        var groups: [String: Int] = [:]
        for (id, count) in result.byStream {
            let key = stream(id)?.key
            groups[(grouping == .job ? key?.job : key?.workflow) ?? "", default: 0] += count
        }
        return groups
    }
}

extension HitsResult {
    /// `{"total":N,"buckets":[{"start":"…","count":N}],"by_job":{…}}`: the shape of `/v1/hits`
    /// and `logstore hits --json`.
    public func json(groups: (HitsGrouping, [String: Int])?) -> [UInt8] {
        var out = JSONText()
        out.raw("{\"total\":")
        out.number(total)
        out.raw(",\"buckets\":[")
        for (i, bucket) in buckets.enumerated() {
            if i > 0 { out.raw(",") }
            out.raw("{\"start\":")
            out.string(Timestamp.formatRFC3339(bucket.start))
            out.raw(",\"count\":")
            out.number(bucket.count)
            out.raw("}")
        }
        out.raw("]")
        if let (grouping, counts) = groups {
            out.raw(",\"by_\(grouping.rawValue)\":{")
            for (i, (name, count)) in counts.sorted(by: { $0.value > $1.value }).enumerated() {
                if i > 0 { out.raw(",") }
                out.key(name)
                out.number(count)
            }
            out.raw("}")
        }
        out.raw("}")
        return out.bytes
    }
}
