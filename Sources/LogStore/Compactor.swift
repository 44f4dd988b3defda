import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Storage {
    /// Rewrites every finished day segment (before the current UTC day) into a tight file:
    /// its heads are sealed, then `mdb_env_copy2(MDB_CP_COMPACT)` writes a copy without free
    /// pages, which is renamed into place as the next generation (`YYYY-MM-DD.gN.mdb`). Readers
    /// holding the old file finish on it; it is deleted at once and freed after the last one.
    /// A crash at any point leaves either the old or the new generation, both complete.
    ///
    /// - Parameters:
    ///   - now: the current time in ns (tests pass their own).
    ///   - progress: told the name of each segment as it starts.
    public func compact(now: Int64? = nil, progress: (@Sendable (String) -> Void)? = nil) async throws -> MaintenanceReport {
        guard let writer else { throw StorageError.readOnly }
        let today = Day.of(now ?? Writer.wallClock())
        let days = shared.state.withLock { s in s.segments.keys.filter { $0 < today }.sorted() }
        var report = MaintenanceReport()
        for day in days {
            progress?(Day.name(day))
            let (before, after) = try await writer.perform { writer in try writer.compactSegment(day) }
            report.compacted.append(Day.name(day))
            report.bytesBefore += before
            report.bytesAfter += after
            logger.info("segment compacted", metadata: ["segment": "\(Day.name(day))", "before": "\(before)", "after": "\(after)"])
        }
        return report
    }
}

extension Writer {
    /// Seals a day's heads and swaps in a compacted copy of its segment. Writer thread only.
    func compactSegment(_ day: Int32) throws -> (before: Int, after: Int) {
        guard var segment = shared.state.withLock({ $0.segments[day] }) else { return (0, 0) }
        while let pending = heads[day], !pending.isEmpty {
            _ = try write(segment: segment, group: [:], seal: Set(pending.keys.prefix(Self.sealBudgetStreams)))
        }
        let before = segment.fileBytes
        let generation = segment.generation + 1
        let target = segmentsDirectory + "/" + Segment.fileName(day: day, generation: generation)
        let temporary = target + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        try segment.env.copyCompacted(to: temporary)
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(temporary, target) == 0 else {
            throw StorageError.io("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        syncDirectory(segmentsDirectory)
        let fresh = try Segment(directory: segmentsDirectory, day: day, generation: generation, readOnly: false, mapSize: options.segmentMapSize)
        shared.state.withLock { $0.segments[day] = fresh }
        segment.unlink()
        syncDirectory(segmentsDirectory)
        segment = fresh
        return (before, fresh.fileBytes)
    }
}
