import Foundation
import LogStore
import Hummingbird
import LogStoreHTTP
import Testing

/// Users, roles and the throttle against a real server on 127.0.0.1 (plain HTTP; TLS is
/// exercised with opensearch-py in Tests/compat/test_secure.py).
@Suite("Users and roles")
struct AuthTests {
    /// A users file with a reader, an ingest user limited to `fluentbit-*`, an unlimited
    /// ingest user and an admin (fewer KDF rounds than `logstore user` writes, to keep tests quick).
    static func usersFile() throws -> String {
        let path = NSTemporaryDirectory() + "logstore-users-\(UUID().uuidString).json"
        let users = UsersFile(users: [
            UserRecord(name: "reana", roles: [.read], password: try PasswordHash.make(password: "read-secret", iterations: 2000)),
            UserRecord(name: "fluentbit", roles: [.ingest], indices: ["fluentbit-*"], password: try PasswordHash.make(password: "fb-secret", iterations: 2000)),
            UserRecord(name: "loader", roles: [.ingest], password: try PasswordHash.make(password: "load-secret", iterations: 2000)),
            UserRecord(name: "root", roles: [.admin], password: try PasswordHash.make(password: "admin-secret", iterations: 2000)),
        ])
        try users.save(to: path)
        return path
    }

    static func basic(_ name: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + Data("\(name):\(password)".utf8).base64EncodedString())
    }

    static func start(_ configure: (inout ServerOptions) -> Void = { _ in }) async throws -> (TestServer, String) {
        let path = try usersFile()
        var options = ServerOptions()
        options.security.users = try UserDirectory(path: path, logger: testLogger)
        options.security.reloadInterval = .milliseconds(100)
        configure(&options)
        return (try await TestServer.start(options: options), path)
    }

    static let ndjson = ("Content-Type", "application/x-ndjson")

    static func bulkBody(_ indices: [String]) -> [UInt8] {
        var body = ""
        for (i, index) in indices.enumerated() {
            body += #"{"create":{"_index":"\#(index)"}}"# + "\n"
            body += #"{"@timestamp":"2024-09-24T11:00:0\#(i).000Z","log":"line \#(i) in \#(index)","kubernetes.labels.job-name":"job-a"}"# + "\n"
        }
        return Array(body.utf8)
    }

    @Test func missingAndWrongCredentialsAre401InOpenSearchShape() async throws {
        let (server, _) = try await Self.start()
        let client = try RawClient(port: server.port)
        let none = try await client.exchange(request("GET", "/_search"))
        #expect(none.status == 401)
        #expect(none.header("WWW-Authenticate") == "Basic realm=\"logstore\"")
        let error = none.json?["error"] as? [String: Any]
        #expect(error?["type"] as? String == "security_exception")
        #expect(none.json?["status"] as? Int == 401)
        let wrong = try await client.exchange(request("GET", "/_search", headers: [Self.basic("reana", "nope")]))
        #expect(wrong.status == 401)
        let unknown = try await client.exchange(request("GET", "/v1/logs?job=x", headers: [Self.basic("nobody", "read-secret")]))
        #expect(unknown.status == 401)
        let garbage = try await client.exchange(request("GET", "/v1/stats", headers: [("Authorization", "Digest abc")]))
        #expect(garbage.status == 401)
        let ok = try await client.exchange(request("GET", "/_search", headers: [Self.basic("reana", "read-secret")]))
        #expect(ok.status == 200)
        // /health stays open; /metrics needs a user unless openMetrics.
        #expect(try await client.exchange(request("GET", "/health")).status == 200)
        #expect(try await client.exchange(request("GET", "/metrics")).status == 401)
        await server.stop()
    }

    @Test func rolesDecidePerRouteWith403NamingThePermission() async throws {
        let (server, _) = try await Self.start()
        let client = try RawClient(port: server.port)
        let reader = Self.basic("reana", "read-secret")
        let ingest = Self.basic("loader", "load-secret")
        let admin = Self.basic("root", "admin-secret")
        let readBulk = try await client.exchange(request("POST", "/_bulk", headers: [reader, Self.ndjson], body: Self.bulkBody(["fluentbit-job_log"])))
        #expect(readBulk.status == 403)
        #expect(readBulk.text.contains("[ingest]"))
        #expect((readBulk.json?["error"] as? [String: Any])?["type"] as? String == "security_exception")
        let ingestSearch = try await client.exchange(request("GET", "/fluentbit-job_log/_search", headers: [ingest]))
        #expect(ingestSearch.status == 403)
        #expect(ingestSearch.text.contains("[read]"))
        #expect(try await client.exchange(request("POST", "/_bulk", headers: [ingest, Self.ndjson], body: Self.bulkBody(["fluentbit-job_log"]))).status == 200)
        #expect(try await client.exchange(request("GET", "/v1/logs?job=job-a", headers: [reader])).status == 200)
        // Admin routes: readers and ingest users are refused, the admin is not.
        for who in [reader, ingest] {
            #expect(try await client.exchange(request("DELETE", "/v1/workflows/w1", headers: [who])).status == 403)
            #expect(try await client.exchange(request("POST", "/v1/admin/compact?dry_run=true", headers: [who])).status == 403)
        }
        #expect(try await client.exchange(request("DELETE", "/v1/workflows/w1", headers: [admin])).status == 200)
        #expect(try await client.exchange(request("GET", "/_search", headers: [admin])).status == 200)
        // A path no route answers: 401 to strangers, 404 to users.
        #expect(try await client.exchange(request("GET", "/nothing/here")).status == 401)
        #expect(try await client.exchange(request("GET", "/nothing/here", headers: [reader])).status == 404)
        await server.stop()
    }

    @Test func anIngestUserLimitedToPatternsGetsAPerItem403() async throws {
        let (server, _) = try await Self.start()
        let client = try RawClient(port: server.port)
        let fluentbit = Self.basic("fluentbit", "fb-secret")
        let r = try await client.exchange(
            request("POST", "/_bulk", headers: [fluentbit, Self.ndjson], body: Self.bulkBody(["fluentbit-job_log", "other", "fluentbit-workflow_log"])))
        #expect(r.status == 200)
        #expect(r.json?["errors"] as? Bool == true)
        let items = (r.json?["items"] as? [[String: [String: Any]]]) ?? []
        #expect(items.map { $0["create"]?["status"] as? Int } == [201, 403, 201])
        #expect(items.count == 3 && items[1]["create"]?["_index"] as? String == "other")
        #expect(((items.count == 3 ? items[1]["create"]?["error"] : nil) as? [String: Any])?["type"] as? String == "security_exception")
        // What was allowed is stored, the refused document is not.
        let reader = Self.basic("root", "admin-secret")
        let stored = try await client.exchange(request("GET", "/_count", headers: [reader]))
        #expect(stored.json?["count"] as? Int == 2)
        let other = try await client.exchange(request("GET", "/other/_count", headers: [reader]))
        #expect(other.json?["count"] as? Int ?? 0 == 0)
        // FluentBit's http output names its index in the URL.
        let line = Array(#"{"log":"x","date":1727175600.0}"#.utf8)
        #expect(try await client.exchange(request("POST", "/ingest?index=other", headers: [fluentbit, ("Content-Type", "application/json")], body: line)).status == 403)
        #expect(try await client.exchange(request("POST", "/ingest?index=fluentbit-http", headers: [fluentbit, ("Content-Type", "application/json")], body: line)).status == 200)
        await server.stop()
    }

    @Test func bearerKeysAuthenticate() async throws {
        let (server, path) = try await Self.start()
        var file = try UsersFile.load(path)
        let key = PasswordHash.makeKey()
        file.users[0].keys = [key.stored]
        try file.save(to: path)
        let client = try RawClient(port: server.port)
        // The file is reloaded within the reload interval.
        var status = 0
        for _ in 0..<100 where status != 200 {
            status = try await client.exchange(request("GET", "/v1/stats", headers: [("Authorization", "Bearer reana.\(key.secret)")])).status
            if status != 200 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(status == 200)
        #expect(try await client.exchange(request("GET", "/v1/stats", headers: [("Authorization", "Bearer reana.x\(key.secret)")])).status == 401)
        #expect(try await client.exchange(request("POST", "/_bulk", headers: [("Authorization", "Bearer reana.\(key.secret)"), Self.ndjson], body: Self.bulkBody(["a"]))).status == 403)
        await server.stop()
    }

    @Test func removingAUserTakesEffectWithoutARestart() async throws {
        let (server, path) = try await Self.start()
        let client = try RawClient(port: server.port)
        let reader = Self.basic("reana", "read-secret")
        #expect(try await client.exchange(request("GET", "/v1/stats", headers: [reader])).status == 200)
        var file = try UsersFile.load(path)
        file.users.removeAll { $0.name == "reana" }
        try file.save(to: path)
        var status = 200
        for _ in 0..<100 where status == 200 {
            try await Task.sleep(for: .milliseconds(50))
            status = try await client.exchange(request("GET", "/v1/stats", headers: [reader])).status
        }
        #expect(status == 401)
        await server.stop()
    }

    @Test func failedLoginsAreCountedAndThrottledPerAddress() async throws {
        // A block far longer than the test, however slowly a loaded machine runs it.
        let (server, _) = try await Self.start {
            $0.security.throttle = LoginThrottle(freeFailures: 3, firstBlock: .seconds(600))
            $0.security.openMetrics = true
        }
        let client = try RawClient(port: server.port)
        var statuses: [Int] = []
        for _ in 0..<5 { statuses.append(try await client.exchange(request("GET", "/_search", headers: [Self.basic("reana", "guess")])).status) }
        // 3 free tries, the 4th fails and blocks the address, the 5th is refused unchecked.
        #expect(statuses == [401, 401, 401, 401, 429])
        let blocked = try await client.exchange(request("GET", "/_search", headers: [Self.basic("reana", "read-secret")]))
        #expect(blocked.status == 429)
        #expect(blocked.header("Retry-After") != nil)
        let metrics = try await client.exchange(request("GET", "/metrics")).text
        #expect(metrics.contains("logstore_auth_failed_logins_total 4"))
        #expect(metrics.contains("logstore_auth_throttled_requests_total 2"))
        await server.stop()
    }

    @Test func everyRouteAnswersUnderThePathPrefix() async throws {
        let (server, _) = try await Self.start { $0.security.pathPrefix = SecurityOptions.normalizedPrefix("opensearch/") }
        let client = try RawClient(port: server.port)
        let admin = Self.basic("root", "admin-secret")
        #expect(try await client.exchange(request("POST", "/opensearch/_bulk", headers: [admin, Self.ndjson], body: Self.bulkBody(["fluentbit-job_log"]))).status == 200)
        let search = try await client.exchange(request("GET", "/opensearch/fluentbit-job_log/_search", headers: [admin]))
        #expect(search.status == 200)
        #expect(((search.json?["hits"] as? [String: Any])?["hits"] as? [Any])?.count == 1)
        #expect(try await client.exchange(request("GET", "/opensearch", headers: [admin])).status == 200)
        #expect(try await client.exchange(request("GET", "/opensearch/health")).status == 200)
        #expect(try await client.exchange(request("GET", "/fluentbit-job_log/_search", headers: [admin])).status == 200)
        #expect(try await client.exchange(request("GET", "/opensearchx/_search", headers: [admin])).status == 404)
        await server.stop()
    }

    @Test func withoutUsersEveryRouteStaysOpen() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        #expect(try await client.exchange(request("POST", "/_bulk", headers: [Self.ndjson], body: Self.bulkBody(["other"]))).status == 200)
        #expect(try await client.exchange(request("GET", "/_search")).status == 200)
        await server.stop()
    }
}

