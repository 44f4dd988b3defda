import Foundation
import LogStore
import Testing
import TestSupport

/// Searches, aggregations and the field catalog answer the same over finished days before
/// compaction, compacted without a token index (days under `--min-indexed-day`), and compacted
/// again with one.
@Suite("Answers across compaction", .serialized)
struct CompactedDayAnswerTests {
    typealias A = AggregationTests

    /// The `_search` bodies (and GET paths) compared, on `logs-agg`.
    static var searches: [[String: Any]] {
        [
        ["size": 30, "sort": [["@timestamp": "desc"]], "query": ["match": ["log": "error"]]],
        ["size": 30, "sort": [["@timestamp": "asc"]], "query": ["query_string": ["query": "level:ERROR AND alpha"]], "track_total_hits": true],
        ["size": 10, "query": ["bool": ["filter": [["range": ["n": ["gte": 20, "lt": 90]]], ["term": ["labels.app": "app-3"]]]]], "track_total_hits": true],
        ["size": 0, "query": ["match": ["log": "gamma"]], "track_total_hits": true],
        [
            "size": 0,
            "aggs": [
                "levels": ["terms": ["field": "level", "size": 10, "missing": "none"]],
                "apps": ["terms": ["field": "labels.app", "size": 10]],
                "tags": ["terms": ["field": "tags", "size": 10]],
                "jobs": ["cardinality": ["field": "kubernetes.labels.job-name"]],
                "n": ["stats": ["field": "n"]],  // whole numbers: a sum in any order is exact
                "hours": ["date_histogram": ["field": "@timestamp", "fixed_interval": "1h"], "aggs": ["n": ["max": ["field": "n"]]]],
            ],
        ],
        [
            "size": 0, "query": ["match": ["log": "delta"]],
            "aggs": ["per_job": ["terms": ["field": "kubernetes.labels.job-name", "size": 10], "aggs": ["lv": ["terms": ["field": "level"]]]]],
        ],
        ]
    }
    static let gets = ["/logs-agg/_mapping", "/logs-agg/_field_caps?fields=*", "/_cat/indices?format=json&h=index,docs.count"]

    /// Every answer, without its `took`.
    static func answers(_ server: TestServer) async throws -> [String] {
        let client = try RawClient(port: server.port)
        var out: [String] = []
        for body in searches {
            let data = try JSONSerialization.data(withJSONObject: body)
            let r = try await client.exchange(request("POST", "/logs-agg/_search", headers: [("Content-Type", "application/json")], body: Array(data)))
            #expect(r.status == 200, "\(r.text.prefix(400))")
            out.append(r.text.replacingOccurrences(of: #""took":\d+"#, with: "", options: .regularExpression))
        }
        for path in gets {
            let r = try await client.exchange(request("GET", path))
            #expect(r.status == 200, "\(path): \(r.text.prefix(400))")
            out.append(r.text)
        }
        return out
    }

    @Test func finishedDaysAnswerTheSameUnindexedAndIndexed() async throws {
        var options = StorageOptions()
        options.sealLines = 60
        var server = try await TestServer.start(storageOptions: options)
        let directory = server.directory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Three finished days, two hours of documents each.
        let today = Int64(Date().timeIntervalSince1970) / 86_400 * 86_400_000
        var docs: [A.Doc] = []
        for k in 1...3 { docs += A.documents(700, seed: UInt64(40 + k), base: today - Int64(k) * 86_400_000 + 5 * 3_600_000) }
        _ = try await A.load(docs, server: server)
        let before = try await Self.answers(server)
        #expect(before[0].contains("\"_source\"") && before[4].contains("\"buckets\""))

        _ = try await server.storage.compact()
        let finished = try server.storage.stats().segments.filter { $0.generation > 0 }
        #expect(finished.count == 3 && finished.allSatisfy { !$0.tokenIndex }, "\(finished.map { ($0.name, $0.tokenIndex) })")
        let unindexed = try await Self.answers(server)
        for (i, (a, b)) in zip(before, unindexed).enumerated() { #expect(a == b, "answer \(i) without a token index") }

        // The same days with a token index again.
        await server.stop(keepData: true)
        options.minIndexedDayBytes = 0
        server = try await TestServer.start(storageOptions: options, directory: directory)
        _ = try await server.storage.compact()
        #expect(try server.storage.stats().segments.filter { $0.generation > 0 }.allSatisfy(\.tokenIndex))
        let indexed = try await Self.answers(server)
        for (i, (a, b)) in zip(before, indexed).enumerated() { #expect(a == b, "answer \(i) with the token index back") }
        await server.stop()
    }
}
