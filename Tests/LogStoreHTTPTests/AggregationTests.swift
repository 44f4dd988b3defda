import Foundation
import LogStore
import Testing
import TestSupport

/// Aggregations in `_search` against a brute-force computation over the documents as sent:
/// random documents (random field sets, nested and flat dotted keys, arrays, numbers, words)
/// through `/_bulk` into a real server, random aggregations, buckets, keys and counts compared.
@Suite("Aggregations", .serialized)
struct AggregationTests {
    struct Doc {
        var ms: Int64
        var words: [String]
        var level: String?
        var n: Double?
        var x: Double?
        var app: String?
        var tags: [String]
        var job: String
    }

    static let words = ["alpha", "beta", "gamma", "delta", "error", "ok"]
    static let levels = ["INFO", "WARN", "ERROR", "DEBUG"]

    static func documents(_ count: Int, seed: UInt64, base: Int64) -> [Doc] {
        var g = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            Doc(
                ms: base + Int64.random(in: 0..<(2 * 3_600_000), using: &g),
                words: (0..<Int.random(in: 1...4, using: &g)).map { _ in words.randomElement(using: &g)! },
                level: Bool.random(using: &g) || Bool.random(using: &g) ? levels.randomElement(using: &g)! : nil,
                n: Int.random(in: 0..<4, using: &g) > 0 ? Double(Int.random(in: -50...150, using: &g)) : nil,
                x: Int.random(in: 0..<5, using: &g) > 0 ? Double(Int.random(in: 0...100_000, using: &g)) / 100 : nil,
                app: Int.random(in: 0..<3, using: &g) > 0 ? "app-\(Int.random(in: 0..<7, using: &g))" : nil,
                tags: (0..<Int.random(in: 0...2, using: &g)).map { _ in "t\(Int.random(in: 0..<3, using: &g))" },
                job: "job-\(Int.random(in: 0..<5, using: &g))")
        }
    }

    static func bulk(_ docs: [Doc], index: String = "logs-agg", flatApp: Bool) -> [UInt8] {
        var body = ""
        for (i, d) in docs.enumerated() {
            var o: [String: Any] = [
                "@timestamp": Self.iso(d.ms), "log": d.words.joined(separator: " "),
                "kubernetes": ["labels": ["job-name": d.job]],
            ]
            if let l = d.level { o["level"] = l }
            if let n = d.n { o["n"] = Int(n) }
            if let x = d.x { o["x"] = x }
            if let a = d.app {
                // Half the documents name the label with a flat dotted key.
                if flatApp && i % 2 == 0 { o["labels.app"] = a } else { o["labels"] = ["app": a] }
            }
            if !d.tags.isEmpty { o["tags"] = d.tags }
            body += "{\"index\":{\"_index\":\"\(index)\"}}\n"
            body += String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        return Array(body.utf8)
    }

    static func iso(_ ms: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    static func load(_ docs: [Doc], server: TestServer, flatApp: Bool = true) async throws -> RawClient {
        let client = try RawClient(port: server.port)
        // In pieces, so lines end up both in sealed blocks and in the head.
        for chunk in stride(from: 0, to: docs.count, by: 700) {
            let part = Array(docs[chunk..<min(chunk + 700, docs.count)])
            let r = try await client.exchange(
                request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: bulk(part, flatApp: flatApp)))
            #expect(r.status == 200, "\(r.text.prefix(300))")
            #expect(!(r.text.contains("\"errors\":true")), "\(r.text.prefix(500))")
        }
        return client
    }

    static func search(_ client: RawClient, _ body: Any, path: String = "/logs-agg/_search") async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        let r = try await client.exchange(request("POST", path, headers: [("Content-Type", "application/json")], body: Array(data)))
        #expect(r.status == 200, "\(r.text.prefix(600))")
        return try #require(r.json, "\(r.text)")
    }

    static func aggs(_ answer: [String: Any], _ name: String) -> [String: Any] {
        ((answer["aggregations"] as? [String: Any])?[name] as? [String: Any]) ?? [:]
    }

    static func buckets(_ agg: [String: Any]) -> [[String: Any]] { (agg["buckets"] as? [[String: Any]]) ?? [] }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func close(_ a: Double?, _ b: Double?, _ tolerance: Double = 1e-6) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a - b) <= tolerance * max(1, abs(a), abs(b))
    }

    static func withServer(_ body: (TestServer) async throws -> Void) async throws {
        let server = try await TestServer.start()
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    // MARK: Properties

    @Test func bucketsAndMetricsEqualBruteForce() async throws {
        let base = (Int64(Date().timeIntervalSince1970 * 1000) - 4 * 3_600_000) / 1000 * 1000
        try await Self.withServer { server in
            let docs = Self.documents(3000, seed: 27, base: base)
            let client = try await Self.load(docs, server: server)
            var g = SeededRandom(seed: 2727)
            for round in 0..<12 {
                // A query half the time: only its lines count.
                let word = Self.words.randomElement(using: &g)!
                let filtered = round % 2 == 1
                let matching = filtered ? docs.filter { $0.words.contains(word) } : docs
                var body: [String: Any] = ["size": 0]
                if filtered { body["query"] = ["match": ["log": word]] }

                // date_histogram, fixed widths, with and without empty buckets, in UTC and +02:00.
                let width: Int64 = [60_000, 300_000, 3_600_000].randomElement(using: &g)!
                let minDoc = Int.random(in: 0...1, using: &g)
                let zone = round % 3 == 2 ? "+02:00" : "UTC"
                let widthText = width == 3_600_000 ? "1h" : "\(width / 60_000)m"
                // terms with a random size and order.
                let size = Int.random(in: 1...8, using: &g)
                let byKey = Bool.random(using: &g)
                body["aggs"] = [
                    "hist": ["date_histogram": ["field": "@timestamp", "fixed_interval": widthText, "min_doc_count": minDoc, "time_zone": zone]],
                    "levels": ["terms": ["field": "level.keyword", "size": size, "order": byKey ? ["_key": "asc"] : ["_count": "desc"]]],
                    "apps": ["terms": ["field": "labels.app", "size": 10, "missing": "none"]],
                    "tags": ["terms": ["field": "tags", "size": 10]],
                    "n_hist": ["histogram": ["field": "n", "interval": 25, "min_doc_count": 1]],
                    "n_range": ["range": ["field": "n", "ranges": [["to": 0], ["from": 0, "to": 100], ["from": 100]]]],
                    "x_stats": ["stats": ["field": "x"]],
                    "x_avg": ["avg": ["field": "x"]],
                    "x_count": ["value_count": ["field": "x"]],
                    "x_pct": ["percentiles": ["field": "x", "percents": [1, 50, 99]]],
                    "app_card": ["cardinality": ["field": "labels.app"]],
                    "x_card": ["cardinality": ["field": "x"]],
                    "words": ["filters": ["filters": ["has_error": ["match": ["log": "error"]], "has_ok": ["match": ["log": "ok"]]]]],
                    "latest": ["top_hits": ["size": 2, "sort": [["@timestamp": "desc"]]]],
                ]
                let answer = try await Self.search(client, body)
                let total = ((answer["hits"] as? [String: Any])?["total"] as? [String: Any])?["value"] as? Int
                #expect(total == matching.count, "round \(round): total")

                // date_histogram
                let offset: Int64 = zone == "UTC" ? 0 : 7_200_000
                var expectedHist: [Int64: Int] = [:]
                for d in matching { expectedHist[Self.floorDiv(d.ms + offset, width) * width - offset, default: 0] += 1 }
                if minDoc == 0, let lo = expectedHist.keys.min(), let hi = expectedHist.keys.max() {
                    for k in stride(from: lo, through: hi, by: Int(width)) where expectedHist[k] == nil { expectedHist[k] = 0 }
                }
                let hist = Self.buckets(Self.aggs(answer, "hist"))
                let gotHist = hist.map { (($0["key"] as? NSNumber)?.int64Value ?? -1, $0["doc_count"] as? Int ?? -1) }
                #expect(gotHist.map(\.0) == expectedHist.keys.sorted(), "round \(round): histogram keys")
                #expect(gotHist.map(\.1) == expectedHist.keys.sorted().map { expectedHist[$0]! }, "round \(round): histogram counts")
                if let first = hist.first, let key = first["key"] as? NSNumber {
                    let text = first["key_as_string"] as? String ?? ""
                    #expect(text.hasSuffix(zone == "UTC" ? "Z" : "+02:00"), "\(text)")
                    let local = Self.iso(key.int64Value + offset)
                    #expect(text.prefix(19) == local.prefix(19), "\(text) vs \(local)")
                }

                // terms on level
                var levelCounts: [String: Int] = [:]
                for d in matching { if let l = d.level { levelCounts[l, default: 0] += 1 } }
                var ordered = levelCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                if byKey { ordered = levelCounts.sorted { $0.key < $1.key } }
                let levels = Self.aggs(answer, "levels")
                let gotLevels = Self.buckets(levels).map { ($0["key"] as? String ?? "?", $0["doc_count"] as? Int ?? -1) }
                #expect(gotLevels.map(\.0) == ordered.prefix(size).map(\.key), "round \(round): terms keys")
                #expect(gotLevels.map(\.1) == ordered.prefix(size).map(\.value), "round \(round): terms counts")
                #expect(levels["sum_other_doc_count"] as? Int == ordered.dropFirst(size).reduce(0) { $0 + $1.value })

                // terms with missing, nested and flat dotted keys alike
                var apps: [String: Int] = [:]
                for d in matching { apps[d.app ?? "none", default: 0] += 1 }
                let appsOrdered = apps.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(10)
                let gotApps = Self.buckets(Self.aggs(answer, "apps")).map { ($0["key"] as? String ?? "?", $0["doc_count"] as? Int ?? -1) }
                #expect(gotApps.map(\.0) == appsOrdered.map(\.key) && gotApps.map(\.1) == appsOrdered.map(\.value), "round \(round): apps")

                // terms over an array: each document once per distinct value
                var tags: [String: Int] = [:]
                for d in matching { for t in Set(d.tags) { tags[t, default: 0] += 1 } }
                let tagsOrdered = tags.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                let gotTags = Self.buckets(Self.aggs(answer, "tags")).map { ($0["key"] as? String ?? "?", $0["doc_count"] as? Int ?? -1) }
                #expect(gotTags.map(\.0) == tagsOrdered.map(\.key) && gotTags.map(\.1) == tagsOrdered.map(\.value), "round \(round): tags")

                // histogram and range on n
                var nHist: [Double: Int] = [:]
                for d in matching { if let n = d.n { nHist[(n / 25).rounded(.down) * 25, default: 0] += 1 } }
                let gotN = Self.buckets(Self.aggs(answer, "n_hist")).map { (($0["key"] as? NSNumber)?.doubleValue ?? .nan, $0["doc_count"] as? Int ?? -1) }
                #expect(gotN.map(\.0) == nHist.keys.sorted() && gotN.map(\.1) == nHist.keys.sorted().map { nHist[$0]! }, "round \(round): histogram")
                let ns = matching.compactMap(\.n)
                let gotRange = Self.buckets(Self.aggs(answer, "n_range")).map { $0["doc_count"] as? Int ?? -1 }
                let below: Int = ns.filter { $0 < 0 }.count
                let middle: Int = ns.filter { $0 >= 0 && $0 < 100 }.count
                let above: Int = ns.filter { $0 >= 100 }.count
                #expect(gotRange == [below, middle, above])
                #expect(Self.buckets(Self.aggs(answer, "n_range")).map { $0["key"] as? String ?? "" } == ["*-0.0", "0.0-100.0", "100.0-*"])

                // metrics on x
                let xs = matching.compactMap(\.x).sorted()
                let stats = Self.aggs(answer, "x_stats")
                #expect(stats["count"] as? Int == xs.count)
                #expect(Self.close((stats["min"] as? NSNumber)?.doubleValue, xs.first))
                #expect(Self.close((stats["max"] as? NSNumber)?.doubleValue, xs.last))
                #expect(Self.close((stats["sum"] as? NSNumber)?.doubleValue, xs.reduce(0, +)))
                #expect(Self.close((Self.aggs(answer, "x_avg")["value"] as? NSNumber)?.doubleValue, xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count)))
                #expect(Self.aggs(answer, "x_count")["value"] as? Int == xs.count)
                let pct = Self.aggs(answer, "x_pct")["values"] as? [String: Any] ?? [:]
                for p in [1.0, 50, 99] where !xs.isEmpty {
                    let rank = p / 100 * Double(xs.count - 1)
                    let lo = Int(rank.rounded(.down))
                    let expected = xs[lo] + (xs[min(lo + 1, xs.count - 1)] - xs[lo]) * (rank - Double(lo))
                    #expect(Self.close((pct[String(p)] as? NSNumber)?.doubleValue, expected), "p\(p)")
                }
                // cardinality: exact below the threshold (3000)
                #expect(Self.aggs(answer, "app_card")["value"] as? Int == Set(matching.compactMap(\.app)).count)
                #expect(Self.aggs(answer, "x_card")["value"] as? Int == Set(xs).count)

                // filters
                let words = Self.aggs(answer, "words")["buckets"] as? [String: Any] ?? [:]
                #expect((words["has_error"] as? [String: Any])?["doc_count"] as? Int == matching.filter { $0.words.contains("error") }.count)
                #expect((words["has_ok"] as? [String: Any])?["doc_count"] as? Int == matching.filter { $0.words.contains("ok") }.count)

                // top_hits: the newest two
                let latest = ((Self.aggs(answer, "latest")["hits"] as? [String: Any])?["hits"] as? [[String: Any]]) ?? []
                let newest = matching.map(\.ms).sorted(by: >).prefix(2)
                #expect(latest.compactMap { ($0["sort"] as? [Any])?.first as? NSNumber }.map(\.int64Value) == Array(newest), "round \(round): top_hits")
            }
        }
    }

    /// Calendar intervals in time zones (days, weeks from Monday, months), `date_range`,
    /// `terms` ordered by a metric sub-aggregation, `extended_stats` and `min_doc_count` > 1,
    /// over documents spread across months.
    @Test func calendarZonesRangesAndMetricOrder() async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await Self.withServer { server in
            var g = SeededRandom(seed: 4242)
            // Within ingest's time window: the last 20 days.
            var docs = Self.documents(2000, seed: 11, base: now - 20 * 86_400_000)
            for i in docs.indices { docs[i].ms = now - Int64.random(in: 60_000..<(20 * 86_400_000), using: &g) }
            let client = try await Self.load(docs, server: server)
            let zone = TimeZone(identifier: "America/New_York")!
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            calendar.firstWeekday = 2
            for (interval, unit) in [("1d", Calendar.Component.day), ("1w", .weekOfYear), ("1M", .month)] {
                let answer = try await Self.search(
                    client,
                    [
                        "size": 0,
                        "aggs": [
                            "h": ["date_histogram": ["field": "@timestamp", "calendar_interval": interval, "time_zone": "America/New_York", "min_doc_count": 1]]
                        ],
                    ])
                var expected: [Int64: Int] = [:]
                for d in docs {
                    let start = calendar.dateInterval(of: unit, for: Date(timeIntervalSince1970: Double(d.ms) / 1000))!.start
                    expected[Int64((start.timeIntervalSince1970 * 1000).rounded()), default: 0] += 1
                }
                let got = Self.buckets(Self.aggs(answer, "h")).map { (($0["key"] as? NSNumber)?.int64Value ?? 0, $0["doc_count"] as? Int ?? -1) }
                #expect(got.map(\.0) == expected.keys.sorted(), "\(interval) keys")
                #expect(got.map(\.1) == expected.keys.sorted().map { expected[$0]! }, "\(interval) counts")
            }
            // date_range with date math and ISO bounds
            let mid = now - 10 * 86_400_000
            let answer = try await Self.search(
                client,
                [
                    "size": 0,
                    "aggs": [
                        "r": ["date_range": ["field": "@timestamp", "ranges": [["to": "now-15d"], ["from": "now-15d", "to": Self.iso(mid)], ["from": Self.iso(mid)]]]],
                        "by_level": [
                            "terms": ["field": "level", "order": ["x_avg": "desc"], "min_doc_count": 2],
                            "aggs": ["x_avg": ["avg": ["field": "x"]], "x_ext": ["extended_stats": ["field": "x"]]],
                        ],
                    ],
                ])
            let cut = now - 15 * 86_400_000
            let ranges = Self.buckets(Self.aggs(answer, "r")).map { $0["doc_count"] as? Int ?? -1 }
            let first = docs.filter { $0.ms < cut }.count
            let second = docs.filter { $0.ms >= cut && $0.ms < mid }.count
            let third = docs.filter { $0.ms >= mid }.count
            // `now` moved a little between the documents and the request: the first boundary may
            // shift by the seconds the request took; the last range is exact.
            #expect(ranges.count == 3 && abs(ranges[0] - first) <= 2 && abs(ranges[1] - second) <= 2 && ranges[2] == third, "\(ranges)")
            var byLevel: [String: [Double]] = [:]
            var levelCount: [String: Int] = [:]
            for d in docs {
                guard let l = d.level else { continue }
                levelCount[l, default: 0] += 1
                if let x = d.x { byLevel[l, default: []].append(x) }
            }
            let order = levelCount.keys.filter { levelCount[$0]! >= 2 }.sorted { a, b in
                let x = byLevel[a].map { $0.reduce(0, +) / Double($0.count) } ?? -.infinity
                let y = byLevel[b].map { $0.reduce(0, +) / Double($0.count) } ?? -.infinity
                return x != y ? x > y : a < b
            }
            let got = Self.buckets(Self.aggs(answer, "by_level"))
            #expect(got.map { $0["key"] as? String ?? "" } == order)
            for b in got {
                let xs = byLevel[b["key"] as? String ?? ""] ?? []
                let ext = b["x_ext"] as? [String: Any] ?? [:]
                let mean = xs.reduce(0, +) / Double(xs.count)
                let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
                #expect(Self.close((ext["variance"] as? NSNumber)?.doubleValue, variance, 1e-6))
                #expect(Self.close((ext["sum_of_squares"] as? NSNumber)?.doubleValue, xs.map { $0 * $0 }.reduce(0, +)))
            }
        }
    }

    /// Cardinality above the exact threshold stays within a few percent (OpenSearch documents
    /// its HyperLogLog++ as "excellent accuracy" at this precision).
    @Test func cardinalityAboveTheThreshold() async throws {
        let base = (Int64(Date().timeIntervalSince1970 * 1000) - 3 * 3_600_000) / 1000 * 1000
        try await Self.withServer { server in
            var docs = Self.documents(8000, seed: 99, base: base)
            for i in docs.indices { docs[i].x = Double(i % 6000) + 0.5 }
            let client = try await Self.load(docs, server: server)
            let answer = try await Self.search(
                client,
                ["size": 0, "aggs": ["c": ["cardinality": ["field": "x", "precision_threshold": 100]], "e": ["cardinality": ["field": "x"]]]])
            let approx = try #require(Self.aggs(answer, "c")["value"] as? Int)
            #expect(abs(approx - 6000) <= 6000 * 5 / 100, "\(approx)")
            let exactish = try #require(Self.aggs(answer, "e")["value"] as? Int)
            #expect(abs(exactish - 6000) <= 6000 * 5 / 100, "\(exactish)")
        }
    }

    /// Profiling samples (per job every 10 s: cpu_percent, rss_bytes, io_read_bytes): avg and
    /// max per job per minute (terms → date_histogram → metrics) equal a brute-force computation.
    @Test func profilingPerJobPerMinute() async throws {
        let base = (Int64(Date().timeIntervalSince1970 * 1000) - 2 * 3_600_000) / 60_000 * 60_000
        try await Self.withServer { server in
            var g = SeededRandom(seed: 314)
            struct Sample { var job: String; var ms: Int64; var cpu: Double; var rss: Double; var io: Double }
            var samples: [Sample] = []
            for j in 0..<4 {
                for k in 0..<(60 + j * 7) {
                    samples.append(
                        Sample(
                            job: "pipeline-\(j)", ms: base + Int64(k) * 10_000 + Int64(j * 1000), cpu: Double(Int.random(in: 0...4000, using: &g)) / 10,
                            rss: Double(Int.random(in: 1...4096, using: &g)) * 1_048_576, io: Double(Int.random(in: 0...100_000, using: &g))))
                }
            }
            var body = ""
            for s in samples {
                let o: [String: Any] = [
                    "@timestamp": Self.iso(s.ms), "message": "profile", "pipeline": ["job": s.job],
                    "cpu_percent": s.cpu, "rss_bytes": Int(s.rss), "io_read_bytes": Int(s.io),
                ]
                body += "{\"index\":{\"_index\":\"profiling\"}}\n" + String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self) + "\n"
            }
            let client = try RawClient(port: server.port)
            let r = try await client.exchange(request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array(body.utf8)))
            #expect(r.status == 200 && !r.text.contains("\"errors\":true"), "\(r.text.prefix(300))")
            let answer = try await Self.search(
                client,
                [
                    "size": 0,
                    "aggs": [
                        "jobs": [
                            "terms": ["field": "pipeline.job", "size": 10],
                            "aggs": [
                                "per_minute": [
                                    "date_histogram": ["field": "@timestamp", "fixed_interval": "1m"],
                                    "aggs": [
                                        "cpu_avg": ["avg": ["field": "cpu_percent"]], "cpu_max": ["max": ["field": "cpu_percent"]],
                                        "rss_avg": ["avg": ["field": "rss_bytes"]], "rss_max": ["max": ["field": "rss_bytes"]],
                                        "io_max": ["max": ["field": "io_read_bytes"]],
                                    ],
                                ]
                            ],
                        ]
                    ],
                ], path: "/profiling/_search")
            let jobs = Self.buckets(Self.aggs(answer, "jobs"))
            #expect(jobs.count == 4)
            for job in jobs {
                let name = try #require(job["key"] as? String)
                let mine = samples.filter { $0.job == name }
                #expect(job["doc_count"] as? Int == mine.count)
                let minutes = Dictionary(grouping: mine) { $0.ms / 60_000 * 60_000 }
                let got = Self.buckets(job["per_minute"] as? [String: Any] ?? [:])
                #expect(got.map { ($0["key"] as? NSNumber)?.int64Value ?? 0 } == minutes.keys.sorted(), "\(name) minutes")
                for bucket in got {
                    let key = ((bucket["key"] as? NSNumber)?.int64Value)!
                    let s = minutes[key] ?? []
                    func value(_ n: String) -> Double? { ((bucket[n] as? [String: Any])?["value"] as? NSNumber)?.doubleValue }
                    #expect(Self.close(value("cpu_avg"), s.map(\.cpu).reduce(0, +) / Double(s.count)))
                    #expect(Self.close(value("cpu_max"), s.map(\.cpu).max()))
                    #expect(Self.close(value("rss_avg"), s.map(\.rss).reduce(0, +) / Double(s.count)))
                    #expect(Self.close(value("rss_max"), s.map(\.rss).max()))
                    #expect(Self.close(value("io_max"), s.map(\.io).max()))
                }
            }
        }
    }

    /// `/v1/hits?by=FIELD` counts per value of a field of the stored documents (nested and
    /// flat dotted keys alike), each line once per distinct value.
    @Test func nativeHitsByField() async throws {
        let base = (Int64(Date().timeIntervalSince1970 * 1000) - 3 * 3_600_000) / 1000 * 1000
        try await Self.withServer { server in
            let docs = Self.documents(1500, seed: 7, base: base)
            let client = try await Self.load(docs, server: server)
            for field in ["level", "labels.app", "tags"] {
                let r = try await client.exchange(request("GET", "/v1/hits?q=error&step=1h&by=\(field)"))
                #expect(r.status == 200, "\(r.text.prefix(300))")
                let answer = try #require(r.json)
                let matching = docs.filter { $0.words.contains("error") }
                #expect(answer["total"] as? Int == matching.count)
                var expected: [String: Int] = [:]
                for d in matching {
                    let values: [String] = field == "level" ? d.level.map { [$0] } ?? [] : field == "tags" ? Array(Set(d.tags)) : d.app.map { [$0] } ?? []
                    for v in values { expected[v, default: 0] += 1 }
                }
                #expect((answer["by_" + field] as? [String: Int]) == expected, "\(field)")
            }
        }
    }

    /// Unsupported aggregation types and options are 400s naming them.
    @Test func unsupportedIsNamed() async throws {
        try await Self.withServer { server in
            let client = try RawClient(port: server.port)
            for (body, word) in [
                ("{\"aggs\":{\"a\":{\"geohash_grid\":{\"field\":\"loc\"}}}}", "geohash_grid"),
                ("{\"aggs\":{\"a\":{\"terms\":{\"field\":\"level\",\"shard_whatever\":1}}}}", "shard_whatever"),
                ("{\"aggs\":{\"a\":{\"avg\":{\"script\":\"doc.x\"}}}}", "script"),
                ("{\"aggs\":{\"a\":{\"date_histogram\":{\"field\":\"@timestamp\",\"fixed_interval\":\"1M\"}}}}", "1M"),
                ("{\"script_fields\":{\"a\":{\"script\":\"1\"}}}", "script_fields"),
            ] {
                let r = try await client.exchange(request("POST", "/_search", headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
                #expect(r.status == 400, "\(body): \(r.status)")
                #expect(r.text.contains(word), "\(body): \(r.text)")
            }
        }
    }
}
