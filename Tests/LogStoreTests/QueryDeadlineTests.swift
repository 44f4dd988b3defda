import Foundation
import Testing
@testable import LogStore

/// Reads stop at their deadline or when cancelled: a query of a thousand ORs over a store
/// without the full-text index matches every line against every clause (seconds of work);
/// with a 100 ms deadline each read entry point throws `queryTimeout` and returns promptly.
@Suite("Query deadlines and cancellation")
struct QueryDeadlineTests {
    static let lines = 60_000

    /// A store of `lines` lines over two days (sealed into blocks and some head lines), without
    /// the index so that every search scans.
    func makeStore(_ dir: TempDirectory) async throws -> Storage {
        let store = try Storage.open(directory: dir.path, options: Self.options(), logger: testLogger)
        let key = StreamKey(index: "fluentbit-job_log", workflow: "w", job: "j")
        for part in 0..<6 {
            let batch = (0..<(Self.lines / 6)).map { i in
                line(key, day0 + Int64(part / 3) * 86_400 * nanosPerSecond + Int64(i), "line \(part)-\(i) GET /api/workflows status 200 took 12 ms")
            }
            _ = try await store.append(batch)
        }
        return store
    }

    static func options(queryTimeout: Duration? = nil) -> StorageOptions {
        var options = StorageOptions()
        options.fullTextIndex = false
        options.queryTimeout = queryTimeout
        return options
    }

    /// 1000 words no line holds, OR-ed: each line is matched against all of them.
    let manyOrs: Query = {
        let text = (0..<1000).map { "absent\($0)" }.joined(separator: " OR ")
        guard let query = try? QueryParser.parse(text) else { preconditionFailure("BUG: the test query does not parse") }
        return query
    }()

    func expectTimeout(_ name: String, _ body: () throws -> Void) {
        let started = ContinuousClock.now
        #expect(throws: StorageError.queryTimeout(limit: .milliseconds(100)), "\(name)") { try body() }
        #expect(started.duration(to: .now) < .seconds(1), "\(name) returned \(started.duration(to: .now)) after its start")
    }

    @Test func everyReadStopsAtItsDeadline() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try await makeStore(dir)
        // Unbounded, the query is seconds of work (what the deadline is meant to cut).
        let started = ContinuousClock.now
        #expect(try store.hits(manyOrs, step: 3600 * nanosPerSecond).total == 0)
        #expect(started.duration(to: .now) > .seconds(1))

        expectTimeout("search") {
            _ = try store.search(SearchRequest(query: manyOrs, deadline: QueryDeadline(limit: .milliseconds(100))))
        }
        expectTimeout("hits") {
            _ = try store.hits(manyOrs, step: 3600 * nanosPerSecond, deadline: QueryDeadline(limit: .milliseconds(100)))
        }
        let ids = store.streams(matching: StreamSelector(job: "j")).map(\.id)
        expectTimeout("filtered read") {
            _ = try store.readLines(LogQuery(streams: ids, limit: 10, filter: manyOrs, deadline: QueryDeadline(limit: .milliseconds(100))))
        }
        store.close()
        // The store's own limit applies to a read without a deadline; the message names it.
        let limited = try Storage.open(directory: dir.path, options: Self.options(queryTimeout: .milliseconds(100)), logger: testLogger)
        defer { limited.close() }
        expectTimeout("search under the store's limit") { _ = try limited.search(SearchRequest(query: manyOrs)) }
        #expect(StorageError.queryTimeout(limit: .milliseconds(100)).description.contains("time limit of 0.1 s"))
        // A cheap read is not affected.
        #expect(try limited.readAll(StreamSelector(job: "j")).count == Self.lines)
    }

    @Test func cancellingTheTaskStopsTheRead() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try await makeStore(dir)
        defer { store.close() }
        let ids = store.streams(matching: StreamSelector(job: "j")).map(\.id)
        for entry in ["search", "hits", "read"] {
            // Cancelled at once: however the pool schedules the task, its read sees the
            // cancellation (a read that ran to its end would return a page, not this error).
            // How soon a read stops once it is under way is `everyReadStopsAtItsDeadline`'s
            // subject: a cancellation and a deadline stop the same checks.
            let task = Task {
                switch entry {
                case "search": _ = try await store.searchAsync(SearchRequest(query: manyOrs))
                case "hits": _ = try await store.hitsAsync(manyOrs, step: 3600 * nanosPerSecond)
                default: _ = try await store.readLinesAsync(LogQuery(streams: ids, limit: 10, filter: manyOrs))
                }
            }
            task.cancel()
            let result = await task.result
            #expect(throws: StorageError.queryCancelled, "\(entry)") { try result.get() }
        }
    }
}
