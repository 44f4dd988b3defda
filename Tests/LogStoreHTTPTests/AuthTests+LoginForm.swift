import Foundation
import LogStoreHTTP
import Logging
import Synchronization
import Testing

/// A log handler that keeps what it is given, for tests that check what the server logged.
final class RecordingLogHandler: LogHandler, Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    let records: Mutex<[Record]>
    init() { records = Mutex([]) }

    var logLevel: Logger.Level {
        get { .info }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let metadata = (event.metadata ?? [:]).mapValues { "\($0)" }
        records.withLock { $0.append(Record(level: event.level, message: "\(event.message)", metadata: metadata)) }
    }
}

extension AuthTests {
    @Test func failedLoginFormLoginsAreCountedLoggedAndThrottled() async throws {
        let handler = RecordingLogHandler()
        let logger = Logger(label: "logstore.login-form-test") { _ in handler }
        let path = try Self.usersFile()
        var options = ServerOptions()
        options.security.users = try UserDirectory(path: path, logger: testLogger)
        options.security.throttle = LoginThrottle(freeFailures: 3, firstBlock: .seconds(600))
        options.security.openMetrics = true
        let server = try await TestServer.start(options: options, logger: logger)
        let client = try RawClient(port: server.port)
        func login(_ user: String, _ password: String) async throws -> Int {
            let body = try JSONSerialization.data(withJSONObject: ["user": user, "password": password])
            return try await client.exchange(
                request("POST", "/ui/login", headers: [("X-Logstore-UI", "1"), ("Content-Type", "application/json")], body: Array(body))
            ).status
        }
        #expect(try await login("reana", "read-secret") == 200)
        var statuses: [Int] = []
        for guess in ["a", "b", "c", "d", "e"] { statuses.append(try await login("reana", guess)) }
        // 3 free tries, the 4th fails and blocks the address, the 5th is refused unchecked;
        // the right password waits out the block too.
        #expect(statuses == [401, 401, 401, 401, 429])
        #expect(try await login("reana", "read-secret") == 429)
        let metrics = try await client.exchange(request("GET", "/metrics")).text
        #expect(metrics.contains("logstore_auth_failed_logins_total 4"))
        #expect(metrics.contains("logstore_auth_throttled_requests_total 2"))
        let failures = handler.records.withLock { $0.filter { $0.message == "failed login" } }
        #expect(failures.count == 4)
        #expect(failures.allSatisfy { $0.level == .warning && $0.metadata["client"] == "127.0.0.1" && $0.metadata["user"] == "reana" })
        #expect(failures.allSatisfy { $0.metadata["via"] == "login form" })
        #expect(failures.last?.metadata["blockedSeconds"] == "300")  // the longest block (maxBlock)
        await server.stop()
    }
}
