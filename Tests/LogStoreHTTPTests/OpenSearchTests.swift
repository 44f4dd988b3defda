import Foundation
import LogStore
import LogStoreIngest
import Testing

/// The OpenSearch read API (`_search`, `_count`, `GET /`, `HEAD /{index}`), driven with the
/// captured opensearch-py requests of REANA and hand-written DSL bodies.
@Suite("OpenSearch-compatible search")
struct OpenSearchTests {
    static let job = "reana-run-job-a02532f6-5bee-49e5-8939-866d79befb86"
    static let workflow = "0fdc9f92-0f93-44d1-a3ec-d884e3e5e58c"

    /// A server holding the captured REANA job (10 lines) and workflow (3 lines) logs.
    static func reanaServer() async throws -> (TestServer, RawClient) {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        #expect(try await client.exchange(try capturedRequest("reana/bulk_job_log")).status == 200)
        #expect(try await client.exchange(try capturedRequest("reana/bulk_workflow_log")).status == 200)
        return (server, client)
    }

    /// The `log` values of a REANA input fixture, in file order.
    static func expectedLogs(_ name: String) throws -> [(String, Int64)] {
        try String(decoding: fixture(name), as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let doc = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let log = doc["log"] as? String else {
                return nil
            }
            let time = (doc["time"] as? String) ?? (doc["@timestamp"] as? String) ?? ""
            return (log, Timestamp.parse(time) ?? 0)
        }
    }

