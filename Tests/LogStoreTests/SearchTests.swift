import Foundation
import Testing
@testable import LogStore

/// Every search result compared with a brute-force scan of the same lines (in memory, the
/// matcher applied to each), on random corpora of log-shaped lines across several day
/// segments, some still in the head and some sealed into blocks.
@Suite("Search equals a brute-force scan")
struct SearchTests {
    static let vocabulary = [
        "ERROR", "WARN", "INFO", "error", "failed", "connection", "refused", "OOMKilled", "job", "step", "finished",
        "reana-run-job-a02532f6", "10.0.0.1:9200", "café", "Traceback", "File", "line", "block", "blk_123", "PacketResponder",
        "terminating", "Exception", "timeout", "retry", "worker", "node-7",
    ]

    struct ModelLine {
        var key: StreamKey
        var lsn: LSN
        var ts: Int64
        var message: String
    }

    static func randomQuery(_ rng: inout SeededRandom) -> String {
        func word() -> String {
            let w = vocabulary.randomElement(using: &rng)!
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return "\"\(w) \(vocabulary.randomElement(using: &rng)!)\""
            case 1: return String(Tokenizer.tokens(w).first!.prefix(3)) + "*"
            case 2: return "-" + (Tokenizer.tokens(w).first ?? "x")
            case 3: return "job:j\(Int.random(in: 0..<5, using: &rng))"
            case 4: return "workflow:w\(Int.random(in: 0..<3, using: &rng))"
            default: return Tokenizer.tokens(w).first ?? "x"
            }
        }
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return word()
        case 1: return "\(word()) \(word())"
        case 2: return "\(word()) OR \(word())"
        case 3: return "(\(word()) OR \(word())) \(word())"
        default: return "NOT \(word()) \(word())"
        }
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func searchAndHitsMatchBruteForce(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 40
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<5).map { StreamKey(index: "idx", workflow: "w\($0 % 3)", job: "j\($0)") }
        var model: [ModelLine] = []
        var lsn: LSN = 1
        let hour: Int64 = 3600 * nanosPerSecond
        for _ in 0..<30 {
            var batch: [IncomingLine] = []
            for _ in 0..<Int.random(in: 1...60, using: &rng) {
                let key = keys.randomElement(using: &rng)!
                let ts = day0 + Int64.random(in: 0..<(3 * 24), using: &rng) * hour + Int64.random(in: 0..<1000, using: &rng)
                let words = (0..<Int.random(in: 1...8, using: &rng)).map { _ in Self.vocabulary.randomElement(using: &rng)! }
                let message = words.joined(separator: Bool.random(using: &rng) ? " " : ": ")
                batch.append(line(key, ts, message))
                model.append(ModelLine(key: key, lsn: lsn, ts: ts, message: message))
                lsn += 1
            }
            _ = try await store.append(batch)
        }
        let stats = try store.stats()
        #expect(stats.segments.count >= 3)
        #expect(stats.segments.contains { $0.headLines > 0 } && stats.segments.contains { $0.blocks > 0 })

        for _ in 0..<60 {
            let text = Self.randomQuery(&rng)
            let query = try QueryParser.parse(text)
            let matcher = QueryMatcher(query)
            let from: Int64? = Bool.random(using: &rng) ? day0 + Int64.random(in: 0..<48, using: &rng) * hour : nil
            let to: Int64? = from.map { $0 + Int64.random(in: 1..<30, using: &rng) * hour }
            let expected = model.filter { m in
                matcher.matches(message: m.message, stream: m.key) && (from.map { m.ts >= $0 } ?? true) && (to.map { m.ts < $0 } ?? true)
            }
            for order in ReadOrder.allCases {
                let pageSize = Int.random(in: 1...40, using: &rng)
                var got: [LogLine] = []
                var cursor: LSN?
                for _ in 0..<1000 {
                    let page = try store.search(SearchRequest(query: query, from: from, to: to, limit: pageSize, order: order, cursor: cursor))
                    got += page.lines
                    guard let next = page.next else { break }
                    cursor = next
                }
                let want = order == .descending ? expected.map(\.lsn).reversed() : expected.map(\.lsn)
                #expect(got.map(\.lsn) == Array(want), "seed \(seed) query «\(text)» \(order) page \(pageSize)")
            }
            // The same query in log order (what OpenSearch's `sort: @timestamp` asks for).
            let ids = store.streams(matching: query).map(\.id)
            for order in ReadOrder.allCases {
                let pageSize = Int.random(in: 1...40, using: &rng)
                var got: [LogLine] = []
                var after: LogPosition?
                for _ in 0..<1000 {
                    let page = try store.read(LogQuery(streams: ids, after: after, limit: pageSize, order: order, from: from, to: to, filter: query))
                    got += page.lines
                    if page.lines.count < pageSize { break }
                    after = page.next
                }
                let inLogOrder = expected.sorted { ($0.ts, $0.lsn) < ($1.ts, $1.lsn) }.map(\.lsn)
                #expect(got.map(\.lsn) == (order == .ascending ? inLogOrder : inLogOrder.reversed()), "log order «\(text)» \(order)")
            }
            let step = [hour, 6 * hour, 24 * hour].randomElement(using: &rng)!
            let hits = try store.hits(query, from: from, to: to, step: step)
            #expect(hits.total == expected.count, "hits «\(text)»")
            var buckets: [Int64: Int] = [:]
            for m in expected { buckets[m.ts / step * step, default: 0] += 1 }
            #expect(hits.buckets.map(\.start) == buckets.keys.sorted())
            #expect(hits.buckets.map(\.count) == buckets.keys.sorted().map { buckets[$0]! })
            var perJob: [String: Int] = [:]
            for m in expected { perJob[m.key.job, default: 0] += 1 }
            let gotPerJob = Dictionary(uniqueKeysWithValues: hits.byStream.map { (store.stream($0.key)!.key.job, $0.value) })
            #expect(gotPerJob == perJob)
        }
    }

    @Test func searchSkipsBlocksOfStreamsTheQueryRulesOut() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        for j in 0..<10 {
            let key = StreamKey(index: "i", workflow: "w", job: "j\(j)")
            _ = try await store.append((0..<1000).map { line(key, day0 + Int64($0), "job \(j) line \($0) error") })
        }
        let page = try store.search(SearchRequest(query: try QueryParser.parse("job:j3 error"), limit: 10_000))
        #expect(page.lines.count == 1000)
        #expect(page.blocksRead == 1)
        // Newest first with a small limit reads only the newest block.
        let newest = try store.search(SearchRequest(query: try QueryParser.parse("error"), limit: 5))
        #expect(newest.lines.map(\.lsn) == [10_000, 9_999, 9_998, 9_997, 9_996])
        #expect(newest.blocksRead == 1)
    }
}
