import Foundation
import LogStore
import Testing
import TestSupport

/// The shortcuts aggregations take give the answers the general path gives: `terms` on
/// `_index` counted per stream (`Storage.hits`), the lone `date_histogram` counted by
/// `Storage.hits`, and the general path's reuse of a line's buckets for the next lines with the
/// same fields (terms on a label, date_histogram of `@timestamp` under terms), each compared with
/// a brute-force computation over the documents as sent and with the general path's answer.
@Suite("Aggregation shortcuts", .serialized)
struct AggregationFastPathTests {
    typealias A = AggregationTests

    static let indexes = ["logs-fast-a", "logs-fast-b", "logs-fast-c"]

    static func counts(_ agg: [String: Any]) -> [String: Int] {
        var out: [String: Int] = [:]
        for b in A.buckets(agg) {
            let key = (b["key_as_string"] as? String) ?? "\(b["key"] ?? "")"
            out[key] = (b["doc_count"] as? Int) ?? -1
        }
        return out
    }

    @Test func shortcutsEqualBruteForceAndTheGeneralPath() async throws {
        try await A.withServer { server in
            let base = (Int64(Date().timeIntervalSince1970 * 1000) / 3_600_000 - 3) * 3_600_000
            let client = try RawClient(port: server.port)
            var all: [(index: String, doc: A.Doc)] = []
            var g = SeededRandom(seed: 2026)
            for (k, index) in Self.indexes.enumerated() {
                let docs = A.documents(600 + 400 * k, seed: UInt64(100 + k), base: base)
                for chunk in stride(from: 0, to: docs.count, by: 500) {
                    let part = Array(docs[chunk..<min(chunk + 500, docs.count)])
                    let r = try await client.exchange(
                        request(
                            "POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")],
                            body: A.bulk(part, index: index, flatApp: true)))
                    #expect(r.status == 200 && !r.text.contains("\"errors\":true"), "\(r.text.prefix(300))")
                }
                all += docs.map { (index, $0) }
            }
            for round in 0..<6 {
                let query: [String: Any]? = round % 2 == 0 ? nil : ["match": ["log": ["alpha", "error", "ok"].randomElement(using: &g)!]]
                let word = (query?["match"] as? [String: Any])?["log"] as? String
                let matching = all.filter { word == nil || $0.doc.words.contains(word!) }
                let minutes = [1, 5, 10].randomElement(using: &g)!
                let width = Int64(minutes) * 60_000
                var body: [String: Any] = [
                    "size": 0,
                    "aggs": [
                        // Per stream from Storage.hits.
                        "idx": ["terms": ["field": "_index", "size": 10]],
                        // The general path (a sub-aggregation).
                        "idx_general": ["terms": ["field": "_index", "size": 10], "aggs": ["n": ["value_count": ["field": "@timestamp"]]]],
                    ],
                ]
                if let query { body["query"] = query }
                // Two aggregations: not the shortcut; the general path with reused buckets.
                let histogramOnly: [String: Any] = ["date_histogram": ["field": "@timestamp", "fixed_interval": "\(minutes)m"]]
                var lone: [String: Any] = ["size": 0, "aggs": ["h": histogramOnly]]
                if let query { lone["query"] = query }
                var nested: [String: Any] = [
                    "size": 0,
                    "aggs": [
                        "h": histogramOnly,
                        "jobs": ["terms": ["field": "kubernetes.labels.job-name", "size": 20], "aggs": ["h": histogramOnly]],
                        "apps": ["terms": ["field": "labels.app", "size": 20, "missing": "none"]],
                    ],
                ]
                if let query { nested["query"] = query }
                var onlyIndex: [String: Any] = ["size": 0, "aggs": ["idx": ["terms": ["field": "_index", "size": 10]]]]
                if let query { onlyIndex["query"] = query }

                let byIndex = Dictionary(grouping: matching, by: \.index).mapValues(\.count)
                let answer = try await A.search(client, body, path: "/logs-fast-*/_search")
                let alone = try await A.search(client, onlyIndex, path: "/logs-fast-*/_search")
                #expect(Self.counts(A.aggs(alone, "idx")) == byIndex, "round \(round): terms _index alone")
                #expect(Self.counts(A.aggs(answer, "idx_general")) == byIndex, "round \(round): terms _index general")
                let total = ((alone["hits"] as? [String: Any])?["total"] as? [String: Any])?["value"] as? Int
                #expect(total == matching.count, "round \(round): total")
                // One index through the pattern of one.
                let one = try await A.search(client, onlyIndex, path: "/logs-fast-b/_search")
                #expect(Self.counts(A.aggs(one, "idx")) == byIndex.filter { $0.key == "logs-fast-b" }, "round \(round): one index")

                func bucketCounts(_ docs: [(index: String, doc: A.Doc)]) -> [Int64: Int] {
                    Dictionary(grouping: docs) { A.floorDiv($0.doc.ms, width) * width }.mapValues(\.count)
                }
                func keyed(_ agg: [String: Any]) -> [Int64: Int] {
                    var out: [Int64: Int] = [:]
                    for b in A.buckets(agg) where ((b["doc_count"] as? Int) ?? 0) > 0 {
                        out[(b["key"] as? NSNumber)?.int64Value ?? -1] = b["doc_count"] as? Int
                    }
                    return out
                }
                let expected = bucketCounts(matching)
                let counted = try await A.search(client, lone, path: "/logs-fast-*/_search")
                let general = try await A.search(client, nested, path: "/logs-fast-*/_search")
                #expect(keyed(A.aggs(counted, "h")) == expected, "round \(round): lone date_histogram")
                #expect(keyed(A.aggs(general, "h")) == expected, "round \(round): date_histogram general")
                let jobs = A.buckets(A.aggs(general, "jobs"))
                let byJob = Dictionary(grouping: matching, by: \.doc.job)
                #expect(jobs.count == byJob.count, "round \(round): jobs")
                for b in jobs {
                    let job = b["key"] as? String ?? ""
                    let docs = byJob[job] ?? []
                    #expect(b["doc_count"] as? Int == docs.count, "round \(round): job \(job)")
                    #expect(keyed((b["h"] as? [String: Any]) ?? [:]) == bucketCounts(docs), "round \(round): job \(job) histogram")
                }
                let apps = Dictionary(grouping: matching) { $0.doc.app ?? "none" }.mapValues(\.count)
                #expect(Self.counts(A.aggs(general, "apps")) == apps, "round \(round): terms labels.app")
            }
        }
    }
}
