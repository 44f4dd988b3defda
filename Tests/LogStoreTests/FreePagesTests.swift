import Foundation
import TestSupport
import Testing
@testable import LogStore

/// A day's free pages given back (`Storage.releaseFreePages`, what `logstore import` does at its
/// end): random small streams sealed at once leave most of each day's file free; the compacting
/// copy replaces the file, every read answers as before (and as the brute-force model says),
/// the reported bytes are the files' change, and the day goes on taking writes in its new file.
@Suite("Free pages released")
struct FreePagesTests {
    let sizes = CompactionSizeTests()
    let catalogTests = CatalogCompactionTests()

    func freeBytes(_ segment: Segment) throws -> Int {
        try segment.env.read { txn in try txn.freePages() } * segment.env.info().pageSize
    }

    /// A burst of lines of many streams is stored in the head as it came; once the streams are
    /// sealed the day is mostly free pages, and the writer's check (run once a minute by the
    /// writer, here at once) gives them back: the file shrinks, every read answers as before,
    /// and later lines go on to the new file. A day without heads since, or with few free
    /// pages, is left alone.
    static let trace = String(repeating: "\n\tat org.apache.hadoop.ipc.Server$Handler.run(Server.java:2217)", count: 4)

    @Test func theWriterGivesBackTheHeadOfABurstOnceSealed() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.freePagesCheck = .zero  // only the calls below
        options.releaseFreeBytes = 256 << 10
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<300).map { StreamKey(index: "fluentbit-job_log", workflow: "w\($0 % 7)", job: "job-\($0)") }
        func burst(_ rounds: Range<Int>) async throws {
            for round in rounds {
                let lines = keys.enumerated().map { s, key in
                    line(key, day0 + Int64(round * 300 + s) * nanosPerSecond, "refused connection \(round) of job-\(s): retry block served after error \(round * s)" + Self.trace)
                }
                _ = try await store.append(lines)
            }
        }
        try await burst(0..<20)
        let segment = try #require(store.segment(Day.of(day0)))
        // Head lines only: nothing to give back yet.
        #expect(try await store.releaseBurstPages().isEmpty)
        try await store.sealAll()
        let before = segment.fileBytes
        let free = try freeBytes(segment)
        #expect(free * 2 >= before, "sealing the burst leaves the head's pages free: \(free) of \(before)")
        let reads = try sizes.everyRead(store)
        let released = try await store.releaseBurstPages()
        #expect(released.count == 1 && released.allSatisfy { !$0.kept && $0.bytesAfter < $0.bytesBefore }, "\(released)")
        // The copy holds the blocks and the postings the release flushes first, without the head.
        #expect(segment.fileBytes < before, "\(before) → \(segment.fileBytes) with \(free) free")
        #expect(try freeBytes(segment) < options.releaseFreeBytes)
        try sizes.expectSame(reads, try sizes.everyRead(store))
        // Nothing left to give back.
        #expect(try await store.releaseBurstPages().isEmpty)
        _ = try await store.append([line(keys[0], day0 + 7_000 * nanosPerSecond, "refused connection after the copy")])
        let last = try store.readAll(StreamSelector(job: "job-0")).last
        #expect(last?.message == "refused connection after the copy")
    }

    @Test(arguments: [(21, nil), (22, 1)] as [(UInt64, Int?)])
    func sealedDaysGiveTheirFreePagesBackAndReadTheSame(seed: UInt64, maxOpenSegments: Int?) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = sizes.quiet
        // One open day at a time: the pool parks the others, and a parked day is replaced too.
        if let maxOpenSegments { options.maxOpenSegments = maxOpenSegments }
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        var model: CatalogCompactionTests.Model = [:]
        let days = 3
        try await catalogTests.fill(store, seed: seed, days: days, into: &model)
        let reads = try sizes.everyRead(store)
        var freeBefore: [Int32: (free: Int, file: Int)] = [:]
        for d in 0..<days {
            let segment = try #require(store.segment(Day.of(day0) + Int32(d)))
            freeBefore[segment.day] = (try freeBytes(segment), segment.fileBytes)
        }
        #expect(freeBefore.values.allSatisfy { $0.free * 4 >= $0.file }, "sealing every head at once leaves a quarter or more free: \(freeBefore)")
        let before = sizes.measured(dir.path)

        let results = try await store.releaseFreePages()
        let after = sizes.measured(dir.path)
        #expect(results.count == days && results.allSatisfy { !$0.kept && $0.bytesAfter < $0.bytesBefore }, "\(results)")
        #expect(results.reduce(0) { $0 + $1.bytesAfter - $1.bytesBefore } == after - before, "the results count the files' change")
        for d in 0..<days {
            let segment = try #require(store.segment(Day.of(day0) + Int32(d)))
            let (_, file) = try #require(freeBefore[segment.day])
            #expect(try freeBytes(segment) == 0, "the copy holds only pages in use")
            #expect(segment.fileBytes < file)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/" + Keys.segmentsDirectory)
        #expect(!left.contains { $0.contains(".tmp") }, "\(left)")
        try sizes.expectSame(reads, try sizes.everyRead(store))
        try catalogTests.expectModel(store, model)

        // Nothing left to give back: every day is kept as it is.
        let again = try await store.releaseFreePages()
        #expect(again.allSatisfy { $0.kept && $0.bytesAfter == $0.bytesBefore })

        // Later lines go to the new files; then reopened from the files alone.
        try await catalogTests.fill(store, seed: seed + 100, days: days, first: 10_000, into: &model)
        try catalogTests.expectModel(store, model)
        let all = try sizes.everyRead(store)
        store.close()
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        try catalogTests.expectModel(store, model)
        try sizes.expectSame(all, try sizes.everyRead(store))
    }

    /// Another process with a day open holds LMDB's shared lock on its lock file: the day is
    /// then kept as it is (with its free pages), and replaced once that process is gone.
    @Test func aDayAnotherProcessHasOpenIsKept() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { store.close() }
        var model: CatalogCompactionTests.Model = [:]
        try await catalogTests.fill(store, seed: 5, days: 1, into: &model)
        let segment = try #require(store.segment(Day.of(day0)))
        guard let holder = try LockHolder.holding(segment.path + "-lock") else { return }
        let inode = try FileManager.default.attributesOfItem(atPath: segment.path)[.systemFileNumber] as? Int
        let held = try await store.releaseFreePages()
        #expect(held.count == 1 && held[0].kept && held[0].bytesAfter == held[0].bytesBefore)
        #expect(try FileManager.default.attributesOfItem(atPath: segment.path)[.systemFileNumber] as? Int == inode)
        #expect(try freeBytes(segment) > 0)
        try catalogTests.expectModel(store, model)

        holder.release()
        let released = try await store.releaseFreePages()
        #expect(released.count == 1 && !released[0].kept && released[0].bytesAfter < released[0].bytesBefore)
        #expect(try freeBytes(segment) == 0)
        try catalogTests.expectModel(store, model)
    }
}
