import Foundation
import TestSupport
import LogStore
import Synchronization
import Testing

/// A child process appends continuously and reports each acknowledged batch; it is killed with
/// SIGKILL at random moments. After each kill the store must open and hold every acknowledged
/// line exactly once, intact and in order.
@Suite("Crash safety")
struct CrashTests {
    /// What `logstore debug-append-loop` writes for `(task, seq)` (mirrors `CrashLine.make`).
    static func expected(task: Int, seq: UInt64) -> (ts: Int64, message: String, job: String) {
        let ts = 1_727_222_000_000_000_000 + Int64(seq) * 10_000_000 + Int64((seq &* 2_654_435_761) % 30_000) * 1_000_000 + Int64(task)
        return (ts, "t\(task) s\(seq) " + String(repeating: "x", count: Int(seq % 50)), "job-\(seq % 5)")
    }

    /// Both durability modes: `written` acknowledges before the sync, and the page cache
    /// keeps what a killed process wrote.
    @Test(arguments: ["fsync", "written:50ms"])
    func acknowledgedLinesSurviveSIGKILL(durability: String) async throws {
        let dir = TempDirectory("logstore-crash")
        defer { dir.cleanup() }
        let binary = try logstoreBinary()
        var rng = SystemRandomNumberGenerator()
        var acked: [Int: [ClosedRange<UInt64>]] = [:]
        var totalAcked = 0
        for round in 0..<10 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "debug-append-loop", "--data-dir", dir.path, "--log-level", "error", "--pause-ms", "2", "--durability", durability,
            ]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            let received = LockedState()
            try process.runGuarded()
            let reader = Thread {
                while true {
                    let chunk = out.fileHandleForReading.availableData
                    received.value.withLock { state in
                        if chunk.isEmpty { state.1 = true } else { state.0.append(chunk) }
                    }
                    if chunk.isEmpty { return }
                }
            }
            reader.start()
            // Wait for the first acknowledgement, then kill at a random moment.
            let start = Date()
            while received.value.withLock({ $0.0.isEmpty }) && Date().timeIntervalSince(start) < 30 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...400, using: &rng)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let drainStart = Date()
            while !received.value.withLock({ $0.1 }) && Date().timeIntervalSince(drainStart) < 10 {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): child was not killed")
            let text = String(decoding: received.value.withLock { $0.0 }, as: UTF8.self)
            var roundAcks = 0
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                // A line cut by the kill is not an acknowledgement.
                guard parts.count == 4, parts[0] == "ACK", let task = Int(parts[1]), let first = UInt64(parts[2]),
                    let last = UInt64(parts[3]), first <= last
                else { continue }
                acked[task, default: []].append(first...last)
                roundAcks += Int(last - first + 1)
            }
            #expect(roundAcks > 0, "round \(round): no acknowledgement before the kill")
            totalAcked += roundAcks
            // On its own thread: reading every stored line takes seconds in debug builds, and a
            // blocked thread of the shared pool starves the tests that run an in-process server.
            let path = dir.path
            let snapshot = acked
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try CrashTests().verify(directory: path, acked: snapshot, round: round) })
                }
            }
        }
        #expect(totalAcked > 1000)
    }

    func verify(directory: String, acked: [Int: [ClosedRange<UInt64>]], round: Int) throws {
        let store = try Storage.open(directory: directory, logger: testLogger)
        defer { store.close() }
        let streams = store.streams(matching: StreamSelector(index: "crash"))
        let keys = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        var seen: [String: Int] = [:]
        var previous = LogPosition.minimum
        var after: LogPosition?
        var stored = Set<String>()
        var lsns = Set<LSN>()
        // Plain checks per line (one #expect per line would dominate the run time).
        var problems: [String] = []
        while true {
            let page = try store.read(LogQuery(streams: streams.map(\.id), after: after, limit: 20_000))
            for line in page.lines {
                if line.position <= previous { problems.append("out of order at \(line.position)") }
                previous = line.position
                if !lsns.insert(line.lsn).inserted { problems.append("LSN \(line.lsn) twice") }
                seen[line.message, default: 0] += 1
                // Every stored line is intact: its content matches what its (task, seq) must be.
                let words = line.message.split(separator: " ")
                if words.count >= 2, let task = Int(words[0].dropFirst()), let seq = UInt64(words[1].dropFirst()) {
                    let want = Self.expected(task: task, seq: seq)
                    if line.timestamp != want.ts || line.message != want.message || keys[line.stream]?.job != want.job
                        || keys[line.stream]?.workflow != "wf-\(task)"
                    {
                        problems.append("line \(line.lsn) differs from what was written: \(line.message.prefix(40))")
                    }
                } else {
                    problems.append("unexpected line \(line.message.prefix(40))")
                }
                stored.insert(line.message)
            }
            if page.lines.count < 20_000 { break }
            after = page.next
        }
        #expect(problems.isEmpty, "round \(round): \(problems.count) problems, first: \(problems.prefix(3))")
        let duplicates = seen.filter { $0.value > 1 }
        #expect(duplicates.isEmpty, "round \(round): lines stored twice: \(duplicates.keys.prefix(3))")
        var missing = 0
        for (task, ranges) in acked {
            for range in ranges {
                for seq in range where !stored.contains(Self.expected(task: task, seq: seq).message) { missing += 1 }
            }
        }
        #expect(missing == 0, "round \(round): \(missing) acknowledged lines missing")
        #expect(store.lastLSN >= LSN(stored.count))
    }
}

