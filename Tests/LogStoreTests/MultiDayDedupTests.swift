import Foundation
import Testing
@testable import LogStore
import TestSupport

/// A request body whose lines span several days is committed one day at a time; when the
/// commit stops between two days (a crash, a failed transaction), a resend must store only the
/// lines of the days that did not commit. The failure is real: the segment file of a later day
/// cannot be created (a directory stands at its path), so that day's transaction fails after
/// the earlier days committed.
@Suite("Idempotent appends across days")
struct MultiDayDedupTests {
    let key = StreamKey(index: "fluentbit-job_log", workflow: "w", job: "j")
    let nanosPerDay = 86_400 * nanosPerSecond

    /// Makes the segment of `day` impossible to create (until `unblock`).
    func block(_ dir: TempDirectory, day: Int32) throws {
        let path = dir.path + "/" + Keys.segmentsDirectory + "/" + Segment.fileName(day: day, generation: 0)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func unblock(_ dir: TempDirectory, day: Int32) {
        let path = dir.path + "/" + Keys.segmentsDirectory + "/" + Segment.fileName(day: day, generation: 0)
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + "-lock")
    }

    /// Lines `tag-0…` spread round-robin over `days` (days after day0).
    func body(_ tag: String, lines: Int, days: [Int]) -> [IncomingLine] {
        (0..<lines).map { i in line(key, day0 + Int64(days[i % days.count]) * nanosPerDay + Int64(i), "\(tag)-\(i)") }
    }

    func text(_ line: IncomingLine) -> String { String(decoding: line.message, as: UTF8.self) }

    func messages(_ store: Storage) throws -> [String] {
        try store.readAll(StreamSelector(job: key.job)).map(\.message)
    }

    @Test(arguments: [false, true])
    func resendAfterPartialCommitStoresEachLineOnce(restart: Bool) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let lines = body("b", lines: 30, days: [0, 1, 2])
        let chunk = ChunkKey(body: Array("three days".utf8), context: "/_bulk")
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        let third = Day.of(day0) + 2
        try block(dir, day: third)
        await #expect(throws: (any Error).self) { try await store.append(lines, chunk: chunk) }
        // The first two days committed, the third did not.
        #expect(try messages(store).count == 20)
        unblock(dir, day: third)
        if restart {
            store.close()
            store = try Storage.open(directory: dir.path, logger: testLogger)
        }
        let resent = try await store.append(lines, chunk: chunk)
        #expect(!resent.duplicateChunk)
        #expect(resent.count == 30 && resent.linesStoredBefore == 20)
        #expect(try messages(store).sorted() == lines.map(text).sorted())
        // Now every day holds the chunk: a resend stores nothing, before and after a restart.
        #expect(try await store.append(lines, chunk: chunk).duplicateChunk)
        store.close()
        store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(try await store.append(lines, chunk: chunk).duplicateChunk)
        #expect(try messages(store).sorted() == lines.map(text).sorted())
    }

    /// Random bodies over five days, some failing part-way (their last day blocked), resent
    /// with and without restarts; the store must hold exactly the lines of a set model.
    @Test func randomPartialCommitsMatchTheModel() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var random = SeededRandom(seed: 24)
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        var model = Set<String>()
        var written = Set<Int32>()  // days whose segment exists
        for round in 0..<24 {
            let span = Int.random(in: 1...3, using: &random)
            let start = Int.random(in: 0...(5 - span), using: &random)
            let days = Array(start..<(start + span))
            let lines = body("r\(round)", lines: Int.random(in: 5...40, using: &random), days: days)
            let chunk = ChunkKey(body: Array("round \(round)".utf8), context: "/_bulk")
            let last = Day.of(day0) + Int32(days[days.count - 1])
            let failing = span > 1 && !written.contains(last) && Bool.random(using: &random)
            if failing {
                try block(dir, day: last)
                await #expect(throws: (any Error).self) { try await store.append(lines, chunk: chunk) }
                // Each day but the last committed.
                for l in lines where Day.of(l.timestamp) != last { model.insert(text(l)) }
                #expect(Set(try messages(store)) == model, "round \(round) after the failure")
                unblock(dir, day: last)
                if Bool.random(using: &random) {
                    store.close()
                    store = try Storage.open(directory: dir.path, logger: testLogger)
                }
            }
            let receipt = try await store.append(lines, chunk: chunk)
            #expect(!receipt.duplicateChunk)
            for l in lines { model.insert(text(l)) }
            for d in days { written.insert(Day.of(day0) + Int32(d)) }
            // Resent once more: nothing new.
            #expect(try await store.append(lines, chunk: chunk).duplicateChunk)
            let stored = try messages(store)
            #expect(stored.count == model.count && Set(stored) == model, "round \(round)")
        }
        store.close()
        store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        let stored = try messages(store)
        #expect(stored.count == model.count && Set(stored) == model)
    }
}
