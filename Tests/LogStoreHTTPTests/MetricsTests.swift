import Foundation
import LogStore
import LogStoreHTTP
import Testing

/// `GET /metrics`: Prometheus text with the ingest counters and the store's figures, counted
/// from real requests (captured FluentBit bodies, a resend, a bad document, a refused body).
@Suite("Prometheus metrics")
struct MetricsTests {
    /// `name{labels}` → value of every sample in a Prometheus text exposition.
    func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for row in text.split(separator: "\n") where !row.hasPrefix("#") {
            guard let space = row.lastIndex(of: " "), let value = Double(row[row.index(after: space)...]) else { continue }
            out[String(row[..<space])] = value
        }
        return out
    }

    @Test func countsIngestAndReportsTheStore() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        let bulk = try capturedRequest("reana/bulk_job_log")  // 10 documents
        #expect(try await client.exchange(bulk).status == 200)
        #expect(try await RawClient(port: server.port).exchange(bulk).status == 200)  // FluentBit's resend
        let mixed = [
            #"{"create":{"_index":"m"}}"#, #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"good","job":"j"}"#,
            #"{"create":{"_index":"m"}}"#, #"{"@timestamp":"not a time","log":"bad","job":"j"}"#,
        ].joined(separator: "\n") + "\n"
        let partial = try await client.exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array(mixed.utf8)))
        #expect(partial.status == 200 && partial.json?["errors"] as? Bool == true)
        let empty = try await client.exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array("\n".utf8)))
        #expect(empty.status == 400)
        #expect(try await RawClient(port: server.port).exchange(try capturedRequest("fluentbit/http_json_lines")).status == 200)  // 5 lines

        let answer = try await client.exchange(request("GET", "/metrics"))
        #expect(answer.status == 200)
        #expect(answer.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(answer.text.contains("# TYPE logstore_ingest_lines_total counter"))
        let m = samples(answer.text)
        #expect(m[#"logstore_ingest_requests_total{api="bulk"}"#] == 3)
        #expect(m[#"logstore_ingest_lines_total{api="bulk"}"#] == 11)
        #expect(m[#"logstore_ingest_duplicate_requests_total{api="bulk"}"#] == 1)
        #expect(m[#"logstore_ingest_rejected_documents_total{api="bulk"}"#] == 1)
        #expect(m[#"logstore_ingest_refused_requests_total{api="bulk"}"#] == 1)
        #expect(m[#"logstore_ingest_requests_total{api="http"}"#] == 1)
        #expect(m[#"logstore_ingest_lines_total{api="http"}"#] == 5)
        #expect((m[#"logstore_ingest_body_bytes_total{api="bulk"}"#] ?? 0) > Double(mixed.utf8.count))
        // The store's figures, read at the scrape: 16 lines, all in heads, LSNs 1…16.
        #expect(m["logstore_lines"] == 16)
        #expect(m["logstore_last_lsn"] == 16)
        #expect(m["logstore_head_lines"] == 16)
        #expect(m["logstore_segments"] == 2)  // the REANA capture's day and the http capture's day
        #expect((m["logstore_stored_bytes"] ?? 0) > 0 && (m["logstore_raw_bytes"] ?? 0) > 0)
        #expect(m["logstore_tail_waiters"] == 0)

        // Sealing moves the lines out of the heads: the next scrape shows it.
        try await server.storage.sealAll()
        let after = samples(try await client.exchange(request("GET", "/metrics")).text)
        #expect(after["logstore_head_lines"] == 0 && after["logstore_lines"] == 16)
        await server.stop()
    }
}