/// What the reader thread collected: the bytes and whether the pipe reached its end.
final class LockedState: Sendable {
    let value = Mutex((Data(), false))
}

/// `logstore compact` is killed with SIGKILL at random moments while it rewrites finished days
/// (sealing, purging a deleted workflow, rewriting postings, copying, renaming); half of the
/// kills wait until a random day's swap is seen under way, so that some always land inside the
/// rewrites on a fast machine too (a whole run can be over before a fixed wait ends). After each
/// kill the store opens with every line, every search answer and the deletion intact, and no
/// stray compaction file survives the open.
@Suite("Crash safety of compaction")
struct CompactionCrashTests {
    static let words = ["alpha", "bravo", "charlie", "delta", "echo"]

    @Test func compactionKilledAtRandomMomentsLosesNothing() async throws {
        let dir = TempDirectory("logstore-compact-crash")
        defer { dir.cleanup() }
        let binary = try logstoreBinary()
        let day: Int64 = 86_400_000_000_000
        let start: Int64 = 1_727_136_000_000_000_000  // 2024-09-24: every day is finished
        var options = StorageOptions()
        options.sealLines = 200
        do {
            let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
            for d in 0..<6 {
                for s in 0..<6 {
                    let key = StreamKey(index: "i", workflow: s == 5 ? "wf-deleted" : "wf-\(s % 2)", job: "job-\(s)")
                    let lines = (0..<3000).map { n in
                        IncomingLine(
                            stream: key, timestamp: start + Int64(d) * day + Int64(n) * 1_000_000_000,
                            message: Array("day \(d) job \(s) line \(n) \(Self.words[(n + s) % 5]) \(n % 97 == 0 ? "rare" : "")".utf8),
                            fields: Array("{}".utf8))
                    }
                    _ = try await store.append(lines)
                }
            }
            try await store.deleteWorkflow("wf-deleted")
            store.close()
        }
        func snapshot() throws -> (lines: [String], rare: Int, alpha: Int) {
            let store = try Storage.open(directory: dir.path, logger: testLogger)
            defer { store.close() }
            var lines: [String] = []
            var after: LogPosition?
            let ids = store.streams(matching: StreamSelector(index: "i")).map(\.id)
            while true {
                let page = try store.read(LogQuery(streams: ids, after: after, limit: 20_000))
                lines += page.lines.map { "\($0.lsn) \($0.timestamp) \($0.message)" }
                if page.lines.count < 20_000 { break }
                after = page.next
            }
            let rare = try store.hits(try QueryParser.parse("rare"), step: day).total
            let alpha = try store.search(SearchRequest(query: try QueryParser.parse("alpha"), limit: 100_000)).lines.count
            return (lines, rare, alpha)
        }
        var expected = try snapshot()
        #expect(expected.lines.count == 6 * 5 * 3000)
        #expect(expected.rare > 0 && expected.alpha == 6 * 5 * 600)
        var rng = SystemRandomNumberGenerator()
        var interrupted = 0
        let dataDir = dir.path
        let segments = dataDir + "/segments"
        for round in 0..<6 {
            // Compaction rewrites only the days that changed: a late line on every day gives
            // each round all six rewrites to interrupt.
            do {
                let store = try Storage.open(directory: dataDir, options: options, logger: testLogger)
                for d in 0..<6 {
                    _ = try await store.append([
                        IncomingLine(
                            stream: StreamKey(index: "i", workflow: "wf-0", job: "job-0"), timestamp: start + Int64(d) * day + 86_000_000_000_000,
                            message: Array("late line \(round) of day \(d)".utf8), fields: Array("{}".utf8))
                    ])
                }
                store.close()
            }
            expected = try snapshot()
            let before = try Self.segmentFiles(segments).generation
            // Even rounds: any moment of the run (start-up, sealing, purging, merging, the
            // rewrites, or after the end). Odd rounds: inside the rewrites, however fast or slow
            // this machine is: once the days before a random one have moved on and its own swap
            // is under way, a few milliseconds more.
            let wait: KillMoment =
                round % 2 == 0
                ? .after(milliseconds: Int.random(in: 30...600, using: &rng))
                : .duringSwap(ofDay: Int.random(in: 0..<(before.count - 1), using: &rng), thenMilliseconds: Int.random(in: 0...5, using: &rng))
            let errors = dataDir + "/compact-\(round).err"
            // Timed on a thread of its own: the concurrency pool is busy with other suites, and a
            // `Task.sleep` of 1 ms there can last until the whole compaction is over.
            let failedWith = try await onOwnThread {
                try Self.compactAndKill(binary: binary, dataDir: dataDir, errors: errors, before: before, at: wait)
            }
            if let status = failedWith {
                let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                Issue.record("round \(round): compact exited with \(status) before its kill: \(text)")
            }
            // Killed inside the rewrites: a copy unfinished, or some days moved on and some not.
            let after = try Self.segmentFiles(segments)
            let done = Self.moved(from: before, to: after.generation)
            if after.copying || (done > 0 && done < before.count) { interrupted += 1 }
            let got = try snapshot()
            #expect(got.lines == expected.lines, "round \(round): the lines changed (\(got.lines.count) of \(expected.lines.count))")
            #expect(got.rare == expected.rare && got.alpha == expected.alpha, "round \(round): search answers changed")
            let files = try FileManager.default.contentsOfDirectory(atPath: segments)
            #expect(!files.contains { $0.hasSuffix(".tmp") }, "round \(round): \(files)")
            #expect(Set(files.filter { $0.hasSuffix(".mdb") }.map { $0.prefix(10) }).count == 6, "round \(round): \(files)")
        }
        #expect(interrupted >= 3, "only \(interrupted) of 6 kills landed inside the rewrites (at least the 3 timed ones should)")
        // Finally a compaction that runs to the end: the deleted workflow's words are gone.
        let result = try await runLogstore(["compact", "--data-dir", dir.path, "--log-level", "error"])
        #expect(result.status == 0, "\(result.stderr)")
        let final = try snapshot()
        #expect(final.lines == expected.lines && final.rare == expected.rare)
    }

