import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `logstore backup` beside a real `logstore serve` that keeps ingesting: the backup holds every
/// line acknowledged before it started, in order, and is itself a data directory a server runs on.
@Suite("logstore backup")
struct BackupTests {
    /// Posts lines `range` of `job` through `/_bulk` (day `day` after 2024-09-24, one line per
    /// second); returns once they are acknowledged.
    func post(port: Int, job: String, day: Int, _ range: Range<Int>) async throws {
        var body = ""
        for i in range {
            body += #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
            let ts = 1_727_136_000_000 + day * 86_400_000 + i * 1000
            body += #"{"@timestamp":\#(ts),"log":"\#(job) line \#(i)","kubernetes.labels.job-name":"\#(job)"}"# + "\n"
        }
        try await postBulk(port: port, body: body)
    }

    /// The messages of `job` in `directory`, in log order (read-only, beside anything).
    func messages(_ directory: String, job: String) async throws -> [String] {
        let r = try await runLogstore(["logs", "--data-dir", directory, "--job", job, "--json"])
        guard r.status == 0 else { throw CLITestError("logs failed: \(r.stderr)") }
        return try r.stdout.split(separator: "\n").map { row in
            let object = try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any]
            return object?["log"] as? String ?? ""
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func backupWhileIngestingHoldsEveryAcknowledgedLine() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        let backup = dir.path + "/backup"
        let (server, port) = try await startServer(data: data)
        defer { if server.isRunning { server.terminate() } }

        // Acknowledged before the backup: two days, sealed blocks (job a passes 1000 lines)
        // and unsealed heads (job b).
        for start in stride(from: 0, to: 1500, by: 250) { try await post(port: port, job: "a", day: 0, start..<(start + 250)) }
        try await post(port: port, job: "b", day: 1, 0..<700)

        // Ingest goes on while the backup runs: job c, 40 requests of 50 lines.
        let ingest = Task {
            var acknowledged = 0
            for k in 0..<40 {
                try await post(port: port, job: "c", day: 1, (k * 50)..<(k * 50 + 50))
                acknowledged += 50
            }
            return acknowledged
        }
        let result = try await runLogstore(["backup", "--data-dir", data, "--to", backup])
        let ingested = try await ingest.value
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("backup: 3 file(s)"), "\(result.stdout)")
        #expect(result.stderr.contains("segments/2024-09-24.mdb (1/3)") && result.stderr.contains("catalog.mdb (3/3)"), "\(result.stderr)")

        // Only data files, complete: no lock files, no partial directory left.
        let fm = FileManager.default
        #expect(try fm.contentsOfDirectory(atPath: backup).sorted() == ["catalog.mdb", "segments"])
        #expect(try fm.contentsOfDirectory(atPath: backup + "/segments").sorted() == ["2024-09-24.mdb", "2024-09-25.mdb"])
        #expect(!fm.fileExists(atPath: backup + ".partial"))

        // Everything acknowledged before, in order; of job c, a prefix of what was sent.
        #expect(try await messages(backup, job: "a") == (0..<1500).map { "a line \($0)" })
        #expect(try await messages(backup, job: "b") == (0..<700).map { "b line \($0)" })
        let c = try await messages(backup, job: "c")
        #expect(c == (0..<c.count).map { "c line \($0)" } && c.count <= ingested)
        // The original kept everything (the backup never blocked the writer).
        try await stop(server)
        #expect(try await messages(data, job: "c").count == ingested)

        // The backup is a data directory a server runs on: it takes new lines after the old.
        let (restored, restoredPort) = try await startServer(data: backup)
        defer { if restored.isRunning { restored.terminate() } }
        try await post(port: restoredPort, job: "a", day: 0, 1500..<1510)
        try await stop(restored)
        #expect(try await messages(backup, job: "a") == (0..<1510).map { "a line \($0)" })
    }

    @Test func refusesAnExistingOrNestedDestinationAndAMissingSource() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        let (server, port) = try await startServer(data: data)
        try await post(port: port, job: "a", day: 0, 0..<10)
        try await stop(server)

        let existing = dir.path + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        let taken = try await runLogstore(["backup", "--data-dir", data, "--to", existing])
        #expect(taken.status == 1 && taken.stderr.contains("already exists"), "\(taken.stderr)")

        let nested = try await runLogstore(["backup", "--data-dir", data, "--to", data + "/copy"])
        #expect(nested.status == 1 && nested.stderr.contains("must be outside the data directory"), "\(nested.stderr)")

        let missing = try await runLogstore(["backup", "--data-dir", dir.path + "/nothing", "--to", dir.path + "/b"])
        #expect(missing.status == 1 && missing.stderr.contains("no logstore data"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/b"))

        // A refused backup leaves nothing behind; a good one then works.
        let ok = try await runLogstore(["backup", "--data-dir", data, "--to", dir.path + "/b"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try await messages(dir.path + "/b", job: "a") == (0..<10).map { "a line \($0)" })
    }
}
