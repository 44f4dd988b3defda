import Foundation
import Testing
@testable import LogStore

@Suite("Retention and compaction")
struct RetentionTests {
    let key = StreamKey(index: "fluentbit-job_log", workflow: "w", job: "j")
    let dayNanos: Int64 = 86_400 * nanosPerSecond

    func fill(_ store: Storage, days: Int) async throws {
        for d in 0..<days {
            _ = try await store.append((0..<200).map { line(key, day0 + Int64(d) * dayNanos + Int64($0) * nanosPerSecond, "day \(d) line \($0) " + String(repeating: "x", count: 100)) })
        }
    }

    func directoryBytes(_ path: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path + "/segments")) ?? []
        return names.reduce(0) { total, name in
            total + (((try? FileManager.default.attributesOfItem(atPath: path + "/segments/" + name)[.size]) as? NSNumber)?.intValue ?? 0)
        }
    }

    @Test func thirtyDayRetentionDropsTheTenOldestOfFortyDays() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var quiet = StorageOptions()
        quiet.sealAge = .seconds(3600)  // no sealing by age while the test measures files
        var store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        try await fill(store, days: 40)
        #expect(try store.stats().segments.count == 40)
        let before = directoryBytes(dir.path)
        let keptBefore = try store.readAll(StreamSelector(job: "j")).filter { $0.timestamp >= day0 + 10 * dayNanos }
        // "Now" is the start of the 41st day: keeping 30 days keeps days 11…40.
        let now = day0 + 40 * dayNanos
        let dry = try await store.applyRetention(RetentionPolicy(maxAge: .seconds(30 * 86_400)), now: now, dryRun: true)
        #expect(dry.dropped.count == 10)
        #expect(try store.stats().segments.count == 40)
        let report = try await store.applyRetention(RetentionPolicy(maxAge: .seconds(30 * 86_400)), now: now)
        #expect(report.dropped == (0..<10).map { Day.name(Day.of(day0) + Int32($0)) })
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/segments").filter { $0.hasSuffix(".mdb") }
        #expect(files.count == 30)
        #expect(!files.contains { $0.hasPrefix(Day.name(Day.of(day0))) })
        let after = directoryBytes(dir.path)
        #expect(report.freedBytes > 0 && after <= before - report.freedBytes + 64 * 1024, "disk \(before) → \(after), freed \(report.freedBytes)")
        #expect(after < before * 31 / 40 + 400_000, "disk \(before) → \(after)")
        #expect(try store.readAll(StreamSelector(job: "j")).map(\.lsn) == keptBefore.map(\.lsn))
        #expect(store.allStreams().first?.stats.lines == 30 * 200)
        store.close()
        // Still so after reopening, and the writer goes on.
        store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(try store.readAll(StreamSelector(job: "j")).count == 30 * 200)
        _ = try await store.append([line(key, day0 + 39 * dayNanos, "after retention")])
        #expect(try store.readAll(StreamSelector(job: "j")).count == 30 * 200 + 1)
    }

    @Test func diskCapDropsOldestButNeverToday() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        try await fill(store, days: 6)
        let sizes = try store.stats().segments.map(\.fileBytes)
        let now = day0 + 5 * dayNanos + 1  // the 6th day is "today"
        // A cap that fits about three segments.
        let cap = UInt64(sizes.suffix(3).reduce(0, +) + 200_000)
        let report = try await store.applyRetention(RetentionPolicy(maxDiskBytes: cap), now: now)
        #expect(report.dropped.count >= 2 && report.dropped.count <= 4)
        #expect(!report.capUnmet)
        // A cap nothing can meet: everything but today goes, and it says so.
        let tiny = try await store.applyRetention(RetentionPolicy(maxDiskBytes: 1), now: now)
        #expect(tiny.capUnmet)
        #expect(try store.stats().segments.map(\.name) == [Day.name(Day.of(now))])
    }

    @Test func compactionShrinksFinishedDaysWhileReadsAndIngestGoOn() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 50
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        // Lines arrive in many small batches (heads, seals and freed pages), over 3 days.
        for round in 0..<60 {
            _ = try await store.append((0..<50).map { i in
                line(StreamKey(index: "i", workflow: "w", job: "j\(i % 7)"), day0 + Int64(round % 3) * dayNanos + Int64(round * 50 + i), "r\(round) i\(i) " + String(repeating: "log text ", count: 10))
            })
        }
        let expected = try store.readAll(StreamSelector(workflow: "w")).map(\.lsn)
        let now = day0 + 3 * dayNanos + 1
        let current = store
        let reader = Task {
            var reads = 0
            while !Task.isCancelled && reads < 2000 {
                // Cancelled below once the compaction is done: a read then in progress stops
                // with `queryCancelled`, which ends the loop.
                let lines: [LogLine]
                do {
                    lines = try current.readAll(StreamSelector(workflow: "w"))
                } catch StorageError.queryCancelled {
                    break
                }
                #expect(Array(lines.map(\.lsn).filter { expected.contains($0) }) == expected)
                reads += 1
            }
            return reads
        }
        let writer = Task {
            for k in 0..<20 { _ = try await current.append([line(StreamKey(index: "i", workflow: "w", job: "late"), day0 + 4 * dayNanos + Int64(k), "late \(k)")]) }
        }
        let report = try await store.compact(now: now)
        try await writer.value
        reader.cancel()
        #expect(try await reader.value > 0)
        #expect(report.compacted.count == 3)
        #expect(report.bytesAfter < report.bytesBefore, "\(report.bytesBefore) → \(report.bytesAfter)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/segments").filter { $0.hasSuffix(".mdb") }.sorted()
        #expect(files.filter { $0.contains(".g1.") }.count == 3)
        #expect(try store.readAll(StreamSelector(workflow: "w")).count == expected.count + 20)
        store.close()
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        #expect(try store.readAll(StreamSelector(workflow: "w")).count == expected.count + 20)
        #expect(try store.stats().segments.allSatisfy { $0.headLines == 0 || $0.name == Day.name(Day.of(day0) + 4) })
    }

    @Test func compactionMergesSmallBlocksAndKeepsEveryAnswer() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 20
        options.minIndexedDayBytes = 0  // the day keeps its token index, small as it is
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<3).map { StreamKey(index: "i", workflow: "w", job: "j\($0)") }
        // Ten seal passes of five lines per stream: 30 blocks of 5 lines, as age sealing gives quiet jobs.
        for round in 0..<10 {
            for (s, key) in keys.enumerated() {
                _ = try await store.append(
                    (0..<5).map { n in line(key, day0 + Int64(round * 100 + n * 10 + s), "round \(round) line \(n) \(n == 2 ? "marker" : "filler")") })
            }
            try await store.sealAll()
        }
        let before = try store.stats()
        #expect(before.segments[0].blocks == 30)
        let lines = try store.readAll(StreamSelector(index: "i"))
        let marker = try store.search(SearchRequest(query: try QueryParser.parse("marker"), limit: 1000)).lines.map(\.lsn)
        #expect(marker.count == 30)

        // Each stream's 50 lines of the day become one block (compaction merges up to
        // `Limits.compactedBlockFactor` × `sealLines` lines).
        let report = try await store.compact(now: day0 + 2 * 86_400 * nanosPerSecond)
        #expect(report.blocksMerged == 30 && report.blocksWritten == 3)
        let after = try store.stats()
        #expect(after.segments[0].blocks == 3 && after.segments[0].pendingIndexBlocks == 0)
        #expect(after.segments[0].blockBytes < before.segments[0].blockBytes)
        #expect(try store.readAll(StreamSelector(index: "i")).map(\.lsn) == lines.map(\.lsn))
        #expect(try store.readAll(StreamSelector(index: "i")).map(\.message) == lines.map(\.message))
        let again = try store.search(SearchRequest(query: try QueryParser.parse("marker"), limit: 1000))
        #expect(again.lines.map(\.lsn) == marker && again.blocksRead == 3)
        let hits = try store.hits(try QueryParser.parse("marker"), step: 3600 * nanosPerSecond)
        #expect(hits.total == 30 && hits.blocksRead == 0)
    }

    @Test func anInterruptedCompactionLeavesOneCompleteGeneration() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        try await fill(store, days: 2)
        let expected = try store.readAll(StreamSelector(job: "j")).map(\.lsn)
        _ = try await store.compact(now: day0 + 2 * dayNanos)
        store.close()
        // A crash after the copy but before the rename leaves a .tmp; one before the old file was
        // removed leaves two generations. Both are cleaned up at open.
        let segments = dir.path + "/segments/"
        let g1 = segments + Day.name(Day.of(day0)) + ".g1.mdb"
        try FileManager.default.copyItem(atPath: g1, toPath: segments + Day.name(Day.of(day0)) + ".g2.mdb.tmp")
        try FileManager.default.copyItem(atPath: g1, toPath: segments + Day.name(Day.of(day0)) + ".mdb")
        store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        let names = try FileManager.default.contentsOfDirectory(atPath: segments).filter { !$0.hasSuffix("-lock") }.sorted()
        #expect(names == [Day.name(Day.of(day0)) + ".g1.mdb", Day.name(Day.of(day0) + 1) + ".g1.mdb"])
        #expect(try store.readAll(StreamSelector(job: "j")).map(\.lsn) == expected)
    }
}

