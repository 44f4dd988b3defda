import Foundation
import Testing
@testable import LogStore

/// The decoded-block cache of reads: hits for repeated reads, never a stale or missing line.
@Suite("BlockCache")
struct BlockCacheTests {
    let key = StreamKey(index: "fluentbit-job_log", workflow: "wf", job: "job-1")

    func lines(_ range: Range<Int>, _ label: String = "line") -> [IncomingLine] {
        range.map { i in line(key, day0 + Int64(i) * 1_000_000, "\(label) \(i)", fields: "{\"n\":\(i)}") }
    }

    func readJob(_ store: Storage) throws -> [LogLine] {
        let ids = store.streams(matching: StreamSelector(job: key.job)).map(\.id)
        return try store.read(LogQuery(streams: ids, limit: 100_000)).lines
    }

    @Test func repeatedReadsHitAndAnswerTheSame() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        _ = try await store.append(lines(0..<1000))
        try await store.sealAll()
        let first = try readJob(store)
        let afterFirst = store.blockCache.statistics
        #expect(afterFirst.entries > 0)
        let second = try readJob(store)
        #expect(second == first)
        #expect(first.count == 1000)
        #expect(first.map(\.message) == (0..<1000).map { "line \($0)" })
        #expect(store.blockCache.statistics.hits >= afterFirst.entries)
    }

    @Test func newLinesForTheStreamAreReadAfterCachedBlocks() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        _ = try await store.append(lines(0..<250))
        #expect(try readJob(store).count == 250)  // 200 sealed (cached now), 50 in the head
        _ = try await store.append(lines(250..<330))
        var all = try readJob(store)
        #expect(all.map(\.message) == (0..<330).map { "line \($0)" })
        // Lines arriving late (older timestamps) merge between cached blocks' lines.
        _ = try await store.append([line(key, day0 + 5 * 1_000_000 + 500, "late", fields: "{}")])
        try await store.sealAll()
        all = try readJob(store)
        #expect(all.count == 331)
        #expect(all[6].message == "late")
        #expect(all.map(\.position) == all.map(\.position).sorted())
    }

    @Test func compactionMergingBlocksInPlaceNeverAnswersFromStaleEntries() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 20
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        // Small blocks (five lines each), read once so they are cached, then merged by compaction:
        // the merged block has the key (stream, first LSN) of the first small one.
        for round in 0..<10 {
            _ = try await store.append(lines((round * 5)..<(round * 5 + 5)))
            try await store.sealAll()
        }
        let before = try readJob(store)
        #expect(before.count == 50)
        let report = try await store.compact(now: day0 + 2 * 86_400 * nanosPerSecond)
        #expect(report.blocksMerged > 0)
        #expect(try readJob(store) == before)
        // Deleting the workflow hides its lines at once, cached or not; compaction removes them.
        try await store.deleteWorkflow("wf")
        #expect(try readJob(store).isEmpty)
        _ = try await store.compact(now: day0 + 2 * 86_400 * nanosPerSecond)
        #expect(try readJob(store).isEmpty)
    }

    @Test func boundedByBytesAndOffWithZero() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        options.blockCacheBytes = 200_000
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        _ = try await store.append(lines(0..<5000, String(repeating: "x", count: 200)))
        try await store.sealAll()
        let all = try readJob(store)
        #expect(all.count == 5000)
        #expect(store.blockCache.statistics.bytes <= 200_000)
        #expect(try readJob(store) == all)
        store.close()

        options.blockCacheBytes = 0
        let uncached = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { uncached.close() }
        #expect(try readJob(uncached) == all)
        #expect(uncached.blockCache.statistics.entries == 0)
    }
}

/// `streams(matching:)` through the job and index maps agrees with testing every stream.
@Suite("Stream selection")
struct StreamSelectionTests {
    @Test func lookupsAgreeWithAScanOfEveryStream() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        var batch: [IncomingLine] = []
        for w in 0..<3 {
            for j in 0..<4 {
                batch.append(line(StreamKey(index: "fluentbit-job_log", workflow: "", job: "job-\(w)-\(j)"), day0 + Int64(w * 10 + j), "x"))
            }
            batch.append(line(StreamKey(index: "fluentbit-workflow_log", workflow: "wf-\(w)", job: ""), day0 + Int64(w), "y"))
        }
        batch.append(line(StreamKey(index: "other", workflow: "wf-1", job: "job-1-1"), day0, "z"))
        _ = try await store.append(batch)
        try await store.deleteWorkflow("wf-2")
        let queries = [
            "job:job-1-1", "job:job-0-0 OR job:job-2-3", "job:job-1-1 index:other", "index:fluentbit-workflow_log",
            "index:fluentbit-workflow_log workflow:wf-2", "job:job-1-1 error", "job:nope", "(job:job-0-0 OR error)", "-job:job-0-0",
            "workflow:wf-1", "index:other OR index:fluentbit-job_log", "error",
        ]
        for text in queries {
            let query = try QueryParser.parse(text)
            let matcher = QueryMatcher(query)
            let expected = store.allStreams().filter { matcher.matches(stream: $0.key) != false }.map(\.key)
            #expect(store.streams(matching: query).map(\.key) == expected, "\(text)")
        }
        #expect(try QueryParser.parse("job:a job:b").requiredValues(of: .job) == [])
        #expect(try QueryParser.parse("job:a OR error").requiredValues(of: .job) == nil)
        #expect(store.hasIndex("other") && !store.hasIndex("nope"))
        #expect(store.indexNames() == ["fluentbit-job_log", "fluentbit-workflow_log", "other"])
    }
}
