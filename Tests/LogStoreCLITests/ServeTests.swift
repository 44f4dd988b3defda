import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `logstore serve` as a real process: listens, ingests, and on SIGTERM finishes and exits 0
/// with everything acknowledged on disk.
@Suite("logstore serve")
struct ServeTests {
    /// A loopback port that refuses connections for as long as the returned socket is open: it
    /// is bound but never listens, so no other process (a server of a test running in
    /// parallel) can take it meanwhile. A random port could be one of theirs.
    func refusingPort() throws -> (port: Int, socket: Int32) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        return (Int(UInt16(bigEndian: address.sin_port)), fd)
    }

    @Test func servesAndShutsDownGracefullyOnSIGTERM() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        let (process, port) = try await startServer(data: data)
        var body = ""
        for i in 0..<500 {
            body += #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
            body += #"{"@timestamp":"2024-09-24T11:49:58.\#(String(format: "%03d", i))Z","log":"line \#(i)","kubernetes.labels.job-name":"reana-run-job-1"}"# + "\n"
        }
        try await postBulk(port: port, body: body)  // throws unless 200 with "errors":false

        // Reading through the server gives what the files give.
        let remote = try await runLogstore(["logs", "--server", "http://127.0.0.1:\(port)", "--job", "reana-run-job-1"])
        #expect(remote.status == 0 && remote.stdout.split(separator: "\n").count == 500, "\(remote.stderr)")
        let found = try await runLogstore(["search", "--server", "http://127.0.0.1:\(port)", "line 42", "--json"])
        #expect(found.stdout.contains("\"log\":\"line 42\""), "\(found.stdout.prefix(300)) \(found.stderr)")
        // `stats --server` shows the server's figures, as a table and as JSON.
        let stats = try await runLogstore(["stats", "--server", "http://127.0.0.1:\(port)"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains("lines            500"), "\(stats.stdout)")
        // Prometheus metrics: ours, and Hummingbird's per-route ones (serve bootstraps them).
        let metrics = String(decoding: try await get("http://127.0.0.1:\(port)/metrics"), as: UTF8.self)
        #expect(metrics.contains("logstore_lines 500.0"), "\(metrics.prefix(2000))")
        #expect(metrics.contains(#"hb_requests{http_route="/_bulk",http_request_method="POST",http_response_status_code="200"}"#))
        #expect(metrics.contains(#"http_server_request_duration_bucket{http_route="/_bulk""#) && metrics.contains(#"le="0.0005""#))
        #expect(stats.stdout.contains("tail waiters     0"))
        let statsJSON = try await runLogstore(["stats", "--server", "http://127.0.0.1:\(port)", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(statsJSON.stdout.utf8)) as? [String: Any]
        #expect(object?["lines"] as? Int == 500 && object?["tailWaiters"] as? Int == 0, "\(statsJSON.stdout.prefix(300))")
        // With the server owning the directory, `compact` asks it over HTTP.
        let compact = try await runLogstore(["compact", "--data-dir", data, "--server", "http://127.0.0.1:\(port)", "--dry-run"])
        #expect(compact.status == 0, "\(compact.stderr)")
        #expect(compact.stderr.contains("asking"))
        #expect(compact.stdout.contains("\"dropped\""))
        // …and `delete` too (DELETE /v1/workflows/{id}; a workflow with a space in its id).
        let delete = try await runLogstore(["delete", "--data-dir", data, "--server", "http://127.0.0.1:\(port)", "--workflow", "old run"])
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(delete.stdout.contains(#"{"deleted":"old run"}"#), "\(delete.stdout)")
        // A server that is not there: a one-line reason, exit status 1.
        let refusing = try refusingPort()
        let nowhere = try await runLogstore(["stats", "--server", "http://127.0.0.1:\(refusing.port)"])
        close(refusing.socket)
        #expect(
            nowhere.status == 1 && nowhere.stderr.contains("cannot reach") && nowhere.stderr.contains("refused"),
            "status \(nowhere.status), stderr \(nowhere.stderr), stdout \(nowhere.stdout.prefix(200))")

        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)

        let logs = try await runLogstore(["logs", "--data-dir", data, "--job", "reana-run-job-1"])
        #expect(logs.stdout.split(separator: "\n").count == 500)
        #expect(logs.stdout.hasPrefix("line 0\n"))
    }

    func get(_ url: String) async throws -> Data {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw CLITestError("status") }
        return data
    }
}
