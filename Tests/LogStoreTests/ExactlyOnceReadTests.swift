import Foundation
import Synchronization
import Testing

@testable import LogStore

/// Every kind of reader goes through `SegmentSnapshot`; this checks the property its rule keeps
/// — each line exactly once — while one task appends, another seals heads and compacts the
/// day (merging small blocks, rewriting the file, swapping it in), and the test body reads.
///
/// The model: line n says "tick n", goes to stream n % 3 and has timestamp day0 + n ms, and a
/// single task appends them in order, so log order, commit order and n agree and every
/// consistent read of the log is exactly the lines 0..<k for some k at least the number of
/// lines acknowledged before the read began.
@Suite("Exactly-once reads across seal and compaction")
struct ExactlyOnceReadTests {
    static let total = 2_400
    static let keys = (0..<3).map { StreamKey(index: "i", workflow: "w", job: "j\($0)") }

    @Test func everyReaderSeesEveryLineOnceWhileHeadsAreSealedAndCompacted() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 40
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        let progress = Progress()
        let appender = Task { [store, progress] in
                var n = 0
            var batches = 0
            while n < Self.total {
                // Paced by the readers (one round per 100 batches), so reads overlap the
                // appends however the threads are scheduled.
                let paced = Date().addingTimeInterval(30)
                while progress.rounds.withLock({ $0 }) < batches / 100 && Date() < paced { try await Task.sleep(for: .milliseconds(2)) }
                batches += 1
                let count = min(7, Self.total - n)
                progress.submitted.withLock { $0 = n + count }
                _ = try await store.append((n..<n + count).map(Self.line))
                n += count
                progress.acked.withLock { $0 = n }
            }
        }
        let maintenance = Task { [store, progress] in
            var compactions = 0
            while progress.acked.withLock({ $0 }) < Self.total {
                try await store.sealAll()
                let report = try await store.compact(now: day0 + 2 * 86_400 * nanosPerSecond)
                compactions += report.compacted.count
                try await Task.sleep(for: .milliseconds(30))
            }
            return compactions
        }

        // The reads run off the cooperative pool (they block), so the appender and the
        // maintenance task, and the other tests of the run, keep their threads.
        var rounds = 0
        let deadline = Date().addingTimeInterval(120)
        while progress.acked.withLock({ $0 }) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(2)) }
        while progress.acked.withLock({ $0 }) < Self.total && Date() < deadline {
            let problems = try await blocking { [store, progress] in
                try Self.checkEveryReader(store, atLeast: progress.acked.withLock { $0 }, atMost: { progress.submitted.withLock { $0 } })
            }
            #expect(problems.isEmpty, "round \(rounds): \(problems)")
            rounds += 1
            progress.rounds.withLock { $0 = rounds }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await appender.value
        let compactions = try await maintenance.value
        #expect(rounds >= 3, "readers ran \(rounds) rounds while lines were appended")
        #expect(compactions >= 1, "no compaction ran while lines were appended")

        // The compaction output: a last seal and rewrite, then a fresh open of the files.
        _ = try await store.compact(now: day0 + 2 * 86_400 * nanosPerSecond)
        let compacted = try Self.checkEveryReader(store, atLeast: Self.total, atMost: { Self.total })
        #expect(compacted.isEmpty, "after the last compaction: \(compacted)")
        store.close()
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let reopened = try Self.checkEveryReader(store, atLeast: Self.total, atMost: { Self.total })
        #expect(reopened.isEmpty, "after reopening: \(reopened)")
        let stats = try store.stats()
        #expect(stats.segments.count == 1 && stats.segments[0].generation >= 1)
        #expect(stats.segments[0].headLines == 0 && stats.segments[0].blockLines == Self.total)
    }

    /// Lines acknowledged, and lines handed to `append` (acknowledged or in flight).
    final class Progress: Sendable {
        let acked = Mutex(0)
        let submitted = Mutex(0)
        /// Reader rounds finished.
        let rounds = Mutex(0)
    }

    static func line(_ n: Int) -> IncomingLine {
        LogStoreTests.line(keys[n % keys.count], day0 + Int64(n) * 1_000_000, "tick \(n)")
    }

    /// Reads the store every way and checks each answer is the lines 0..<k, in order, once
    /// each, with `least ≤ k ≤ most()` (`most` is asked after the reads); returns what is wrong.
    static func checkEveryReader(_ store: Storage, atLeast least: Int, atMost most: () -> Int) throws -> [String] {
        var problems: [String] = []
        let ids = store.streams(matching: StreamSelector(workflow: "w")).map(\.id)
        var answers: [(String, [Int])] = []

        // Log order, ascending and descending, page by page with cursors.
        for (order, pageSize) in [(ReadOrder.ascending, 37), (.descending, 41)] {
            var seen: [Int] = []
            var after: LogPosition?
            while true {
                let page = try store.read(LogQuery(streams: ids, after: after, limit: pageSize, order: order))
                seen += page.lines.map(Self.number)
                if !page.truncated && page.lines.count < pageSize { break }
                after = page.next
            }
            answers.append(("log order \(order)", order == .ascending ? seen : seen.reversed()))
        }

        // Commit order (the tail), page by page, and the last lines.
        var tail: [Int] = []
        var cursor: LSN = 0
        while true {
            let page = try store.readCommitted(streams: ids, range: .after(cursor, limit: 53))
            tail += page.lines.map(Self.number)
            cursor = page.next
            if !page.truncated { break }
        }
        answers.append(("commit order", tail))
        let last = try store.readCommitted(streams: ids, range: .last(25)).lines.map(Self.number)
        if let end = last.last {
            if last != Array(max(0, end - last.count + 1)...end) { problems.append("last lines: \(last)") }
            if end + 1 < least { problems.append("last lines end at \(end), \(least) were acknowledged") }
        } else if least > 0 {
            problems.append("no last lines, \(least) were acknowledged")
        }

        // Search, newest first and oldest first, page by page with LSN cursors.
        let query = try QueryParser.parse("tick")
        for order in [ReadOrder.descending, .ascending] {
            var found: [Int] = []
            var next: LSN?
            repeat {
                let page = try store.search(SearchRequest(query: query, limit: 50, order: order, cursor: next))
                found += page.lines.map(Self.number)
                next = page.next
            } while next != nil
            answers.append(("search \(order)", order == .ascending ? found : found.reversed()))
        }

        // Counts: `hits` and the statistics, each from one snapshot per segment.
        let hits = try store.hits(query, step: 3_600 * nanosPerSecond)
        let stats = try store.stats()
        let upper = most()
        for (name, numbers) in answers {
            let prefix = numbers.count >= least && numbers.count <= upper && numbers == Array(0..<numbers.count)
            let firstWrong = zip(numbers, 0...).first { $0.0 != $0.1 }
            if !prefix {
                problems.append("\(name): \(numbers.count) lines, \(least)...\(upper) expected; first out of place: \(String(describing: firstWrong))")
            }
        }
        if hits.total < least || hits.total > upper { problems.append("hits: \(hits.total), \(least)...\(upper) expected") }
        if hits.byStream.values.reduce(0, +) != hits.total { problems.append("hits by stream: \(hits.byStream) for \(hits.total)") }
        for segment in stats.segments {
            if segment.headLines + segment.blockLines != Int(segment.lines) { problems.append("stats: \(segment)") }
            if segment.lines < UInt64(least) || segment.lines > UInt64(upper) { problems.append("stats lines: \(segment)") }
        }
        return problems
    }

    static func number(_ line: LogLine) -> Int {
        Int(line.message.dropFirst("tick ".count)) ?? -1
    }
}
