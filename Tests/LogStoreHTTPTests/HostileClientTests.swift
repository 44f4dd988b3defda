import Foundation
import LogStore
import LogStoreHTTP
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A hostile client against a real server on 127.0.0.1: each case sends what once crashed,
/// starved or confused the server, expects a clear answer (status and message), then checks
/// that lines stored before are intact, and that the server restarts on the same data.
@Suite("Hostile clients")
struct HostileClientTests {
    static let knownJob = "reana-run-job-known"
    static let knownBulk: [UInt8] = Array(
        (0..<3).map { i in
            #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
                + #"{"@timestamp":"2024-09-24T11:49:5\#(i).000Z","log":"known line \#(i)","kubernetes.labels.job-name":"\#(knownJob)"}"# + "\n"
        }.joined().utf8)

    /// Starts a server with `options`, stores the known lines, runs `body`, checks the known
    /// lines, restarts the server on the same directory and checks them again.
    func withKnownData(
        options: ServerOptions = ServerOptions(), storageOptions: StorageOptions = StorageOptions(), _ body: (TestServer) async throws -> Void
    ) async throws {
        let server = try await TestServer.start(options: options, storageOptions: storageOptions)
        var stopped = false
        do {
            let client = try RawClient(port: server.port)
            let stored = try await client.exchange(
                request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Self.knownBulk))
            #expect(stored.status == 200)
            try await body(server)
            try await expectKnownLines(port: server.port)
            await server.stop(keepData: true)
            stopped = true
            let again = try await TestServer.start(directory: server.directory)
            try await expectKnownLines(port: again.port)
            await again.stop()
        } catch {
            if !stopped { await server.stop() }
            throw error
        }
    }

    /// The three known lines are found, in order, on a fresh connection.
    func expectKnownLines(port: Int) async throws {
        let client = try RawClient(port: port)
        let response = try await client.exchange(request("GET", "/v1/logs?job=\(Self.knownJob)&format=text"))
        #expect(response.status == 200)
        #expect(response.text == "known line 0\nknown line 1\nknown line 2\n")
    }

    func search(_ client: RawClient, _ body: String, path: String = "/_search") async throws -> RawResponse {
        try await client.exchange(request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
    }

    /// The `reason` of an OpenSearch-shaped error answer.
    func reason(_ response: RawResponse) -> String {
        ((response.json?["error"] as? [String: Any])?["reason"] as? String) ?? response.text
    }

    // MARK: Recursion and clause limits

    @Test func deepQueryLanguageIsRefused() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            // 50,000 '(' once overflowed the parser's stack.
            let parens = String(repeating: "(", count: 50_000) + "x"
            var response = try await search(client, #"{"query":{"query_string":{"query":"\#(parens)"}}}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("nests too deep: at most 100 levels"))
            // 10,000 '-' and 10,000 NOT in q=, on both read APIs.
            let minuses = String(repeating: "-", count: 10_000) + "x"
            response = try await client.exchange(request("GET", "/v1/search?q=\(minuses)"))
            #expect(response.status == 400)
            #expect(reason(response).contains("nests too deep"))
            let nots = String(repeating: "NOT%20", count: 10_000) + "x"
            response = try await client.exchange(request("GET", "/_search?q=\(nots)"))
            #expect(response.status == 400)
            #expect(reason(response).contains("nests too deep"))
            // 100 levels are still a query.
            let hundred = String(repeating: "(", count: 100) + "known" + String(repeating: ")", count: 100)
            response = try await client.exchange(request("GET", "/_count?q=\(hundred)"))
            #expect(response.status == 200)
            #expect(response.json?["count"] as? Int == 3)
        }
    }

    @Test func clauseLimit() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            let words = (0..<2000).map { "w\($0)" }
            var response = try await client.exchange(request("GET", "/_count?q=" + words.joined(separator: "%20OR%20")))
            #expect(response.status == 400)
            #expect(reason(response).contains("too many clauses: at most 1024"))
            // The DSL: terms values, bool clauses, match terms.
            let values = words.map { "\"\($0)\"" }.joined(separator: ",")
            response = try await search(client, #"{"query":{"terms":{"log":[\#(values)]}}}"#, path: "/_count")
            #expect(response.status == 400)
            #expect((response.json?["error"] as? [String: Any])?["type"] as? String == "too_many_clauses")
            #expect(reason(response).contains("maxClauseCount is set to 1024"))
            let shoulds = words.map { #"{"match":{"log":"\#($0)"}}"# }.joined(separator: ",")
            response = try await search(client, #"{"query":{"bool":{"should":[\#(shoulds)]}}}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("maxClauseCount is set to 1024"))
            response = try await search(client, #"{"query":{"match":{"log":"\#(words.joined(separator: " "))"}}}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("maxClauseCount is set to 1024"))
            // 1000 clauses are still answered.
            let thousand = (["known"] + words.prefix(999)).joined(separator: "%20OR%20")
            response = try await client.exchange(request("GET", "/_count?q=" + thousand))
            #expect(response.status == 200)
            #expect(response.json?["count"] as? Int == 3)
        }
    }

    @Test func deepJSONBodyIsRefused() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            var nested = #"{"match":{"log":"known"}}"#
            for _ in 0..<200 { nested = #"{"bool":{"must":[\#(nested)]}}"# }
            var response = try await search(client, #"{"query":\#(nested)}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("nests too deep: at most 100 levels of JSON"))
            #expect(!reason(response).contains("not valid JSON"))
            let brackets = String(repeating: "[", count: 100_000)
            response = try await search(client, #"{"query":\#(brackets)"#, path: "/_count")
            #expect(response.status == 400)
            #expect(reason(response).contains("nests too deep"))
            // Ten levels of bool are a query.
            nested = #"{"match":{"log":"known"}}"#
            for _ in 0..<10 { nested = #"{"bool":{"must":[\#(nested)]}}"# }
            response = try await search(client, #"{"query":\#(nested)}"#, path: "/_count")
            #expect(response.status == 200)
            #expect(response.json?["count"] as? Int == 3)
        }
    }

    // MARK: Connections

    static var tightConnections: ServerOptions {
        var options = ServerOptions()
        options.connections.headerTimeout = .seconds(1)
        options.connections.idleTimeout = .seconds(2)
        options.connections.maxConnections = 8
        return options
    }

    @Test func slowHeadersGet408() async throws {
        try await withKnownData(options: Self.tightConnections) { server in
            let socket = try HostileSocket(port: server.port)
            let start = ContinuousClock.now
            try socket.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            // One header line every 300 ms: each arrives well within the idle timeout.
            var answer = ""
            for i in 0..<60 {
                try? socket.send("X-Slow-\(i): a\r\n")
                if let text = socket.receiveAvailable(waitingMilliseconds: 300), !text.isEmpty {
                    answer += text
                    break
                }
            }
            answer += socket.receiveUntilClosed(seconds: 6)
            let elapsed = ContinuousClock.now - start
            #expect(answer.hasPrefix("HTTP/1.1 408"))
            #expect(answer.contains("the request head was not complete within 1 s"))
            #expect(socket.isClosedByPeer(seconds: 5))
            // Well before the 60 header lines (18 s) were all sent: the head's deadline, not
            // its end (a 1 s deadline; the bound leaves room for a loaded machine).
            #expect(elapsed < .seconds(12))
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await withKnownData(options: Self.tightConnections) { server in
            // As many silent connections as the server accepts: they are closed after the idle
            // timeout, so a real client still gets its answer.
            let idle = try (0..<8).map { _ in try HostileSocket(port: server.port) }
            let start = ContinuousClock.now
            let client = try RawClient(port: server.port)
            let response = try await client.exchange(request("GET", "/health"))
            #expect(response.status == 200)
            #expect(ContinuousClock.now - start < .seconds(45))
            for socket in idle { #expect(socket.isClosedByPeer(seconds: 10)) }
        }
    }

    @Test func http10ConnectionClosesAfterAnswer() async throws {
        // An idle timeout far longer than any answer takes, even on a loaded machine: a close
        // well before it is the server closing after the answer.
        var options = Self.tightConnections
        options.connections.idleTimeout = .seconds(60)
        try await withKnownData(options: options) { server in
            let socket = try HostileSocket(port: server.port)
            try socket.send("GET /health HTTP/1.0\r\n\r\n")
            let start = ContinuousClock.now
            let answer = socket.receiveUntilClosed(seconds: 45)
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            #expect(answer.hasSuffix(#""status":"ok","last_lsn":3}"#))
            // Closed right after the answer, not by the 60 s idle timeout.
            #expect(ContinuousClock.now - start < .seconds(30))
            // HTTP/1.1 `Connection: Close` (any case) closes too.
            let other = try HostileSocket(port: server.port)
            try other.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n")
            let otherStart = ContinuousClock.now
            let text = other.receiveUntilClosed(seconds: 45)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(ContinuousClock.now - otherStart < .seconds(30))
        }
    }

    @Test func longPollOutlivesIdleTimeout() async throws {
        // A 3 s idle timeout (not the suite's 2 s). The long poll and the request after it go
        // out in one write on a fresh connection, so a slow test scheduler cannot leave the
        // connection idle between them: only the server's own timing is tested.
        var options = Self.tightConnections
        options.connections.idleTimeout = .seconds(3)
        try await withKnownData(options: options) { server in
            let first = try await RawClient(port: server.port).exchange(request("GET", "/v1/tail?job=\(Self.knownJob)&tail=3"))
            #expect(first.status == 200)
            let next = try #require(first.header("X-Logstore-Next"))
            let client = try RawClient(port: server.port)
            let start = ContinuousClock.now
            // Waits 7 s, more than twice the idle timeout, on a kept-alive connection that
            // already holds the next request.
            let waited = try await client.exchange(
                request("GET", "/v1/tail?job=\(Self.knownJob)&after=\(next)&wait=7") + request("GET", "/health"))
            #expect(waited.status == 200)
            #expect(ContinuousClock.now - start >= .seconds(6.5))
            let again = try await client.exchange([])
            #expect(again.status == 200)
        }
    }
}

/// A blocking socket for the connection cases: sends text and reads whatever comes.
final class HostileSocket: @unchecked Sendable {
    // Used by one test at a time, from one task.
    let fd: Int32

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == bytes.count else { throw TestError("send failed") }
    }

    /// What arrives within `waitingMilliseconds`; "" when the peer closed, nil when nothing came.
    func receiveAvailable(waitingMilliseconds: Int32) -> String? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, waitingMilliseconds) > 0 else { return nil }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: chunk[..<n], as: UTF8.self) : ""
    }

    /// Everything received until the peer closes or `seconds` pass.
    func receiveUntilClosed(seconds: Int) -> String {
        var text = ""
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            guard let chunk = receiveAvailable(waitingMilliseconds: 100) else { continue }
            if chunk.isEmpty { break }
            text += chunk
        }
        return text
    }

    /// Whether the peer closes the connection within `seconds` (reads and drops any data).
    func isClosedByPeer(seconds: Int) -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let chunk = receiveAvailable(waitingMilliseconds: 100), chunk.isEmpty { return true }
        }
        return false
    }
}
