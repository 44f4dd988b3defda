import Foundation
import Testing
@testable import LogStore
import TestSupport

/// Every search result compared with a brute-force scan of the same lines (in memory, the
/// matcher applied to each), on random corpora of log-shaped lines across several day
/// segments, some still in the head and some sealed into blocks.
// Serialized: its cases run long synchronous query loops, and the test process shares a
// cooperative pool of two threads (two cores) with timing-bound HTTP tests; run in parallel, the
// six cases starved them (`pagingAJobWhileItIsIngested` hit its 60 s deadline).
@Suite("Search equals a brute-force scan", .serialized)
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

    /// Seeds, each with how the full-text index is left when the queries run: postings flushed
    /// after every seal (1), after a few blocks (3), all still pending in memory (.max), or
    /// pending and then rebuilt from the blocks by reopening the store (0); every day compacted
    /// (packed blocks, packed postings runs) (-1); compacted and then given late lines, some
    /// sealed into ordinary blocks with appendable postings beside the packed ones (-2); as -2
    /// with the days compacted without a token index (-3: these days are under
    /// `minIndexedDayBytes`, so every block is read and the late ones are not indexed either);
    /// as -2 with the compacted days keeping a table each (-4: format 3's layout; the others
    /// keep their tables as ranges of one, `Keys.segmentShared`).
    @Test(arguments: [(11, 1), (12, 3), (13, .max), (14, 0), (15, -1), (16, -2), (17, -3), (18, -4)] as [(UInt64, Int)])
    func searchAndHitsMatchBruteForce(seed: UInt64, flushEvery: Int) async throws {
        var rng = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 40
        options.sealAge = .seconds(3600)  // heads stay heads however slow the machine
        options.indexFlushBlocks = flushEvery == 0 ? .max : flushEvery < 0 ? 1 : flushEvery
        options.minIndexedDayBytes = flushEvery == -1 || flushEvery == -2 || flushEvery == -4 ? 0 : Limits.minIndexedDayBytes
        options.sharedTables = flushEvery != -4
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<5).map { StreamKey(index: "idx", workflow: "w\($0 % 3)", job: "j\($0)") }
        var model: [ModelLine] = []
        var lsn: LSN = 1
        let hour: Int64 = 3600 * nanosPerSecond
        func appendBatches(_ n: Int) async throws {
            for _ in 0..<n {
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
        }
        try await appendBatches(30)
        if flushEvery == 0 {
            store.close()
            store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        }
        if flushEvery < 0 {
            let report = try await store.compact(now: day0 + 4 * 24 * hour)
            #expect(report.compacted.count == 3)
            if flushEvery <= -2 { try await appendBatches(15) }
            let unindexed = try store.stats().segments.filter { !$0.tokenIndex }.count
            #expect(unindexed == (flushEvery == -3 ? 3 : 0))
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/segments").filter { $0.hasSuffix(".g1.mdb") }
            #expect(files.count == 3)
            for file in files {
                let env = try LMDBEnvironment(path: dir.path + "/segments/" + file, mapSize: 64 << 20, readOnly: true)
                #expect((try env.existingTable(Keys.segmentShared) != nil) == (flushEvery != -4), "\(file)")
                env.close()
            }
            let catalog = try LMDBEnvironment(path: dir.path + "/" + Keys.catalogFile, mapSize: 64 << 20, readOnly: true)
            #expect((try catalog.existingTable(Keys.catalogShared) != nil) == (flushEvery != -4))
            catalog.close()
        }
        let stats = try store.stats()
        #expect(stats.segments.count >= 3)
        if flushEvery >= 0 {
            #expect(stats.segments.contains { $0.headLines > 0 } && stats.segments.contains { $0.blocks > 0 })
        } else {
            #expect(stats.segments.allSatisfy { $0.state == "compacted" && $0.blocks > 0 })
        }
        let pending = stats.segments.reduce(0) { $0 + $1.pendingIndexBlocks }
        if flushEvery == 1 { #expect(pending == 0) }
        if flushEvery == .max || flushEvery == 0 { #expect(pending > 0) }

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

    /// An idle writer flushes the pending postings once no block was added for
    /// `indexFlushIdle`, far below `indexFlushBlocks` and `indexFlushAge`; search answers the same.
    @Test func idleWriterFlushesPendingIndex() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        options.sealAge = .seconds(3600)
        options.indexFlushIdle = .milliseconds(300)
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let key = StreamKey(index: "i", workflow: "w", job: "idle")
        _ = try await store.append((0..<300).map { line(key, day0 + Int64($0), "line \($0)\($0 == 123 ? " needle" : "")") })
        try await store.sealAll()
        // Waits (bounded) for the writer's idle flush; before it, the 3 blocks are pending.
        var pending = -1
        for _ in 0..<100 {
            pending = try store.stats().segments.reduce(0) { $0 + $1.pendingIndexBlocks }
            if pending == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(pending == 0)
        #expect(try store.stats().segments.reduce(0) { $0 + $1.blocks } == 3)
        let found = try store.search(SearchRequest(query: try QueryParser.parse("needle"), limit: 10))
        #expect(found.lines.map(\.message) == ["line 123 needle"])
        #expect(found.blocksRead == 1)
    }

    /// Pending postings over `indexFlushBytes` of memory are flushed without waiting for
    /// `indexFlushBlocks`, the idle time or the age (varied text: many distinct tokens a block);
    /// under the bound they stay pending. Search answers the same either way.
    @Test(arguments: [nil, 30_000] as [Int?])
    func pendingPostingsOverTheMemoryBoundAreFlushed(bound: Int?) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        options.sealAge = .seconds(3600)
        options.indexFlushIdle = .seconds(3600)
        if let bound { options.indexFlushBytes = bound }
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let key = StreamKey(index: "i", workflow: "w", job: "varied")
        // Two tokens no other line has on each line: ~100 bytes of pending postings a line.
        _ = try await store.append((0..<1000).map { line(key, day0 + Int64($0), "request r\($0)x served by h\($0 * 7)y") })
        // Ten blocks sealed by count in that commit; the writer then decides about a flush.
        var pending = -1
        for _ in 0..<40 {
            pending = try store.stats().segments.reduce(0) { $0 + $1.pendingIndexBlocks }
            if bound != nil && pending < 10 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        if bound == nil {
            #expect(pending == 10, "under the memory bound the postings wait")
        } else {
            #expect(pending < 10, "over the memory bound the postings are flushed")
        }
        let found = try store.search(SearchRequest(query: try QueryParser.parse("r123x"), limit: 10))
        #expect(found.lines.map(\.message) == ["request r123x served by h861y"])
        #expect(found.blocksRead == 1)
    }

    /// A flush writes its tokens in runs, one transaction each, and only the last run advances
    /// `indexedBlocks`. A crash after some runs leaves postings stored for blocks the reopened
    /// store re-tokenizes and flushes again: each block must still be in a token's postings
    /// once — also when the first flush filled the token's last entry, so that the second one
    /// would start a new entry — and counts from the index stay exact.
    @Test func flushAgainAfterACrashMidFlushStoresEachPostingOnce() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 10
        options.sealAge = .seconds(3600)
        options.indexFlushBlocks = 1  // every seal pass flushes
        options.indexFlushTokens = 2  // in many small transactions
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let key = StreamKey(index: "i", workflow: "w", job: "j")
        func appendBlocks(_ range: Range<Int>) async throws {
            let lines = range.flatMap { b in
                (0..<10).map { i in line(key, day0 + Int64(b * 10 + i), "common step \(b) line \(i)") }
            }
            _ = try await store.append(lines)
            try await store.sealAll()
        }
        func entries() throws -> [(bytes: Int, blocks: [UInt32])] {
            let segment = try #require(store.segment(Day.of(day0)))
            return try segment.env.read { txn in
                var found: [(Int, [UInt32])] = []
                try txn.scan(segment.postings, prefix: Array("common".utf8) + [0]) { k, v in
                    var blocks: [UInt32] = []
                    try Postings.decode(key: k, value: v) { blocks.append($0.block) }
                    found.append((v.count, blocks))
                    return true
                }
                return found
            }
        }
        // 250 blocks: one entry, still open for appending; 150 more fill it past the limit.
        try await appendBlocks(0..<250)
        let before = try entries()
        #expect(before.count == 1 && before[0].bytes < Postings.appendLimit)
        try await appendBlocks(250..<400)
        let after = try entries()
        #expect(after.count == 1 && after[0].bytes >= Postings.appendLimit)
        #expect(after[0].blocks == Array(0..<400).map(UInt32.init))

        // The crash: every run of the second flush committed, the last one's `indexedBlocks` not.
        let segment = try #require(store.segment(Day.of(day0)))
        try segment.env.write { txn in try txn.put(segment.meta, Keys.metaIndexedBlocks, Keys.u32(250)) }
        store.close()
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        #expect(try store.stats().segments.reduce(0) { $0 + $1.pendingIndexBlocks } == 150)
        store.close()  // flushes the re-tokenized blocks
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        #expect(try store.stats().segments.reduce(0) { $0 + $1.pendingIndexBlocks } == 0)

        let stored = try entries().flatMap(\.blocks)
        #expect(stored == Array(0..<400).map(UInt32.init))
        let exact = try store.hits(try QueryParser.parse("common"), step: 3600 * nanosPerSecond)
        #expect(exact.total == 4000 && exact.blocksRead == 0)
        let prefix = try store.hits(try QueryParser.parse("commo*"), step: 3600 * nanosPerSecond)
        #expect(prefix.total == 4000)
    }

    /// The full-text index narrows the blocks read: a rare word reads the one block holding it,
    /// newest-first stops after the block with the newest match, and a one-word count reads
    /// nothing — whether the postings are flushed, pending in memory, or rebuilt at open.
    @Test(arguments: [1, Int.max, 0])
    func indexNarrowsBlocksRead(flushEvery: Int) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        options.sealAge = .seconds(3600)
        options.indexFlushBlocks = flushEvery == 0 ? .max : flushEvery
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<20).map { StreamKey(index: "i", workflow: "w", job: "j\($0)") }
        // 100 rounds, one line per stream each: every stream's block spans almost all LSNs.
        for round in 0..<100 {
            let batch = keys.enumerated().map { j, key in
                let marker = round == 3 * j ? " marker" : ""
                let needle = (j == 7 && round == 50) ? " needle" : ""
                return line(key, day0 + Int64(round * 1000 + j), "step \(round) of job \(j) finished\(marker)\(needle)")
            }
            _ = try await store.append(batch)
        }
        try await store.sealAll()
        if flushEvery == 0 {
            store.close()
            store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        }
        let stats = try store.stats()
        #expect(stats.segments.reduce(0) { $0 + $1.blocks } == 20)
        #expect(stats.segments.reduce(0) { $0 + $1.pendingIndexBlocks } == (flushEvery == 1 ? 0 : 20))

        let needle = try store.search(SearchRequest(query: try QueryParser.parse("needle"), limit: 10))
        #expect(needle.lines.map(\.message) == ["step 50 of job 7 finished needle"])
        #expect(needle.blocksRead == 1)
        let absent = try store.search(SearchRequest(query: try QueryParser.parse("nowhere OR needl"), limit: 10))
        #expect(absent.lines.isEmpty && absent.blocksRead == 0)
        let prefix = try store.search(SearchRequest(query: try QueryParser.parse("needl*"), limit: 10))
        #expect(prefix.lines.count == 1 && prefix.blocksRead == 1)

        // Job 19's marker (round 57) is the newest: its block alone answers a limit of 1.
        let newest = try store.search(SearchRequest(query: try QueryParser.parse("marker"), limit: 1))
        #expect(newest.lines.map(\.message) == ["step 57 of job 19 finished marker"])
        #expect(newest.blocksRead == 1)
        let all = try store.search(SearchRequest(query: try QueryParser.parse("marker"), limit: 100))
        #expect(all.lines.count == 20)

        let hits = try store.hits(try QueryParser.parse("marker"), step: 3600 * nanosPerSecond)
        #expect(hits.total == 20 && hits.blocksRead == 0)
        let everything = try store.hits(try QueryParser.parse("finished"), step: 3600 * nanosPerSecond)
        #expect(everything.total == 2000 && everything.blocksRead == 0)
        let ofJob = try store.hits(try QueryParser.parse("job:j3 finished"), step: 3600 * nanosPerSecond)
        #expect(ofJob.total == 100 && ofJob.blocksRead == 0)
        // Two words: the index narrows, the blocks decide.
        let both = try store.hits(try QueryParser.parse("marker needle"), step: 3600 * nanosPerSecond)
        #expect(both.total == 0 && both.blocksRead <= 1)
        // Phrases decode their candidate blocks (on every core, each worker counting apart):
        // the partial counts add up.
        let phrase = try store.hits(try QueryParser.parse("\"of job\""), step: 3600 * nanosPerSecond)
        #expect(phrase.total == 2000 && phrase.blocksRead == 20)
        #expect(phrase.byStream.count == 20 && phrase.byStream.values.allSatisfy { $0 == 100 })
        #expect(phrase.buckets.reduce(0) { $0 + $1.count } == 2000)
        let ofSeven = try store.hits(try QueryParser.parse("\"job 7 finished\""), step: 3600 * nanosPerSecond)
        #expect(ofSeven.total == 100 && ofSeven.byStream.count == 1)
    }
}