@Suite("Auth parts")
struct AuthPartsTests {
    @Test func passwordHashesVerifyOnlyTheirPassword() throws {
        let stored = try PasswordHash.make(password: "s3cret", iterations: 2000)
        #expect(stored.hasPrefix("pbkdf2-sha256$2000$"))
        #expect(PasswordHash.verify(password: "s3cret", stored: stored))
        #expect(!PasswordHash.verify(password: "s3cret ", stored: stored))
        #expect(!PasswordHash.verify(password: "s3cret", stored: "pbkdf2-sha256$10$AAAA$AAAA"))
        #expect(!PasswordHash.verify(password: "s3cret", stored: "garbage"))
        #expect(try PasswordHash.make(password: "s3cret", iterations: 2000) != stored)  // salted
        let key = PasswordHash.makeKey()
        #expect(PasswordHash.verifyKey(secret: key.secret, stored: key.stored))
        #expect(!PasswordHash.verifyKey(secret: key.secret + "x", stored: key.stored))
    }

    @Test func theThrottleDoublesBlocksAndForgetsOnSuccess() {
        let throttle = LoginThrottle(freeFailures: 2, firstBlock: .seconds(1), maxBlock: .seconds(4))
        let t0 = ContinuousClock.now
        #expect(throttle.failed("a", now: t0) == nil)
        #expect(throttle.failed("a", now: t0) == nil)
        #expect(throttle.blocked("a", now: t0) == nil)
        #expect(throttle.failed("a", now: t0) == .seconds(1))
        #expect(throttle.blocked("a", now: t0) == .seconds(1))
        #expect(throttle.blocked("b", now: t0) == nil)  // per address
        #expect(throttle.blocked("a", now: t0 + .seconds(1)) == nil)  // the block ends
        #expect(throttle.failed("a", now: t0 + .seconds(1)) == .seconds(2))
        #expect(throttle.failed("a", now: t0 + .seconds(3)) == .seconds(4))
        #expect(throttle.failed("a", now: t0 + .seconds(7)) == .seconds(4))  // capped
        throttle.succeeded("a")
        #expect(throttle.blocked("a", now: t0 + .seconds(8)) == nil)
        #expect(throttle.failed("a", now: t0 + .seconds(8)) == nil)  // counting starts again
    }

