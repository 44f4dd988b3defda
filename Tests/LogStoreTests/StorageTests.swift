import Foundation
import Testing
@testable import LogStore

@Suite("Storage")
struct StorageTests {
    let job = StreamKey(index: "fluentbit-job_log", workflow: "", job: "reana-run-job-1")
    let wf = StreamKey(index: "fluentbit-workflow_log", workflow: "wf-1", job: "")

    @Test func openAppendCloseReopenThreeTimes() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var expected = 0
        var lastLSN: LSN = 0
        for round in 0..<3 {
            let store = try Storage.open(directory: dir.path, logger: testLogger)
            #expect(store.allStreams().count == (round == 0 ? 0 : 2))
            #expect(try store.readAll(StreamSelector(job: job.job)).count == expected / 2 + (expected % 2))
            var batch: [IncomingLine] = []
            for i in 0..<1500 {
                let key = i % 2 == 0 ? job : wf
                batch.append(line(key, day0 + Int64(round * 10_000 + i) * 1_000_000, "round \(round) line \(i)"))
            }
            let receipt = try await store.append(batch)
            #expect(receipt.firstLSN == lastLSN + 1)
            #expect(receipt.lastLSN == lastLSN + 1500)
            lastLSN = receipt.lastLSN
            expected += 1500
            let stats = try store.stats()
            #expect(stats.lines == UInt64(expected))
            #expect(stats.streams == 2)
            #expect(stats.lastLSN == lastLSN)
            store.close()
        }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        let jobLines = try store.readAll(StreamSelector(job: job.job))
        #expect(jobLines.count == 2250)
        #expect(jobLines.map(\.lsn) == jobLines.map(\.lsn).sorted())
        #expect(jobLines.first?.message == "round 0 line 0")
        #expect(jobLines.last?.message == "round 2 line 1498")
        let receipt = try await store.append([line(job, day0, "after reopen")])
        #expect(receipt.firstLSN == lastLSN + 1)
    }

    /// Unmapping the files' pages (what `serve` does every 2 s) while reads and appends run
    /// changes no answer; the pages really leave the process (its file-backed RSS drops).
    @Test func releasingMappedPagesKeepsEveryRead() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 200
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        for round in 0..<5 {
            let batch = (0..<4000).map { i in line(job, day0 + Int64(round * 4000 + i) * 1_000_000, "round \(round) line \(i) " + String(repeating: "x", count: 200)) }
            _ = try await store.append(batch)
        }
        let expected = try store.readAll(StreamSelector(job: job.job))
        #expect(expected.count == 20_000)
        let mappedBefore = residentKB(under: dir.path)
        store.releaseMappedPages()
        let mappedAfter = residentKB(under: dir.path)
        if let mappedBefore, let mappedAfter {
            #expect(mappedBefore > 0)
            #expect(mappedAfter < mappedBefore / 4)
        }
        let reader = Task.detached {
            for _ in 0..<20 {
                let lines = try store.readAll(StreamSelector(job: job.job))
                #expect(lines.count >= 20_000)
                #expect(Array(lines.prefix(20_000)) == expected)
            }
        }
        for k in 0..<20 {
            store.releaseMappedPages()
            _ = try await store.append([line(job, day0 + Int64(30_000 + k) * 1_000_000, "later \(k)")])
        }
        try await reader.value
        #expect(try store.readAll(StreamSelector(job: job.job)).count == 20_020)
    }

    /// Resident kB of this process's mappings of files under `directory` (Linux), or nil.
    func residentKB(under directory: String) -> Int? {
        // procfs files report size 0: read to the end rather than by the reported size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps") else { return nil }
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var total = 0
        var inside = false
        for row in smaps.split(separator: "\n") {
            if let first = row.first, first.isHexDigit, row.contains("-") && row.split(separator: " ").count >= 5 {
                inside = row.contains(directory)
            } else if inside && row.hasPrefix("Rss:") {
                total += Int(row.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
            }
        }
        return total
    }

    @Test func readsAcrossDaysInOrderBothWays() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        let hour: Int64 = 3600 * nanosPerSecond
        // 5 days, written newest day first.
        for d in (0..<5).reversed() {
            let lines = (0..<200).map { line(job, day0 + Int64(d) * 24 * hour + Int64($0) * hour / 10, "d\(d) l\($0)") }
            _ = try await store.append(lines)
        }
        #expect(try store.stats().segments.map(\.name) == ["2024-09-24", "2024-09-25", "2024-09-26", "2024-09-27", "2024-09-28"])
        let asc = try store.readAll(StreamSelector(job: job.job), pageSize: 77)
        #expect(asc.count == 1000)
        #expect(asc.map(\.timestamp) == asc.map(\.timestamp).sorted())
        #expect(asc.first?.message == "d0 l0")
        let desc = try store.readAll(StreamSelector(job: job.job), order: .descending, pageSize: 130)
        #expect(desc.map(\.lsn) == asc.reversed().map(\.lsn))
        // A time range picks one day.
        let ids = store.streams(matching: StreamSelector(job: job.job)).map(\.id)
        let day2 = try store.read(LogQuery(streams: ids, limit: 10_000, from: day0 + 48 * hour, to: day0 + 72 * hour))
        #expect(day2.lines.count == 200)
        #expect(day2.lines.allSatisfy { $0.message.hasPrefix("d2 ") })
    }

    @Test func outOfOrderArrivalReadsInTimestampOrder() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 100
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        // Chunks of one file: the later chunk (lines 500..<1000) arrives first, as FluentBit's
        // retried chunks do; the earlier one in two pieces after it.
        let all = (0..<1000).map { line(job, day0 + Int64($0) * 1_000_000, "line \($0)") }
        _ = try await store.append(Array(all[500..<1000]))
        _ = try await store.append(Array(all[250..<500]))
        _ = try await store.append(Array(all[0..<250]))
        let lines = try store.readAll(StreamSelector(job: job.job), pageSize: 64)
        #expect(lines.map(\.message) == (0..<1000).map { "line \($0)" })
        // Equal timestamps keep arrival order (LSN).
        _ = try await store.append([line(job, day0 - 1, "tie a"), line(job, day0 - 1, "tie b")])
        let first = try store.readAll(StreamSelector(job: job.job)).prefix(2)
        #expect(first.map(\.message) == ["tie a", "tie b"])
    }

    @Test func workflowReadMergesItsJobsAndFindsJobsWithoutWorkflowID() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        let a = StreamKey(index: "i", workflow: "w", job: "a")
        let b = StreamKey(index: "i", workflow: "w", job: "b")
        let other = StreamKey(index: "i", workflow: "x", job: "c")
        let bare = StreamKey(index: "i", workflow: "", job: "d")
        _ = try await store.append((0..<10).map { line($0 % 2 == 0 ? a : b, day0 + Int64($0), "\($0)") })
        _ = try await store.append([line(other, day0 + 3, "other"), line(bare, day0 + 4, "bare")])
        #expect(try store.readAll(StreamSelector(workflow: "w")).map(\.message) == (0..<10).map { "\($0)" })
        #expect(try store.readAll(StreamSelector(job: "d")).map(\.message) == ["bare"])
        #expect(try store.readAll(StreamSelector(workflow: "w", job: "d")).map(\.message) == ["bare"])
        #expect(try store.readAll(StreamSelector(workflow: "x", job: "a")).isEmpty)
    }

    @Test func concurrentAppendsAreGroupCommitted() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        let receipts = try await withThrowingTaskGroup(of: AppendReceipt.self) { group in
            for t in 0..<20 {
                group.addTask {
                    let key = StreamKey(index: "i", workflow: "w", job: "job-\(t % 4)")
                    return try await store.append((0..<100).map { line(key, day0 + Int64($0), "t\(t) \($0)") })
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // LSN ranges are disjoint and cover 1...2000.
        let ranges = receipts.sorted { $0.firstLSN < $1.firstLSN }
        #expect(ranges.first?.firstLSN == 1 && ranges.last?.lastLSN == 2000)
        for (x, y) in zip(ranges, ranges.dropFirst()) { #expect(x.lastLSN + 1 == y.firstLSN) }
        #expect(try store.readAll(StreamSelector(workflow: "w")).count == 2000)
    }

    @Test func secondWriterIsRefused() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(throws: StorageError.self) { try Storage.open(directory: dir.path, logger: testLogger) }
        store.close()
        // Released by close().
        let again = try Storage.open(directory: dir.path, logger: testLogger)
        again.close()
    }

    @Test func sealingByAgeAndOnDemandKeepsLinesReadable() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealAge = .seconds(3)
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        let start = ContinuousClock.now
        _ = try await store.append((0..<10).map { line(job, day0 + Int64($0), "x\($0)") })
        let fresh = try store.stats().segments[0]
        // Fresh lines wait in the head (unless this machine stalled us past the seal age).
        if ContinuousClock.now - start < .seconds(2) { #expect(fresh.headLines == 10, "\(fresh)") }
        // The writer checks ages about once a second.
        let deadline = Date().addingTimeInterval(10)
        while try store.stats().segments[0].headLines > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let stats = try store.stats()
        #expect(stats.segments[0].headLines == 0)
        #expect(stats.segments[0].blocks == 1)
        #expect(try store.readAll(StreamSelector(job: job.job)).map(\.message) == (0..<10).map { "x\($0)" })
        store.close()
        // …and after reopening.
        let again = try Storage.open(directory: dir.path, logger: testLogger)
        defer { again.close() }
        #expect(try again.readAll(StreamSelector(job: job.job)).count == 10)
    }

    @Test func catalogIsRebuiltFromSegmentsWhenLost() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        do {
            let store = try Storage.open(directory: dir.path, logger: testLogger)
            _ = try await store.append((0..<50).map { line($0 % 2 == 0 ? job : wf, day0 + Int64($0), "\($0)") })
            store.close()
        }
        // Simulate a crash between the segment commit and the catalog commit: no catalog at all.
        try FileManager.default.removeItem(atPath: dir.path + "/catalog.mdb")
        try? FileManager.default.removeItem(atPath: dir.path + "/catalog.mdb-lock")
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(store.allStreams().map(\.key).sorted() == [job, wf].sorted())
        #expect(try store.readAll(StreamSelector(job: job.job)).count == 25)
        let receipt = try await store.append([line(job, day0, "next")])
        #expect(receipt.firstLSN == 51)
        // The new line went to the same stream, not a duplicate one.
        #expect(store.allStreams().count == 2)
    }
}

