import Foundation

/// How much to keep: by age of a whole UTC day and by total disk use.
public struct RetentionPolicy: Sendable, Equatable {
    /// Drop day segments whose every line is older than this.
    public var maxAge: Duration?
    /// Drop the oldest day segments while the data directory is bigger than this (never the
    /// current day).
    public var maxDiskBytes: UInt64?

    public init(maxAge: Duration? = nil, maxDiskBytes: UInt64? = nil) {
        self.maxAge = maxAge
        self.maxDiskBytes = maxDiskBytes
    }

    public var isEmpty: Bool { maxAge == nil && maxDiskBytes == nil }
}

/// What retention and compaction did.
public struct MaintenanceReport: Sendable, Codable, Equatable {
    /// Segments (`YYYY-MM-DD`) dropped by retention.
    public var dropped: [String] = []
    /// Bytes of the dropped files.
    public var freedBytes: Int = 0
    /// True when the disk cap could not be met without dropping the current day.
    public var capUnmet = false
    /// Segments rewritten by compaction, with their sizes before and after.
    public var compacted: [String] = []
    public var bytesBefore: Int = 0
    public var bytesAfter: Int = 0
    /// Small blocks merged by compaction, and the blocks they became.
    public var blocksMerged: Int = 0
    public var blocksWritten: Int = 0

    public init() {}
}

extension Storage {
    /// Which segments `policy` drops at time `now` (ns), oldest first, and whether the cap is met.
    func retentionPlan(_ policy: RetentionPolicy, now: Int64) -> (days: [Int32], capUnmet: Bool) {
        let segments = shared.state.withLock { s in s.segments.values.sorted { $0.day < $1.day } }
        let today = Day.of(now)
        var drop: [Int32] = []
        if let maxAge = policy.maxAge {
            let cutoff = now - Int64(maxAge.components.seconds) * 1_000_000_000
            for segment in segments where Day.start(segment.day + 1) <= cutoff { drop.append(segment.day) }
        }
        var capUnmet = false
        if let cap = policy.maxDiskBytes {
            let catalogBytes = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + Keys.catalogFile)[.size] as? NSNumber)??.intValue ?? 0
            var total = UInt64(catalogBytes) + segments.filter { !drop.contains($0.day) }.reduce(0) { $0 + UInt64($1.fileBytes) }
            for segment in segments where !drop.contains(segment.day) && total > cap {
                if segment.day >= today {
                    capUnmet = true
                    break
                }
                drop.append(segment.day)
                total -= UInt64(segment.fileBytes)
            }
            if total > cap { capUnmet = true }
        }
        return (drop.sorted(), capUnmet)
    }

    /// Drops whole day segments by age and disk cap, oldest first, freeing their disk at once.
    /// Readers already using a dropped segment finish normally (the file lives until they are
    /// done); later reads no longer see its lines.
    ///
    /// - Parameters:
    ///   - policy: what to keep.
    ///   - now: the current time in ns (tests pass their own).
    ///   - dryRun: only report what would be dropped.
    public func applyRetention(_ policy: RetentionPolicy, now: Int64? = nil, dryRun: Bool = false) async throws -> MaintenanceReport {
        let now = now ?? Writer.wallClock()
        var report = MaintenanceReport()
        let plan = retentionPlan(policy, now: now)
        report.capUnmet = plan.capUnmet
        if plan.capUnmet {
            logger.warning(
                "disk cap cannot be met without dropping the current day",
                metadata: ["cap": "\(policy.maxDiskBytes ?? 0)"])
        }
        if dryRun {
            for day in plan.days {
                report.dropped.append(Day.name(day))
                report.freedBytes += segment(day)?.fileBytes ?? 0
            }
            return report
        }
        guard let writer else { throw StorageError.readOnly }
        for day in plan.days {
            let freed = try await writer.perform { writer in try writer.dropSegment(day) }
            report.dropped.append(Day.name(day))
            report.freedBytes += freed
            logger.info("segment dropped by retention", metadata: ["segment": "\(Day.name(day))", "bytes": "\(freed)"])
        }
        return report
    }
}

extension Writer {
    /// Removes a day segment: from memory, the catalog and the disk. Writer thread only.
    func dropSegment(_ day: Int32) throws -> Int {
        guard let segment = shared.state.withLock({ $0.segments[day] }) else { return 0 }
        let bytes = segment.fileBytes
        heads[day] = nil
        segmentStreams[day] = nil
        let affected = shared.state.withLock { s in s.streams.values.filter { $0.days.contains(day) }.map(\.id) }
        shared.state.withLock { s in
            s.segments[day] = nil
            s.heads[day] = nil
        }
        try rebuildStats(of: affected, excluding: day)
        try catalog.forget(segments: [day])
        segment.unlink()
        syncDirectory(segmentsDirectory)
        return bytes
    }
}
