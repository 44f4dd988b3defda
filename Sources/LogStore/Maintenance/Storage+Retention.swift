import Foundation

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
