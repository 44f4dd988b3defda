import Foundation
import LogStore
import LogStoreIngest
import Testing

/// Gzipped `_search` answers are the plain answers, byte for byte once inflated, whatever the
/// page (sorted either way, `from`, `search_after`), whichever of its blocks' pieces are cached,
/// with head lines in it, and after the heads are sealed and the days compacted (new blocks).
@Suite("_search gzip answers equal plain ones")
struct GzipAnswerTests {
    static let index = "fluentbit-job_log"

    /// The answer's JSON without its `"took":N` (the only part that may differ between two reads).
    static func body(_ response: RawResponse) throws -> String {
        var bytes = response.body
        if response.header("Content-Encoding")?.lowercased() == "gzip" {
            bytes = try ContentDecoder.decode(bytes, encoding: "gzip", maxOutput: 1 << 27)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.replacingOccurrences(of: #"^\{"took":[0-9]+,"#, with: "{", options: .regularExpression)
    }

    /// A `_bulk` body of `count` lines of `job` from `start` on, each `step` ns apart, with
    /// messages of varying length (and quotes, escapes, non-ASCII) drawn from `rng`.
    static func bulk(job: String, start: Int64, step: Int64, count: Int, rng: inout some RandomNumberGenerator) -> [UInt8] {
        let words = ["INFO", "Receiving block blk_", "src: /10.250.19.102:54106", "\"quoted\"", "tab\there", "naïve ünïcode", "é", "{json}", "\\path"]
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var text = ""
        for i in 0..<count {
            let ns = start + Int64(i) * step
            let time = Date(timeIntervalSince1970: Double(ns) / 1e9)
            let stamp = format.string(from: time)
            var message = "line \(i)"
            for _ in 0..<Int.random(in: 0...12, using: &rng) { message += " " + words.randomElement(using: &rng)! }
            let log = String(data: try! JSONSerialization.data(withJSONObject: [message + "\n"]), encoding: .utf8)!.dropFirst().dropLast()
            text += #"{"create":{"_index":"\#(index)"}}"# + "\n"
            text += #"{"@timestamp":"\#(stamp)","log":\#(log),"kubernetes.labels.job-name":"\#(job)","kubernetes.labels.user-uuid":"00000000-0000-0000-0000-000000000000"}"# + "\n"
        }
        return Array(text.utf8)
    }

    @Test func gzippedAnswersInflateToThePlainAnswerAcrossSealAndCompaction() async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 40
        let server = try await TestServer.start(storageOptions: storageOptions)
        let client = try RawClient(port: server.port)
        var rng = SystemRandomNumberGenerator()
        let jobs = (0..<4).map { "reana-run-job-gzip-\($0)" }
        // Two days ago and the day before: finished days, which compaction rewrites.
        let dayNanos: Int64 = 86_400_000_000_000
        let day = (Int64(Date().timeIntervalSince1970 * 1e9) / dayNanos - 2) * dayNanos
        var sent = [String: Int]()

        func load(_ count: Int, from start: Int64) async throws {
            for job in jobs {
                let n = Int.random(in: count / 2...count, using: &rng)
                let body = Self.bulk(job: job, start: start + Int64.random(in: 0..<1_000_000, using: &rng), step: 37_000_000, count: n, rng: &rng)
                let response = try await client.exchange(
                    request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: body))
                #expect(response.status == 200, "\(response.text)")
                #expect(!response.text.contains(#""errors":true"#), "\(response.text)")
                sent[job, default: 0] += n
            }
        }

        func compare(_ round: String) async throws {
            for _ in 0..<12 {
                let job = jobs.randomElement(using: &rng)!
                let order = Bool.random(using: &rng) ? "asc" : "desc"
                var body = #"{"query":{"match":{"kubernetes.labels.job-name.keyword":"\#(job)"}},"sort":[{"@timestamp":{"order":"\#(order)"}}]"#
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: body += #","size":5000"#
                case 1: body += #","size":\#(Int.random(in: 1...300, using: &rng)),"from":\#(Int.random(in: 0...200, using: &rng))"#
                default:
                    let ms = (day + Int64.random(in: 0..<(2 * dayNanos), using: &rng)) / 1_000_000
                    body += #","size":\#(Int.random(in: 1...500, using: &rng)),"search_after":[\#(ms)]"#
                }
                body += "}"
                let path = "/\(Self.index)/_search"
                let plain = try await client.exchange(
                    request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
                #expect(plain.status == 200, "\(plain.text)")
                #expect(plain.header("Content-Encoding") == nil)
                let expected = try Self.body(plain)
                // The first gzip answer builds the pieces it misses, the second copies them from the cache.
                for attempt in 0..<2 {
                    let gzipped = try await client.exchange(
                        request("POST", path, headers: [("Content-Type", "application/json"), ("Accept-Encoding", "gzip,deflate")], body: Array(body.utf8)))
                    #expect(gzipped.status == 200)
                    if expected.contains(#""_index""#) {  // answers without hits are too short to compress
                        #expect(gzipped.header("Content-Encoding") == "gzip")
                    }
                    #expect(try Self.body(gzipped) == expected, "\(round), attempt \(attempt): \(body)")
                }
            }
        }

        try await load(260, from: day)
        try await load(180, from: day + dayNanos - 5_000_000_000)  // across midnight
        try await compare("heads and blocks")
        try await load(90, from: day + dayNanos + 3_600_000_000_000)
        try await compare("more head lines")
        try await server.storage.sealAll()
        try await compare("sealed")
        let report = try await server.storage.compact()
        #expect(!report.compacted.isEmpty)
        try await compare("compacted")
        // Every line is in the answer.
        for job in jobs {
            let all = try await client.exchange(
                request("POST", "/\(Self.index)/_search", headers: [("Content-Type", "application/json"), ("Accept-Encoding", "gzip")],
                        body: Array(#"{"query":{"match":{"kubernetes.labels.job-name.keyword":"\#(job)"}},"size":5000}"#.utf8)))
            #expect(OpenSearchTests.hits(try OpenSearchTests.json(all)).count == sent[job])
        }
        await server.stop()
    }
}
