import Foundation
import TestSupport
import Testing
@testable import LogStore

/// Compaction of the catalog and of the per-stream tables of a day: random small streams
/// recorded over many commits (a catalog with free pages), compacted, then every read API
/// against the lines written (a brute-force model) and against the answers before compaction,
/// after it and after reopening; the report against the files.
@Suite("Catalog compaction")
struct CatalogCompactionTests {
    let sizes = CompactionSizeTests()
    var dayNanos: Int64 { sizes.dayNanos }

    /// The lines written, by job: (timestamp, message) in log order.
    typealias Model = [String: [(Int64, String)]]

    /// Random streams of 1 to 8 lines over `days` days, a few streams per commit.
    func fill(_ store: Storage, seed: UInt64, days: Int, first: Int = 0, into model: inout Model) async throws {
        var random = SeededRandom(seed: seed)
        let streams = Int.random(in: 150...350, using: &random)
        var s = first
        while s < first + streams {
            let n = min(first + streams - s, Int.random(in: 1...30, using: &random))
            var lines: [IncomingLine] = []
            for k in s..<(s + n) {
                let key = StreamKey(index: "fluentbit-job_log", workflow: "w\(k % 7)", job: "job-\(k)")
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    let day = Int64(Int.random(in: 0..<days, using: &random))
                    let ts = day0 + day * dayNanos + Int64(Int.random(in: 0..<86_400, using: &random)) * nanosPerSecond + Int64(k)
                    let text = (0..<Int.random(in: 3...9, using: &random)).map { _ in sizes.words.randomElement(using: &random)! }
                        .joined(separator: " ")
                    lines.append(line(key, ts, text))
                    model[key.job, default: []].append((ts, text))
                }
            }
            _ = try await store.append(lines)
            s += n
        }
        try await store.sealAll()
    }

    /// Every stream's lines as the store reads them equal the lines written.
    func expectModel(_ store: Storage, _ model: Model) throws {
        #expect(Set(store.allStreams().map(\.key.job)) == Set(model.keys))
        for (job, written) in model {
            let expected = written.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map { "\($0.element.0) \($0.element.1)" }
            let read = try store.readAll(StreamSelector(job: job)).map { "\($0.timestamp) \($0.message)" }
            #expect(read == expected, "\(job)")
        }
    }

    func size(_ path: String) -> Int { DiskUsage.file(path) }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func randomStreamsReadTheSameAfterTheCatalogAndTheDaysAreCompacted(seed: UInt64) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        var model: Model = [:]
        let days = 1 + Int(seed % 3)
        try await fill(store, seed: seed, days: days, into: &model)
        try expectModel(store, model)
        let reads = try sizes.everyRead(store)
        let streams = store.allStreams()
        let catalog = dir.path + "/" + Keys.catalogFile
        let before = sizes.measured(dir.path)
        let catalogBefore = size(catalog) + size(catalog + "-lock")

        let report = try await store.compact(now: day0 + Int64(days) * dayNanos + 1)
        let after = sizes.measured(dir.path)
        let rewritten = try #require(report.catalog)
        #expect(rewritten.name == Keys.catalogFile && !rewritten.kept, "free pages and stream_keys make the copy smaller")
        #expect(rewritten.bytesBefore == catalogBefore && rewritten.bytesAfter == size(catalog) + size(catalog + "-lock"))
        #expect(rewritten.bytesAfter < rewritten.bytesBefore)
        #expect(report.bytesBefore == report.days.reduce(0) { $0 + $1.bytesBefore } + rewritten.bytesBefore)
        #expect(report.bytesAfter - report.bytesBefore == after - before, "the report counts every file that changed")
        #expect(report.directoryBytesBefore == before && report.directoryBytesAfter == after)
        #expect(try store.stats().storedBytes == after)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(Set(left) == [Keys.catalogFile, Keys.catalogFile + "-lock", Keys.lockFile, Keys.segmentsDirectory], "\(left)")
        // The compacted days carry no stream records (the catalog has them), nor sealed marks.
        for day in 0..<days {
            let segment = try #require(store.segment(Day.of(day0) + Int32(day)))
            let (records, marks, layout) = try segment.env.read { txn in
                (try txn.count(segment.streams), try txn.count(segment.sealed), try txn.get(segment.meta, Keys.metaLayout).map { try Keys.decodeU32($0) })
            }
            #expect(records == 0 && marks == 0 && layout == Keys.layoutCompactedCatalogStreams)
        }
        try sizes.expectSame(reads, try sizes.everyRead(store))
        try expectModel(store, model)
        #expect(store.allStreams() == streams)

        // Reopened from the files alone.
        store.close()
        store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        try sizes.expectSame(reads, try sizes.everyRead(store))
        try expectModel(store, model)
        #expect(store.allStreams() == streams)

        // Later lines on the compacted days, of old streams and new ones; compacted again, reopened.
        try await fill(store, seed: seed + 100, days: days, first: 10_000, into: &model)
        try expectModel(store, model)
        let second = try await store.compact(now: day0 + Int64(days) * dayNanos + 1)
        #expect(second.days.allSatisfy { $0.bytesAfter <= $0.bytesBefore })
        #expect(second.catalog.map { $0.bytesAfter <= $0.bytesBefore } == true)
        try expectModel(store, model)
        let all = try sizes.everyRead(store)
        store.close()
        store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { store.close() }
        try expectModel(store, model)
        try sizes.expectSame(all, try sizes.everyRead(store))
    }

    /// Another process with the catalog open (as a backup has) holds LMDB's shared lock on its
    /// lock file: the catalog is then kept as it is, and rewritten once that process is gone.
    @Test func aCatalogAnotherProcessHasOpenIsKept() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { store.close() }
        var model: Model = [:]
        try await fill(store, seed: 5, days: 1, into: &model)
        let catalog = dir.path + "/" + Keys.catalogFile
        // LMDB's readers hold a shared fcntl lock on the first byte of the lock file.
        guard let holder = try LockHolder.holding(catalog + "-lock") else { return }
        let file = try FileManager.default.attributesOfItem(atPath: catalog)
        let held = try #require(try await store.compact(now: day0 + dayNanos + 1).catalog)
        #expect(held.kept && held.bytesAfter == held.bytesBefore)
        #expect(try FileManager.default.attributesOfItem(atPath: catalog)[.systemFileNumber] as? Int == file[.systemFileNumber] as? Int)
        #expect(!FileManager.default.fileExists(atPath: catalog + Catalog.rewriteSuffix))
        try expectModel(store, model)

        holder.release()
        let freed = try #require(try await store.compact(now: day0 + dayNanos + 1).catalog)
        #expect(!freed.kept && freed.bytesAfter < freed.bytesBefore)
        try expectModel(store, model)
        // The catalog goes on taking writes (new streams) in its new file.
        _ = try await store.append([line(StreamKey(index: "fluentbit-job_log", workflow: "w1", job: "job-late"), day0 + 5, "late refused")])
        model["job-late"] = [(day0 + 5, "late refused")]
        try expectModel(store, model)
        #expect(try store.catalog.loadStreams().count == model.count)
    }

    /// A catalog whose lock file was made for 1,024 readers gets the 8 KiB one when rewritten.
    @Test func theRewrittenCatalogGetsTheSmallLockFile() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let catalog = dir.path + "/" + Keys.catalogFile
        do {
            let old = try LMDBEnvironment(path: catalog, mapSize: Limits.catalogMapSize, maxReaders: 1024)
            _ = try old.read { _ in 0 }
            old.close()
        }
        #expect(DiskUsage.file(catalog + "-lock") == 65_664)
        let store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { store.close() }
        var model: Model = [:]
        try await fill(store, seed: 7, days: 1, into: &model)
        let rewritten = try #require(try await store.compact(now: day0 + dayNanos + 1).catalog)
        #expect(!rewritten.kept)
        #expect(DiskUsage.file(catalog + "-lock") == Segment.lockFileBytes(readers: Catalog.readers))
        try expectModel(store, model)
    }
}
