import Foundation
import TestSupport
import Testing
@testable import LogStore

/// Compaction and `stats` against the file system: what they report is what `du -sb` counts,
/// a quiet day gets smaller, and no read answers differently afterwards.
@Suite("Compaction sizes")
struct CompactionSizeTests {
    let hour: Int64 = 3600 * nanosPerSecond
    let dayNanos: Int64 = 86_400 * nanosPerSecond
    /// Nothing written behind the test's back while it measures files: no sealing by age, no
    /// index flush when idle.
    var quiet: StorageOptions {
        var options = StorageOptions()
        options.sealAge = .seconds(3600)
        options.indexFlushIdle = .seconds(3600)
        return options
    }
    let words = ["connection", "refused", "block", "served", "session", "opened", "closed", "checkpoint", "error", "retry"]

    /// `streams` jobs that each write one line an hour for `days` days; every hour's lines are
    /// sealed at once, as age sealing does for a quiet stream (a block per line).
    func fillSparse(_ store: Storage, streams: Int, days: Int) async throws {
        var random = SeededRandom(seed: 28)
        for h in 0..<(24 * days) {
            let lines = (0..<streams).map { s in
                let text = (0..<8).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ")
                return line(
                    StreamKey(index: "fluentbit-job_log", workflow: "w\(s % 4)", job: "job-\(s)"),
                    day0 + Int64(h) * hour + Int64(s) * nanosPerSecond * 7 + Int64(random.next() % 1_000_000),
                    "step \(h) of job \(s): \(text)", fields: #"{"kubernetes.labels.user-uuid":"u\#(s % 3)"}"#)
            }
            _ = try await store.append(lines)
            try await store.sealAll()
        }
    }

    /// `du -sb` as the file system tells it: every file and directory below `path`, and `path`.
    func measured(_ path: String) -> Int {
        var total = size(path)
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String { total += size(path + "/" + name) }
        return total
    }

    func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
    }

