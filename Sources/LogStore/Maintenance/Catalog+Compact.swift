import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Catalog {
    /// The rewrite's files beside `catalog.mdb`: the draft the tables are copied into, and the
    /// compacting copy of that draft that replaces the catalog.
    static let rewriteSuffix = ".compact"
    static let draftSuffix = ".draft"

    /// Removes what an interrupted rewrite left beside the catalog at `path` (its draft, its
    /// copy and their lock files). Only the process holding the directory lock calls it.
    static func removeRewriteFiles(of path: String) {
        let copy = path + rewriteSuffix
        for file in [copy, copy + "-lock", copy + draftSuffix, copy + draftSuffix + "-lock"] {
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    /// Bytes of the catalog on disk as `du -sb` counts them: its file and its lock file.
    var diskBytes: Int { DiskUsage.file(env.path) + DiskUsage.file(env.path + "-lock") }

    /// Rewrites the catalog into a tight file when that is smaller: every table is copied in key
    /// order with `MDB_APPEND` into a draft (full pages; `stream_keys`, which nothing reads, is
    /// left empty), the draft's copy in the catalog's layout (`LMDBEnvironment.copySharing`, or
    /// the compacting copy `mdb_env_copy2` for a table each; no free pages) is synced and put in place by
    /// `LMDBEnvironment.replaceFile` (a crash leaves the old or the new catalog, each whole).
    /// Kept as it is when the copy would not be smaller, or when another process (a backup)
    /// has the catalog open. Writer thread only: nothing writes the catalog meanwhile.
    func compact() throws -> CompactedDay {
        let path = env.path
        let before = diskBytes
        var result = CompactedDay(name: Keys.catalogFile, bytesBefore: before, bytesAfter: before, kept: true)
        let copy = path + Self.rewriteSuffix
        Self.removeRewriteFiles(of: path)
        defer { Self.removeRewriteFiles(of: path) }
        try writeCopy(to: copy)
        // Once replaced, the lock file is set up afresh for `readers` slots.
        let rewritten = DiskUsage.file(copy) + min(DiskUsage.file(path + "-lock"), Segment.lockFileBytes(readers: Self.readers))
        guard rewritten < before, try env.replaceFile(with: copy) else {
            result.bytesAfter = diskBytes
            return result
        }
        result.kept = false
        result.bytesAfter = diskBytes
        return result
    }

    /// Writes the copy `replaceFile` takes to `copy`, synced.
    private func writeCopy(to copy: String) throws {
        let draftPath = copy + Self.draftSuffix
        let used = env.info().usedBytes
        let draft = try LMDBEnvironment(path: draftPath, mapSize: max(Limits.catalogMapSize, 2 * used + (16 << 20)), maxReaders: Self.readers)
        defer { draft.close() }
        _ = try draft.table(streamKeys.name)
        let tables = copiedTables
        let targets = try tables.map { try draft.table($0.name) }
        try env.read { source in
            for (from, to) in zip(tables, targets) {
                try draft.write(sync: false) { txn in
                    try source.scan(from) { k, v in
                        try txn.put(to, k, v, append: true)
                        return true
                    }
                }
            }
        }
        if shared {
            try draft.copySharing(to: copy, sharedName: Keys.catalogShared, shared: Keys.catalogSharedPrefixes, separate: [Keys.catalogStreamKeys])
        } else {
            try draft.copyCompacted(to: copy)
        }
        try syncFile(copy)
    }
}

extension Catalog {
    /// Records the streams of `segment` the catalog lacks (a crash between a day's commit and
    /// the catalog's leaves some to the next open; compaction leaves the stream records out of
    /// a day's copy, so the catalog must hold them first). Returns how many it recorded.
    @discardableResult
    func recordMissing(of segment: Segment) throws -> Int {
        var found: [(StreamID, [UInt8])] = []
        try SegmentSnapshot.read(segment) { snapshot in
            try snapshot.forEachStream { id, record in found.append((id, Array(record))) }
        }
        let table = streams
        let missing = try env.read { txn in try found.filter { try txn.get(table, u64: $0.0) == nil } }
        guard !missing.isEmpty else { return 0 }
        try record(streams: try missing.map { ($0.0, try $0.1.withUnsafeBytes { try Keys.decodeStreamKey($0) }) }, segments: [])
        return missing.count
    }
}

extension Writer {
    /// Compacts the catalog (`Catalog.compact`). Writer thread only.
    func compactCatalog() throws -> CompactedDay {
        let result = try catalog.compact()
        logger.info(
            "catalog compacted",
            metadata: ["before": "\(result.bytesBefore)", "after": "\(result.bytesAfter)", "kept": "\(result.kept)"])
        return result
    }
}