    /// When a round's `logstore compact` gets its SIGKILL.
    enum KillMoment: Sendable {
        case after(milliseconds: Int)
        case duringSwap(ofDay: Int, thenMilliseconds: Int)
    }

    /// Each day's generation (`YYYY-MM-DD.gN.mdb`), and whether a swap is unfinished: a copy
    /// still being written, or a day's old file not yet deleted beside its new one.
    static func segmentFiles(_ segments: String) throws -> (generation: [String: String], copying: Bool) {
        let names = try FileManager.default.contentsOfDirectory(atPath: segments).filter { !$0.hasSuffix("-lock") }
        var generation: [String: String] = [:]
        var twice = false
        for name in names where name.hasSuffix(".mdb") {
            twice = twice || generation.updateValue(String(name.dropFirst(10)), forKey: String(name.prefix(10))) != nil
        }
        return (generation, twice || names.contains { $0.hasSuffix(".tmp") })
    }

    /// How many days are at another generation than in `before`.
    static func moved(from before: [String: String], to now: [String: String]) -> Int {
        before.filter { now[$0.key] != $0.value }.count
    }

    /// Starts `logstore compact`, kills it at `moment` and waits for it. Returns its exit status
    /// when it ended by itself before the kill with one other than 0.
    static func compactAndKill(
        binary: String, dataDir: String, errors: String, before: [String: String], at moment: KillMoment
    ) throws -> Int32? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["compact", "--data-dir", dataDir, "--log-level", "error"]
        process.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.runGuarded()
        switch moment {
        case .after(let ms):
            usleep(useconds_t(ms * 1000))
        case .duringSwap(let day, let ms):
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning, ContinuousClock.now < deadline {
                let now = try segmentFiles(dataDir + "/segments")
                let done = moved(from: before, to: now.generation)
                if done > day || (done == day && now.copying) { break }
                usleep(500)
            }
            usleep(useconds_t(ms * 1000))
        }
        let endedFirst = !process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let failed = endedFirst && process.terminationReason == .exit && process.terminationStatus != 0
        return failed ? process.terminationStatus : nil
    }
}

/// Runs `body` on a thread of its own and returns its result: for timing that must not wait for
/// a thread of the concurrency pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
