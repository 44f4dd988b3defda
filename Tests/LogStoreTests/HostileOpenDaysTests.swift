import Foundation
import Testing
@testable import LogStore

/// The bound on open day segments (`StorageOptions.maxOpenSegments`): a store written and read
/// over many more days than the bound keeps few files open, and every line reads back, also
/// after compaction and a restart.
@Suite("Open day segments are bounded")
struct HostileOpenDaysTests {
    static let bound = 5
    static let days = 40

    /// File descriptors of this process open on files under `directory` (other tests of the
    /// process open their own).
    static func openFiles(under directory: String) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) else { return false }
            return target.hasPrefix(directory + "/")
        }.count
    }

    /// The names of those files, for messages.
    static func openFileNames(under directory: String) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
            .filter { $0.hasPrefix(directory + "/") }.map { String($0.dropFirst(directory.count + 1)) }.sorted()
    }

    /// Three descriptors per open segment, the catalog's three and the directory lock, with
    /// `extra` segments in use beyond the bound, plus one segment being opened (the writer's
    /// background index flush may open one before it closes another).
    static func fileLimit(extra: Int = 0) -> Int { 3 * (bound + extra + 1) + 4 }

    func options() -> StorageOptions {
        var options = StorageOptions()
        options.maxOpenSegments = Self.bound
        return options
    }

    @Test func manyDaysWithFewOpenFiles() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        #expect(FileManager.default.fileExists(atPath: "/proc/self/fd"))
        let keys = (0..<3).map { StreamKey(index: "logs", workflow: "wf-\($0)", job: "job-\($0)") }
        var expected: [String: Set<String>] = [:]  // job → messages
        var generator = SystemRandomNumberGenerator()
        var maxSeen = 0
        do {
            let store = try Storage.open(directory: dir.path, options: options(), logger: testLogger)
            // The count sees the store's own files (the catalog's and the lock).
            #expect(Self.openFiles(under: dir.path) >= 4)
            // Requests each touching 1–12 days in random order, 12 more than the bound.
            var order = Array(0..<Self.days)
            for round in 0..<4 {
                order.shuffle(using: &generator)
                var start = 0
                while start < order.count {
                    let width = Int.random(in: 1...12, using: &generator)
                    let days = order[start..<min(order.count, start + width)]
                    start += width
                    var batch: [IncomingLine] = []
                    for day in days {
                        for i in 0..<25 {
                            let key = keys[(day + i) % keys.count]
                            let message = "round \(round) day \(day) line \(i)"
                            batch.append(line(key, day0 + Int64(day) * 86_400 * nanosPerSecond + Int64(round * 1000 + i) * nanosPerSecond, message))
                            expected[key.job, default: []].insert(message)
                        }
                    }
                    _ = try await store.append(batch)
                    maxSeen = max(maxSeen, Self.openFiles(under: dir.path))
                    // A read of a random earlier day between writes.
                    let day = Int32(Day.of(day0) + Int32.random(in: 0..<Int32(Self.days), using: &generator))
                    if let segment = store.segment(day) { _ = try segment.env.read { txn in try segment.maxLSN(txn) } }
                }
            }
            #expect(maxSeen <= Self.fileLimit(), "open files while writing: \(maxSeen)")
            #expect(store.openSegments <= Self.bound)
            try await check(store, expected: expected, directory: dir.path)
            // Sealing and compacting touch every day; compaction replaces each day's file.
            try await store.sealAll()
            _ = try await store.compact(now: day0 + Int64(Self.days + 2) * 86_400 * nanosPerSecond)
            #expect(Self.openFiles(under: dir.path) <= Self.fileLimit(), "open files after compaction: \(Self.openFiles(under: dir.path))")
            try await check(store, expected: expected, directory: dir.path)
            #expect(try store.stats().segments.count == Self.days)
            store.close()
        }
        // A restart opens every day to recover it, and keeps the bound.
        let store = try Storage.open(directory: dir.path, options: options(), logger: testLogger)
        defer { store.close() }
        #expect(Self.openFiles(under: dir.path) <= Self.fileLimit(), "open files after a restart: \(Self.openFiles(under: dir.path))")
        try await check(store, expected: expected, directory: dir.path)
        // Written after the restart, to every day again.
        var batch: [IncomingLine] = []
        for day in 0..<Self.days {
            let message = "after restart day \(day) line"
            batch.append(line(keys[0], day0 + Int64(day) * 86_400 * nanosPerSecond + 5000 * nanosPerSecond, message))
            expected[keys[0].job, default: []].insert(message)
        }
        _ = try await store.append(batch)
        try await check(store, expected: expected, directory: dir.path)
    }

    /// Every line reads back through two concurrent readers over all days, and the files open
    /// stay within the bound plus the readers' segments.
    func check(_ store: Storage, expected: [String: Set<String>], directory: String) async throws {
        let seen = try await withThrowingTaskGroup(of: Int.self) { group in
            for (job, messages) in expected {
                group.addTask {
                    let read = try store.readAll(StreamSelector(job: job))
                    #expect(read.count == messages.count)
                    #expect(Set(read.map(\.message)) == messages)
                    return Self.openFiles(under: directory)
                }
                group.addTask {
                    let page = try store.search(SearchRequest(query: try QueryParser.parse("job:\(job) line"), limit: 10_000))
                    #expect(page.lines.count == messages.count)
                    return Self.openFiles(under: directory)
                }
            }
            var seen = 0
            for try await files in group { seen = max(seen, files) }
            return seen
        }
        #expect(seen <= Self.fileLimit(extra: 2 * expected.count), "open files while reading: \(seen)")
        #expect(Self.openFiles(under: directory) <= Self.fileLimit(), "open files after reading: \(Self.openFileNames(under: directory))")
    }
}
