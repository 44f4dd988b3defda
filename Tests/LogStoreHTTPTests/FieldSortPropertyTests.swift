import Foundation
import LogStore
import LogStoreIngest
import Testing
import TestSupport

/// `sort` on document fields against a brute-force model: random documents (the generator of
/// ``FieldQueryPropertyTests``: nested, dotted, arrays, numbers, dates, booleans, nulls, mixed
/// types and missing fields) through `/_bulk`; random sorts (several keys, asc/desc,
/// `missing`, `mode`, `.keyword`) with random filters; every page walked with `search_after`
/// must give exactly the model's order, each hit's sort values and `hits.total`.
@Suite("Field sort against a brute-force model")
struct FieldSortPropertyTests {
    typealias Values = [(path: String, kind: FieldQueryPropertyTests.Kind, text: String)]

    /// One key of the model.
    struct Key {
        var field: String
        var keyword: Bool
        var descending: Bool
        var missingFirst: Bool
        var useMin: Bool

        var name: String { field + (keyword ? ".keyword" : "") }

        /// The key's value of one document (docs/API.md, "Sort").
        func value(_ vs: Values, timestamp: Int64) -> SortValue {
            if field == "@timestamp" && !keyword { return .number(SortValue.milliseconds(timestamp)) }
            var best = SortValue.missing
            for v in vs where v.path == field {
                let value: SortValue
                switch v.kind {
                case .number: value = .number(Double(v.text)!)
                case .bool: value = .number(v.text == "true" ? 1 : 0)
                case .string:
                    if keyword {
                        value = .string(Array(v.text.utf8))
                    } else if let ns = DateText.parse(v.text) {
                        value = .number(SortValue.milliseconds(ns))
                    } else {
                        value = .string(Array(v.text.utf8))
                    }
                }
                if keyword, v.kind != .string { continue }
                if case .missing = best {
                    best = value
                } else if Self.natural(value, best) == (useMin ? -1 : 1) {
                    best = value
                }
            }
            return best
        }

        static func natural(_ a: SortValue, _ b: SortValue) -> Int {
            switch (a, b) {
            case (.number(let x), .number(let y)): return x < y ? -1 : x > y ? 1 : 0
            case (.number, .string): return -1
            case (.string, .number): return 1
            case (.string(let x), .string(let y)): return x.lexicographicallyPrecedes(y) ? -1 : x == y ? 0 : 1
            default: return 0
            }
        }

        func compare(_ a: SortValue, _ b: SortValue) -> Int {
            switch (a, b) {
            case (.missing, .missing): return 0
            case (.missing, _): return missingFirst ? -1 : 1
            case (_, .missing): return missingFirst ? 1 : -1
            default: return descending ? -Self.natural(a, b) : Self.natural(a, b)
            }
        }

        /// The key as a `sort` entry, in one of the forms OpenSearch accepts.
        func entry(_ r: inout SeededRandom) -> Any {
            let order = descending ? "desc" : "asc"
            let defaultMode = useMin == !descending
            if !missingFirst && defaultMode {
                switch Int.random(in: 0..<3, using: &r) {
                case 0: return [name: order]
                case 1: return "\(name):\(order)"
                default: break
                }
                if !descending && Bool.random(using: &r) { return name }
            }
            var options: [String: Any] = ["order": order]
            if missingFirst || Bool.random(using: &r) { options["missing"] = missingFirst ? "_first" : "_last" }
            if !defaultMode || Bool.random(using: &r) { options["mode"] = useMin ? "min" : "max" }
            if Bool.random(using: &r) { options["unmapped_type"] = "keyword" }
            return [name: options]
        }
    }

    static func randomKeys(_ r: inout SeededRandom) -> [Key] {
        let fields = FieldQueryPropertyTests.fields + ["@timestamp", "message", "tags", "nothing.here"]
        return (0..<Int.random(in: 1...3, using: &r)).map { _ in
            let field = fields[Int.random(in: 0..<fields.count, using: &r)]
            let descending = Bool.random(using: &r)
            return Key(
                field: field, keyword: field != "@timestamp" && Int.random(in: 0..<4, using: &r) == 0, descending: descending,
                missingFirst: Int.random(in: 0..<3, using: &r) == 0, useMin: Int.random(in: 0..<4, using: &r) == 0 ? descending : !descending)
        }
    }

