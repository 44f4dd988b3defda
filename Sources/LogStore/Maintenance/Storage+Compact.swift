import Foundation
import Synchronization

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
            let result = try await writer.perform { writer in try writer.compactSegment(day) }
            report.compacted.append(Day.name(day))
            report.bytesBefore += result.before
            report.bytesAfter += result.after
            report.blocksMerged += result.merged
            report.blocksWritten += result.written
            logger.info(
                "segment compacted",
                metadata: [
                    "segment": "\(Day.name(day))", "before": "\(result.before)", "after": "\(result.after)",
                    "blocks merged": "\(result.merged) into \(result.written)",
                ])
        }
        return report
    }
}
