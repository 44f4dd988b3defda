import Foundation

/// Partial counts of `hits`: per bucket, per stream, in all.
struct HitCounts {
    var buckets: [Int64: Int] = [:]
    var byStream: [StreamID: Int] = [:]
    var total = 0
    var blocksRead = 0

    mutating func add(_ bucket: Int64, _ stream: StreamID, _ n: Int) {
        buckets[bucket, default: 0] += n
        byStream[stream, default: 0] += n
        total += n
    }

    mutating func merge(_ other: HitCounts) {
        for (k, v) in other.buckets { buckets[k, default: 0] += v }
        for (k, v) in other.byStream { byStream[k, default: 0] += v }
        total += other.total
        blocksRead += other.blocksRead
    }
}