    /// A sort value as the answer writes it.
    static func json(_ v: SortValue) -> Any {
        switch v {
        case .missing: return NSNull()
        case .number(let d): return d
        case .string(let b): return String(decoding: b, as: UTF8.self)
        }
    }

    static func same(_ got: Any, _ want: SortValue) -> Bool {
        switch want {
        case .missing: return got is NSNull
        case .number(let d): return !(got is String) && (got as? NSNumber)?.doubleValue == d
        case .string(let b): return (got as? String) == String(decoding: b, as: UTF8.self)
        }
    }

    @Test func randomSortsWalkTheModelOrder() async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 32
        let server = try await TestServer.start(storageOptions: storageOptions)
        let client = try RawClient(port: server.port)
        var r = SeededRandom(seed: 0x50_27ED)
        let docs = (0..<240).map { FieldQueryPropertyTests.document($0, &r) }
        for chunk in stride(from: 0, to: docs.count, by: 80) {
            try await DocumentFieldsTests.bulk(client, "sorted", docs[chunk..<min(chunk + 80, docs.count)].map { $0.text })
        }
        let sent = docs.map { DocumentFieldsTests.object($0.text) }
        let flat = docs.map { FieldQueryPropertyTests.values($0) }
        let times = sent.map { DateText.parse($0["@timestamp"] as! String)! }
        var walked = 0
        var failures = 0
        var pages = 0
        rounds: for round in 0..<150 {
            let keys = Self.randomKeys(&r)
            let tieDescending = Int.random(in: 0..<4, using: &r) == 0
            let filter: FieldQueryPropertyTests.Case? = Bool.random(using: &r) ? FieldQueryPropertyTests.leaf(&r, docs: docs) : nil
            let matching = flat.indices.filter { filter?.matches(flat[$0]) ?? true }
            let modelValues = flat.indices.map { i in keys.map { $0.value(flat[i], timestamp: times[i]) } }
            let expected = matching.sorted { a, b in
                for (k, key) in keys.enumerated() {
                    let c = key.compare(modelValues[a][k], modelValues[b][k])
                    if c != 0 { return c < 0 }
                }
                return tieDescending ? a > b : a < b
            }
            var sort: [Any] = keys.map { $0.entry(&r) }
            if tieDescending { sort.append(["_doc": "desc"]) } else if Bool.random(using: &r) { sort.append("_shard_doc") }
            let size = Int.random(in: 1...60, using: &r)
            var after: [Any]?
            var got: [Int] = []
            for _ in 0...(expected.count / size + 1) {
                var body: [String: Any] = ["sort": sort, "size": size, "track_total_hits": true]
                if let filter { body["query"] = filter.dsl }
                if let after { body["search_after"] = after }
                let text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
                let response = try await DocumentFieldsTests.search(client, "/sorted/_search", text)
                pages += 1
                guard response.status == 200, let answer = response.json else {
                    Issue.record("round \(round): \(text) → \(response.status) \(response.text)")
                    failures += 1
                    if failures > 10 { break rounds }
                    continue rounds
                }
                if OpenSearchTests.total(answer) != matching.count {
                    Issue.record("round \(round): total \(OpenSearchTests.total(answer)) != \(matching.count) for \(text)")
                }
                let hits = OpenSearchTests.hits(answer)
                if hits.isEmpty { break }
                for hit in hits {
                    let message = (hit["_source"] as? [String: Any])?["message"] as? String ?? ""
                    guard let i = sent.firstIndex(where: { $0["message"] as? String == message }) else {
                        Issue.record("round \(round): unknown hit \(hit)")
                        continue rounds
                    }
                    got.append(i)
                    let values = hit["sort"] as? [Any] ?? []
                    if values.count != keys.count + 1 || !zip(values, modelValues[i]).allSatisfy({ Self.same($0, $1) }) {
                        Issue.record("round \(round): doc \(i) sort \(values) != model \(modelValues[i].map(Self.json)) for \(text)")
                        failures += 1
                    }
                }
                after = hits.last?["sort"] as? [Any]
            }
            if got != expected {
                Issue.record("round \(round): \(sort) filter \(String(describing: filter?.dsl)): got \(got.prefix(20)) expected \(expected.prefix(20))")
                failures += 1
                if failures > 10 { break }
                continue
            }
            walked += 1
        }
        #expect(walked == 150, "\(walked) walks matched, \(pages) pages")
        await server.stop()
    }

    @Test func pointInTimeFormsAndErrors() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        let first = (0..<30).map { i in #"{"@timestamp":"2024-09-24T10:00:\#(String(format: "%02d", i))Z","message":"m\#(i)","n":\#((i * 7) % 10),"s":"v\#(i % 4)"}"# }
        try await DocumentFieldsTests.bulk(client, "pitsort", first)
        let opened = try await client.exchange(request("POST", "/pitsort/_search/point_in_time?keep_alive=1m"))
        let pit = try #require(opened.json?["pit_id"] as? String)
        try await DocumentFieldsTests.bulk(client, "pitsort", [#"{"@timestamp":"2024-09-24T10:01:00Z","message":"late","n":-1}"#])
        // Walk the point in time in pages of 7: the later document is not seen.
        var after: [Any]?
        var messages: [String] = []
        for _ in 0..<10 {
            var body: [String: Any] = ["pit": ["id": pit], "sort": [["n": "asc"], ["s.keyword": ["order": "desc"]]], "size": 7]
            if let after { body["search_after"] = after }
            let response = try await DocumentFieldsTests.search(
                client, "/_search", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
            #expect(response.status == 200, "\(response.text)")
            let answer = response.json ?? [:]
            #expect(OpenSearchTests.total(answer) == 30)
            #expect(answer["pit_id"] as? String == pit)
            let hits = OpenSearchTests.hits(answer)
            if hits.isEmpty { break }
            messages += hits.compactMap { ($0["_source"] as? [String: Any])?["message"] as? String }
            after = hits.last?["sort"] as? [Any]
        }
        let model = (0..<30).sorted { a, b in
            ((a * 7) % 10, "v\(b % 4)", a) < ((b * 7) % 10, "v\(a % 4)", b)
        }.map { "m\($0)" }
        #expect(messages == model)
        // The URL form, a comma list, and hits.total limited by track_total_hits.
        let url = try await client.exchange(request("GET", "/pitsort/_search?sort=n:desc,message.keyword:asc&size=3&track_total_hits=5"))
        #expect(url.status == 200, "\(url.text)")
        let urlHits = OpenSearchTests.hits(url.json ?? [:])
        #expect(urlHits.compactMap { ($0["_source"] as? [String: Any])?["message"] as? String } == ["m17", "m27", "m7"])
        #expect(urlHits.first?["sort"] as? [Any] != nil)
        #expect(((url.json?["hits"] as? [String: Any])?["total"] as? [String: Any])?["relation"] as? String == "gte")
        // Unsupported options and values are 400s naming them.
        for (body, word) in [
            (#"{"sort":[{"n":{"missing":0}}]}"#, "missing"),
            (#"{"sort":[{"n":{"mode":"avg"}}]}"#, "mode"),
            (#"{"sort":[{"n":{"nested":{}}}]}"#, "nested"),
            (#"{"sort":[{"n":"up"}]}"#, "up"),
            (#"{"sort":["n"],"search_after":[1,2,3]}"#, "search_after"),
            (#"{"sort":["n"],"search_after":[1],"from":2}"#, "from"),
            (#"{"sort":["_seq_no"]}"#, "_seq_no"),
            (#"{"sort":["n*"]}"#, "n*"),
        ] {
            let response = try await DocumentFieldsTests.search(client, "/pitsort/_search", body)
            #expect(response.status == 400, "\(body) → \(response.status)")
            #expect(response.text.contains(word), "\(body) → \(response.text)")
        }
        let scroll = try await DocumentFieldsTests.search(client, "/pitsort/_search?scroll=1m", #"{"sort":["n"]}"#)
        #expect(scroll.status == 400 && scroll.text.contains("scroll"), "\(scroll.text)")
        await server.stop()
    }
}
