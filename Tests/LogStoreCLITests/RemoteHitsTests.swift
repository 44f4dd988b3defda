import Foundation
import Testing

/// `logstore hits --server` against a real `logstore serve` with TLS, users and a path prefix
/// (``SecureServer``): the same counts as `hits` on the data directory, the server's JSON with
/// `--json`, and a clear error without credentials.
@Suite("hits against a secured server")
struct RemoteHitsTests {
    @Test(.timeLimit(.minutes(3)))
    func hitsAskTheServer() async throws {
        let server = try await SecureServer.start()
        let ca = ["--ca-cert", server.caCertificate]
        let reader = ["LOGSTORE_PASSWORD": SecureServer.readerPassword]
        do {
            let query = ["hits", "line", "--step", "1m", "--by", "job"]
            let remote = try await SecureServer.run(query + ["--server", server.url + "/opensearch", "--user", "reader"] + ca, environment: reader)
            #expect(remote.status == 0, "\(remote.stderr)")
            let local = try await SecureServer.run(query + ["--data-dir", server.data])
            #expect(local.status == 0, "\(local.stderr)")
            #expect(remote.stdout == local.stdout, "remote:\n\(remote.stdout)\nlocal:\n\(local.stdout)")
            #expect(remote.stdout.contains("total  20\n") && remote.stdout.hasSuffix("20  reana-run-job-1\n"), "\(remote.stdout)")

            let json = try await SecureServer.run(
                ["hits", "line 7", "--from", "2024-09-24T11:00:00Z", "--to", "2024-09-24T12:00:00Z", "--json", "--server", server.url, "--user", "reader"] + ca,
                environment: reader)
            #expect(json.status == 0, "\(json.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["total"] as? Int == 1, "\(json.stdout)")

            let none = try await SecureServer.run(["hits", "line", "--server", server.url] + ca)
            #expect(none.status == 1 && none.stdout.isEmpty && none.stderr.contains("answered 401"), "\(none.stderr)")
            let timed = try await SecureServer.run(["hits", "line", "--timing", "3", "--server", server.url] + ca)
            #expect(timed.status != 0 && timed.stderr.contains("--timing"), "\(timed.stderr)")
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }
}
