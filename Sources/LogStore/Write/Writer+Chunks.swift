import Foundation

extension Writer {
    /// Deletes chunk records older than the dedup window (one transaction per segment that has any).
    func pruneChunks() {
        let cutoff = options.dedupCutoff()
        recentChunks = recentChunks.filter { $0.value.arrival >= cutoff }
        if !partialChunks.isEmpty { partialChunks = partialChunks.filter { $0.value.arrival >= cutoff } }
        let segments = shared.state.withLock { Array($0.segments.values) }
        let cutoffKey = Keys.chunk(arrival: cutoff, key: ChunkKey(high: 0, low: 0))
        for segment in segments {
            do {
                guard try SegmentSnapshot.read(segment, { try $0.hasChunk(before: cutoff) }) else { continue }
                _ = try segment.env.write { txn in
                    try txn.deleteWhile(segment.chunks) { key in key.lexicographicallyPrecedes(cutoffKey) }
                }
            } catch {
                logger.error("pruning chunk records failed", metadata: ["segment": "\(segment.name)", "error": "\(error)"])
            }
        }
    }
}
