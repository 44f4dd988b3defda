import Foundation
import TestSupport
import Testing

@Suite("logstore import, logs and stats")
struct ImportTests {
    @Test func badInputIsReportedByLineAndGoodLinesAreStored() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        var body = Data()
        func add(_ s: String) { body.append(Data((s + "\n").utf8)) }
        add(#"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"good 1","job":"j1"}"#)  // 1
        add(#"{"@timestamp":"2024-09-24T11:49:58.254Z","log":"broken"#)  // 2: malformed
        add(#"{"log":"no timestamp gets arrival time","job":"j1"}"#)  // 3: ok
        body.append(Data(#"{"@timestamp":"2024-09-24T11:49:58.255Z","log":"bad "#.utf8))  // 4: invalid UTF-8
        body.append(contentsOf: [0xC3, 0x28])
        body.append(Data("\",\"job\":\"j1\"}\n".utf8))
        add(#"["not","an","object"]"#)  // 5
        add(#"{"@timestamp":"2024-09-24T11:49:58.256Z","log":""# + String(repeating: "y", count: 10 << 20) + #"","job":"j1"}"#)  // 6: 10 MB
        add(#"{"@timestamp":"not a time","log":"bad time","job":"j1"}"#)  // 7
        add(#"{"@timestamp":"2024-09-24T11:49:58.257Z","log":"good 2","job":"j1"}"#)  // 8
        let file = dir.path + "/input.ndjson"
        try body.write(to: URL(fileURLWithPath: file))

        let result = try await runLogstore(["import", "--data-dir", data, "--index", "idx", "--log-level", "error", file])
        #expect(result.status != 0)
        for number in [2, 4, 5, 6, 7] {
            #expect(result.stderr.contains("input.ndjson:\(number): "), "line \(number) not named in: \(result.stderr.prefix(2000))")
        }
        for good in [1, 3, 8] { #expect(!result.stderr.contains("input.ndjson:\(good): ")) }
        #expect(result.stderr.contains("imported 3 lines"))
        #expect(result.stderr.contains("5 refused"))

        let logs = try await runLogstore(["logs", "--data-dir", data, "--job", "j1", "--log-level", "error"])
        #expect(logs.status == 0)
        let lines = logs.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first == "good 1")
        #expect(lines.contains("good 2"))
    }

    @Test func importsGzipBulkAndReadsBackByJobWithoutWorkflow() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
        let job = fixtures.appendingPathComponent("reana/bulk_job_log.body.raw").path
        let workflow = fixtures.appendingPathComponent("reana/bulk_workflow_log.body.raw").path
        // Gzip one of them with the system gzip to check .gz input.
        let gz = dir.path + "/job.ndjson.gz"
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        gzip.arguments = ["-c", "gzip -c '\(job)' > '\(gz)'"]
        try gzip.runGuarded()
        gzip.waitUntilExit()
        let result = try await runLogstore(["import", "--data-dir", data, "--log-level", "error", gz, workflow])
        #expect(result.status == 0, "\(result.stderr)")

        let stats = try await runLogstore(["stats", "--data-dir", data, "--json"])
        #expect(stats.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any]
        #expect((json?["lines"] as? Int ?? 0) > 0)
        #expect(json?["streams"] as? Int == 2)
        // The pages the heads held until the import sealed them are given back.
        #expect(json?["freeBytes"] as? Int == 0)
        #expect(result.stderr.contains("of free pages given back from 1 day(s)"), "\(result.stderr)")

        // The job's documents carry no workflow id: found by job name alone.
        let jobName = try #require(
            await runLogstore(["logs", "--data-dir", data, "--index", "fluentbit-job_log", "--json"]).stdout
                .split(separator: "\n").first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["job"]
                as? String)
        let logs = try await runLogstore(["logs", "--data-dir", data, "--job", jobName])
        #expect(logs.status == 0)
        #expect(logs.stdout.contains("Hello Jane Doe!"))
        // Paging with --limit/--after gives the same lines.
        let first = try await runLogstore(["logs", "--data-dir", data, "--job", jobName, "--limit", "3"])
        let cursor = try #require(first.stderr.split(separator: "\n").last(where: { $0.hasPrefix("next: ") })?.dropFirst(6))
        let rest = try await runLogstore(["logs", "--data-dir", data, "--job", jobName, "--after", String(cursor)])
        #expect(first.stdout + rest.stdout == logs.stdout)
    }

    @Test func everyCommandHasHelp() async throws {
        for command in [[], ["serve"], ["import"], ["logs"], ["stats"], ["search"], ["hits"], ["compact"], ["backup"], ["delete"], ["tail"]] {
            let result = try await runLogstore(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("USAGE"))
        }
    }
}
