import Foundation
import TestSupport
import LogStore
import LogStoreIngest
import Testing

/// Documents as they were sent: `_source` round trips, every field searchable through the
/// query DSL, and a data directory written by the format-3 release read unchanged.
@Suite("Document fields")
struct DocumentFieldsTests {
    static func search(_ client: RawClient, _ path: String = "/_search", _ body: String) async throws -> RawResponse {
        try await client.exchange(request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
    }

    static func bulk(_ client: RawClient, _ index: String, _ documents: [String]) async throws {
        var body = ""
        for d in documents { body += "{\"create\":{\"_index\":\"\(index)\"}}\n\(d)\n" }
        let response = try await client.exchange(
            request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array(body.utf8)))
        #expect(response.status == 200, "\(response.text)")
        #expect(response.json?["errors"] as? Bool == false, "\(response.text)")
    }

    static func sources(_ response: RawResponse) -> [[String: Any]] {
        OpenSearchTests.hits(response.json ?? [:]).compactMap { $0["_source"] as? [String: Any] }
    }

    /// Whether two parsed JSON values are equal (compared in one canonical text).
    static func same(_ a: Any, _ b: Any) -> Bool {
        func text(_ v: Any) -> Data? { try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed]) }
        return text(a) != nil && text(a) == text(b)
    }

    static func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    // MARK: _source round trip

    static let logstash = [
        #"{"@timestamp":"2024-09-24T11:00:00.000Z","message":"Hello Jane from logstash","host":{"name":"node-1"},"level":"ERROR","status":500}"#,
        #"{"@timestamp":"2024-09-24T11:00:01.250Z","message":"Hello John","host":{"name":"node-2"},"level":"INFO","status":200,"tags":["a","b"]}"#,
        #"{"@timestamp":"2024-09-24T11:00:02.5Z","message":"jane says bye","host.name":"node-1","level":"WARN","status":404,"ok":true,"n":null}"#,
    ]
    static let vector = [
        #"{"timestamp":"2024-09-24T11:00:03.123456Z","message":"vector one","service":"api","kubernetes":{"namespace_name":"belle2","labels":{"dask.org/cluster-name":"dask-1"}}}"#,
        #"{"timestamp":1727175604.5,"message":"vector two","service":"api","n":1.5,"kubernetes":{"namespace_name":"belle2","labels":{"dask.org/cluster-name":"dask-2"}}}"#,
        #"{"timestamp":"2024-09-24 11:00:05","message":{"structured":true,"n":[1,2]},"service":"web"}"#,
    ]

    @Test func sourceComesBackAsSent() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        try await Self.bulk(client, "logstash-2024.09.24", Self.logstash)
        try await Self.bulk(client, "vector", Self.vector)
        let response = try await Self.search(client, "/logstash-*,vector/_search", #"{"size":100,"sort":["@timestamp"]}"#)
        #expect(response.status == 200, "\(response.text)")
        let got = Self.sources(response)
        let sent = (Self.logstash + Self.vector).map(Self.object)
        #expect(got.count == sent.count)
        for (g, s) in zip(got, sent) { #expect(Self.same(g, s), "\(g) != \(s)") }
        // Gzip answers and `_source` filters see the same documents.
        let gz = try await client.exchange(
            request("POST", "/vector/_search", headers: [("Content-Type", "application/json"), ("Accept-Encoding", "gzip")],
                    body: Array(#"{"size":100,"sort":["@timestamp"]}"#.utf8)))
        let gzSources = OpenSearchTests.hits(try OpenSearchTests.json(gz)).compactMap { $0["_source"] as? [String: Any] }
        #expect(gzSources.count == 3)
        for (g, s) in zip(gzSources, Self.vector.map(Self.object)) { #expect(Self.same(g, s), "\(g) != \(s)") }
        let filtered = try await Self.search(client, "/logstash-*/_search", #"{"size":1,"sort":["@timestamp"],"_source":["message"]}"#)
        #expect(Self.same(Self.sources(filtered).first ?? [:], ["message": "Hello Jane from logstash"]), "\(filtered.text)")
        await server.stop()
    }

    // MARK: Queries on any field

    struct FieldCase: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var messages: [String]
        var testDescription: String { name }
    }

    static let fieldCases: [FieldCase] = [
        FieldCase(name: "term level", body: #"{"query":{"term":{"level":"ERROR"}}}"#, messages: ["Hello Jane from logstash"]),
        FieldCase(name: "term level.keyword", body: #"{"query":{"term":{"level.keyword":"INFO"}}}"#, messages: ["Hello John"]),
        FieldCase(name: "terms status", body: #"{"query":{"terms":{"status":[200,404]}}}"#, messages: ["Hello John", "jane says bye"]),
        FieldCase(name: "range status", body: #"{"query":{"range":{"status":{"gte":400}}}}"#, messages: ["Hello Jane from logstash", "jane says bye"]),
        FieldCase(name: "exists tags", body: #"{"query":{"exists":{"field":"tags"}}}"#, messages: ["Hello John"]),
        FieldCase(name: "exists null", body: #"{"query":{"exists":{"field":"n"}}}"#, messages: ["vector two"]),
        FieldCase(name: "dotted and nested host.name", body: #"{"query":{"match_phrase":{"host.name":"node-1"}}}"#, messages: ["Hello Jane from logstash", "jane says bye"]),
        FieldCase(
            name: "query_string dotted", body: #"{"query":{"query_string":{"query":"kubernetes.namespace_name:belle2"}}}"#,
            messages: ["vector one", "vector two"]),
        FieldCase(name: "query_string default OR", body: #"{"query":{"query_string":{"query":"Hello Jane"}}}"#, messages: ["Hello Jane from logstash", "Hello John", "jane says bye"]),
        FieldCase(name: "query_string AND", body: #"{"query":{"query_string":{"query":"Hello Jane","default_operator":"AND"}}}"#, messages: ["Hello Jane from logstash"]),
        FieldCase(
            name: "query_string two fields", body: #"{"query":{"query_string":{"query":"host.name:node-1 AND level:WARN"}}}"#,
            messages: ["jane says bye"]),
        FieldCase(
            name: "Dask cluster label", body: #"{"query":{"bool":{"filter":[{"match":{"kubernetes.labels.dask.org/cluster-name.keyword":"dask-2"}}]}}}"#,
            messages: ["vector two"]),
        FieldCase(
            name: "query_string escaped name", body: #"{"query":{"query_string":{"query":"kubernetes.labels.dask.org\\/cluster-name.keyword:dask-1"}}}"#,
            messages: ["vector one"]),
        FieldCase(name: "prefix", body: #"{"query":{"prefix":{"service":"ap"}}}"#, messages: ["vector one", "vector two"]),
        FieldCase(name: "wildcard", body: #"{"query":{"wildcard":{"host.name":{"value":"NODE-?","case_insensitive":true}}}}"#, messages: ["Hello Jane from logstash", "Hello John", "jane says bye"]),
        FieldCase(name: "range on the time field", body: #"{"query":{"range":{"timestamp":{"gte":"2024-09-24T11:00:04Z"}}}}"#, messages: ["vector two", "vector three"]),
        FieldCase(name: "bool must_not", body: #"{"query":{"bool":{"must":[{"exists":{"field":"status"}}],"must_not":[{"term":{"status":500}}]}}}"#, messages: ["Hello John", "jane says bye"]),
        FieldCase(name: "match_phrase_prefix", body: #"{"query":{"match_phrase_prefix":{"message":"hello ja"}}}"#, messages: ["Hello Jane from logstash"]),
        FieldCase(name: "multi_match", body: #"{"query":{"multi_match":{"query":"web","fields":["service","message"]}}}"#, messages: ["vector three"]),
        FieldCase(name: "boolean", body: #"{"query":{"term":{"ok":true}}}"#, messages: ["jane says bye"]),
    ]

    @Test(arguments: fieldCases)
    func queriesOnAnyField(_ c: FieldCase) async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        try await Self.bulk(client, "logstash-2024.09.24", Self.logstash)
        var vector = Self.vector
        vector[2] = vector[2].replacingOccurrences(of: #"{"structured":true,"n":[1,2]}"#, with: #""vector three""#)
        try await Self.bulk(client, "vector", vector)
        var body = Self.object(c.body)
        body["size"] = 100
        body["sort"] = ["@timestamp"]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let response = try await Self.search(client, "/logstash-*,vector/_search", text)
        #expect(response.status == 200, "\(response.text)")
        let messages = Self.sources(response).compactMap { $0["message"] as? String }
        #expect(messages == c.messages, "\(response.text)")
        #expect(OpenSearchTests.total(response.json ?? [:]) == c.messages.count)
        let count = try await Self.search(client, "/logstash-*,vector/_count", #"{"query":"# + String(decoding: try JSONSerialization.data(withJSONObject: body["query"] ?? [:]), as: UTF8.self) + "}")
        #expect(count.json?["count"] as? Int == c.messages.count, "\(count.text)")
        await server.stop()
    }

    // MARK: Upgrades

    /// The data directory in Tests/Fixtures/legacy-v3/data.tar.gz was written by the format-3
    /// release (before source templates) from its documents.ndjson.gz: it opens and reads as it
    /// did then.
    @Test func legacyDataDirectoryReadsUnchanged() async throws {
        let directory = NSTemporaryDirectory() + "logstore-legacy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let archive = fixtures.appendingPathComponent("legacy-v3/data.tar.gz")
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-xzf", archive.path, "-C", directory]
        try tar.runGuarded()
        tar.waitUntilExit()
        try #require(tar.terminationStatus == 0, "tar -xzf \(archive.path)")
        let server = try await TestServer.start(directory: directory)
        let client = try RawClient(port: server.port)
        let job = try await Self.search(client, "/fluentbit/_search", #"{"size":2000,"sort":["@timestamp"]}"#)
        #expect(job.status == 200, "\(job.text)")
        #expect(OpenSearchTests.total(job.json ?? [:]) == 1005)
        let lines = Self.sources(job)
        #expect(lines.count == 1005)
        // Legacy lines answer as the release did: the message as `log`, the time as `@timestamp`.
        #expect(lines.first?["log"] as? String == "line 0 of job one, level=INFO")
        #expect(lines.first?["@timestamp"] as? String == "2024-09-24T10:00:00.000Z")
        #expect(((lines.first?["kubernetes"] as? [String: Any])?["labels"] as? [String: Any])?["job-name"] as? String == "reana-run-job-1")
        #expect(lines.last?["log"] as? String == "line 1004 of job one, level=INFO")
        let logstash = Self.sources(try await Self.search(client, "/logstash-*/_search", "{}"))
        #expect(logstash.first?["log"] as? String == "Hello Jane from logstash")
        #expect(logstash.first?["status"] as? Int == 500)
        // Fields of old lines are searchable too.
        let error = try await Self.search(client, "/_search", #"{"query":{"term":{"level":"ERROR"}}}"#)
        #expect(OpenSearchTests.total(error.json ?? [:]) == 1, "\(error.text)")
        let stdout = try await Self.search(client, "/_search", #"{"query":{"query_string":{"query":"kubernetes.host:node-1 AND stream:stdout"}},"size":0}"#)
        #expect(OpenSearchTests.total(stdout.json ?? [:]) == 1005, "\(stdout.text)")
        // New lines next to old ones keep their own shape.
        try await Self.bulk(client, "vector", [Self.vector[0]])
        let vector = Self.sources(try await Self.search(client, "/vector/_search", "{}"))
        #expect(vector.count == 2)
        #expect(vector.contains { Self.same($0, Self.object(Self.vector[0])) }, "\(vector)")
        await server.stop()
    }
}
