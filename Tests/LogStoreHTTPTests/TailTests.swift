import Foundation
import LogStore
import LogStoreHTTP
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /v1/tail` on a real server: commit order, long-poll wake-ups, the waiter registry
/// (disconnects, cap, shutdown) and many followers across a restart.
@Suite("Live tail")
struct TailTests {
    static let ndjson = [("Content-Type", "application/x-ndjson")]

    /// A bulk body: one document per (job, workflow, timestamp ms, message).
    static func bulk(_ lines: [(job: String, workflow: String, ms: Int64, message: String)]) -> [UInt8] {
        var body = ""
        body.reserveCapacity(lines.count * 220)
        for line in lines {
            body += #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
            body += #"{"@timestamp":\#(line.ms),"log":"\#(line.message)","kubernetes.labels.job-name":"\#(line.job)","kubernetes.labels.reana-run-job-workflow-uuid":"\#(line.workflow)"}"# + "\n"
        }
        return Array(body.utf8)
    }

    static let t0: Int64 = 1_727_178_598_000  // 2024-09-24T11:49:58Z, ms

    /// `tailWaiters` of `/v1/stats`.
    static func waiters(_ client: RawClient) async throws -> Int {
        let r = try await client.exchange(request("GET", "/v1/stats"))
        return try #require(r.json?["tailWaiters"] as? Int, "\(r.text)")
    }

    /// Polls `/v1/stats` until `tailWaiters == n` (false after `seconds`).
    static func waitForWaiters(_ n: Int, port: Int, seconds: Double = 30) async throws -> Bool {
        let client = try RawClient(port: port)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await waiters(client) == n { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    static func messages(_ r: RawResponse) -> [String] {
        (r.json?["lines"] as? [[String: Any]] ?? []).compactMap { $0["log"] as? String }
    }

    @Test func linesComeInCommitOrderWhateverTheirTimestamps() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        // Timestamps go backwards: log order and commit order differ.
        let lines = (0..<20).map { i in (job: "j", workflow: "w", ms: Self.t0 - Int64(i) * 1000, message: "line \(i)") }
        _ = try await client.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk(Array(lines[0..<10]))))
        _ = try await client.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk(Array(lines[10...]))))

        let all = try await client.exchange(request("GET", "/v1/tail?job=j&after=0&wait=0"))
        #expect(all.status == 200, "\(all.text)")
        #expect(Self.messages(all) == (0..<20).map { "line \($0)" })
        let next = try #require(all.json?["next"] as? Int)
        #expect(next == 20 && all.header("X-Logstore-Next") == "20" && all.json?["truncated"] as? Bool == false)

        // Pages by limit continue exactly after the last line given.
        let page1 = try await client.exchange(request("GET", "/v1/tail?workflow=w&after=0&limit=7&wait=0"))
        #expect(Self.messages(page1) == (0..<7).map { "line \($0)" } && page1.json?["truncated"] as? Bool == true)
        let page2 = try await client.exchange(request("GET", "/v1/tail?workflow=w&after=\(page1.header("X-Logstore-Next") ?? "")&limit=7&wait=0"))
        #expect(Self.messages(page2) == (7..<14).map { "line \($0)" })

        // Without `after`: from the end, optionally with the last lines.
        let last = try await client.exchange(request("GET", "/v1/tail?job=j&tail=3&format=text"))
        #expect(last.text == "line 17\nline 18\nline 19\n" && last.header("X-Logstore-Next") == "20")
        let end = try await client.exchange(request("GET", "/v1/tail?job=j&wait=0&format=ndjson"))
        #expect(end.body.isEmpty && end.header("X-Logstore-Next") == "20")

        // The query filter.
        let some = try await client.exchange(request("GET", "/v1/tail?job=j&after=0&wait=0&q=%2213%22%20OR%2017&format=ndjson"))
        let objects = some.text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.compactMap { $0["log"] as? String } == ["line 13", "line 17"])
        #expect(objects.first?["lsn"] as? Int == 14 && objects.first?["job"] as? String == "j")
        await server.stop()
    }

    @Test func aWaitingRequestIsAnsweredWhenAMatchingLineIsCommitted() async throws {
        let server = try await TestServer.start()
        let port = server.port
        let ingest = try RawClient(port: port)
        _ = try await ingest.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk([("j", "w", Self.t0, "first")])))
        let follower = Task {
            let started = Date()
            let r = try await RawClient(port: port).exchange(request("GET", "/v1/tail?job=j&after=1&wait=60&q=wanted"))
            return (r, Date().timeIntervalSince(started))
        }
        #expect(try await Self.waitForWaiters(1, port: port))
        // Another job's line and a line the query rules out do not answer it.
        _ = try await ingest.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk([("other", "w", Self.t0, "wanted elsewhere")])))
        _ = try await ingest.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk([("j", "w", Self.t0, "not this")])))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.waiters(ingest) == 1)
        _ = try await ingest.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk([("j", "w", Self.t0 - 5000, "wanted line")])))
        let (r, elapsed) = try await follower.value
        #expect(r.status == 200 && Self.messages(r) == ["wanted line"], "\(r.text)")
        #expect(r.json?["next"] as? Int == 4)
        // Woken by the commit, well before its 60 s wait (bounds are loose: the suite runs its
        // tests in parallel on a 2-core CI machine, beside the 50-follower test).
        #expect(elapsed < 45)
        #expect(try await Self.waitForWaiters(0, port: port))
        await server.stop()
    }

    @Test func waitIsBoundedAndZeroAnswersAtOnce() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        var started = Date()
        let now = try await client.exchange(request("GET", "/v1/tail?job=nobody&wait=0"))
        // "At once" and "bounded" against the default 60 s wait; the bounds are loose because the
        // suite runs its tests in parallel on a 2-core machine and they share one thread pool.
        #expect(now.status == 200 && Self.messages(now).isEmpty && Date().timeIntervalSince(started) < 45)
        started = Date()
        let one = try await client.exchange(request("GET", "/v1/tail?job=nobody&after=0&wait=1"))
        let elapsed = Date().timeIntervalSince(started)
        #expect(one.status == 200 && Self.messages(one).isEmpty && one.json?["next"] as? Int == 0)
        #expect(elapsed >= 0.95 && elapsed < 45, "wait=1 answered after \(elapsed) s")
        #expect(try await Self.waiters(client) == 0)
        await server.stop()
    }

    @Test(arguments: [
        ("/v1/tail?job=a&wait=61", "wait"), ("/v1/tail?job=a&wait=-1", "wait"), ("/v1/tail?job=a&wait=soon", "wait"),
        ("/v1/tail?job=a&after=x", "after"), ("/v1/tail?job=a&after=-3", "after"), ("/v1/tail?job=a&limit=0", "limit"),
        ("/v1/tail?job=a&limit=10001", "limit"), ("/v1/tail?job=a&tail=-1", "tail"), ("/v1/tail?job=a&tail=3&after=5", "not both"),
        ("/v1/tail?job=a&format=xml", "format"), ("/v1/tail?job=a&q=%22open", "q"), ("/v1/tail?job=a&follow=1", "follow"),
        ("/v1/tail?wait=1", "workflow, job or index"),
    ])
    func badParametersAreNamed(_ path: String, _ mentioned: String) async throws {
        let server = try await TestServer.start()
        let started = Date()
        let r = try await RawClient(port: server.port).exchange(request("GET", path))
        #expect(r.status == 400, "\(path): \(r.text)")
        #expect(r.text.contains(mentioned), "\(path): \(r.text)")
        // At once, not after a long-poll wait (60 s); loose because the whole suite shares one
        // process and two cores.
        #expect(Date().timeIntervalSince(started) < 45)
        await server.stop()
    }

    @Test func aClientThatLeavesReleasesItsWaiterAtOnce() async throws {
        let server = try await TestServer.start()
        // Closing the socket (full close) and shutting down only its sending side both count.
        for halfClose in [false, true] {
            let socket = try BlockingSocket(port: server.port)
            try socket.send(request("GET", "/v1/tail?job=j&wait=60"))
            #expect(try await Self.waitForWaiters(1, port: server.port))
            let left = Date()
            if halfClose { socket.shutdownWrite() } else { socket.close() }
            // Released long before the request's 60 s wait.
            #expect(try await Self.waitForWaiters(0, port: server.port, seconds: 30), "halfClose=\(halfClose)")
            #expect(Date().timeIntervalSince(left) < 30)
            socket.close()
        }
        await server.stop()
    }

    @Test func waitersBeyondTheCapAreAnswered503() async throws {
        var options = ServerOptions()
        options.tail.maxWaiters = 2
        let server = try await TestServer.start(options: options)
        let port = server.port
        let held = (0..<2).map { _ in
            // A long wait: on a loaded machine the steps below may take tens of seconds, and a
            // held waiter that times out first would free its place.
            Task { try await RawClient(port: port).exchange(request("GET", "/v1/tail?job=j&wait=60")) }
        }
        #expect(try await Self.waitForWaiters(2, port: port))
        let refused = try await RawClient(port: port).exchange(request("GET", "/v1/tail?job=j&wait=60"))
        #expect(refused.status == 503 && refused.text.contains("max-tail-waiters"), "\(refused.text)")
        #expect(refused.header("Retry-After") == "1")
        // Lines waiting already are answered whatever the cap.
        let ingest = try RawClient(port: port)
        _ = try await ingest.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: Self.bulk([("j", "w", Self.t0, "hello")])))
        for task in held { #expect(Self.messages(try await task.value) == ["hello"]) }
        let now = try await ingest.exchange(request("GET", "/v1/tail?job=j&after=0&wait=20"))
        #expect(now.status == 200 && Self.messages(now) == ["hello"])
        #expect(try await Self.waitForWaiters(0, port: port))
        await server.stop()
    }

    @Test func shutdownAnswersWaitersAtOnce() async throws {
        let server = try await TestServer.start()
        let port = server.port
        let waiting = Task { try await RawClient(port: port).exchange(request("GET", "/v1/tail?job=j&after=0&wait=60")) }
        #expect(try await Self.waitForWaiters(1, port: port))
        let started = Date()
        let stopping = Task { await server.stop() }
        let r = try await waiting.value
        let answered = Date().timeIntervalSince(started)
        #expect(r.status == 200 && Self.messages(r).isEmpty && r.json?["next"] as? Int == 0, "\(r.text)")
        // Answered as shutdown starts, not when its 60 s wait would end.
        #expect(answered < 45, "answered \(answered) s after the shutdown started")
        await stopping.value
    }

    /// 50 followers (40 on one job each, some with a query; 10 on whole workflows) while four
    /// ingesters post 100,000 lines of 100 jobs through `/_bulk`, with timestamps out of order and
    /// heads sealed every 200 lines; the server is stopped and started again on the same data
    /// halfway. Every follower must get exactly its lines, in order, none twice.
    @Test(.timeLimit(.minutes(7)))
    func fiftyFollowersGetExactlyTheirLinesAcrossARestart() async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 200
        storageOptions.sealAge = .seconds(1)
        let first = try await TestServer.start(storageOptions: storageOptions)
        let directory = first.directory
        let current = Current(first)
        let jobs = 100, linesPerJob = 1000, ingesters = 4, linesPerBody = 500
        @Sendable func job(_ j: Int) -> String { "job-\(j)" }
        @Sendable func workflow(_ j: Int) -> String { "wf-\(j % 10)" }
        @Sendable func message(_ j: Int, _ seq: Int) -> String { "job-\(j) seq \(seq) \(seq % 2 == 0 ? "even" : "odd")" }
        // ~20 s alone; the whole suite running beside it on 2 cores can stretch it several times.
        let deadline = Date().addingTimeInterval(300)

        // Followers: (selector, query, expected messages in order per job).
        struct Follower: Sendable {
            var path: String
            var jobs: [Int]
            var evenOnly: Bool
        }
        var followers: [Follower] = []
        for f in 0..<40 {
            let even = f % 8 == 7
            followers.append(Follower(path: "job=\(job(f))" + (even ? "&q=even" : ""), jobs: [f], evenOnly: even))
        }
        for w in 0..<10 { followers.append(Follower(path: "workflow=wf-\(w)", jobs: Array(stride(from: w, to: jobs, by: 10)), evenOnly: false)) }

        let followTasks = followers.map { follower in
            Task { () throws -> (String, [String]) in
                let expectedCount = follower.jobs.count * (follower.evenOnly ? linesPerJob / 2 : linesPerJob)
                var got: [String] = []
                var cursor = "0"
                var client: RawClient?
                var finalCheck = false
                while Date() < deadline {
                    let wait = got.count >= expectedCount ? "0" : "5"
                    do {
                        if client == nil { client = try RawClient(port: current.port) }
                        let r = try await client!.exchange(request("GET", "/v1/tail?\(follower.path)&after=\(cursor)&wait=\(wait)&limit=700&format=text"))
                        guard r.status == 200, let next = r.header("X-Logstore-Next") else { throw TestError("status \(r.status): \(r.text)") }
                        got += r.text.split(separator: "\n").map(String.init)
                        cursor = next
                        if r.header("Connection")?.lowercased() == "close" { client = nil }
                    } catch {
                        client = nil  // the server is restarting: reconnect and continue from the cursor
                        try await Task.sleep(for: .milliseconds(50))
                        continue
                    }
                    if got.count >= expectedCount {
                        if finalCheck { break }
                        finalCheck = true  // one more poll: nothing may follow
                    }
                }
                return (follower.path, got)
            }
        }

        // Ingesters: each owns 25 jobs and posts its bodies in order (a retry resends the same
        // body; the server recognises it).
        let acknowledged = Tally()
        let ingestTasks = (0..<ingesters).map { i in
            Task {
                var random = SeededRandom(seed: UInt64(i + 1))
                let owned = Array(stride(from: i, to: jobs, by: ingesters))
                var cursors = [Int](repeating: 0, count: owned.count)
                var lines: [(job: String, workflow: String, ms: Int64, message: String)] = []
                var bodies: [[UInt8]] = []
                var k = 0
                while cursors.contains(where: { $0 < linesPerJob }) {
                    let o = k % owned.count
                    k += 1
                    guard cursors[o] < linesPerJob else { continue }
                    let j = owned[o]
                    // Up to an hour either side, some on the previous day: commit order ≠ time order.
                    let ms = Self.t0 + Int64(random.next() % 7_200_000) - 3_600_000 - (random.next() % 10 == 0 ? 86_400_000 : 0)
                    lines.append((job(j), workflow(j), ms, message(j, cursors[o])))
                    cursors[o] += 1
                    if lines.count == linesPerBody {
                        bodies.append(Self.bulk(lines))
                        lines = []
                    }
                }
                if !lines.isEmpty { bodies.append(Self.bulk(lines)) }
                var client: RawClient?
                for body in bodies {
                    while Date() < deadline {
                        do {
                            if client == nil { client = try RawClient(port: current.port) }
                            let r = try await client!.exchange(request("POST", "/_bulk", headers: Self.ndjson, body: body))
                            guard r.status == 200, r.text.contains(#""errors":false"#) else { throw TestError("bulk \(r.status)") }
                            if r.header("Connection")?.lowercased() == "close" { client = nil }
                            break
                        } catch {
                            client = nil
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                    acknowledged.add(linesPerBody)
                }
            }
        }

        // Halfway: stop the server and start it again on the same data (another port).
        while acknowledged.value < jobs * linesPerJob / 2 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let old = current.server
        await old.stop(keepData: true)
        let restarted = try await TestServer.start(storageOptions: storageOptions, directory: directory)
        current.replace(restarted)

        for task in ingestTasks { try await task.value }
        var problems: [String] = []
        for (index, task) in followTasks.enumerated() {
            let (path, got) = try await task.value
            let follower = followers[index]
            // Per job: exactly its lines in order; all jobs together: nothing else.
            var byJob: [Int: [String]] = [:]
            for line in got {
                let j = Int(line.split(separator: " ")[0].dropFirst(4)) ?? -1
                byJob[j, default: []].append(line)
            }
            for j in follower.jobs {
                let expected = (0..<linesPerJob).filter { !follower.evenOnly || $0 % 2 == 0 }.map { message(j, $0) }
                let seen = byJob.removeValue(forKey: j) ?? []
                if seen != expected {
                    let at = zip(seen, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(seen.count, expected.count)
                    problems.append("\(path): job-\(j) \(seen.count)/\(expected.count) lines, first difference at \(at): \(seen.count > at ? seen[at] : "end") vs \(expected.count > at ? expected[at] : "end")")
                }
            }
            if !byJob.isEmpty { problems.append("\(path): lines of other jobs \(byJob.keys.sorted())") }
        }
        #expect(problems.isEmpty, "\(problems.count) followers wrong; first: \(problems.first ?? "")")
        let client = try RawClient(port: current.port)
        #expect(try await Self.waiters(client) == 0)
        await current.server.stop()
    }
}

/// The server a test talks to now (replaced by a restart).
final class Current: Sendable {
    private let state: Mutex<TestServer>
    init(_ server: TestServer) { state = Mutex(server) }
    var server: TestServer { state.withLock { $0 } }
    var port: Int { state.withLock { $0.port } }
    func replace(_ server: TestServer) { state.withLock { $0 = server } }
}

/// A count shared by tasks.
final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// A TCP connection to 127.0.0.1 that sends and then leaves (no reading): the client that goes away.
final class BlockingSocket: Sendable {
    let fd: Int32
    private let closed = Atomic<Bool>(false)

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
    }

    func send(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == bytes.count else { throw TestError("send failed") }
    }

    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    func close() {
        if !closed.exchange(true, ordering: .relaxed) { _ = Glibc.close(fd) }
    }

    deinit { close() }
}
