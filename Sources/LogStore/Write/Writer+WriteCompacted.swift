import Foundation

extension Writer {
    /// Writes a fresh environment at `path` holding `segment` in the compacted layout, read
    /// from one snapshot of it (`CompactedSegmentWriter`), and syncs it. Writer thread only.
    func writeCompacted(_ segment: Segment, to path: String) throws -> CompactedWrite {
        let mapSize = max(options.segmentMapSize, segment.env.info().usedBytes + (64 << 20))
        let writer = try CompactedSegmentWriter(path: path, mapSize: mapSize, level: options.compactionLevel)
        do {
            let result = try SegmentSnapshot.read(segment) { snapshot in try writer.write(snapshot) }
            try writer.sync()
            writer.close()
            return result
        } catch {
            writer.close()
            throw error
        }
    }
}