    /// The bytes of one day's files (`YYYY-MM-DD….mdb` and its `-lock`).
    func dayFiles(_ dir: String, _ name: String) -> Int {
        let segments = dir + "/segments"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: segments)) ?? []
        return names.filter { $0.hasPrefix(name + ".") }.reduce(0) { $0 + size(segments + "/" + $1) }
    }

    /// `du -sb PATH` run for real, when the system has it.
    func duSB(_ path: String) throws -> Int? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/du") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/du")
        process.arguments = ["-sb", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.runGuarded()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Int(String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace).first ?? "")
    }

    @Test func theCompactionReportAndStatsEqualTheFilesOnDisk() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        defer { store.close() }
        try await fillSparse(store, streams: 12, days: 3)
        let names = (0..<3).map { Day.name(Day.of(day0) + Int32($0)) }
        let dayBefore = names.map { dayFiles(dir.path, $0) }
        let catalog = dir.path + "/" + Keys.catalogFile
        let catalogBefore = size(catalog) + size(catalog + "-lock")
        let before = measured(dir.path)
        let stats = try store.stats()
        #expect(stats.storedBytes == before)
        if let du = try duSB(dir.path) { #expect(stats.storedBytes == du) }
        #expect(stats.segments.map(\.diskBytes) == dayBefore)
        #expect(stats.lockBytes > 0 && stats.segments.allSatisfy { $0.lockBytes > 0 && $0.diskBytes == $0.fileBytes + $0.lockBytes })

        let report = try await store.compact(now: day0 + 3 * dayNanos + 1)
        let after = measured(dir.path)
        #expect(report.directoryBytesBefore == before)
        #expect(report.directoryBytesAfter == after)
        if let du = try duSB(dir.path) { #expect(report.directoryBytesAfter == du) }
        #expect(report.days.map(\.name) == names)
        #expect(report.days.map(\.bytesBefore) == dayBefore)
        #expect(report.days.map(\.bytesAfter) == names.map { dayFiles(dir.path, $0) })
        let catalogReport = try #require(report.catalog)
        #expect(catalogReport.bytesBefore == catalogBefore && catalogReport.bytesAfter == size(catalog) + size(catalog + "-lock"))
        #expect(report.bytesBefore == dayBefore.reduce(0, +) + catalogBefore)
        #expect(report.bytesAfter - report.bytesBefore == after - before, "only the days' and the catalog's files changed")
        #expect(try store.stats().storedBytes == after)
        #expect(try store.stats().segments.map(\.diskBytes) == report.days.map(\.bytesAfter))
        // The JSON form carries the same numbers.
        let decoded = try JSONDecoder().decode(MaintenanceReport.self, from: try JSONEncoder().encode(report))
        #expect(decoded == report)
    }

    @Test func compactingASparseDayMakesItSmallerAndEveryReadTheSame() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        defer { store.close() }
        try await fillSparse(store, streams: 20, days: 1)
        let blocksBefore = try store.stats().segments[0].blocks
        #expect(blocksBefore == 20 * 24, "one block per line, as a quiet stream is sealed")
        let reads = try everyRead(store)

        let report = try await store.compact(now: day0 + dayNanos + 1)
        let day = try #require(report.days.first)
        #expect(!day.kept && day.bytesAfter < day.bytesBefore, "\(day.bytesBefore) → \(day.bytesAfter)")
        #expect(day.bytesAfter * 2 < day.bytesBefore, "a quiet day shrinks by more than half: \(day.bytesBefore) → \(day.bytesAfter)")
        let stats = try store.stats()
        #expect(stats.segments[0].blocks == 20, "a quiet stream's day is one block")
        #expect(stats.segments[0].blockLines == 20 * 24 && stats.segments[0].headLines == 0)
        try expectSame(reads, try everyRead(store))

        // Compacting again changes nothing and never grows the day.
        let files = dayFiles(dir.path, day.name)
        let again = try #require(try await store.compact(now: day0 + dayNanos + 1).days.first)
        #expect(again.kept && again.bytesAfter == again.bytesBefore && again.bytesAfter == files)
        try expectSame(reads, try everyRead(store))

        // Reopened: the same answers from the files alone.
        store.close()
        let reopened = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        defer { reopened.close() }
        try expectSame(reads, try everyRead(reopened))
    }

    /// A day of many tiny jobs (a few lines each) beside two busy ones, written the same way
    /// into `stores`: appended in time order, sealed every few batches as age sealing would.
    func fillTinyJobs(_ stores: [Storage], tiny: Int, seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        var lines: [IncomingLine] = []
        for s in 0..<tiny {
            let start = Int64(random.next() % UInt64(20 * hour))
            for k in 0..<(3 + Int(random.next() % 4)) {
                let text = (0..<6).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ")
                lines.append(
                    line(
                        StreamKey(index: "fluentbit-job_log", workflow: "w\(s % 4)", job: "tiny-\(s)"),
                        day0 + start + Int64(k) * 61 * nanosPerSecond + Int64(random.next() % 1000), "tiny \(s) step \(k): \(text)",
                        fields: #"{"kubernetes.labels.user-uuid":"u\#(s % 3)","step":\#(k)}"#))
            }
        }
        for b in 0..<2 {
            for k in 0..<1500 {
                lines.append(
                    line(
                        StreamKey(index: "fluentbit-job_log", workflow: "w\(b)", job: "busy-\(b)"), day0 + Int64(k) * 40 * nanosPerSecond + Int64(b),
                        "busy \(b) line \(k) \(words[k % words.count]) \(words[(k / 7) % words.count])"))
            }
        }
        lines.sort { $0.timestamp < $1.timestamp }
        for (n, batch) in stride(from: 0, to: lines.count, by: 150).map({ Array(lines[$0..<min($0 + 150, lines.count)]) }).enumerated() {
            for store in stores {
                _ = try await store.append(batch)
                if n % 4 == 3 { try await store.sealAll() }
            }
        }
    }

    /// The `blocks` values of `day` that are blocks of shared frames, and their frames.
    func sharedRuns(_ store: Storage, _ day: Int32) throws -> (runs: Int, frames: Int) {
        let segment = try #require(store.segment(day))
        var runs = 0
        var frames = Set<[UInt32]>()
        try segment.env.read { txn in
            try txn.scan(segment.blocks) { _, v in
                if let run = try SharedRun.decode(v) {
                    runs += 1
                    frames.insert([run.pack, run.frameOffset])
                }
                return true
            }
        }
        return (runs, frames.count)
    }

    @Test func tinyJobsShareFramesAndEveryReadStaysTheSame() async throws {
        // The same lines in two stores; only the first is compacted. Every read of it must
        // answer as the other does, after the compaction, after late lines and a second
        // compaction (which frames the shared blocks again), and reopened.
        let dirs = (TempDirectory(), TempDirectory())
        defer {
            dirs.0.cleanup()
            dirs.1.cleanup()
        }
        let compacted = try Storage.open(directory: dirs.0.path, options: quiet, logger: testLogger)
        let model = try Storage.open(directory: dirs.1.path, options: quiet, logger: testLogger)
        defer { model.close() }
        try await fillTinyJobs([compacted, model], tiny: 400, seed: 7)
        try expectSame(try everyRead(model), try everyRead(compacted))

        let report = try await compacted.compact(now: day0 + dayNanos + 1)
        let day = try #require(report.days.first)
        #expect(!day.kept && day.bytesAfter < day.bytesBefore)
        let shared = try sharedRuns(compacted, Day.of(day0))
        #expect(shared.runs == 400, "every tiny job's day is a block of a shared frame: \(shared)")
        #expect(shared.frames >= 2 && shared.frames * 40 < shared.runs, "\(shared)")
        let blocks = try compacted.stats().segments[0].blocks
        #expect(blocks == 400 + 2, "each busy job's day is one block of its own: \(blocks)")
        try expectSame(try everyRead(model), try everyRead(compacted))

        // Late lines for some tiny jobs and a new one: the second compaction merges them with
        // their framed blocks and frames the day again.
        let late = (0..<12).map { k in
            line(
                StreamKey(index: "fluentbit-job_log", workflow: "w\(k < 9 ? k * 3 % 4 : 1)", job: "tiny-\(k < 9 ? k * 3 : 999)"), day0 + 23 * hour + Int64(k),
                "late line \(k) checkpoint")
        }
        for store in [compacted, model] { _ = try await store.append(late) }
        try expectSame(try everyRead(model), try everyRead(compacted))
        _ = try await compacted.compact(now: day0 + dayNanos + 1)
        let again = try sharedRuns(compacted, Day.of(day0))
        #expect(again.runs == 401, "\(again)")
        try expectSame(try everyRead(model), try everyRead(compacted))

        compacted.close()
        let reopened = try Storage.open(directory: dirs.0.path, options: quiet, logger: testLogger)
        defer { reopened.close() }
        try expectSame(try everyRead(model), try everyRead(reopened))
    }

    /// The token index state of `store`'s first day: (kept none, indexed blocks, postings
    /// runs, pending blocks).
    func indexState(_ store: Storage) throws -> (unindexed: Bool, indexed: UInt32, runs: Int, pending: Int) {
        let segment = try #require(store.segment(Day.of(day0)))
        return try segment.env.read { txn in
            let (indexed, _) = try segment.indexState(txn)
            var runs = 0
            if let table = segment.postingRuns {
                try txn.scan(table) { _, _ in
                    runs += 1
                    return true
                }
            }
            return (try txn.get(segment.meta, Keys.metaUnindexed) != nil, indexed, runs, segment.pending.blockCount)
        }
    }

    @Test func aSmallDayKeepsNoTokenIndexAndGetsItBackOnceItMayHaveOne() async throws {
        // The same lines in two stores: one indexes every day, the other leaves days under
        // 4 MiB of text without a token index. Every read, the field catalog included, must
        // answer the same, compacted, after late lines, reopened, and once the day is
        // indexed again.
        let dirs = (TempDirectory(), TempDirectory())
        defer {
            dirs.0.cleanup()
            dirs.1.cleanup()
        }
        var indexedOptions = quiet
        indexedOptions.minIndexedDayBytes = 0
        var small = try Storage.open(directory: dirs.0.path, options: quiet, logger: testLogger)
        let model = try Storage.open(directory: dirs.1.path, options: indexedOptions, logger: testLogger)
        defer { model.close() }
        try await fillTinyJobs([small, model], tiny: 150, seed: 11)
        _ = try await model.compact(now: day0 + dayNanos + 1)
        let modelState = try indexState(model)
        #expect(!modelState.unindexed && modelState.runs > 0)
        let report = try await small.compact(now: day0 + dayNanos + 1)
        let day = try #require(report.days.first)
        #expect(!day.kept)
        #expect(try indexState(small) == (true, 0, 0, 0))
        #expect(try small.stats().segments.map(\.tokenIndex) == [false] && model.stats().segments.map(\.tokenIndex) == [true])
        #expect(day.bytesAfter < dayFiles(dirs.1.path, day.name), "no postings: smaller than the indexed copy")
        try expectSame(try everyRead(model), try everyRead(small))
        #expect(try small.fieldCatalog() == (try model.fieldCatalog()))
        #expect(try small.fieldCatalog().keys.contains("step"))

        // Late lines: sealed into the day and not indexed either; the answers stay the same.
        let late = (0..<20).map { k in
            line(
                StreamKey(index: "fluentbit-job_log", workflow: "w\(k % 4)", job: k < 10 ? "tiny-\(k)" : "late-\(k)"), day0 + 23 * hour + Int64(k),
                "late line \(k) retry", fields: #"{"late":\#(k)}"#)
        }
        for store in [small, model] {
            _ = try await store.append(late)
            try await store.sealAll()
        }
        #expect(try indexState(small) == (true, 0, 0, 0))
        try expectSame(try everyRead(model), try everyRead(small))
        #expect(try small.fieldCatalog() == (try model.fieldCatalog()))
        #expect(try small.fieldCatalog().keys.contains("late"))

        // Reopened: still without an index (nothing re-tokenized at open).
        small.close()
        small = try Storage.open(directory: dirs.0.path, options: quiet, logger: testLogger)
        #expect(try indexState(small) == (true, 0, 0, 0))
        try expectSame(try everyRead(model), try everyRead(small))

        // Compacted where every day keeps an index: the day gets its postings back.
        small.close()
        small = try Storage.open(directory: dirs.0.path, options: indexedOptions, logger: testLogger)
        defer { small.close() }
        _ = try await small.compact(now: day0 + dayNanos + 1)
        _ = try await model.compact(now: day0 + dayNanos + 1)
        let back = try indexState(small)
        #expect(!back.unindexed && back.runs > 0 && back.pending == 0)
        #expect(try small.stats().segments.map(\.tokenIndex) == [true])
        try expectSame(try everyRead(model), try everyRead(small))
        #expect(try small.fieldCatalog() == (try model.fieldCatalog()))
        let found = try small.search(SearchRequest(query: try QueryParser.parse("retry"), limit: 100_000))
        let scanned = try model.search(SearchRequest(query: try QueryParser.parse("retry"), limit: 100_000))
        #expect(found.lines == scanned.lines && found.blocksRead == scanned.blocksRead, "the postings narrow the blocks read again")
    }

    @Test func searchesWhileADayGetsItsIndexBackAnswerTheSame() async throws {
        // Days compacted without an index, then compacted again with one (re-tokenized, flushed
        // and rewritten) while readers search them: every answer is the one before.
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        try await fillSparse(store, streams: 10, days: 2)
        _ = try await store.compact(now: day0 + 2 * dayNanos + 1)
        #expect(try store.stats().segments.allSatisfy { !$0.tokenIndex })
        let queries = try ["refused", "connection AND error", "\"block served\"", "checkpoint OR retry", "job-3"].map { try QueryParser.parse($0) }
        let expected = try queries.map { try store.search(SearchRequest(query: $0, limit: 100_000)).lines }
        #expect(expected.contains { !$0.isEmpty })
        store.close()
        var indexed = quiet
        indexed.minIndexedDayBytes = 0
        store = try Storage.open(directory: dir.path, options: indexed, logger: testLogger)
        defer { store.close() }
        let current = store
        let reader = Task {
            var reads = 0
            while !Task.isCancelled && reads < 400 {
                for (query, lines) in zip(queries, expected) {
                    let found: [LogLine]
                    do {
                        found = try current.search(SearchRequest(query: query, limit: 100_000)).lines
                    } catch StorageError.queryCancelled {
                        return reads
                    }
                    #expect(found == lines)
                }
                reads += 1
            }
            return reads
        }
        _ = try await store.compact(now: day0 + 2 * dayNanos + 1)
        reader.cancel()
        #expect(try await reader.value > 0)
        #expect(try store.stats().segments.allSatisfy(\.tokenIndex))
        for (query, lines) in zip(queries, expected) { #expect(try store.search(SearchRequest(query: query, limit: 100_000)).lines == lines) }
    }

    @Test func longPostingsRunsGoIntoPacksAndEveryTokenIsStillFound() async throws {
        // Thousands of distinct tokens (ids no two lines share): the day's runs are long.
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = quiet
        options.minIndexedDayBytes = 0
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        var random = SeededRandom(seed: 5)
        var lines: [IncomingLine] = []
        var ids: [String] = []
        for k in 0..<6000 {
            let id = String(random.next() % 1_000_000_000_000, radix: 36)
            ids.append(id)
            lines.append(
                line(
                    StreamKey(index: "fluentbit-job_log", workflow: "w\(k % 3)", job: "job-\(k % 40)"), day0 + Int64(k) * 10 * nanosPerSecond,
                    "request \(id) \(words[k % words.count]) in \(random.next() % 5000) ms by worker-\(random.next() % 300)"))
        }
        _ = try await store.append(lines)
        try await store.sealAll()
        let reads = try everyRead(store)
        _ = try await store.compact(now: day0 + dayNanos + 1)
        let segment = try #require(store.segment(Day.of(day0)))
        let (inline, pointers) = try segment.env.read { txn in
            var inline = 0
            var pointers = 0
            try txn.scan(try #require(segment.postingRuns)) { _, v in
                if v.first == PostingRuns.pointerTag { pointers += 1 } else { inline += 1 }
                #expect(v.first == PostingRuns.pointerTag || v.count < PostingRuns.packedFrom)
                return true
            }
            return (inline, pointers)
        }
        #expect(pointers >= 2, "\(pointers) packed runs, \(inline) inline")
        #expect(try store.stats().segments[0].indexBytes > 0)
        try expectSame(reads, try everyRead(store))
        for id in ids.enumerated().filter({ $0.offset % 97 == 0 }).map(\.element) {
            let found = try store.search(SearchRequest(query: try QueryParser.parse(id), limit: 100))
            #expect(found.lines.map(\.message).allSatisfy { $0.contains(id) } && !found.lines.isEmpty, "\(id)")
            #expect(found.blocksRead <= 2, "the postings, not a scan, find \(id): \(found.blocksRead) blocks read")
        }
    }

    @Test func aDayWhoseCopyWouldNotBeSmallerIsKept() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        defer { store.close() }
        try await fillSparse(store, streams: 5, days: 1)
        _ = try await store.compact(now: day0 + dayNanos + 1)
        // A late line reopens the compacted day: its copy is rewritten (smaller than the file
        // with the new head and its free pages) or kept, and never ends larger than it began.
        for k in 0..<3 {
            _ = try await store.append([line(StreamKey(index: "fluentbit-job_log", workflow: "w0", job: "job-0"), day0 + 23 * hour + Int64(k), "late \(k)")])
            let day = try #require(try await store.compact(now: day0 + dayNanos + 1).days.first)
            #expect(day.bytesAfter <= day.bytesBefore, "\(day.bytesBefore) → \(day.bytesAfter)")
            #expect(day.bytesAfter == dayFiles(dir.path, day.name))
        }
        #expect(try store.readAll(StreamSelector(job: "job-0")).count == 24 + 3)
    }

    @Test func aDaysLockFileIsSmallAndMoreReadersThanSlotsStillRead() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        defer { store.close() }
        try await fillSparse(store, streams: 3, days: 1)
        let segment = try #require(store.segment(Day.of(day0)))
        #expect(segment.lockBytes == 8192 && Segment.lockFileBytes(readers: Segment.readers) == 8192)
        // Twice as many readers as slots, each holding its transaction for a while: every one
        // reads, the later ones after waiting for a slot.
        let count = Int(Segment.readers) * 2
        let done = DispatchGroup()
        let read = ReadCount()
        for _ in 0..<count {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                let streams = try? segment.env.read { txn -> Int in
                    usleep(30_000)
                    var n = 0
                    try txn.scan(segment.streams) { _, _ in
                        n += 1
                        return true
                    }
                    return n
                }
                if streams == 3 { read.add() }
            }
        }
        #expect(done.wait(timeout: .now() + 120) == .success)
        #expect(read.value == count)
    }

    @Test func aDayWrittenWithTheBiggerLockFileStillOpensAndCompacts() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        try await fillSparse(store, streams: 4, days: 1)
        let expected = try store.readAll(StreamSelector(index: "fluentbit-job_log"))
        store.close()
        // The lock file as 1,024 reader slots left it.
        let file = dir.path + "/segments/" + Day.name(Day.of(day0)) + ".mdb"
        try FileManager.default.removeItem(atPath: file + "-lock")
        let old = try LMDBEnvironment(path: file, mapSize: Limits.segmentMapSize, maxReaders: 1024)
        _ = try old.read { _ in 0 }
        old.close()
        #expect(DiskUsage.file(file + "-lock") == 65_664)
        store = try Storage.open(directory: dir.path, options: quiet, logger: testLogger)
        defer { store.close() }
        #expect(try store.readAll(StreamSelector(index: "fluentbit-job_log")) == expected)
        #expect(try store.stats().segments[0].lockBytes == 65_664)
        let day = try #require(try await store.compact(now: day0 + dayNanos + 1).days.first)
        #expect(!day.kept && day.bytesAfter < day.bytesBefore)
        #expect(try store.stats().segments[0].lockBytes == 4096, "the next generation gets the compacted day's one-page lock file")
        #expect(try store.readAll(StreamSelector(index: "fluentbit-job_log")) == expected)
    }

    /// Every read API's answer over the store: log order both ways per stream and for all,
    /// searches newest and oldest first, hits per hour and per minute, commit order.
    struct Reads: Equatable {
        var logOrder: [[LogLine]] = []
        var search: [[LogLine]] = []
        var hits: [String] = []
        var commitOrder: [LogLine] = []
    }

    func everyRead(_ store: Storage) throws -> Reads {
        var reads = Reads()
        let streams = store.allStreams().sorted { $0.id < $1.id }
        for info in streams {
            reads.logOrder.append(try store.readAll(StreamSelector(job: info.key.job)))
            reads.logOrder.append(try store.readAll(StreamSelector(job: info.key.job), order: .descending, pageSize: 7))
        }
        reads.logOrder.append(try store.readAll(StreamSelector(index: "fluentbit-job_log"), pageSize: 33))
        // A time window inside the day (per-block time bounds prune it).
        let ids = streams.map(\.id)
        reads.logOrder.append(
            try store.read(LogQuery(streams: ids, after: LogPosition(timestamp: day0 + 5 * hour, lsn: 0), limit: 40, order: .ascending)).lines)
        for q in ["refused", "connection AND error", "\"block served\"", "job-3", "step 7", "checkpoint OR retry"] {
            let query = try QueryParser.parse(q)
            reads.search.append(try store.search(SearchRequest(query: query, limit: 100_000)).lines)
            reads.search.append(try store.search(SearchRequest(query: query, limit: 100_000, order: .ascending)).lines)
            reads.search.append(try store.search(SearchRequest(query: query, from: day0 + 3 * hour, to: day0 + 9 * hour, limit: 25)).lines)
            for step in [hour, 60 * nanosPerSecond, 86_400 * nanosPerSecond] {
                let hits = try store.hits(query, step: step)
                reads.hits.append("\(q) \(step): \(hits.total) \(hits.buckets.map { "\($0.start)=\($0.count)" }) \(hits.byStream.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })")
            }
        }
        var after: LSN = 0
        while true {
            let page = try store.readCommitted(streams: ids, range: .after(after, limit: 50))
            reads.commitOrder += page.lines
            if page.lines.isEmpty { break }
            after = page.next
        }
        reads.commitOrder += try store.readCommitted(streams: ids, range: .last(17)).lines
        return reads
    }

    func expectSame(_ a: Reads, _ b: Reads) throws {
        #expect(a.logOrder.count == b.logOrder.count)
        for (x, y) in zip(a.logOrder, b.logOrder) { #expect(x == y) }
        #expect(a.search == b.search)
        #expect(a.hits == b.hits)
        #expect(a.commitOrder == b.commitOrder)
        #expect(a.logOrder.reduce(0) { $0 + $1.count } > 0 && a.search.contains { !$0.isEmpty } && !a.commitOrder.isEmpty)
    }
}

/// A count shared by reader threads.
private final class ReadCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