@Suite("Deleting a workflow")
struct DeleteTests {
    @Test func deleteHidesAtOnceAndCompactionRemovesTheText() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        options.minIndexedDayBytes = 0  // the compacted day keeps postings runs, checked below
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        let doomed = StreamKey(index: "i", workflow: "wf-doomed", job: "j1")
        let kept = StreamKey(index: "i", workflow: "wf-kept", job: "j2")
        // 150 lines: one sealed block of 100 and 50 still in the head (stored as plain text).
        _ = try await store.append((0..<100).map { line(doomed, day0 + Int64($0), "SECRET-TOKEN-\($0) leaked") })
        _ = try await store.append((100..<150).map { line(doomed, day0 + Int64($0), "SECRET-TOKEN-\($0) leaked") })
        _ = try await store.append((0..<10).map { line(kept, day0 + Int64($0), "kept \($0)") })
        let file = dir.path + "/segments/" + Day.name(Day.of(day0)) + ".mdb"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(bytes.range(of: Data("SECRET-TOKEN-120".utf8)) != nil, "head lines are plain in the file before")

        try await store.sealAll()
        store.close()  // a clean close writes the pending postings: the words are in the file now
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        let indexed = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(indexed.range(of: Data("leaked".utf8)) != nil)

        try await store.deleteWorkflow("wf-doomed")
        #expect(store.streams(matching: StreamSelector(workflow: "wf-doomed")).isEmpty)
        #expect(try store.search(SearchRequest(query: try QueryParser.parse("secret"), limit: 1000)).lines.isEmpty)
        #expect(try store.readAll(StreamSelector(index: "i")).map(\.message) == (0..<10).map { "kept \($0)" })
        store.close()
        // Durable: still hidden after a restart.
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        #expect(store.streams(matching: StreamSelector(workflow: "wf-doomed")).isEmpty)

