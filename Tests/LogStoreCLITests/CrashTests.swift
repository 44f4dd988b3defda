import Foundation
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

    @Test func acknowledgedLinesSurviveSIGKILL() async throws {
        let dir = TempDirectory("logstore-crash")
        defer { dir.cleanup() }
        let binary = try logstoreBinary()
        var rng = SystemRandomNumberGenerator()
        var acked: [Int: [ClosedRange<UInt64>]] = [:]
        var totalAcked = 0
        for round in 0..<10 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["debug-append-loop", "--data-dir", dir.path, "--log-level", "error", "--pause-ms", "2"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            let received = LockedState()
            try process.run()
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