    /// Decodes a (possibly gzipped) JSON answer.
    static func json(_ response: RawResponse) throws -> [String: Any] {
        var body = response.body
        if response.header("Content-Encoding")?.lowercased() == "gzip" {
            body = try ContentDecoder.decode(body, encoding: "gzip", maxOutput: 1 << 26)
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], "\(response.text)")
    }

    static func hits(_ object: [String: Any]) -> [[String: Any]] {
        ((object["hits"] as? [String: Any])?["hits"] as? [[String: Any]]) ?? []
    }

    static func logs(_ object: [String: Any]) -> [String] {
        hits(object).compactMap { ($0["_source"] as? [String: Any])?["log"] as? String }
    }

    static func total(_ object: [String: Any]) -> Int? {
        ((object["hits"] as? [String: Any])?["total"] as? [String: Any])?["value"] as? Int
    }

    func search(_ client: RawClient, _ path: String = "/_search", _ body: String) async throws -> RawResponse {
        try await client.exchange(request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
    }

    // MARK: REANA's captured requests

    @Test func replayedREANAJobSearch() async throws {
        let (server, client) = try await Self.reanaServer()
        let response = try await client.exchange(try capturedRequest("reana/search_job_log"))
        #expect(response.status == 200, "\(response.text)")
        #expect(response.header("Content-Encoding") == "gzip")
        let object = try Self.json(response)
        let expected = try Self.expectedLogs("reana/input_job.log").sorted { $0.1 < $1.1 }.map(\.0)
        #expect(Self.logs(object) == expected)
        #expect(Self.hits(object).count == 10)
        #expect(Self.total(object) == 10)
        for hit in Self.hits(object) {
            #expect((hit["_source"] as? [String: Any])?["log"] is String)
            #expect((hit["_source"] as? [String: Any])?["@timestamp"] is String)
            #expect(hit["_index"] as? String == "fluentbit-job_log")
        }
        #expect(object["timed_out"] as? Bool == false)
        await server.stop()
    }

    @Test func replayedREANAWorkflowSearch() async throws {
        let (server, client) = try await Self.reanaServer()
        let response = try await client.exchange(try capturedRequest("reana/search_workflow_log"))
        #expect(response.status == 200, "\(response.text)")
        let object = try Self.json(response)
        let expected = try Self.expectedLogs("reana/input_workflow.log").sorted { $0.1 < $1.1 }.map(\.0)
        #expect(Self.logs(object) == expected)
        #expect(Self.hits(object).count == 3)
        await server.stop()
    }

    // MARK: DSL

    @Test func matchPhraseAndBool() async throws {
        let (server, client) = try await Self.reanaServer()
        var object = try Self.json(try await search(client, "/fluentbit-*/_search", #"{"query":{"match_phrase":{"log":"Hello Jane Doe"}}}"#))
        #expect(Self.logs(object).count == 3)
        #expect(Self.logs(object).allSatisfy { $0.contains("Hello Jane Doe") })
        object = try Self.json(
            try await search(
                client, "/fluentbit-job_log/_search",
                #"{"query":{"bool":{"must":[{"match":{"log":"hello"}}],"must_not":[{"match":{"log":"jane"}}]}}}"#))
        #expect(Self.logs(object).count == 3)
        #expect(Self.logs(object).allSatisfy { $0.contains("Joe Bloggs") })
        // match with operator and: both tokens.
        object = try Self.json(
            try await search(client, "/_search", #"{"query":{"match":{"log":{"query":"hello jane","operator":"and"}}}}"#))
        #expect(Self.logs(object).count == 3)
        // OR by default.
        object = try Self.json(try await search(client, "/_search", #"{"query":{"match":{"log":"jane bloggs"}}}"#))
        #expect(Self.logs(object).count == 6)
        await server.stop()
    }

    @Test func rangeTermsAndQueryString() async throws {
        let (server, client) = try await Self.reanaServer()
        var object = try Self.json(
            try await search(
                client, "/fluentbit-job_log/_search",
                #"{"query":{"bool":{"filter":[{"range":{"@timestamp":{"gte":"2024-09-24T11:49:58.253Z","lt":"2024-09-24T11:49:59Z"}}}]}}}"#))
        #expect(Self.logs(object) == ["0 Hello Jane Doe!\n", "1 Hello Joe Bloggs!\n", "2 Hello Jane Doe!\n"])
        #expect(Self.total(object) == 3)
        // Epoch milliseconds.
        object = try Self.json(
            try await search(client, "/fluentbit-job_log/_search", #"{"query":{"range":{"@timestamp":{"gt":1727178598253,"lte":1727178598503}}}}"#))
        #expect(Self.logs(object) == ["1 Hello Joe Bloggs!\n"])
        object = try Self.json(
            try await search(
                client, "/_search", #"{"query":{"terms":{"kubernetes.labels.job-name.keyword":["\#(Self.job)","other"]}},"size":100}"#))
        #expect(Self.hits(object).count == 10)
        object = try Self.json(try await search(client, "/_search", #"{"query":{"term":{"workflow":"\#(Self.workflow)"}}}"#))
        #expect(Self.hits(object).count == 3)
        object = try Self.json(try await search(client, "/_search", #"{"query":{"query_string":{"query":"hello -jane"}}}"#))
        #expect(Self.logs(object).count == 3)
        object = try Self.json(try await search(client, "/_search?q=%22Jane%20Doe%22", "{}"))
        #expect(Self.logs(object).count == 3)
        await server.stop()
    }

    @Test func sizeFromSortAndSearchAfter() async throws {
        let (server, client) = try await Self.reanaServer()
        let all = Self.logs(try Self.json(try await search(client, "/fluentbit-job_log/_search?size=100", "{}")))
        #expect(all.count == 10)
        var object = try Self.json(try await search(client, "/fluentbit-job_log/_search", #"{"size":3,"from":2}"#))
        #expect(Self.logs(object) == Array(all[2..<5]))
        #expect(Self.total(object) == 10)
        // URL parameters win over the body.
        object = try Self.json(try await search(client, "/fluentbit-job_log/_search?size=2", #"{"size":5}"#))
        #expect(Self.logs(object).count == 2)
        object = try Self.json(try await search(client, "/fluentbit-job_log/_search", #"{"sort":[{"@timestamp":"desc"}],"size":100}"#))
        #expect(Self.logs(object) == all.reversed())
        // Page by 3 with search_after: every line once.
        var seen: [String] = []
        var after = "null"
        for _ in 0..<10 {
            let body = #"{"size":3,"sort":["@timestamp"]"# + (after == "null" ? "" : #","search_after":\#(after)"#) + "}"
            object = try Self.json(try await search(client, "/fluentbit-job_log/_search", body))
            let hits = Self.hits(object)
            if hits.isEmpty { break }
            seen += Self.logs(object)
            let sort = try #require(hits.last?["sort"] as? [Any])
            after = String(decoding: try JSONSerialization.data(withJSONObject: sort), as: UTF8.self)
        }
        #expect(seen == all)
        // Descending paging too.
        seen = []
        after = "null"
        for _ in 0..<10 {
            let body = #"{"size":4,"sort":[{"@timestamp":{"order":"desc"}}]"# + (after == "null" ? "" : #","search_after":\#(after)"#) + "}"
            object = try Self.json(try await search(client, "/fluentbit-job_log/_search", body))
            let hits = Self.hits(object)
            if hits.isEmpty { break }
            seen += Self.logs(object)
            after = String(decoding: try JSONSerialization.data(withJSONObject: try #require(hits.last?["sort"] as? [Any])), as: UTF8.self)
        }
        #expect(seen == all.reversed())
        // _source filtering.
        object = try Self.json(try await search(client, "/fluentbit-job_log/_search", #"{"size":1,"_source":["log"]}"#))
        #expect((Self.hits(object).first?["_source"] as? [String: Any]).map { Array($0.keys) } == ["log"])
        object = try Self.json(try await search(client, "/fluentbit-job_log/_search", #"{"size":1,"_source":false}"#))
        #expect(Self.hits(object).first?["_source"] == nil)
        await server.stop()
    }

    @Test func countInfoAndHead() async throws {
        let (server, client) = try await Self.reanaServer()
        var response = try await client.exchange(request("GET", "/_count"))
        #expect(try Self.json(response)["count"] as? Int == 13)
        response = try await client.exchange(
            request("POST", "/fluentbit-job_log/_count", headers: [("Content-Type", "application/json")], body: Array(#"{"query":{"match":{"log":"hello"}}}"#.utf8)))
        #expect(try Self.json(response)["count"] as? Int == 6)
        response = try await client.exchange(request("GET", "/"))
        let info = try Self.json(response)
        #expect(((info["version"] as? [String: Any])?["number"] as? String) == "2.11.0")
        #expect(((info["version"] as? [String: Any])?["distribution"] as? String) == "opensearch")
        #expect(info["tagline"] as? String == "The OpenSearch Project: https://opensearch.org/")
        #expect(try await client.exchange(request("HEAD", "/fluentbit-job_log")).status == 200)
        #expect(try await client.exchange(request("HEAD", "/fluentbit-*")).status == 200)
        #expect(try await client.exchange(request("HEAD", "/no-such-index")).status == 404)
        // A concrete missing index is a 404; a pattern matching nothing is empty.
        #expect(try await search(client, "/no-such-index/_search", "{}").status == 404)
        let empty = try await search(client, "/no-such-*/_search", "{}")
        #expect(empty.status == 200)
        #expect(Self.total(try Self.json(empty)) == 0)
        await server.stop()
    }

    @Test func gzipRequestBody() async throws {
        let (server, client) = try await Self.reanaServer()
        let body = Compression.gzip(Array(#"{"query":{"match":{"job.keyword":"\#(Self.job)"}},"size":2}"#.utf8))
        let response = try await client.exchange(
            request("POST", "/_search", headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip"), ("Accept-Encoding", "gzip")], body: body))
        #expect(response.status == 200)
        #expect(Self.hits(try Self.json(response)).count == 2)
        await server.stop()
    }

    @Test func smallerForms() async throws {
        let (server, client) = try await Self.reanaServer()
        // deflate (zlib) request body.
        let body = Compression.deflate(Array(#"{"query":{"match_all":{}},"size":1}"#.utf8), framing: .zlib)
        var response = try await client.exchange(
            request("POST", "/fluentbit-job_log/_search", headers: [("Content-Type", "application/json"), ("Content-Encoding", "deflate")], body: body))
        #expect(Self.hits(try Self.json(response)).count == 1)
        // One-value search_after: after every line of that millisecond, both ways.
        var object = try Self.json(try await search(client, "/fluentbit-job_log/_search", #"{"size":1,"search_after":[1727178598253]}"#))
        #expect(Self.logs(object) == ["1 Hello Joe Bloggs!\n"])
        object = try Self.json(
            try await search(client, "/fluentbit-job_log/_search", #"{"size":1,"search_after":[1727178598503],"sort":[{"@timestamp":"desc"}]}"#))
        #expect(Self.logs(object) == ["0 Hello Jane Doe!\n"])
        // size 0: only the total; text predicates are counted by reading.
        object = try Self.json(try await search(client, "/_search?size=0", #"{"query":{"match":{"log":"hello"}}}"#))
        #expect(Self.hits(object).isEmpty)
        #expect(Self.total(object) == 6)
        object = try Self.json(try await search(client, "/_search", #"{"query":{"match_none":{}}}"#))
        #expect(Self.total(object) == 0)
        response = try await search(client, "/_search?rest_total_hits_as_int=true&size=0", "{}")
        #expect((try Self.json(response)["hits"] as? [String: Any])?["total"] as? Int == 13)
        // includes/excludes with globs on the stored (dotted) field names.
        object = try Self.json(
            try await search(client, "/fluentbit-job_log/_search", #"{"size":1,"_source":{"includes":["kubernetes.*"],"excludes":["*uuid"]}}"#))
        #expect((Self.hits(object).first?["_source"] as? [String: Any]).map { Array($0.keys) } == ["kubernetes.labels.job-name"])
        await server.stop()
    }

    // MARK: Errors

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var path: String
        var body: String
        var type: String
        var reasonContains: String
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = [
        BadCase(name: "unknown query type", path: "/_search", body: #"{"query":{"fuzzy":{"log":"x"}}}"#, type: "parsing_exception", reasonContains: "fuzzy"),
        BadCase(name: "field pattern", path: "/_search", body: #"{"query":{"match":{"host.*":"x"}}}"#, type: "query_shard_exception", reasonContains: "field [host.*] is not a field name"),
        BadCase(name: "bad JSON", path: "/_search", body: #"{"query":"#, type: "parse_exception", reasonContains: "JSON"),
        BadCase(name: "result window", path: "/_search?size=5000", body: #"{"from":6000}"#, type: "illegal_argument_exception", reasonContains: "10000"),
        BadCase(name: "range on a stream field", path: "/_search", body: #"{"query":{"range":{"job":{"gte":"a"}}}}"#, type: "query_shard_exception", reasonContains: "it is the stream's job"),
        BadCase(name: "ids option", path: "/_search", body: #"{"query":{"ids":{"values":["1"],"bogus":1}}}"#, type: "parsing_exception", reasonContains: "[bogus]"),
        BadCase(name: "bad date math", path: "/_search", body: #"{"query":{"range":{"@timestamp":{"gte":"now-1x"}}}}"#, type: "parsing_exception", reasonContains: "date math"),
        BadCase(name: "date math out of range", path: "/_search", body: #"{"query":{"range":{"@timestamp":{"gte":"now+999999y"}}}}"#, type: "parsing_exception", reasonContains: "date math"),
        BadCase(name: "bad query_string", path: "/_search", body: #"{"query":{"query_string":{"query":"hello \"world"}}}"#, type: "query_shard_exception", reasonContains: "position 6"),
        BadCase(name: "aggregations", path: "/_search", body: #"{"aggs":{"x":{"moving_avg":{"buckets_path":"y"}}}}"#, type: "parsing_exception", reasonContains: "moving_avg"),
        BadCase(name: "sort on a metadata field", path: "/_search", body: #"{"sort":[{"_seq_no":"asc"}]}"#, type: "query_shard_exception", reasonContains: "sort on [_seq_no]"),
        BadCase(name: "unknown URL parameter", path: "/_search?colour=red", body: "{}", type: "illegal_argument_exception", reasonContains: "colour"),
        BadCase(name: "bad date", path: "/_search", body: #"{"query":{"range":{"@timestamp":{"gte":"yesterday"}}}}"#, type: "parsing_exception", reasonContains: "not a date"),
        BadCase(name: "bad search_after", path: "/_search", body: #"{"search_after":[1,"x"]}"#, type: "parsing_exception", reasonContains: "search_after"),
    ]

    @Test(arguments: badCases)
    func badRequests(_ bad: BadCase) async throws {
        let (server, client) = try await Self.reanaServer()
        let response = try await search(client, bad.path, bad.body)
        #expect(response.status == 400, "\(response.text)")
        let error = try Self.json(response)["error"] as? [String: Any]
        #expect(error?["type"] as? String == bad.type, "\(response.text)")
        let reason = (error?["reason"] as? String) ?? ""
        #expect(reason.contains(bad.reasonContains), "\(response.text)")
        await server.stop()
    }
}

/// Gzip answers that copy cached compressed hits of whole blocks: the same hits as the plain
/// answer, whatever mix of blocks, cut blocks and head lines a page holds.
@Suite("_search gzip answers from cached block hits")
struct SearchHitCacheTests {
    static let job = "reana-run-job-cache"

    func search(_ client: RawClient, gzip: Bool, _ body: String) async throws -> [String: Any] {
        var headers = [("Content-Type", "application/json")]
        if gzip { headers.append(("Accept-Encoding", "gzip,deflate")) }
        let response = try await client.exchange(request("POST", "/fluentbit-job_log/_search", headers: headers, body: Array(body.utf8)))
        #expect(response.status == 200, "\(response.text)")
        #expect((response.header("Content-Encoding") == "gzip") == gzip)
        return try OpenSearchTests.json(response)
    }

    /// 230 lines in blocks of 50: pieces built one after the other; 1,300 lines in blocks of
    /// 200 (and 100 head lines, then loose runs of 256): the missing pieces built on all cores;
    /// one block of 1,000 lines: built in slices on all cores, joined into one cached piece.
    @Test(arguments: [(50, 230), (200, 1300), (1000, 1000)])
    func gzipAnswersEqualPlainOnesBeforeAndAfterCaching(sealLines: Int, count: Int) async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = sealLines
        let server = try await TestServer.start(storageOptions: storageOptions)
        let client = try RawClient(port: server.port)
        let key = StreamKey(index: "fluentbit-job_log", workflow: "", job: Self.job)
        let fields = #"{"kubernetes.labels.job-name":"\#(Self.job)","stream":"stdout"}"#
        let base: Int64 = 1_727_136_000_000_000_000
        // Blocks of `sealLines` lines and the rest as head lines, then late lines that fall inside the blocks' span,
        // lines whose own fields hold a `log` member (not spliced), and quotes to escape.
        var lines = (0..<count).map { i in
            IncomingLine(stream: key, timestamp: base + Int64(i) * 1_000_000, message: "line \(i) \"q\"\n", fields: fields)
        }
        lines.append(IncomingLine(stream: key, timestamp: base + 7_000_500, message: "late", fields: #"{"log":"own"}"#))
        _ = try await server.storage.append(lines)
        _ = try await server.storage.append([IncomingLine(stream: key, timestamp: base + 120_000_500, message: "later", fields: "{}")])
        let bodies = [
            #"{"query":{"match":{"kubernetes.labels.job-name.keyword":"\#(Self.job)"}},"size":5000,"sort":[{"@timestamp":{"order":"asc"}}]}"#,
            #"{"query":{"match":{"kubernetes.labels.job-name.keyword":"\#(Self.job)"}},"size":5000,"sort":[{"@timestamp":{"order":"desc"}}]}"#,
            #"{"query":{"match":{"kubernetes.labels.job-name.keyword":"\#(Self.job)"}},"size":75,"from":10}"#,
            #"{"query":{"match":{"kubernetes.labels.job-name.keyword":"\#(Self.job)"}},"size":100,"search_after":[1727136000030]}"#,
        ]
        for round in 0..<3 {
            if round == 2 { try await server.storage.sealAll() }
            for body in bodies {
                let plain = OpenSearchTests.hits(try await search(client, gzip: false, body))
                let first = OpenSearchTests.hits(try await search(client, gzip: true, body))
                let again = OpenSearchTests.hits(try await search(client, gzip: true, body))
                #expect(!plain.isEmpty)
                #expect((first as NSArray).isEqual(to: plain), "round \(round): \(body)")
                #expect((again as NSArray).isEqual(to: plain), "round \(round): \(body)")
            }
        }
        let all = OpenSearchTests.hits(try await search(client, gzip: true, bodies[0]))
        #expect(all.count == count + 2)
        #expect(OpenSearchTests.logs(["hits": ["hits": all]]).prefix(9).last == "late")
        await server.stop()
    }
}
