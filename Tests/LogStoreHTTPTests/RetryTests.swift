import Foundation
import LogStore
import Testing

/// FluentBit resends whole chunks after a timeout or an error: each line must be stored once.
@Suite("Idempotent retries over HTTP")
struct RetryTests {
    func count(_ server: TestServer, index: String) throws -> Int {
        let streams = server.storage.streams(matching: StreamSelector(index: index))
        return try server.storage.read(LogQuery(streams: streams.map(\.id), limit: 10_000)).lines.count
    }

    @Test func sameChunkTwiceIsStoredOnce() async throws {
        let server = try await TestServer.start()
        for capture in ["reana/bulk_job_log", "fluentbit/es_gzip", "fluentbit/http_json_lines"] {
            let bytes = try capturedRequest(capture)
            let first = try await RawClient(port: server.port).exchange(bytes)
            // The retry comes on a new connection, as after a timeout.
            let retry = try await RawClient(port: server.port).exchange(bytes)
            #expect(first.status == 200 && retry.status == 200)
            #expect(first.text.replacingOccurrences(of: #""took":\d+"#, with: "", options: .regularExpression)
                == retry.text.replacingOccurrences(of: #""took":\d+"#, with: "", options: .regularExpression))
        }
        #expect(try count(server, index: "fluentbit-job_log") == 10)
        #expect(try count(server, index: "fluent-bit") == 5)
        #expect(try count(server, index: "logs") == 5)
        await server.stop()
    }

    @Test func documentIDsDeduplicateAcrossChunks() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        let action = { (id: String) in #"{"create":{"_index":"ids","_id":"\#(id)"}}"# }
        let doc = { (n: Int) in #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"doc \#(n)","job":"j"}"# }
        let first = [action("a"), doc(1), action("b"), doc(2)].joined(separator: "\n") + "\n"
        // A different chunk that repeats document "b" (as FluentBit's Generate_ID gives it).
        let second = [action("b"), doc(2), action("c"), doc(3)].joined(separator: "\n") + "\n"
        var answers: [[String: Any]] = []
        for body in [first, second] {
            let r = try await client.exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array(body.utf8)))
            #expect(r.status == 200)
            answers.append(r.json ?? [:])
        }
        #expect(answers[0]["errors"] as? Bool == false)
        // The repeated `create` is a 409 per item, which FluentBit counts as already stored.
        #expect(answers[1]["errors"] as? Bool == true)
        let statuses = (answers[1]["items"] as? [[String: [String: Any]]])?.compactMap { $0["create"]?["status"] as? Int }
        #expect(statuses == [409, 201])
        #expect(try count(server, index: "ids") == 3)
        await server.stop()
    }
}
