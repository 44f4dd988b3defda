import Foundation

extension Writer {
    /// Removes the lines of deleted workflows from a segment (blocks, head, statistics), so the
    /// compacted copy that follows no longer holds them. Writer thread only.
    /// Returns the numbers of the blocks removed (their postings are dropped by the caller).
    @discardableResult
    func purgeDeleted(_ segment: Segment) throws -> Set<UInt32> {
        let (tombstones, keys, deleted) = shared.state.withLock { s in (s.tombstones, s.streams.mapValues(\.key), s.deletedStreams) }
        if tombstones.isEmpty && deleted.isEmpty { return [] }
        // Streams of deleted workflows and of deleted indices.
        let doomed = (segmentStreams[segment.day] ?? []).filter { id in
            deleted.contains(id) || (keys[id].map { !$0.workflow.isEmpty && tombstones.contains($0.workflow) } ?? false)
        }
        if doomed.isEmpty { return [] }
        return try purge(doomed, from: segment, what: "deleted workflows and indices purged")
    }

    /// Removes the lines of `doomed` streams from a segment (blocks, head, statistics) in one
    /// transaction. Writer thread only. Returns the numbers of the blocks removed.
    @discardableResult
    func purge(_ doomed: Set<StreamID>, from segment: Segment, what: String) throws -> Set<UInt32> {
        let headLSNs = shared.state.withLock { s in doomed.flatMap { s.heads[segment.day]?[$0] ?? [] } }
        var removed = Set<UInt32>()
        try segment.env.write { txn in
            removed = []
            var refs: [[UInt8]] = []
            try txn.scan(segment.blockDir) { k, v in
                let ref = try BlockRef(number: try Keys.decodeU32(k), decoding: v)
                if doomed.contains(ref.stream) {
                    removed.insert(ref.number)
                    refs.append(k.array)
                }
                return true
            }
            for key in refs { try txn.delete(segment.blockDir, key) }
            for id in doomed {
                try txn.deleteAll(segment.blocks, prefix: Keys.u64(id))
                try txn.delete(segment.stats, Keys.u64(id))
                try txn.delete(segment.streams, Keys.u64(id))
                try txn.delete(segment.sealed, Keys.u64(id))
            }
            for lsn in headLSNs { try txn.delete(segment.head, Keys.u64(lsn)) }
        }
        var published: [StreamID: Shared.HeadUpdate] = [:]
        for id in doomed where heads[segment.day]?[id] != nil {
            heads[segment.day]?[id] = nil
            published[id] = .removed
        }
        shared.updateHeads(day: segment.day, published)
        segmentStreams[segment.day]?.subtract(doomed)
        try rebuildStats(of: Array(doomed))
        logger.info("\(what)", metadata: ["segment": "\(segment.name)", "streams": "\(doomed.count)"])
        return removed
    }

    /// Recomputes the in-memory statistics of `ids` from the segments' `stream_stats`.
    func rebuildStats(of ids: [StreamID], excluding excluded: Int32? = nil) throws {
        let segments = shared.state.withLock { s in s.segments.values.filter { $0.day != excluded } }
        var rebuilt: [StreamID: (StreamStats, [Int32])] = [:]
        for id in ids { rebuilt[id] = (StreamStats(), []) }
        for segment in segments {
            try SegmentSnapshot.read(segment) { snapshot in
                for id in ids {
                    guard let stats = try snapshot.streamStats(id), var entry = rebuilt[id] else { continue }
                    entry.0.merge(stats)
                    entry.1.append(segment.day)
                    rebuilt[id] = entry
                }
            }
        }
        shared.state.withLock { s in
            for (id, (stats, days)) in rebuilt {
                s.streams[id]?.stats = stats
                s.streams[id]?.days = days.sorted()
            }
        }
    }
}
