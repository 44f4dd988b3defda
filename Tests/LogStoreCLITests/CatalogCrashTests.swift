import Foundation
import LogStore
import TestSupport
import Testing

/// `logstore compact` is killed with SIGKILL while it rewrites the catalog (its draft or its
/// copy beside `catalog.mdb`, or the swap) or at a random moment. After each kill the store opens
/// with every stream and line, and no file of the rewrite survives the open.
@Suite("Crash safety of the catalog's rewrite")
struct CatalogCrashTests {
    @Test func compactionKilledWhileTheCatalogIsRewrittenLosesNothing() async throws {
        let dir = TempDirectory("logstore-catalog-crash")
        defer { dir.cleanup() }
        let binary = try logstoreBinary()
        let start: Int64 = 1_727_136_000_000_000_000  // 2024-09-24: a finished day
        let catalog = dir.path + "/catalog.mdb"
        var expected: [String: String] = [:]
        var rng = SystemRandomNumberGenerator()
        var interrupted = 0
        for round in 0..<6 {
            // New streams, a few per commit: the catalog has free pages to drop again.
            do {
                let store = try Storage.open(directory: dir.path, logger: testLogger)
                for c in 0..<40 {
                    let lines = (0..<25).map { k in
                        let n = round * 1000 + c * 25 + k
                        expected["job-\(n)"] = "line of job \(n)"
                        return IncomingLine(
                            stream: StreamKey(index: "i", workflow: "wf-\(n % 3)", job: "job-\(n)"),
                            timestamp: start + Int64(n) * 1_000_000_000, message: Array("line of job \(n)".utf8), fields: Array("{}".utf8))
                    }
                    _ = try await store.append(lines)
                }
                store.close()
            }
            let waitForRewrite = round % 2 == 1
            let delay = Int.random(in: 0...(waitForRewrite ? 3 : 900), using: &rng)
            let dataDir = dir.path
            try await onOwnThread { try Self.compactAndKill(binary: binary, dataDir: dataDir, waitForRewrite: waitForRewrite, milliseconds: delay) }
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            if names.contains(where: { $0.hasPrefix("catalog.mdb.compact") }) { interrupted += 1 }

            let store = try Storage.open(directory: dir.path, logger: testLogger)
            let streams = store.allStreams()
            #expect(streams.count == expected.count, "round \(round)")
            let lines = try store.read(LogQuery(streams: streams.map(\.id), limit: 100_000)).lines
            var got: [String: String] = [:]
            for line in lines { got[store.stream(line.stream)?.key.job ?? "?"] = line.message }
            #expect(got == expected, "round \(round): \(got.count) of \(expected.count) streams read back")
            store.close()
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(!left.contains { $0.hasPrefix("catalog.mdb.") }, "round \(round): \(left)")
            #expect(FileManager.default.fileExists(atPath: catalog))
        }
        // The rewrite's files are there for milliseconds: of the three kills aimed at it, one at least lands.
        #expect(interrupted >= 1, "no kill landed inside the catalog's rewrite")
        // Finally a compaction that runs to the end rewrites the catalog and loses nothing.
        let result = try await runLogstore(["compact", "--data-dir", dir.path, "--log-level", "error"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("catalog.mdb"), "\(result.stdout)")
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(store.allStreams().count == expected.count)
    }

    /// Starts `logstore compact` and kills it `milliseconds` after it starts or, with
    /// `waitForRewrite`, after the catalog's rewrite files appear.
    static func compactAndKill(binary: String, dataDir: String, waitForRewrite: Bool, milliseconds: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["compact", "--data-dir", dataDir, "--log-level", "error"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.runGuarded()
        if waitForRewrite {
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning, ContinuousClock.now < deadline {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: dataDir)) ?? []
                if names.contains(where: { $0.hasPrefix("catalog.mdb.compact") }) { break }
                usleep(100)
            }
        }
        usleep(useconds_t(milliseconds * 1000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
