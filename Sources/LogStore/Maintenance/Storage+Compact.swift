import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Storage {
    /// Rewrites every finished day segment (before the current UTC day) into a tight file:
    /// its heads are sealed and its small blocks merged, then a copy in the compacted layout is
    /// written and, when it is smaller than the file as it stands, renamed into place as the
    /// next generation (`YYYY-MM-DD.gN.mdb`); otherwise the copy is dropped and the day kept.
    /// Readers holding the old file finish on it; it is deleted at once and freed after the
    /// last one. A crash at any point leaves either the old or the new generation, both complete.
    /// Then the catalog is rewritten the same way when that makes it smaller (`Catalog.compact`).
    /// The report's bytes are what `du -sb` counts (data and lock files).
    ///
    /// - Parameters:
    ///   - now: the current time in ns (tests pass their own).
    ///   - progress: told the name of each segment as it starts.
    public func compact(now: Int64? = nil, progress: (@Sendable (String) -> Void)? = nil) async throws -> MaintenanceReport {
        guard let writer else { throw StorageError.readOnly }
        let today = Day.of(now ?? Writer.wallClock())
        let days = shared.state.withLock { s in s.segments.keys.filter { $0 < today }.sorted() }
        var report = MaintenanceReport()
        report.directoryBytesBefore = DiskUsage.tree(directory)
        for day in days {
            progress?(Day.name(day))
            guard let result = try await writer.perform({ writer in try writer.compactSegment(day) }) else { continue }
            report.compacted.append(result.name)
            report.days.append(result)
            report.bytesBefore += result.bytesBefore
            report.bytesAfter += result.bytesAfter
            report.blocksMerged += result.blocksMerged
            report.blocksWritten += result.blocksWritten
            logger.info(
                "segment compacted",
                metadata: [
                    "segment": "\(result.name)", "before": "\(result.bytesBefore)", "after": "\(result.bytesAfter)",
                    "kept": "\(result.kept)", "blocks merged": "\(result.blocksMerged) into \(result.blocksWritten)",
                ])
        }
        // The catalog last: the days' rewrites may have recorded streams in it.
        let catalog = try await writer.perform { writer in try writer.compactCatalog() }
        report.catalog = catalog
        report.bytesBefore += catalog.bytesBefore
        report.bytesAfter += catalog.bytesAfter
        report.directoryBytesAfter = DiskUsage.tree(directory)
        return report
    }
}