    @Test func indexPatternsMatchLikeOpenSearch() {
        let p = IndexPermission(patterns: ["fluentbit-*", "exact", "a*b*c"])
        #expect(p.allows("fluentbit-job_log"))
        #expect(p.allows("fluentbit-"))
        #expect(p.allows("exact"))
        #expect(!p.allows("exactly"))
        #expect(!p.allows("other"))
        #expect(p.allows("aXbYc") && p.allows("abc") && !p.allows("aXbY"))
        #expect(IndexPermission(patterns: []).allowsAll)
    }

    @Test func theUsersFileIsWrittenOwnerOnly() throws {
        let path = NSTemporaryDirectory() + "logstore-users-\(UUID().uuidString).json"
        let old = umask(0)
        defer { umask(old) }
        try UsersFile(users: [UserRecord(name: "a", roles: [.read])]).save(to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try UsersFile.load(path).users.map(\.name) == ["a"])
        try? FileManager.default.removeItem(atPath: path)
    }

    @Test func routeTableFailsClosed() {
        #expect(RoutePermissions.requirement(method: .get, pattern: "/health", openMetrics: false) == .open)
        #expect(RoutePermissions.requirement(method: .post, pattern: "/{index}/_bulk", openMetrics: false) == .permission(.ingest))
        #expect(RoutePermissions.requirement(method: .get, pattern: "/{index}/_search", openMetrics: false) == .permission(.read))
        #expect(RoutePermissions.requirement(method: .get, pattern: "/metrics", openMetrics: true) == .open)
        #expect(RoutePermissions.requirement(method: .get, pattern: "/v1/some-new-route", openMetrics: false) == .permission(.admin))
        #expect(RoutePermissions.requirement(method: .get, pattern: nil, openMetrics: false) == .authenticated)
    }
}
