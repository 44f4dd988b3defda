import Foundation
import Synchronization
import Testing
@testable import LogStore

/// `Backup.run` in process (the store closed; the CLI tests run it beside a live server):
/// every file, progress per file, and a copy that opens as a store with the same lines.
@Suite("Backup")
struct BackupTests {
    @Test func copiesEverySegmentThenTheCatalogWithProgress() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        let key = StreamKey(index: "fluentbit-job_log", workflow: "wf", job: "job-1")
        var options = StorageOptions()
        options.sealLines = 100
        let store = try Storage.open(directory: data, options: options, logger: testLogger)
        // Three days; day 0 with sealed blocks, the last day with head lines only.
        _ = try await store.append((0..<250).map { line(key, day0 + Int64($0) * 1_000_000_000, "d0 \($0)") })
        _ = try await store.append((0..<40).map { line(key, day0 + 86_400 * nanosPerSecond + Int64($0) * 1_000_000_000, "d1 \($0)") })
        _ = try await store.append((0..<7).map { line(key, day0 + 2 * 86_400 * nanosPerSecond + Int64($0) * 1_000_000_000, "d2 \($0)") })
        // A deleted workflow stays hidden in the backup: its lines are still in a day that is
        // not compacted, and only the catalog's tombstone (copied) hides them.
        let gone = StreamKey(index: "fluentbit-job_log", workflow: "wf-gone", job: "job-gone")
        _ = try await store.append((0..<5).map { line(gone, day0 + 2 * 86_400 * nanosPerSecond + Int64($0) * 1_000_000_000, "gone \($0)") })
        try await store.deleteWorkflow("wf-gone")
        // Day 0 compacted: its file becomes a new generation, which is the one copied.
        _ = try await store.compact(now: day0 + 86_400 * nanosPerSecond + 60 * nanosPerSecond)
        store.close()

        let seen = Mutex<[Backup.Progress]>([])
        let report = try Backup.run(directory: data, to: dir.path + "/copy") { p in seen.withLock { $0.append(p) } }
        #expect(report.files == ["segments/2024-09-24.g1.mdb", "segments/2024-09-25.mdb", "segments/2024-09-26.mdb", "catalog.mdb"])
        #expect(report.vanished.isEmpty)
        #expect(report.backupBytes > 0 && report.backupBytes <= report.sourceBytes)
        let done = seen.withLock { $0 }.filter(\.done)
        #expect(done.map(\.name) == report.files)
        #expect(done.map(\.index) == [1, 2, 3, 4] && done.allSatisfy { $0.count == 4 && $0.copiedBytes > 0 })

        let copy = try Storage.open(directory: dir.path + "/copy", options: StorageOptions(readOnly: true), logger: testLogger)
        defer { copy.close() }
        let ids = copy.streams(matching: StreamSelector(job: "job-1")).map(\.id)
        let lines = try copy.read(LogQuery(streams: ids, limit: 10_000)).lines.map(\.message)
        #expect(lines == (0..<250).map { "d0 \($0)" } + (0..<40).map { "d1 \($0)" } + (0..<7).map { "d2 \($0)" })
        #expect(copy.streams(matching: StreamSelector(workflow: "wf-gone")).isEmpty)
    }
}