@Suite("Reads during sealing")
struct ConcurrentReadTests {
    /// Readers run while the writer appends and seals (tiny thresholds): every read sees each
    /// acknowledged line exactly once, in order.
    @Test func readersNeverSeeDuplicatesOrGaps() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 7
        options.sealBytes = 400
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<4).map { StreamKey(index: "i", workflow: "w", job: "j\($0)") }
        let writer = Task {
            for round in 0..<300 {
                _ = try await store.append((0..<5).map { i in line(keys[(round + i) % 4], day0 + Int64(round * 5 + i), "r\(round) \(i)") })
            }
        }
        var reads = 0
        var lastCount = 0
        while !writer.isCancelled {
            let acknowledged = store.lastLSN
            let lines = try store.readAll(StreamSelector(workflow: "w"), pageSize: 10_000)
            #expect(Set(lines.map(\.lsn)).count == lines.count, "duplicate lines in a read")
            #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.position < $1.position })
            // Everything acknowledged before the read started is in it.
            #expect(lines.filter { $0.lsn <= acknowledged }.count == Int(acknowledged))
            #expect(lines.count >= lastCount)
            lastCount = lines.count
            reads += 1
            if lines.count == 1500 { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await writer.value
        #expect(try store.readAll(StreamSelector(workflow: "w")).count == 1500)
        #expect(reads > 5)
    }
}
