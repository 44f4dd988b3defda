import Foundation

/// What `logstore stats` shows about one day segment.
public struct SegmentStats: Sendable, Codable, Equatable {
    public var name: String
    public var fileBytes: Int
    public var usedBytes: Int
    public var mapBytes: Int
    public var streams: Int
    public var lines: UInt64
    public var rawBytes: UInt64
    public var blocks: Int
    public var blockBytes: Int
    public var headLines: Int
    public var maxLSN: UInt64
    /// Bytes of the full-text index (postings and block directory pages).
    public var indexBytes: Int
    /// Sealed blocks whose postings are still only in memory (flushed by the writer).
    public var pendingIndexBlocks: Int
    /// Bytes of LMDB's free pages inside the file (freed by deletes, reused by later writes;
    /// a compacted segment has none).
    public var freeBytes: Int = 0
    /// Compactions this segment went through (its file is `YYYY-MM-DD.gN.mdb`).
    public var generation: Int
    /// `active` (today: receiving lines), `finished` (an earlier day), `compacted`.
    public var state: String
}

/// What `logstore stats` shows about the whole store.
public struct StoreStats: Sendable, Codable, Equatable {
    public var directory: String
    public var formatVersion: UInt32
    public var segments: [SegmentStats]
    public var streams: Int
    public var lines: UInt64
    /// Bytes of message text plus fields as received.
    public var rawBytes: UInt64
    /// Bytes of the files on disk (segments and catalog).
    public var storedBytes: Int
    /// Bytes of LMDB pages in use (a file may hold free pages after deletes).
    public var usedBytes: Int
    /// Bytes of LMDB free pages in all segments.
    public var freeBytes: Int = 0
    public var blockBytes: Int
    /// Bytes of the full-text index in all segments.
    public var indexBytes: Int
    /// storedBytes / rawBytes.
    public var ratio: Double
    public var oldest: Int64?
    public var newest: Int64?
    public var lastLSN: UInt64
}

extension Storage {
    /// Statistics read from the catalog and every segment.
    public func stats() throws -> StoreStats {
        let (segments, streams, lastLSN, headCounts) = shared.state.withLock { s in
            (
                s.segments.values.sorted { $0.day < $1.day }, Array(s.streams.values), s.committedLSN,
                s.heads.mapValues { $0.values.reduce(0) { $0 + $1.count } }
            )
        }
        var result: [SegmentStats] = []
        let today = Day.of(Storage.now())
        for segment in segments {
            let (mapBytes, usedBytes, pageSize) = segment.env.info()
            var st = SegmentStats(
                name: segment.name, fileBytes: segment.fileBytes, usedBytes: usedBytes, mapBytes: mapBytes, streams: 0, lines: 0,
                rawBytes: 0, blocks: 0, blockBytes: 0, headLines: 0, maxLSN: 0, indexBytes: 0, pendingIndexBlocks: segment.pending.blockCount,
                generation: segment.generation,
                state: segment.day >= today ? "active" : segment.generation > 0 ? "compacted" : "finished")
            try segment.env.read { txn in
                st.maxLSN = try segment.maxLSN(txn)
                st.headLines = headCounts[segment.day] ?? 0
                st.indexBytes = try segment.indexBytes(txn)
                st.freeBytes = try txn.freePages() * pageSize
                try txn.scan(segment.stats) { _, v in
                    let s = try Keys.decodeStats(v)
                    st.streams += 1
                    st.lines += s.lines
                    st.rawBytes += s.rawBytes
                    return true
                }
                try txn.scan(segment.blocks) { _, v in
                    st.blocks += 1
                    st.blockBytes += try segment.blockBytes(txn, v).count
                    return true
                }
            }
            result.append(st)
        }
        let catalogBytes =
            ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + Keys.catalogFile)[.size]) as? NSNumber)?.intValue ?? 0
        let lines = result.reduce(0) { $0 + $1.lines }
        let raw = result.reduce(0) { $0 + $1.rawBytes }
        let stored = result.reduce(catalogBytes) { $0 + $1.fileBytes }
        let used = result.reduce(catalog.env.info().usedBytes) { $0 + $1.usedBytes }
        let withLines = streams.filter { $0.stats.lines > 0 }
        return StoreStats(
            directory: directory, formatVersion: Keys.formatVersion, segments: result, streams: withLines.count, lines: lines,
            rawBytes: raw, storedBytes: stored, usedBytes: used, freeBytes: result.reduce(0) { $0 + $1.freeBytes }, blockBytes: result.reduce(0) { $0 + $1.blockBytes },
            indexBytes: result.reduce(0) { $0 + $1.indexBytes },
            ratio: raw > 0 ? Double(stored) / Double(raw) : 0,
            oldest: withLines.map(\.stats.firstTimestamp).min(), newest: withLines.map(\.stats.lastTimestamp).max(),
            lastLSN: lastLSN)
    }
}
