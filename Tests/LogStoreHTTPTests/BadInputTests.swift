import Foundation
@testable import LogStore
import LogStoreIngest
import LogStoreHTTP
import Testing

/// Bad input gets a clear 4xx naming the problem; the good documents of the same request are
/// stored; what was stored before is intact; the server keeps serving.
@Suite("Bad input and limits")
struct BadInputTests {
    static let good = #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
        + #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"good line\n","kubernetes.labels.job-name":"reana-run-job-good"}"# + "\n"

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var path = "/_bulk"
        var headers: [(String, String)] = [("Content-Type", "application/x-ndjson")]
        var body: [UInt8]
        /// Expected HTTP status of the whole request.
        var status: Int
        /// For 200 bulk answers: how many items failed and how many lines were stored.
        var failedItems = 0
        var stored = 0
        /// Words the message must contain.
        var mentions: [String]
        var testDescription: String { name }
    }

    static func bulk(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let cases: [Case] = {
        let action = #"{"create":{"_index":"fluentbit-job_log"}}"#
        let doc = #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"x","kubernetes.labels.job-name":"reana-run-job-bad"}"#
        var invalidUTF8 = Array((action + "\n" + #"{"log":"bad "#).utf8)
        invalidUTF8 += [0xC3, 0x28]
        invalidUTF8 += Array(#"","kubernetes.labels.job-name":"j"}"#.utf8) + [0x0A]
        let gzipGood = Compression.gzip(Array(good.utf8))
        let bomb = Compression.gzip([UInt8](repeating: 0x20, count: 40 << 20))
        return [
            Case(name: "malformed NDJSON document", body: bulk(good + action + "\n" + #"{"log":"unterminated"# + "\n"), status: 200,
                failedItems: 1, stored: 1, mentions: ["line 4"]),
            Case(name: "odd number of lines (action without document)", body: bulk(good + action + "\n"), status: 200,
                failedItems: 1, stored: 1, mentions: ["line 3"]),
            Case(name: "unknown action", body: bulk(good + #"{"upsert":{"_index":"x"}}"# + "\n" + doc + "\n"), status: 200,
                failedItems: 1, stored: 1, mentions: ["upsert"]),
            Case(name: "update action", body: bulk(good + #"{"update":{"_index":"x","_id":"1"}}"# + "\n" + #"{"doc":{"a":1}}"# + "\n"),
                status: 200, failedItems: 1, stored: 1, mentions: ["update"]),
            Case(name: "delete action", body: bulk(good + #"{"delete":{"_index":"x","_id":"1"}}"# + "\n"), status: 200,
                failedItems: 1, stored: 1, mentions: ["delete"]),
            Case(name: "action line not JSON", body: bulk(good + "create me\n" + doc + "\n"), status: 200, failedItems: 1, stored: 1,
                mentions: ["line 3"]),
            Case(name: "invalid UTF-8", body: Array(good.utf8) + invalidUTF8, status: 200, failedItems: 1, stored: 1, mentions: ["UTF-8"]),
            Case(name: "document not an object", body: bulk(good + action + "\n" + #"["a","b"]"# + "\n"), status: 200, failedItems: 1,
                stored: 1, mentions: ["object"]),
            Case(name: "line over the 1 MiB limit",
                body: bulk(good + action + "\n" + #"{"log":""# + String(repeating: "z", count: 2 << 20) + #"","kubernetes.labels.job-name":"j"}"# + "\n"),
                status: 200, failedItems: 1, stored: 1, mentions: ["1048576"]),
            Case(name: "bad timestamp", body: bulk(good + action + "\n" + #"{"@timestamp":"yesterday","log":"x"}"# + "\n"), status: 200,
                failedItems: 1, stored: 1, mentions: ["timestamp"]),
            Case(name: "empty body", body: [], status: 400, mentions: ["body is required"]),
            Case(name: "only blank lines", body: bulk("\n\n\n"), status: 400, mentions: ["body is required"]),
            Case(name: "wrong content type", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: bulk(good),
                status: 406, mentions: ["Content-Type", "x-www-form-urlencoded"]),
            Case(name: "truncated gzip", headers: [("Content-Type", "application/x-ndjson"), ("Content-Encoding", "gzip")],
                body: Array(gzipGood.prefix(gzipGood.count / 2)), status: 400, mentions: ["gzip"]),
            Case(name: "gzip claimed, not gzip", headers: [("Content-Type", "application/x-ndjson"), ("Content-Encoding", "gzip")],
                body: bulk(good), status: 400, mentions: ["gzip"]),
            Case(name: "unknown content encoding", headers: [("Content-Type", "application/x-ndjson"), ("Content-Encoding", "br")],
                body: bulk(good), status: 415, mentions: ["br"]),
            Case(name: "gzip bomb", headers: [("Content-Type", "application/x-ndjson"), ("Content-Encoding", "gzip")], body: bomb,
                status: 413, mentions: ["limit"]),
            Case(name: "body over the size limit", body: Array(repeating: 0x20, count: 9 << 20), status: 413, mentions: ["8388608"]),
            Case(name: "http output: every document bad", path: "/v1/ingest?index=x", headers: [("Content-Type", "application/json")],
                body: bulk("[1,2,3]"), status: 400, mentions: ["object"]),
            Case(name: "http output: unknown parameter", path: "/v1/ingest?indx=x", headers: [("Content-Type", "application/json")],
                body: bulk(#"{"log":"a"}"#), status: 400, mentions: ["indx"]),
            Case(name: "http output: unknown format", path: "/v1/ingest?format=yaml", body: bulk(#"{"log":"a"}"#), status: 400,
                mentions: ["yaml"]),
        ]
    }()

    static func limitedOptions() -> ServerOptions {
        var options = ServerOptions()
        options.ingest.maxBodyBytes = 8 << 20
        options.ingest.maxDecodedBytes = 32 << 20
        return options
    }

    @Test(arguments: cases)
    func badInputIsRefusedClearly(_ c: Case) async throws {
        let server = try await TestServer.start(options: Self.limitedOptions())
        let client = try RawClient(port: server.port)
        // Something stored before the bad request…
        let before = try await client.exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Self.bulk(Self.good)))
        #expect(before.status == 200)
        let response = try await client.exchange(request("POST", c.path, headers: c.headers, body: c.body))
        #expect(response.status == c.status, "\(c.name): \(response.text.prefix(500))")
        for word in c.mentions { #expect(response.text.contains(word), "\(c.name): '\(word)' not in \(response.text.prefix(500))") }
        if c.status == 200 {
            let items = response.json?["items"] as? [[String: [String: Any]]] ?? []
            #expect(response.json?["errors"] as? Bool == true)
            #expect(items.filter { ($0.values.first?["status"] as? Int) == 400 }.count == c.failedItems)
        } else {
            // OpenSearch's error shape.
            let error = response.json?["error"] as? [String: Any]
            #expect(error?["reason"] is String && error?["type"] is String && response.json?["status"] as? Int == c.status)
        }
        // …is still there, plus the good documents of this request, and the server still serves.
        let lines = try server.storage.read(LogQuery(streams: server.storage.streams(matching: StreamSelector(job: "reana-run-job-good")).map(\.id), limit: 100)).lines
        #expect(lines.count == 1 + c.stored, "\(c.name)")
        // An error answer to a body not read (over the limit) closes its connection.
        let closes = response.header("Connection")?.lowercased() == "close"
        let health = try await (closes ? RawClient(port: server.port) : client).exchange(request("GET", "/health"))
        #expect(health.status == 200)
        await server.stop()
    }

    @Test func diskFloorAnswers429() async throws {
        var options = ServerOptions()
        options.ingest.minFreeDiskBytes = UInt64.max
        let server = try await TestServer.start(options: options)
        let client = try RawClient(port: server.port)
        let response = try await client.exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Self.bulk(Self.good)))
        #expect(response.status == 429)
        #expect(response.text.contains("free disk"))
        #expect(server.storage.allStreams().isEmpty)
        await server.stop()
    }

    @Test func fullWriterQueueAnswers503AndLosesNothingAcknowledged() async throws {
        var storageOptions = StorageOptions()
        storageOptions.maxQueuedLines = 10
        let server = try await TestServer.start(storageOptions: storageOptions)
        // The writer is held; a first small request queues; the next ones find the queue full.
        // The writer goes on once a refusal has come back (or three answers, or 60 s), so a slow
        // test scheduler cannot let it drain the queue before the other requests arrive.
        let release = try await server.storage.suspendWriter(atMost: .seconds(60))
        let port = server.port
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<4 { group.addTask { try await Self.send(Self.small(n), port: port).status } }
            var statuses: [Int] = []
            for try await status in group {
                statuses.append(status)
                if status == 503 || statuses.count == 3 { release() }
            }
            return statuses
        }
        #expect(statuses.contains(503) && statuses.contains(200), "statuses \(statuses)")
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 })
        // Every acknowledged small request is stored, nothing refused is.
        let stored = try server.storage.read(LogQuery(streams: server.storage.streams(matching: StreamSelector(job: "small")).map(\.id), limit: 100_000)).lines
        #expect(stored.count == statuses.filter { $0 == 200 }.count * 8)
        await server.stop()
    }

    static func send(_ body: [UInt8], port: Int) async throws -> RawResponse {
        try await RawClient(port: port).exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: body))
    }

    static func small(_ n: Int) -> [UInt8] {
        Array((0..<8).map { #"{"create":{"_index":"i"}}"# + "\n" + #"{"log":"small \#(n) \#($0)","job":"small"}"# + "\n" }.joined().utf8)
    }
}
