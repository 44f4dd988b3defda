import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `logstore tail` against a real `logstore serve`: the last lines, following, reconnecting
/// across a server restart without gaps or repeats, and a clean stop on SIGINT.
@Suite("logstore tail")
struct TailCommandTests {
    func post(port: Int, job: String, _ range: Range<Int>) async throws {
        var body = ""
        for i in range {
            body += #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
            // Timestamps go backwards: tail shows commit order.
            body += #"{"@timestamp":\#(1_727_178_598_000 - i * 1000),"log":"line \#(i)","kubernetes.labels.job-name":"\#(job)"}"# + "\n"
        }
        try await postBulk(port: port, body: body)
    }

    @Test(.timeLimit(.minutes(2)))
    func followsAcrossARestartAndStopsOnSIGINT() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        var (server, port) = try await startServer(data: data)
        let url = "http://127.0.0.1:\(port)"
        try await post(port: port, job: "reana-run-job-1", 0..<5)
        try await post(port: port, job: "reana-run-job-2", 0..<5)

        let last = try await runLogstore(["tail", "--job", "reana-run-job-1", "-n", "3", "--server", url])
        #expect(last.status == 0 && last.stdout == "line 2\nline 3\nline 4\n", "\(last.stdout) \(last.stderr)")
        let json = try await runLogstore(["tail", "--job", "reana-run-job-1", "-n", "1", "--json", "--server", url])
        #expect(json.stdout.contains(#""log":"line 4""#) && json.stdout.contains(#""lsn":5"#), "\(json.stdout)")
        let refused = try await runLogstore(["tail", "--job", "x", "--query", "\"open", "--server", url])
        #expect(refused.status == 1 && refused.stderr.contains("400"), "\(refused.stderr)")

        // Follow: the last 2 lines, then what comes, across a restart of the server.
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: try logstoreBinary())
        follower.arguments = ["tail", "--job", "reana-run-job-1", "-n", "2", "-f", "--server", url, "--wait", "2"]
        let out = Pipe()
        let err = Pipe()
        follower.standardOutput = out
        follower.standardError = err
        try follower.runGuarded()
        let output = LockedData()
        Thread.detachNewThread {
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { return }
                output.value.withLock { $0.append(chunk) }
            }
        }
        func printed() -> String { String(decoding: output.value.withLock { $0 }, as: UTF8.self) }
        func waitFor(_ text: String) async throws {
            let deadline = Date().addingTimeInterval(30)
            while !printed().contains(text) && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(printed().contains(text), "waiting for \(text); printed: \(printed())")
        }
        try await waitFor("line 4\n")
        try await post(port: port, job: "reana-run-job-1", 5..<10)
        try await post(port: port, job: "reana-run-job-2", 5..<10)
        try await waitFor("line 9\n")

        try await stop(server)
        try await Task.sleep(for: .milliseconds(500))  // the follower retries meanwhile
        (server, port) = try await startServer(data: data, port: port)
        try await post(port: port, job: "reana-run-job-1", 10..<15)
        try await waitFor("line 14\n")

        try await stop(follower, signal: SIGINT)
        #expect(follower.terminationReason == .exit && follower.terminationStatus == 0)
        let expected = (3..<15).map { "line \($0)\n" }.joined()
        #expect(printed() == expected)
        let messages = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(messages.contains("retrying"), "stderr: \(messages)")
        try await stop(server)
    }

    @Test func helpDescribesTheCommand() async throws {
        let help = try await runLogstore(["tail", "--help"])
        #expect(help.stdout.contains("--follow") && help.stdout.contains("--query") && help.stdout.contains("SIGINT"), "\(help.stdout)")
        let bad = try await runLogstore(["tail"])
        #expect(bad.status != 0 && bad.stderr.contains("--workflow, --job or --index"), "\(bad.stderr)")
    }
}
