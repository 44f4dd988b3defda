import Foundation

extension Writer {
    /// Gives a day's free pages back to the file system when they are at least a sixteenth of
    /// its file: LMDB's compacting copy of the file as it stands (`mdb_env_copy2`,
    /// `MDB_CP_COMPACT`: the same tables, keys and blocks, no rewrite), synced and put in place
    /// by `LMDBEnvironment.replaceFile` (a crash leaves the old or the new file, each whole; the
    /// copy is named `….mdb.tmp`, which opening removes). An import seals every head at its
    /// end, and the pages those heads held are then free: most of a sparse day's file.
    /// Kept as it is when the copy would not be smaller, or when another process has the day
    /// open. The day's pending postings are written first. Returns nil when the day has no
    /// segment. Writer thread only: nothing writes the day between the copy and the swap.
    func releaseFreePages(_ day: Int32) throws -> CompactedDay? {
        guard let segment = shared.state.withLock({ $0.segments[day] }) else { return nil }
        let before = segment.diskBytes
        var result = CompactedDay(name: segment.name, bytesBefore: before, bytesAfter: before, kept: true)
        // The postings of the blocks just sealed go in first (else the close writes them after
        // the copy, into free pages of their own).
        if options.fullTextIndex { try flushIndex(segment) }
        let free = try segment.freeBytes()
        guard free > 0, free >= segment.fileBytes / 16 else { return result }
        let copy = segment.path + ".tmp"
        try? FileManager.default.removeItem(atPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "-lock")
        defer {
            try? FileManager.default.removeItem(atPath: copy)
            try? FileManager.default.removeItem(atPath: copy + "-lock")
        }
        try segment.env.copyCompacted(to: copy)
        guard DiskUsage.file(copy) < segment.fileBytes else { return result }
        try syncFile(copy)
        guard try segment.env.replaceFile(with: copy) else {
            logger.info("segment kept: another process has it open", metadata: ["segment": "\(segment.name)"])
            return result
        }
        result.kept = false
        result.bytesAfter = segment.diskBytes
        logger.info(
            "segment's free pages released",
            metadata: ["segment": "\(segment.name)", "before": "\(before)", "after": "\(result.bytesAfter)"])
        return result
    }
}

extension Writer {
    /// Free-page checks that still look at a day after its last head lines were sealed.
    static let checksAfterHeads = 3

    /// Gives back the free pages of the days that held head lines lately and are
    /// now at least half free pages, `releaseFreeBytes` or more (`releaseFreePages`): a burst's
    /// head lines are stored as they came until their streams are sealed, and LMDB never
    /// shrinks a file, so the day would keep the burst's size until its compaction. A day
    /// written steadily stays under the bound (its head is a small part of it). The copy holds
    /// the writer for about the time it takes to write the day's live pages once.
    @discardableResult
    func releaseBurstPages() -> [CompactedDay] {
        for day in heads.keys { daysWithHeads[day] = Self.checksAfterHeads }
        let days = daysWithHeads.keys.sorted()
        var released: [CompactedDay] = []
        for day in days {
            // A day without heads is looked at a few more times: its last seals, their index
            // flush and the truncation of its head may come after the check that saw them go.
            if heads[day] == nil { daysWithHeads[day] = daysWithHeads[day].map { $0 > 1 ? $0 - 1 : nil } ?? nil }
            guard let segment = shared.state.withLock({ $0.segments[day] }) else { continue }
            do {
                let free = try segment.freeBytes()
                guard free >= options.releaseFreeBytes, 2 * free >= segment.fileBytes else { continue }
                if let result = try releaseFreePages(day) { released.append(result) }
            } catch {
                logger.error("giving back free pages failed", metadata: ["segment": "\(segment.name)", "error": "\(error)"])
            }
        }
        return released
    }
}

extension Storage {
    /// Gives the free pages of every day whose file is at least a sixteenth free back to the file
    /// system (`Writer.releaseFreePages`): what `logstore import` does once it has sealed every
    /// head. Returns the days whose files were replaced, and those kept.
    /// What the writer does once a minute (`Writer.releaseBurstPages`), at once: the days that
    /// held head lines lately give back their free pages when those are half the file and
    /// `releaseFreeBytes`. Returns the days it copied (kept: another process had one open).
    public func releaseBurstPages() async throws -> [CompactedDay] {
        guard let writer else { throw StorageError.readOnly }
        return try await writer.perform { writer in writer.releaseBurstPages() }
    }

    public func releaseFreePages() async throws -> [CompactedDay] {
        guard let writer else { throw StorageError.readOnly }
        let days = shared.state.withLock { s in s.segments.keys.sorted() }
        var results: [CompactedDay] = []
        for day in days {
            if let result = try await writer.perform({ writer in try writer.releaseFreePages(day) }) { results.append(result) }
        }
        return results
    }
}
