import Foundation
import LogStore
import Testing

/// Every captured FluentBit and REANA request, replayed byte for byte against the real server.
@Suite("Replay of captured FluentBit requests")
struct ReplayTests {
    struct Capture: Sendable, CustomTestStringConvertible {
        var name: String
        var lines: Int
        var index: String
        var bulk: Bool
        var testDescription: String { name }
    }

    static let captures: [Capture] = [
        Capture(name: "fluentbit/es_default", lines: 5, index: "fluent-bit", bulk: true),
        Capture(name: "fluentbit/es_gzip", lines: 5, index: "fluent-bit", bulk: true),
        Capture(name: "fluentbit/os_suppress_type_name", lines: 5, index: "fluent-bit", bulk: true),
        Capture(name: "fluentbit/es_logstash_genid", lines: 5, index: "k8s-2024.05.01", bulk: true),
        Capture(name: "fluentbit/es_dup_timestamp", lines: 1, index: "fluent-bit", bulk: true),
        Capture(name: "fluentbit/http_json", lines: 5, index: "logs", bulk: false),
        Capture(name: "fluentbit/http_json_lines", lines: 5, index: "logs", bulk: false),
        Capture(name: "fluentbit/http_json_stream", lines: 5, index: "logs", bulk: false),
        Capture(name: "fluentbit/http_json_lines_iso8601_gzip", lines: 5, index: "logs", bulk: false),
        Capture(name: "fluentbit/http_msgpack", lines: 5, index: "logs", bulk: false),
        Capture(name: "fluentbit/http_gelf", lines: 5, index: "logs", bulk: false),
        Capture(name: "reana/bulk_job_log", lines: 10, index: "fluentbit-job_log", bulk: true),
        Capture(name: "reana/bulk_workflow_log", lines: 3, index: "fluentbit-workflow_log", bulk: true),
    ]

    @Test(arguments: captures)
    func replayStoresEveryLine(_ capture: Capture) async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        let response = try await client.exchange(try capturedRequest(capture.name))
        #expect(response.status == 200, "\(response.text)")
        #expect(response.header("Content-Length") != nil)
        if capture.bulk {
            // Exactly the prefix FluentBit's es and opensearch outputs look for.
            #expect(response.text.hasPrefix("{\"took\":"))
            #expect(response.text.contains(",\"errors\":false,\"items\":["))
        } else {
            #expect(response.body.count < 4096, "the http output rejects answers over 4 KB")
            #expect(response.json?["stored"] as? Int == capture.lines)
        }
        let streams = server.storage.streams(matching: StreamSelector(index: capture.index))
        let page = try server.storage.read(LogQuery(streams: streams.map(\.id), limit: 1000))
        #expect(page.lines.count == capture.lines, "\(capture.name): \(page.lines.map(\.message))")
        // Log order: timestamps never go backwards.
        #expect(page.lines.map(\.timestamp) == page.lines.map(\.timestamp).sorted())
        // Every stored line gives back its document, and its other fields, as JSON objects.
        for line in page.lines {
            let document = StoredSource.source(fields: line.fields, message: line.message, timestamp: line.timestamp)
            #expect((try? JSONSerialization.jsonObject(with: Data(document.utf8))) is [String: Any], "\(document)")
            let other = StoredSource.otherFields(line.fields)
            #expect((try? JSONSerialization.jsonObject(with: Data(other.utf8))) is [String: Any], "\(other)")
        }
        await server.stop()
    }

    @Test func fluentBitLinesComeBackExactly() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        _ = try await client.exchange(try capturedRequest("fluentbit/es_default"))
        let streams = server.storage.streams(matching: StreamSelector(index: "fluent-bit"))
        // Nested kubernetes metadata without REANA labels: the generic fallback.
        #expect(Set(streams.map(\.key.workflow)) == ["shop"])
        #expect(Set(streams.map(\.key.job)) == ["web-7d9f8b6c5-x2x9k/web", "db-0/db", "web-7d9f8b6c5-q8w7e/web"])
        let lines = try server.storage.read(LogQuery(streams: streams.map(\.id), limit: 100)).lines
        #expect(lines.map(\.message) == [
            "GET /api/v1/users 200 12ms\n", "POST /api/v1/orders 201 48ms\n", "level=warn msg=\"slow query\" dur=1.2s\n",
            "GET /healthz 200 1ms\n", "unicode: café ✓ tab\there quote\" backslash\\\\ end\n",
        ])
        // @timestamp as FluentBit wrote it (ms precision), in ns.
        #expect(lines[0].timestamp == 1_714_564_800_123_000_000)
        #expect(lines[4].timestamp == 1_714_564_804_500_000_000)
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(StoredSource.otherFields(lines[0].fields).utf8)) as? [String: Any])
        #expect(fields["stream"] as? String == "stdout")
        #expect(fields["cluster"] as? String == "demo-cluster")
        #expect((fields["kubernetes"] as? [String: Any])?["pod_name"] as? String == "web-7d9f8b6c5-x2x9k")
        #expect(fields["log"] == nil && fields["@timestamp"] == nil)
        await server.stop()
    }

    @Test func reanaJobLinesAreFoundByJobNameAndKeepOrder() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        // The workflow engine's lines and the job's lines, on one kept-alive connection.
        #expect(try await client.exchange(try capturedRequest("reana/bulk_workflow_log")).status == 200)
        #expect(try await client.exchange(try capturedRequest("reana/bulk_job_log")).status == 200)
        let job = server.storage.streams(matching: StreamSelector(job: "reana-run-job-a02532f6-5bee-49e5-8939-866d79befb86"))
        #expect(job.count == 1)
        #expect(job.first?.key.workflow == "")
        let lines = try server.storage.read(LogQuery(streams: job.map(\.id), limit: 100)).lines
        let expected = try String(decoding: fixture("reana/input_job.log"), as: UTF8.self)
            .split(separator: "\n").compactMap { line -> String? in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["log"] as? String
            }
        #expect(lines.map(\.message) == expected)
        let workflow = server.storage.streams(matching: StreamSelector(workflow: "0fdc9f92-0f93-44d1-a3ec-d884e3e5e58c"))
        #expect(workflow.map(\.key.index) == ["fluentbit-workflow_log"])
        let wfLines = try server.storage.read(LogQuery(streams: workflow.map(\.id), limit: 100)).lines
        #expect(wfLines.count == 3)
        await server.stop()
    }

    @Test func logstashIDsAndNanosecondTimestamps() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        let first = try await client.exchange(try capturedRequest("fluentbit/es_logstash_genid"))
        #expect(first.status == 200)
        let lines = try server.storage.read(LogQuery(streams: server.storage.allStreams().map(\.id), limit: 100)).lines
        #expect(lines.first?.timestamp == 1_714_564_800_123_456_789)
        await server.stop()
    }
}
