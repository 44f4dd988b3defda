import Foundation
import Synchronization
import Testing

@testable import LogStore
import TestSupport

/// `Storage.readCommitted`: lines in LSN order, each exactly once, while heads are sealed.
@Suite("Commit-order reads")
struct CommitOrderReadTests {
    @Test func followingByLSNWhileSealingSeesEveryLineOnce() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 50
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<5).map { StreamKey(index: "i", workflow: "w", job: "j\($0)") }
        let total = 10_000
        let writer = Task {
            var random = SeededRandom(seed: 7)
            var n = 0
            while n < total {
                var batch: [IncomingLine] = []
                for _ in 0..<100 {
                    // Timestamps all over two days: log order is not commit order.
                    let ts = day0 + Int64(random.next() % UInt64(2 * 86_400)) * nanosPerSecond
                    batch.append(line(keys[n % keys.count], ts, "m \(n)"))
                    n += 1
                }
                _ = try await store.append(batch)
                if n % 1000 == 0 { try await store.sealAll() }
            }
        }
        var seen: [String] = []
        var cursor: LSN = 0
        let deadline = Date().addingTimeInterval(300)  // ~9 s alone
        while seen.count < total && Date() < deadline {
            let ids = store.streams(matching: StreamSelector(workflow: "w")).map(\.id)
            let page = try store.readCommitted(streams: ids, range: .after(cursor, limit: 333))
            #expect(page.next >= cursor)
            seen += page.lines.map(\.message)
            cursor = page.next
            if page.lines.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
        }
        try await writer.value
        let expected = (0..<total).map { "m \($0)" }
        let at = zip(seen, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        let same = seen == expected
        #expect(same, "\(seen.count) lines; first difference at \(at.map(String.init) ?? "end"): \(at.map { seen[$0] } ?? "")")
        let rest = try store.readCommitted(streams: store.allStreams().map(\.id), range: .after(cursor, limit: 10))
        #expect(rest.lines.isEmpty && rest.next == store.lastLSN)
    }

    @Test func lastLinesFilterAndLimit() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 7
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let a = StreamKey(index: "i", workflow: "w", job: "a")
        let b = StreamKey(index: "i", workflow: "w", job: "b")
        for i in 0..<40 {
            // Descending timestamps: the last lines by LSN are the oldest by time.
            _ = try await store.append([line(i % 2 == 0 ? a : b, day0 - Int64(i) * nanosPerSecond, "n\(i) \(i % 3 == 0 ? "fizz" : "x")")])
        }
        let ids = store.allStreams().map(\.id)
        let last = try store.readCommitted(streams: ids, range: .last(5))
        #expect(last.lines.map(\.message) == (35..<40).map { "n\($0) \($0 % 3 == 0 ? "fizz" : "x")" })
        #expect(last.next == 40)
        let fizz = try store.readCommitted(streams: ids, range: .after(10, limit: 3), filter: try QueryParser.parse("fizz"))
        #expect(fizz.lines.map(\.lsn) == [13, 16, 19] && fizz.next == 19 && fizz.truncated)
        let onlyA = try store.readCommitted(streams: store.streams(matching: StreamSelector(job: "a")).map(\.id), range: .after(30, limit: 100))
        #expect(onlyA.lines.map(\.lsn) == [31, 33, 35, 37, 39] && onlyA.next == 40 && !onlyA.truncated)
        let future = try store.readCommitted(streams: ids, range: .after(99, limit: 10))
        #expect(future.lines.isEmpty && future.next == 99)
    }
}
