import Foundation

extension Writer {
    /// Writes a fresh environment at `path` holding `segment` in the compacted layout, read
    /// from one snapshot of it (`CompactedSegmentWriter`) into a draft with a table each. The
    /// file kept is a copy of the draft with the tables as key ranges of one LMDB table
    /// (`Keys.segmentShared`, `LMDBEnvironment.copySharing`; with `StorageOptions.sharedTables` false, LMDB's
    /// compacting copy with a table each, as format 3 wrote): no free pages (the draft's
    /// transactions leave some), and the small tables of a quiet day on a few shared leaf pages.
    /// Not synced yet: the caller syncs it before the rename. Without `index` the copy keeps no
    /// token index (`Keys.metaUnindexed`). Writer thread only.
    func writeCompacted(_ segment: Segment, to path: String, index: Bool = true) throws -> CompactedWrite {
        let mapSize = max(options.segmentMapSize, segment.env.info().usedBytes + (64 << 20))
        let draft = path + Self.draftSuffix
        try? FileManager.default.removeItem(atPath: draft)
        try? FileManager.default.removeItem(atPath: draft + "-lock")
        defer {
            try? FileManager.default.removeItem(atPath: draft)
            try? FileManager.default.removeItem(atPath: draft + "-lock")
        }
        let writer = try CompactedSegmentWriter(
            path: draft, mapSize: mapSize, level: options.compactionLevel, source: segment, chunksFrom: Self.chunksFrom(options), index: index)
        do {
            let result = try SegmentSnapshot.read(segment) { snapshot in try writer.write(snapshot) }
            try? FileManager.default.removeItem(atPath: path)
            if options.sharedTables {
                try writer.dest.copySharing(
                    to: path, sharedName: Keys.segmentShared, shared: Keys.segmentSharedPrefixes, separate: Keys.segmentSeparate)
            } else {
                try writer.dest.copyCompacted(to: path)
            }
            writer.close()
            return result
        } catch {
            writer.close()
            throw error
        }
    }

    /// The oldest arrival (ns) of the chunk records a compacted copy keeps: a second more than
    /// the dedup window, what recovery reads after the copy is in place.
    static func chunksFrom(_ options: StorageOptions) -> Int64 { max(0, options.dedupCutoff() - 1_000_000_000) }

    /// The name suffix of the draft a compaction writes before its compacting copy (removed
    /// at open when a crash left one).
    static let draftSuffix = ".draft"
}