        let report = try await store.compact(now: day0 + 2 * 86_400 * nanosPerSecond)
        #expect(report.compacted.count == 1)
        let compacted = dir.path + "/segments/" + Day.name(Day.of(day0)) + ".g1.mdb"
        let after = try Data(contentsOf: URL(fileURLWithPath: compacted))
        #expect(after.range(of: Data("SECRET-TOKEN".utf8)) == nil)
        // …nor its words, which the full-text index held as postings keys.
        #expect(after.range(of: Data("secret".utf8)) == nil && after.range(of: Data("leaked".utf8)) == nil)
        #expect(try store.search(SearchRequest(query: try QueryParser.parse("kept"), limit: 100)).lines.count == 10)
        // Nothing of it is left in any block or head line either.
        let segment = try #require(store.segment(Day.of(day0)))
        var messages: [String] = []
        try segment.env.read { txn in
            try txn.scan(segment.blocks) { k, v in
                var key = ByteReader(k)
                let stored = try segment.storedBlock(txn, stream: try key.u64BE(), firstLSN: try key.u64BE(), value: v)
                let block = try stored.decode(cache: nil, segment: segment)
                for i in 0..<block.count { messages.append(block.message(i)) }
                return true
            }
            // The packed postings (compressed, so not visible to the byte search above) hold
            // none of the deleted words either.
            let runs = try #require(segment.postingRuns)
            for word in ["secret", "leaked", "token"] {
                #expect(try PostingRuns.lookup(txn, runs, packs: segment.packs, token: Array(word.utf8)).isEmpty, "\(word)")
            }
            #expect(try !PostingRuns.lookup(txn, runs, packs: segment.packs, token: Array("kept".utf8)).isEmpty)
            try txn.scan(segment.head) { k, v in
                messages.append(String(decoding: try Keys.decodeHeadLine(lsn: try Keys.decodeU64(k), value: v).1.message, as: UTF8.self))
                return true
            }
        }
        #expect(messages.sorted() == (0..<10).map { "kept \($0)" }.sorted())
        #expect(try store.stats().lines == 10)
        store.close()
    }
}
