import Foundation

extension Storage {
    /// What `policy` removes at time `now` (ns): the segments dropped whole (oldest first), the
    /// streams removed from the segments kept (indices past their own age), and whether the
    /// disk cap is met.
    func retentionPlan(_ policy: RetentionPolicy, now: Int64) -> (days: [Int32], purges: [Int32: Set<StreamID>], capUnmet: Bool) {
        let (segments, streams) = shared.state.withLock { s in
            (s.segments.values.sorted { $0.day < $1.day }, s.streams.values.filter { !s.isHidden($0) })
        }
        let today = Day.of(now)
        var drop: [Int32] = []
        var purges: [Int32: Set<StreamID>] = [:]
        /// True when `day` is past `age` at `now`.
        func expired(_ day: Int32, _ age: Duration?) -> Bool {
            guard let age else { return false }
            return Day.start(day + 1) <= now - Int64(age.components.seconds) * 1_000_000_000
        }
        if policy.perIndex.isEmpty {
            if let maxAge = policy.maxAge {
                for segment in segments where expired(segment.day, maxAge) { drop.append(segment.day) }
            }
        } else {
            var ages: [String: Duration?] = [:]
            var byDay: [Int32: [StreamInfo]] = [:]
            for info in streams { for day in info.days { byDay[day, default: []].append(info) } }
            for segment in segments {
                let dayStreams = byDay[segment.day] ?? []
                var doomed = Set<StreamID>()
                for info in dayStreams {
                    let age = ages[info.key.index] ?? policy.maxAge(of: info.key.index)
                    ages[info.key.index] = age
                    if expired(segment.day, age) { doomed.insert(info.id) }
                }
                if doomed.count == dayStreams.count && (!dayStreams.isEmpty || expired(segment.day, policy.maxAge)) {
                    drop.append(segment.day)
                } else if !doomed.isEmpty {
                    purges[segment.day] = doomed
                }
            }
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
                purges[segment.day] = nil
                total -= UInt64(segment.fileBytes)
            }
            if total > cap { capUnmet = true }
        }
        return (drop.sorted(), purges, capUnmet)
    }

    /// Drops whole day segments by age and disk cap, oldest first, freeing their disk at once,
    /// and removes from the other days the lines of indices past their own age (`perIndex`).
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
        for (day, streams) in plan.purges.sorted(by: { $0.key < $1.key }) {
            try await writer.perform { writer in
                guard let segment = writer.shared.state.withLock({ $0.segments[day] }) else { return }
                try writer.purge(streams, from: segment, what: "indices past their retention removed")
            }
            logger.info("expired indices removed from a day", metadata: ["segment": "\(Day.name(day))", "streams": "\(streams.count)"])
        }
        return report
    }
}
