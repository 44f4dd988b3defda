import Foundation
import LogStore
import LogStoreIngest
import Testing

@testable import LogStoreHTTP

/// Per-request memory bounds and duplicate JSON member names at any depth, against a real
/// server holding the known lines (`withKnownData`), plus a property test of both duplicate
/// checks (the DSL body's and the document scanner's) against a model.
extension HostileClientTests {
    @Test func answersAreBoundedWithALimitNamed() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            // A histogram of 1 ms buckets over 300 years: OpenSearch's search.max_buckets.
            var response = try await search(
                client,
                #"{"size":0,"aggs":{"h":{"date_histogram":{"field":"@timestamp","fixed_interval":"1ms","min_doc_count":0,"extended_bounds":{"min":0,"max":9999999999999}}}}}"#)
            #expect(response.status == 400)
            #expect((response.json?["error"] as? [String: Any])?["type"] as? String == "too_many_buckets_exception")
            #expect(reason(response).contains("Must be less than or equal to: [65535]"))
            response = try await search(client, #"{"size":0,"aggs":{"t":{"terms":{"field":"log","size":70000}}}}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("size"))
            // from + size past the result window.
            response = try await search(client, #"{"from":9000,"size":2000}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("10000"))
            // An _msearch of more than 1000 searches.
            let items = String(repeating: "{}\n{\"size\":0}\n", count: 1001)
            response = try await client.exchange(
                request("POST", "/_msearch", headers: [("Content-Type", "application/x-ndjson")], body: Array(items.utf8)))
            #expect(response.status == 400)
            #expect(reason(response).contains("at most 1000 searches"))
            // Highlight tags are written around every token: bounded.
            let tag = String(repeating: "t", count: 300)
            response = try await search(
                client, #"{"query":{"match":{"log":"known"}},"highlight":{"pre_tags":["\#(tag)"],"fields":{"log":{}}}}"#)
            #expect(response.status == 400)
            #expect(reason(response).contains("[highlight.pre_tags] is 300 bytes, over the limit of 256 bytes"))
            response = try await search(
                client, #"{"query":{"match":{"log":"known"}},"highlight":{"pre_tags":["<b>"],"post_tags":["</b>"],"fields":{"log":{}}}}"#)
            #expect(response.status == 200)
            #expect(response.text.contains("<b>known</b> line 0"))
            // The stream listing: `limit` bounds it, `total` counts every stream.
            let more = Self.bulkBody((0..<3).map { Self.document(job: "listed-\($0)", "line") })
            #expect(try await bulk(client, more).status == 200)
            response = try await client.exchange(request("GET", "/v1/streams?index=fluentbit-job_log&limit=2"))
            #expect(response.status == 200)
            #expect((response.json?["streams"] as? [Any])?.count == 2)
            #expect(response.json?["total"] as? Int == 4)
            for bad in ["0", "100001", "x"] {
                response = try await client.exchange(request("GET", "/v1/streams?index=fluentbit-job_log&limit=\(bad)"))
                #expect(response.status == 400)
                #expect(reason(response).contains("limit"))
            }
        }
    }

    /// One read holds at most `maxReadBytes` of lines: a `_search` and a sorted `_search` of 40
    /// lines of 100 KB past a 2 MiB bound are refused naming it; fewer lines, a `_count`, sparse
    /// matches from those blocks and native log pages (which end early) are answered.
    @Test func readsAreBoundedInBytes() async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 10
        storageOptions.maxReadBytes = 2 << 20
        try await withKnownData(storageOptions: storageOptions) { server in
            let client = try RawClient(port: server.port)
            let pad = String(repeating: "p", count: 100_000)
            let documents = (0..<40).map { i in
                #"{"log":"\#(i % 10 == 0 ? "rare" : "big") \#(i) \#(pad)","n":\#(i),"kubernetes.labels.job-name":"wide"}"#
            }
            #expect(try await bulk(client, Self.bulkBody(documents)).status == 200)
            let job = #"{"term":{"kubernetes.labels.job-name":"wide"}}"#
            for body in [#"{"size":40,"query":\#(job)}"#, #"{"size":40,"query":\#(job),"sort":[{"n":"desc"}]}"#] {
                let response = try await search(client, body)
                #expect(response.status == 400, "\(body)")
                #expect((response.json?["error"] as? [String: Any])?["type"] as? String == "illegal_argument_exception")
                #expect(reason(response).contains("more than 2 MiB of log lines"), "\(reason(response))")
                #expect(reason(response).contains("--max-read-bytes"))
            }
            // A native log page ends early at the bound; its cursor reads on to every line.
            var paged: [Int] = []
            var cursor = ""
            for _ in 0..<40 {
                let page = try await client.exchange(request("GET", "/v1/logs?job=wide&limit=40" + cursor))
                #expect(page.status == 200)
                let lines = page.json?["lines"] as? [[String: Any]] ?? []
                paged += lines.compactMap { ($0["log"] as? String)?.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
                guard page.json?["truncated"] as? Bool == true, let next = page.json?["next"] as? String else { break }
                #expect(lines.count < 40)
                cursor = "&after=" + next
            }
            #expect(paged == Array(0..<40))
            var response = try await search(client, #"{"size":5,"query":\#(job)}"#)
            #expect(response.status == 200)
            #expect(((response.json?["hits"] as? [String: Any])?["hits"] as? [Any])?.count == 5)
            response = try await search(client, #"{"size":40,"query":{"bool":{"filter":[\#(job),{"match":{"log":"rare"}}]}}}"#)
            #expect(response.status == 200)
            #expect(((response.json?["hits"] as? [String: Any])?["hits"] as? [Any])?.count == 4)
            response = try await search(client, #"{"size":5,"query":\#(job),"sort":[{"n":"desc"}]}"#)
            #expect(response.status == 200)
            let first = (((response.json?["hits"] as? [String: Any])?["hits"] as? [[String: Any]])?.first?["_source"] as? [String: Any])?["n"]
            #expect(first as? Int == 39)
            response = try await client.exchange(
                request("POST", "/_count", headers: [("Content-Type", "application/json")], body: Array(#"{"query":{"match":{"log":"big"}}}"#.utf8)))
            #expect(response.status == 200)
            #expect(response.json?["count"] as? Int == 36)
        }
    }

    @Test func highlightBudgetIsEnforced() throws {
        let highlight = Highlight(preTag: "<em>", postTag: "</em>", fields: ["log"])
        let message = Array(repeating: "a", count: 1000).joined(separator: " ")
        #expect(try highlight.mark(message, tokens: ["a"], prefixes: [], limit: 1_000_000)?.utf8.count == 1999 + 9 * 1000)
        #expect(throws: OpenSearchError.self) { try highlight.mark(message, tokens: ["a"], prefixes: [], limit: 5000) }
    }

    @Test func duplicateKeysAtAnyDepthAreRefused() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            let time = Timestamp.formatRFC3339(Storage.now())
            let documents = [
                // Nested, deeper, and under a path the scanner tracks (the job label).
                #"{"@timestamp":"\#(time)","log":"a","kubernetes":{"pod_name":"p","pod_name":"q"},"kubernetes.labels.job-name":"dup"}"#,
                #"{"@timestamp":"\#(time)","log":"b","a":{"b":{"c":1,"d":[{"e":1,"e":2}]}},"kubernetes.labels.job-name":"dup"}"#,
                #"{"@timestamp":"\#(time)","log":"c","kubernetes":{"labels":{"job-name":"dup","job-name":"other"}}}"#,
                // The same name in sibling objects and array elements is no duplicate.
                #"{"@timestamp":"\#(time)","log":"kept","a":{"x":1},"b":{"x":1,"y":[{"x":2},{"x":3}]},"kubernetes.labels.job-name":"dup"}"#,
            ]
            let response = try await bulk(client, Self.bulkBody(documents))
            let results = items(response)
            #expect(results.count == 4)
            for (result, name) in zip(results.prefix(3), ["pod_name", "e", "job-name"]) {
                #expect(result.status == 400)
                #expect(result.type == "json_parse_exception")
                #expect(result.reason?.contains("Duplicate field '\(name)'") == true, "\(result.reason ?? "")")
            }
            #expect(results[3].status == 201)
            let text = try await client.exchange(request("GET", "/v1/logs?job=dup&format=text")).text
            #expect(text == "kept\n")
            // The query DSL: _search, _count and an _msearch item.
            for (path, body, name) in [
                ("/_search", #"{"query":{"bool":{"must":[{"match":{"log":"a"}}],"must":[]}}}"#, "must"),
                ("/_search", #"{"query":{"match":{"log":{"query":"known","query":"other"}}}}"#, "query"),
                ("/_count", #"{"query":{"term":{"log":"a"}},"query":{"match_all":{}}}"#, "query"),
                ("/_search", #"{"size":1,"sort":[{"@timestamp":{"order":"asc","order":"desc"}}]}"#, "order"),
            ] {
                let answer = try await search(client, body, path: path)
                #expect(answer.status == 400)
                #expect((answer.json?["error"] as? [String: Any])?["type"] as? String == "json_parse_exception")
                #expect(reason(answer) == "Duplicate field '\(name)'")
            }
            let multi = "{}\n" + #"{"query":{"match_all":{}},"size":1,"size":2}"# + "\n{}\n{\"size\":0}\n"
            let answer = try await client.exchange(
                request("POST", "/_msearch", headers: [("Content-Type", "application/x-ndjson")], body: Array(multi.utf8)))
            #expect(answer.status == 200)
            let responses = answer.json?["responses"] as? [[String: Any]] ?? []
            #expect(responses.count == 2)
            #expect(((responses.first?["error"] as? [String: Any])?["reason"] as? String) == "Duplicate field 'size'")
            #expect(responses.last?["error"] == nil)
        }
    }

    /// Random JSON trees, some with a name given twice in one object: both checks find exactly
    /// those (the document scanner below the top level, whose names are the visitor's).
    @Test func duplicateChecksMatchAModel() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let tree = DuplicateModel.random(depth: 0, using: &generator)
            let (text, duplicate, depth) = DuplicateModel.render(tree, injectAt: round % 2 == 0 ? Int.random(in: 0..<8, using: &generator) : nil)
            let bytes = Array(text.utf8)
            #expect(JSONNesting.duplicateName(bytes) == duplicate, "\(text)")
            let scanned: String? = {
                do {
                    _ = try JSONScanner.strings(at: [], in: bytes)
                    return nil
                } catch let error as IngestError {
                    if case .duplicateKey(let name) = error { return name }
                    return "error \(error)"
                } catch {
                    return "error \(error)"
                }
            }()
            #expect(scanned == ((depth ?? 0) > 0 ? duplicate : nil), "\(text)")
        }
    }
}

/// A JSON tree for `duplicateChecksMatchAModel`.
indirect enum DuplicateModel {
    case object([(String, DuplicateModel)])
    case array([DuplicateModel])
    case number(Int)

    static func random(depth: Int, using generator: inout SystemRandomNumberGenerator) -> DuplicateModel {
        if depth == 0 || (depth < 4 && Int.random(in: 0..<3, using: &generator) == 0) {
            let count = Int.random(in: 0..<(depth == 0 ? 6 : 25), using: &generator)
            // Distinct names within one object (a shared pool across objects).
            let names = Array(Set((0..<count).map { _ in "k\(Int.random(in: 0..<40, using: &generator))" }))
            return .object(names.map { ($0, random(depth: depth + 1, using: &generator)) })
        }
        if depth < 4 && Int.random(in: 0..<3, using: &generator) == 0 {
            return .array((0..<Int.random(in: 0..<4, using: &generator)).map { _ in random(depth: depth + 1, using: &generator) })
        }
        return .number(Int.random(in: 0..<100, using: &generator))
    }

    /// The text of `tree`; with `injectAt` = n, the n-th non-empty object (in document order,
    /// wrapping) repeats its first name as its last member. Returns that name and the object's
    /// depth (0 = top level).
    static func render(_ tree: DuplicateModel, injectAt: Int?) -> (String, String?, Int?) {
        var objects = 0
        func countObjects(_ t: DuplicateModel) {
            switch t {
            case .object(let members):
                if !members.isEmpty { objects += 1 }
                for (_, v) in members { countObjects(v) }
            case .array(let items): for v in items { countObjects(v) }
            case .number: break
            }
        }
        countObjects(tree)
        let target = injectAt.flatMap { objects > 0 ? $0 % objects : nil }
        var seen = 0
        var injected: (String, Int)?
        func write(_ t: DuplicateModel, depth: Int) -> String {
            switch t {
            case .number(let n): return String(n)
            case .array(let items): return "[" + items.map { write($0, depth: depth + 1) }.joined(separator: ",") + "]"
            case .object(let members):
                var index: Int?
                if !members.isEmpty {
                    index = seen
                    seen += 1
                }
                // Members first, in order, so the first duplicate found is the earliest injected one.
                var parts = members.map { "\"\($0.0)\":" + write($0.1, depth: depth + 1) }
                if let index, index == target {
                    parts.append("\"\(members[0].0)\":0")
                    injected = (members[0].0, depth)
                }
                return "{" + parts.joined(separator: ",") + "}"
            }
        }
        let text = write(tree, depth: 0)
        return (text, injected?.0, injected?.1)
    }
}
