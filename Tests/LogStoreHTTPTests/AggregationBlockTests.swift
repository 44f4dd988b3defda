import Foundation
import LogStore
import Testing
import TestSupport

/// Aggregations that take whole sealed blocks (`Storage.visitBlocks`: a block's time range or
/// timestamp column for `date_histogram`, the value the field index proves for `terms`) answer
/// exactly what visiting every line answers, and what a brute-force count of the documents
/// answers: random lines crossing bucket edges, streams whose blocks sit inside one bucket, and
/// streams mixing the forms of the job field (nested, a flat dotted key, absent with the stream's
/// job from `job`, an array, arrays of objects on the way, a number, a value longer than the
/// index keeps).
@Suite("Aggregations from whole blocks", .serialized)
struct AggregationBlockTests {
    typealias A = AggregationTests

    struct Doc {
        var ms: Int64
        var word: String
        /// The `kubernetes.labels.job-name` values the document holds (empty: absent).
        var jobName: [String]
        var json: [String: Any]
    }

    static let words = ["alpha", "error", "ok"]

    /// Documents of 10 streams: some spread over two hours, some inside one minute; the job
    /// field in every form.
    static func documents(seed: UInt64, base: Int64) -> [Doc] {
        var g = SeededRandom(seed: seed)
        var out: [Doc] = []
        let longName = String(repeating: "long-job-name-", count: 6)
        for s in 0..<10 {
            let job = s == 9 ? longName : "job-\(s)"
            let tight = s % 3 == 1
            let minute = base + Int64.random(in: 0..<120, using: &g) * 60_000
            for i in 0..<Int.random(in: 60...220, using: &g) {
                let ms = tight ? minute + Int64.random(in: 0..<60_000, using: &g) : base + Int64.random(in: 0..<(2 * 3_600_000), using: &g)
                let word = words.randomElement(using: &g)!
                var o: [String: Any] = ["@timestamp": A.iso(ms), "log": "\(word) line \(i)"]
                var names: [String] = [job]
                switch s {
                case 7:
                    // The job field absent on some lines: the stream's job comes from `job`.
                    if Int.random(in: 0..<5, using: &g) == 0 {
                        o["job"] = job
                        names = []
                    } else {
                        o["kubernetes"] = ["labels": ["job-name": job]]
                    }
                case 8:
                    // A number on some lines, a string on the others.
                    if Bool.random(using: &g) {
                        o["kubernetes"] = ["labels": ["job-name": 8]]
                        o["job"] = job
                        names = ["8"]
                    } else {
                        o["kubernetes"] = ["labels": ["job-name": job]]
                    }
                case 6:
                    // An array on some lines.
                    if Int.random(in: 0..<4, using: &g) == 0 {
                        o["kubernetes"] = ["labels": ["job-name": [job, "other"]]]
                        o["job"] = job
                        names = [job, "other"]
                    } else {
                        o["kubernetes"] = ["labels": ["job-name": job]]
                    }
                case 5:
                    // An array of objects on the way on some lines: its members' values are the
                    // path's (OpenSearch flattens them), one or several, in every nesting.
                    switch Int.random(in: 0..<8, using: &g) {
                    case 0:
                        o["kubernetes"] = [["labels": ["job-name": job]]]
                        o["job"] = job
                    case 1:
                        o["kubernetes"] = [["labels": ["job-name": job]], ["labels": ["job-name": job]], ["other": 1]]
                        o["job"] = job
                    case 2:
                        o["kubernetes"] = ["labels": [["job-name": "other"], ["job-name": [job, "x"]]]]
                        o["job"] = job
                        names = ["other", job, "x"]
                    case 3:
                        o["kubernetes"] = [[["labels.job-name": job]], ["labels": ["job-name": NSNull()]]]
                        o["job"] = job
                    default:
                        o["kubernetes"] = ["labels": ["job-name": job]]
                    }
                default:
                    if s % 2 == 0 { o["kubernetes.labels.job-name"] = job } else { o["kubernetes"] = ["labels": ["job-name": job]] }
                }
                if Int.random(in: 0..<3, using: &g) == 0 { o["level"] = "L\(i % 4)" }
                out.append(Doc(ms: ms, word: word, jobName: names, json: o))
            }
        }
        out.shuffle(using: &g)
        return out
    }

