import Foundation

extension Storage {
    /// Statistics read from the catalog and every segment. With `countingBlocks` false the
    /// blocks are not read (`blocks`, `blockBytes` and `blockLines` stay 0): reading every
    /// block's bytes maps every page of the store, which a metrics scrape every few seconds
    /// must not do (5 M lines: 100 MiB more resident after one scrape); every other figure is
    /// read from the per-stream statistics, the heads, the free list and the tables' page counts.
    public func stats(countingBlocks: Bool = true) throws -> StoreStats {
        let (segments, streams, lastLSN) = shared.state.withLock { s in
            (s.segments.values.sorted { $0.day < $1.day }, Array(s.streams.values), s.committedLSN)
        }
        let today = Day.of(Storage.now())
        let result = try segments.map { segment in
            try SegmentSnapshot.read(segment) { snapshot in try snapshot.stats(today: today, countingBlocks: countingBlocks) }
        }
        let lines = result.reduce(0) { $0 + $1.lines }
        let raw = result.reduce(0) { $0 + $1.rawBytes }
        let stored = DiskUsage.tree(directory)
        let used = result.reduce(catalog.env.info().usedBytes) { $0 + $1.usedBytes }
        let withLines = streams.filter { $0.stats.lines > 0 }
        return StoreStats(
            directory: directory, formatVersion: Keys.formatVersion, segments: result, streams: withLines.count, lines: lines,
            rawBytes: raw, storedBytes: stored, usedBytes: used, freeBytes: result.reduce(0) { $0 + $1.freeBytes }, blockBytes: result.reduce(0) { $0 + $1.blockBytes },
            indexBytes: result.reduce(0) { $0 + $1.indexBytes },
            lockBytes: result.reduce(DiskUsage.file(directory + "/" + Keys.catalogFile + "-lock")) { $0 + $1.lockBytes },
            ratio: raw > 0 ? Double(stored) / Double(raw) : 0,
            oldest: withLines.map(\.stats.firstTimestamp).min(), newest: withLines.map(\.stats.lastTimestamp).max(),
            lastLSN: lastLSN)
    }
}

extension SegmentSnapshot {
    /// What `logstore stats` shows about this segment, every count from this one snapshot: a
    /// line is counted once, in `headLines` or in `blockLines`, and the two add up to `lines`.
    func stats(today: Int32, countingBlocks: Bool = true) throws -> SegmentStats {
        let (mapBytes, usedBytes, pageSize) = segment.env.info()
        var st = SegmentStats(
            name: segment.name, fileBytes: segment.fileBytes, usedBytes: usedBytes, mapBytes: mapBytes, streams: 0, lines: 0,
            rawBytes: 0, blocks: 0, blockBytes: 0, headLines: 0, maxLSN: 0, indexBytes: 0, pendingIndexBlocks: segment.pending.blockCount,
            generation: segment.generation,
            state: segment.day >= today ? "active" : segment.generation > 0 ? "compacted" : "finished")
        st.lockBytes = segment.lockBytes
        st.diskBytes = st.fileBytes + st.lockBytes
        st.maxLSN = try maxLSN()
        st.indexBytes = try segment.indexBytes(txn)
        st.tokenIndex = try txn.get(segment.meta, Keys.metaUnindexed) == nil
        st.freeBytes = try txn.freePages() * pageSize
        try forEachStreamStats { _, s in
            st.streams += 1
            st.lines += s.lines
            st.rawBytes += s.rawBytes
        }
        if countingBlocks {
            try forEachBlock { block, _, _ in
                st.blocks += 1
                st.blockBytes += block.storedSize
                st.blockLines += block.header.count
                return true
            }
        }
        try forEachUnsealedHeadEntry { _, _, _, _ in st.headLines += 1 }
        return st
    }
}
