import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP
import Synchronization

/// `logstore compact`: retention and compaction now.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Drop old day segments (retention) and rewrite finished days into tight files.",
        discussion: """
            Works on the data directory directly when no server owns it; otherwise asks the \
            server (POST /v1/admin/compact at --server, default http://$LOGSTORE_LISTEN or \
            http://127.0.0.1:9200) to do it.
            """
    )

    @OptionGroup var data: DataOptions
    @Option(help: "Keep this many days, e.g. 30d, or per index pattern, first match wins, e.g. 'fluentbit-*=30d,*=90d'.")
    var retention: String?
    @Option(help: "Drop the oldest days while the data is bigger than this, e.g. 200GB.") var maxDisk: String?
    @Flag(help: "Only show what retention would drop.") var dryRun = false
    @Flag(help: "Print the report as JSON (the figures of POST /v1/admin/compact, per day too).") var json = false
    @Option(help: "The server to ask when it owns the data directory.") var server: String?
    @Option(help: "zlib level (1-9) of the blocks and index a compaction writes (default \(Limits.compactionLevel)).")
    var compactionLevel: Int32?
    @Option(help: "A day with less log text than this keeps no token index: searches read it whole; 0 indexes every day (default \(Limits.minIndexedDayBytes >> 20)MiB).")
    var minIndexedDay: String?
    @Option(help: "Keep the records of requests stored within this long, to recognise a resent one: the server's --dedup-window (default 1h).")
    var dedupWindow: String?
    @OptionGroup(title: "Server access") var client: ClientOptions

    func validate() throws {
        if let retention { _ = try RetentionOption.parse(retention) }
        if let maxDisk, ByteSize.parse(maxDisk) == nil { throw ValidationError("--max-disk '\(maxDisk)' is not a size (e.g. 200GB)") }
        if let compactionLevel, !(1...9).contains(compactionLevel) { throw ValidationError("--compaction-level must be 1 to 9") }
        if let minIndexedDay, ByteSize.parse(minIndexedDay) == nil { throw ValidationError("--min-indexed-day '\(minIndexedDay)' is not a size (e.g. 4MiB)") }
        if let dedupWindow, DurationText.parse(dedupWindow) == nil { throw ValidationError("--dedup-window '\(dedupWindow)' is not a duration (e.g. 30m, 1h)") }
    }

    func run() async throws {
        let rules = try retention.map { try RetentionOption.parse($0) }
        let policy = RetentionPolicy(maxAge: rules?.maxAge, maxDiskBytes: maxDisk.flatMap(ByteSize.parse), perIndex: rules?.perIndex ?? [])
        let store: Storage
        do {
            var options = StorageOptions()
            if let compactionLevel { options.compactionLevel = compactionLevel }
            if let minIndexedDay { options.minIndexedDayBytes = Int(ByteSize.parse(minIndexedDay) ?? 0) }
            if let dedupWindow, let window = DurationText.parse(dedupWindow) { options.dedupWindow = window }
            store = try Storage.open(directory: data.dataDirectory, options: options, logger: data.logger())
        } catch StorageError.locked {
            try await askServer(policy)
            return
        }
        defer { store.close() }
        let started = ContinuousClock.now
        let report = try await store.applyRetention(policy, dryRun: dryRun)
        for (i, name) in report.dropped.enumerated() { printError("\(dryRun ? "would drop" : "dropped") \(name) (\(i + 1)/\(report.dropped.count))") }
        var compaction = MaintenanceReport()
        if !dryRun {
            let total = try store.stats().segments.count
            let counter = Counter()
            compaction = try await store.compact { name in
                let n = counter.next()
                if stderrIsTerminal {
                    FileHandle.standardError.write(Data("\r\u{1B}[Kcompacting \(name) (\(n)/\(total))".utf8))
                } else {
                    printError("compacting \(name) (\(n)/\(total))")
                }
            }
            if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
        var combined = report
        combined.add(compaction: compaction)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(combined), as: UTF8.self))
            return
        }
        print(Self.render(combined, dryRun: dryRun, seconds: seconds))
    }

    /// The report as text: retention, then compaction per day and in total; every size is what
    /// `du -sb` counts (data and lock files).
    static func render(_ report: MaintenanceReport, dryRun: Bool, seconds: Double) -> String {
        var out = """
            retention: \(dryRun ? "would drop" : "dropped") \(report.dropped.count) segment(s), \(StatsFormatter.bytes(report.freedBytes))\
            \(report.capUnmet ? " (the disk cap cannot be met without dropping the current day)" : "")

            """
        guard !dryRun else { return out }
        for day in report.days {
            out += "  \(day.name)  \(StatsFormatter.bytes(day.bytesBefore)) → \(StatsFormatter.bytes(day.bytesAfter))"
            out += day.kept ? "  kept (a rewrite would not be smaller)" : "  rewritten"
            if day.blocksMerged > 0 { out += ", \(day.blocksMerged) small blocks merged into \(day.blocksWritten)" }
            out += "\n"
        }
        if let catalog = report.catalog {
            out += "  \(catalog.name)  \(StatsFormatter.bytes(catalog.bytesBefore)) → \(StatsFormatter.bytes(catalog.bytesAfter))"
            out += catalog.kept ? "  kept\n" : "  rewritten\n"
        }
        let kept = report.days.filter(\.kept).count
        out += """
            compaction: \(report.compacted.count) segment(s)\(kept > 0 ? " (\(kept) kept)" : "")\(report.catalog == nil ? "" : " and the catalog"), \
            \(StatsFormatter.bytes(report.bytesBefore)) → \(StatsFormatter.bytes(report.bytesAfter)); \
            data directory \(StatsFormatter.bytes(report.directoryBytesBefore)) → \(StatsFormatter.bytes(report.directoryBytesAfter)) \
            (\(report.directoryBytesBefore) → \(report.directoryBytesAfter) bytes) in \(String(format: "%.1f", seconds)) s
            """
        return out
    }

    func askServer(_ policy: RetentionPolicy) async throws {
        let base = server ?? HTTPFetch.localServer
        if !policy.perIndex.isEmpty {
            throw ValidationError("a running server applies per-index retention from its own --retention; give compact a single age, e.g. 30d")
        }
        let own = [("--compaction-level", compactionLevel != nil), ("--min-indexed-day", minIndexedDay != nil), ("--dedup-window", dedupWindow != nil)]
        if let given = own.first(where: { $0.1 })?.0 {
            throw ValidationError("a running server compacts with its own settings; \(given) applies only when compact opens the data directory itself (stop the server, or set it on serve)")
        }
        var query: [(String, String?)] = []
        if let maxAge = policy.maxAge { query.append(("retention", "\(maxAge.components.seconds / 86_400)d")) }
        if let cap = policy.maxDiskBytes { query.append(("max_disk", "\(cap)")) }
        if dryRun { query.append(("dry_run", "true")) }
        let endpoint = try client.endpoint(base)
        printError("the data directory is in use by a server; asking \(base) to compact")
        let response = try await HTTPFetch.sendForCommand(.POST, to: endpoint, path: "/v1/admin/compact", query: query, timeout: .seconds(3600))
        guard response.status == 200 else {
            printError(ServerRefusal(endpoint: endpoint, status: response.status, body: response.data, needs: .admin).description)
            throw ExitCode(1)
        }
        print(response.text)
    }
}
