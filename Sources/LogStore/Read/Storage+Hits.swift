import Foundation
import Synchronization

extension Storage {
    /// Counts lines matching `query` in `[from, to)` per `step`-wide time bucket and per stream.
    ///
    /// Each segment is read through one `SegmentSnapshot`. Blocks whose count the index knows
    /// are added up; the others are decoded and matched on every core (a phrase's or an AND's
    /// candidate blocks: hundreds of milliseconds of work).
    ///
    /// Throws `StorageError.queryTimeout` past `deadline` (`queryDeadline()` when nil) and
    /// `queryCancelled` when it is cancelled: checked between blocks, never a partial count.
    public func hits(_ query: Query, from: Int64? = nil, to: Int64? = nil, step: Int64, deadline: QueryDeadline? = nil) throws -> HitsResult {
        precondition(step > 0, "BUG: hits step must be positive")
        let scope = SearchScope(query, from: from, to: to, deadline: deadline ?? queryDeadline(), shared: shared)
        let buckets = HitBuckets(step: step)
        var counts = HitCounts()
        for segment in scope.segments {
            try scope.deadline.check()
            try SegmentSnapshot.read(segment, shared: shared, streams: nil as [StreamID]?, cache: blockCache) { snapshot in
                var toScan: [(unit: SearchUnit, key: StreamKey, block: StoredBlock?)] = []
                for unit in try snapshot.searchUnits(scope) {
                    guard let key = scope.keys[unit.stream] else { continue }
                    // A block inside the window and inside one bucket whose count the index knows.
                    if let exact = unit.exactCount, unit.isBlock, from.map({ unit.minTimestamp >= $0 }) ?? true,
                        to.map({ unit.maxTimestamp < $0 }) ?? true, buckets.of(unit.minTimestamp) == buckets.of(unit.maxTimestamp)
                    {
                        if exact > 0 { counts.add(buckets.of(unit.minTimestamp), unit.stream, exact) }
                        continue
                    }
                    if let first = unit.blockFirstLSN {
                        guard let block = try snapshot.block(stream: unit.stream, firstLSN: first) else { continue }
                        toScan.append((unit, key, block))
                    } else {
                        toScan.append((unit, key, nil))
                    }
                }
                try Self.count(toScan, scope: scope, buckets: buckets, cache: snapshot.cache, segment: snapshot.segment, into: &counts)
            }
        }
        return HitsResult(
            buckets: counts.buckets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, byStream: counts.byStream,
            total: counts.total, blocksRead: counts.blocksRead)
    }

    /// Counts the matching lines of `units` (blocks found in one open snapshot, head units with
    /// their lines), on every core when there are enough blocks. Must run while that snapshot
    /// is open: the blocks' bytes point into its map.
    private static func count(
        _ units: [(unit: SearchUnit, key: StreamKey, block: StoredBlock?)], scope: SearchScope, buckets: HitBuckets, cache: BlockCache?,
        segment: Segment, into counts: inout HitCounts
    ) throws {
        nonisolated(unsafe) let work = units  // block bytes in the map, valid while the caller's snapshot is open
        @Sendable func count(_ i: Int, into c: inout HitCounts) throws {
            let (unit, key, stored) = work[i]
            try scope.deadline.check()
            guard let stored else {
                for line in unit.preloaded { c.add(buckets.of(line.timestamp), unit.stream, 1) }
                return
            }
            c.blocksRead += 1
            try SegmentSnapshot.scan(try stored.decode(cache: cache, segment: segment), scope: scope, key: key) { block, row in
                c.add(buckets.of(block.timestamps[row]), unit.stream, 1)
            }
        }
        let workers = min(work.count / 2, Processors.active)
        if workers <= 1 {
            for i in work.indices { try count(i, into: &counts) }
            return
        }
        // Each worker takes the next unit until none is left, then its partial counts are merged.
        let parts = UnsafeMutableBufferPointer<(counts: HitCounts, error: (any Error)?)>.allocate(capacity: workers)
        parts.initialize(repeating: (HitCounts(), nil))
        defer {
            _ = parts.deinitialize()
            parts.deallocate()
        }
        nonisolated(unsafe) let output = parts
        let next = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var mine = HitCounts()
            do {
                while true {
                    let i = next.withLock { n in
                        defer { n += 1 }
                        return n
                    }
                    if i >= work.count { break }
                    try count(i, into: &mine)
                }
            } catch {
                output[w].error = error
                next.withLock { $0 = work.count }  // the others stop too
            }
            output[w].counts = mine
        }
        if let error = parts.lazy.compactMap(\.error).first { throw error }
        for part in parts { counts.merge(part.counts) }
    }
}