    static func bulk(_ docs: [Doc]) -> [UInt8] {
        var body = ""
        for d in docs {
            body += "{\"index\":{\"_index\":\"logs-blocks\"}}\n"
            body += String(decoding: try! JSONSerialization.data(withJSONObject: d.json, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        return Array(body.utf8)
    }

    static func keyed(_ agg: [String: Any]) -> [String: Int] {
        var out: [String: Int] = [:]
        for b in A.buckets(agg) where ((b["doc_count"] as? Int) ?? 0) > 0 {
            let key = (b["key"] as? String) ?? "\((b["key"] as? NSNumber)?.int64Value ?? -1)"
            out[key] = b["doc_count"] as? Int
        }
        return out
    }

    /// Per term: its count and its per-bucket counts.
    static func nested(_ agg: [String: Any]) -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for b in A.buckets(agg) {
            let key = (b["key"] as? String) ?? "\(b["key"] ?? "")"
            var h = keyed((b["h"] as? [String: Any]) ?? [:])
            h["count"] = b["doc_count"] as? Int
            out[key] = h
        }
        return out
    }

    @Test(arguments: [UInt64(1), 2])
    func blocksEqualLinesAndBruteForce(seed: UInt64) async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 40
        let server = try await TestServer.start(storageOptions: storageOptions)
        do {
            try await check(server, seed: seed)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func check(_ server: TestServer, seed: UInt64) async throws {
        let base = (Int64(Date().timeIntervalSince1970 * 1000) / 3_600_000 - 3) * 3_600_000
        let docs = Self.documents(seed: seed, base: base)
        let client = try RawClient(port: server.port)
        // Most lines sealed into blocks, the rest left in the head.
        let sealed = docs.count * 4 / 5
        for (part, seal) in [(docs[..<sealed], true), (docs[sealed...], false)] {
            let r = try await client.exchange(
                request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Self.bulk(Array(part))))
            #expect(r.status == 200 && !r.text.contains("\"errors\":true"), "\(r.text.prefix(300))")
            if seal { try await server.storage.sealAll() }
        }

        // The engine offers blocks, some with a proven job name and some inside one minute.
        var offered = 0
        var withValue = 0
        var oneMinute = 0
        try server.storage.visitBlocks(
            LineVisit(query: try QueryParser.parse("*")), valuePath: "kubernetes.labels.job-name",
            block: { b in
                offered += 1
                if b.value != nil { withValue += 1 }
                if b.minTimestamp / 60_000_000_000 == b.maxTimestamp / 60_000_000_000 { oneMinute += 1 }
                return false
            }, line: { _ in })
        #expect(offered > 20 && withValue > 5 && oneMinute > 3, "offered \(offered), with a value \(withValue), in one minute \(oneMinute)")

        var g = SeededRandom(seed: seed &+ 99)
        for round in 0..<8 {
            let word: String? = round % 2 == 1 ? Self.words.randomElement(using: &g)! : nil
            let matching = docs.filter { word == nil || $0.word == word }
            let minutes = round == 6 ? 1 : [1, 5, 10].randomElement(using: &g)!
            let width = Int64(minutes) * 60_000
            // Zones whose offsets are whole hours: buckets of 1, 5 and 10 minutes fall where UTC's do.
            let zone = round % 4 == 3 ? "+02:00" : round % 4 == 1 ? "Europe/Zurich" : "UTC"
            let field = round % 3 == 2 ? "kubernetes.labels.job-name.keyword" : "kubernetes.labels.job-name"
            let interval = round == 6 ? ["calendar_interval": "minute"] : ["fixed_interval": "\(minutes)m"]
            let histogram: [String: Any] = ["date_histogram": ["field": "@timestamp", "time_zone": zone].merging(interval) { a, _ in a }]
            // The same aggregations with a metric below: every line visited.
            let counted: [String: Any] = ["v": ["value_count": ["field": "@timestamp"]]]
            var fast: [String: Any] = [
                "size": 0,
                "aggs": [
                    "h": histogram, "t": ["terms": ["field": field, "size": 50]],
                    "th": ["terms": ["field": field, "size": 50], "aggs": ["h": histogram]],
                ],
            ]
            var slow: [String: Any] = [
                "size": 0,
                "aggs": [
                    "h": histogram.merging(["aggs": counted]) { a, _ in a },
                    "t": ["terms": ["field": field, "size": 50], "aggs": counted],
                    "th": ["terms": ["field": field, "size": 50], "aggs": ["h": histogram.merging(["aggs": counted]) { a, _ in a }]],
                ],
            ]
            var lone: [String: Any] = ["size": 0, "aggs": ["h": histogram]]
            var loneTerms: [String: Any] = ["size": 0, "aggs": ["t": ["terms": ["field": field, "size": 50]]]]
            if let word {
                fast["query"] = ["match": ["log": word]]
                slow["query"] = ["match": ["log": word]]
                lone["query"] = ["match": ["log": word]]
                loneTerms["query"] = ["match": ["log": word]]
            }
            let f = try await A.search(client, fast, path: "/logs-blocks/_search")
            let s = try await A.search(client, slow, path: "/logs-blocks/_search")
            let l = try await A.search(client, lone, path: "/logs-blocks/_search")
            let lt = try await A.search(client, loneTerms, path: "/logs-blocks/_search")
            let what = "seed \(seed) round \(round) word \(word ?? "-") \(interval) \(zone) \(field)"

            // Brute force.
            func buckets(_ docs: [Doc]) -> [String: Int] {
                Dictionary(grouping: docs) { "\(A.floorDiv($0.ms, width) * width)" }.mapValues(\.count)
            }
            var terms: [String: Int] = [:]
            var perTerm: [String: [Doc]] = [:]
            for d in matching {
                for name in Set(d.jobName) {
                    terms[name, default: 0] += 1
                    perTerm[name, default: []].append(d)
                }
            }
            #expect(Self.keyed(A.aggs(f, "h")) == buckets(matching), "\(what): date_histogram")
            #expect(Self.keyed(A.aggs(l, "h")) == buckets(matching), "\(what): lone date_histogram")
            #expect(Self.keyed(A.aggs(f, "t")) == terms, "\(what): terms")
            #expect(Self.keyed(A.aggs(lt, "t")) == terms, "\(what): lone terms")
            var expectedNested: [String: [String: Int]] = [:]
            for (name, ds) in perTerm {
                var h = buckets(ds)
                h["count"] = ds.count
                expectedNested[name] = h
            }
            #expect(Self.nested(A.aggs(f, "th")) == expectedNested, "\(what): terms > date_histogram")
            // Every line visited gives the same.
            #expect(Self.keyed(A.aggs(s, "h")) == Self.keyed(A.aggs(f, "h")), "\(what): date_histogram, lines")
            #expect(Self.keyed(A.aggs(s, "t")) == Self.keyed(A.aggs(f, "t")), "\(what): terms, lines")
            #expect(Self.nested(A.aggs(s, "th")) == Self.nested(A.aggs(f, "th")), "\(what): terms > date_histogram, lines")
            let total = ((l["hits"] as? [String: Any])?["total"] as? [String: Any])?["value"] as? Int
            #expect(total == matching.count, "\(what): total")
        }
    }
}
