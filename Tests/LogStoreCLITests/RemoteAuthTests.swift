import Foundation
import Testing

/// The client commands (`tail`, `search`, `logs`, `stats`, `compact`, `delete`) against a real
/// `logstore serve` with TLS, users and a path prefix (``SecureServer``): https:// verified
/// against `--ca-cert`, a password from LOGSTORE_PASSWORD, an API key from LOGSTORE_API_KEY;
/// wrong or missing credentials, a missing role and an untrusted certificate end in a clear
/// error and a non-zero exit status.
@Suite("client commands against a secured server")
struct RemoteAuthTests {
    @Test(.timeLimit(.minutes(3)))
    func rightCredentialsWork() async throws {
        let server = try await SecureServer.start()
        let ca = ["--ca-cert", server.caCertificate]
        let reader = ["LOGSTORE_PASSWORD": SecureServer.readerPassword]
        do {
            let tail = try await SecureServer.run(["tail", "--server", server.url, "--job", "reana-run-job-1", "-n", "3", "--user", "reader"] + ca, environment: reader)
            #expect(tail.status == 0, "\(tail.stderr)")
            #expect(tail.stdout == "line 17\nline 18\nline 19\n", "\(tail.stdout)")

            // The API key, and the CA from the environment; through the path prefix.
            let keyed = ["LOGSTORE_API_KEY": server.readerKey, "LOGSTORE_CA_CERT": server.caCertificate]
            let search = try await SecureServer.run(["search", "--server", server.url + "/opensearch", "line 7", "--json"], environment: keyed)
            #expect(search.status == 0, "\(search.stderr)")
            #expect(search.stdout.contains(#""log":"line 7""#), "\(search.stdout)")

            let logs = try await SecureServer.run(["logs", "--server", server.url + "/opensearch/", "--job", "reana-run-job-1", "--user", "reader"] + ca, environment: reader)
            #expect(logs.status == 0 && logs.stdout.split(separator: "\n").count == 20, "\(logs.stderr) \(logs.stdout.prefix(200))")

            // `compact` and `delete` ask the server that owns the data directory; both need admin.
            let admin = ["LOGSTORE_PASSWORD": SecureServer.adminPassword, "LOGSTORE_USER": "admin"]
            let compact = try await SecureServer.run(["compact", "--data-dir", server.data, "--server", server.url, "--dry-run"] + ca, environment: admin)
            #expect(compact.status == 0, "\(compact.stderr)")
            #expect(compact.stdout.contains("\"dropped\""), "\(compact.stdout)")
            let delete = try await SecureServer.run(["delete", "--data-dir", server.data, "--server", server.url, "--workflow", "gone"] + ca, environment: admin)
            #expect(delete.status == 0 && delete.stdout.contains(#"{"deleted":"gone"}"#), "\(delete.stderr) \(delete.stdout)")
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func wrongCredentialsFailClearly() async throws {
        let server = try await SecureServer.start()
        let ca = ["--ca-cert", server.caCertificate]
        let tailArguments = ["tail", "--server", server.url, "--job", "reana-run-job-1", "-n", "3"] + ca
        do {
            let wrong = try await SecureServer.run(tailArguments + ["--user", "reader"], environment: ["LOGSTORE_PASSWORD": "not-it"])
            #expect(wrong.status == 1 && wrong.stdout.isEmpty)
            #expect(wrong.stderr.contains("answered 401") && wrong.stderr.contains("wrong or missing credentials"), "\(wrong.stderr)")
            #expect(wrong.stderr.contains("LOGSTORE_PASSWORD") && wrong.stderr.contains("sent: user reader"), "\(wrong.stderr)")

            let none = try await SecureServer.run(["search", "--server", server.url, "line"] + ca)
            #expect(none.status == 1 && none.stderr.contains("answered 401") && none.stderr.contains("none were sent"), "\(none.stderr)")

            let badKey = try await SecureServer.run(["stats", "--server", server.url] + ca, environment: ["LOGSTORE_API_KEY": "reader.wrong"])
            #expect(badKey.status == 1 && badKey.stderr.contains("wrong or missing credentials"), "\(badKey.stderr)")

            // No password anywhere and no terminal to ask on: refused before any request.
            let noPassword = try await SecureServer.run(tailArguments + ["--user", "reader"])
            #expect(noPassword.status == 2 && noPassword.stderr.contains("needs a password: set LOGSTORE_PASSWORD"), "\(noPassword.stderr)")

            // A reader may not compact: 403 naming the role.
            let forbidden = try await SecureServer.run(
                ["compact", "--data-dir", server.data, "--server", server.url, "--user", "reader"] + ca, environment: ["LOGSTORE_PASSWORD": SecureServer.readerPassword])
            #expect(forbidden.status == 1 && forbidden.stderr.contains("answered 403"), "\(forbidden.stderr)")
            #expect(forbidden.stderr.contains("lacks the role this needs: admin"), "\(forbidden.stderr)")

            // Without the test CA the certificate does not verify (system trust store only).
            let untrusted = try await SecureServer.run(["stats", "--server", server.url, "--user", "reader"], environment: ["LOGSTORE_PASSWORD": SecureServer.readerPassword])
            #expect(untrusted.status == 1 && untrusted.stderr.contains("--ca-cert"), "\(untrusted.stderr)")
            // …and `tail -f` stops rather than retrying a certificate that will never verify.
            let follow = try await SecureServer.run(["tail", "-f", "--server", server.url, "--job", "j"], environment: ["LOGSTORE_API_KEY": server.readerKey], timeout: 20)
            #expect(follow.status == 1 && follow.stderr.contains("--ca-cert") && !follow.stderr.contains("retrying"), "\(follow.stderr)")

            // Plain http:// to the TLS port.
            let plain = try await SecureServer.run(["stats", "--server", "http://127.0.0.1:\(server.port)"], environment: ["LOGSTORE_API_KEY": server.readerKey])
            #expect(plain.status == 1, "\(plain.stderr)")
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }
}
