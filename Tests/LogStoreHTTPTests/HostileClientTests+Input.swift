import Foundation
import TestSupport
import LogStore
import LogStoreIngest
import Testing

@testable import LogStoreHTTP

#if canImport(Glibc)
import Glibc
#endif

/// The hostile-input cases: request numbers, names and ids, document times, a full disk, and
/// the places logstore was looser than OpenSearch. Each against a real server holding the known
/// lines, which are read back afterwards and after a restart (`withKnownData`).
extension HostileClientTests {
    /// A bulk body of `documents`, each after a `create` action on `index`.
    static func bulkBody(_ documents: [String], index: String = "fluentbit-job_log") -> [UInt8] {
        Array(documents.map { #"{"create":{"_index":"\#(index)"}}"# + "\n" + $0 + "\n" }.joined().utf8)
    }

    func bulk(_ client: RawClient, _ body: [UInt8], path: String = "/_bulk") async throws -> RawResponse {
        try await client.exchange(request("POST", path, headers: [("Content-Type", "application/x-ndjson")], body: body))
    }

    /// Status and `error.type`/`error.reason` of each item of a bulk answer.
    func items(_ response: RawResponse) -> [(status: Int, type: String?, reason: String?)] {
        ((response.json?["items"] as? [[String: Any]]) ?? []).map { item in
            let inner = item.values.first as? [String: Any] ?? [:]
            let error = inner["error"] as? [String: Any]
            return (inner["status"] as? Int ?? 0, error?["type"] as? String, error?["reason"] as? String)
        }
    }

    func lineCount(_ client: RawClient, job: String) async throws -> Int {
        let response = try await client.exchange(request("GET", "/v1/logs?job=\(job)&format=text"))
        return response.text.split(separator: "\n").count
    }

    static func document(job: String, _ message: String, at nanoseconds: Int64 = Storage.now()) -> String {
        #"{"@timestamp":"\#(Timestamp.formatRFC3339(nanoseconds))","log":"\#(message)","kubernetes.labels.job-name":"\#(job)"}"#
    }

    // MARK: Numbers

    @Test func requestNumbersCannotOverflow() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            let cases: [(String, String, String, String)] = [
                ("GET", "/_search?from=9223372036854775807&size=1", "", "[from]"),
                ("GET", "/_search?size=-1", "", "[size]"),
                ("POST", "/_search", #"{"search_after":[1e30]}"#, "[search_after[0]]"),
                ("POST", "/_search", #"{"search_after":[1.5]}"#, "[search_after[0]]"),
                ("POST", "/_search", #"{"size":1e30}"#, "[size]"),
                ("POST", "/_search", #"{"from":-1}"#, "[from]"),
                ("POST", "/_search", #"{"size":2.5}"#, "[size]"),
                ("POST", "/_search", #"{"track_total_hits":1e30}"#, "[track_total_hits]"),
                ("GET", "/v1/search?q=x&from=10000000000000", "", "[from]"),
                ("GET", "/v1/search?q=x&limit=99999999999999999999", "", "[limit]"),
                ("GET", "/v1/hits?step=9999999999999999d", "", "[step]"),
                ("GET", "/v1/hits?to=-99999999999999999", "", "[to]"),
                ("GET", "/v1/logs?job=x&limit=99999999999999999999", "", "[limit]"),
                ("GET", "/v1/tail?job=x&tail=-1", "", "[tail]"),
                ("POST", "/v1/admin/compact?retention=99999999999999999d", "", "[retention]"),
                ("POST", "/v1/admin/compact?max_disk=1129553594719880856570888716288", "", "[max_disk]"),
            ]
            for (method, path, body, name) in cases {
                let headers = body.isEmpty ? [] : [("Content-Type", "application/json")]
                let response = try await client.exchange(request(method, path, headers: headers, body: Array(body.utf8)))
                #expect(response.status == 400, "\(path) \(body)")
                #expect(reason(response).contains(name), "\(path) \(body): \(reason(response))")
                #expect(reason(response).contains(" to "), "the range: \(reason(response))")
            }
            // In range, each is still an answer.
            let fine = try await client.exchange(request("GET", "/_search?from=9990&size=10"))
            #expect(fine.status == 200)
            let hits = try await client.exchange(request("GET", "/v1/hits?q=known&step=3660d"))
            #expect(hits.status == 200)
        }
        #expect(ByteSize.parse("1129553594719880856570888716288") == nil)
        #expect(ByteSize.parse("9999999999TB") == nil)
        #expect(ByteSize.parse("2GB") == 2_000_000_000)
        #expect(DurationText.parse("99999999999999999d") == nil)
        #expect(DurationText.parse(" 2D ") == .seconds(172_800))
    }

    // MARK: Names and ids

    @Test func longNamesAndBadIndexNamesAreRefusedPerItem() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            let longJob = String(repeating: "J", count: 600)
            let longID = String(repeating: "i", count: 600)
            var body = Self.bulkBody([Self.document(job: longJob, "long job"), Self.document(job: "named-ok", "fine")])
            body += Array(#"{"create":{"_index":"fluentbit-job_log","_id":"\#(longID)"}}"#.utf8) + [0x0A]
            body += Array(Self.document(job: "named-ok", "long id").utf8) + [0x0A]
            for name in ["a,b", "UPPER", "star*", "_all", "..", String(repeating: "x", count: 256)] {
                body += Self.bulkBody([Self.document(job: "named-ok", "bad index")], index: name)
            }
            let response = try await bulk(client, body)
            #expect(response.status == 200)
            let results = items(response)
            #expect(results.count == 9)
            #expect(results[0].status == 400)
            #expect(results[0].reason?.contains("the job is too long, must be no longer than 400 bytes but was: 600") == true)
            #expect(results[1].status == 201)
            #expect(results[2].status == 400)
            #expect(results[2].reason?.contains("_id is too long, must be no longer than") == true)
            for result in results[3...] {
                #expect(result.status == 400)
                #expect(result.type == "invalid_index_name_exception")
                #expect(result.reason?.contains("Invalid index name") == true)
            }
            #expect(try await lineCount(client, job: "named-ok") == 1)
            // The URL's index is checked like an action's.
            let url = try await bulk(client, Array(("{\"create\":{}}\n" + Self.document(job: "named-ok", "x") + "\n").utf8), path: "/UPPER/_bulk")
            #expect(items(url).first?.type == "invalid_index_name_exception")
            // Reading with an index pattern stays valid.
            let read = try await client.exchange(request("GET", "/fluentbit-*/_count"))
            #expect(read.status == 200)
            let delete = try await client.exchange(request("DELETE", "/v1/workflows/" + String(repeating: "w", count: 600)))
            #expect(delete.status == 400)
            #expect(reason(delete).contains("no longer than 255 bytes but was: 600"))
        }
    }

    // MARK: Time window

    @Test func documentsOutsideTheTimeWindowAreRefusedPerItem() async throws {
        var options = ServerOptions()
        // Four years: the known lines (2024) are inside.
        options.ingest.window = TimeWindow(maxAge: .seconds(4 * 366 * 86_400), maxFuture: .seconds(86_400), maxDays: 8)
        try await withKnownData(options: options) { server in
            let client = try RawClient(port: server.port)
            let now = Storage.now()
            let day: Int64 = 86_400_000_000_000
            var documents = [
                Self.document(job: "window", "ancient", at: 1_262_304_000_000_000_000),  // 2010
                Self.document(job: "window", "future", at: now + 2 * day),
            ]
            documents += (0..<20).map { i in Self.document(job: "window", "day \(i)", at: now - Int64(i) * day) }
            let response = try await bulk(client, Self.bulkBody(documents))
            let results = items(response)
            #expect(results.count == 22)
            #expect(results[0].status == 400)
            #expect(results[0].reason?.contains("is older than the accepted 1464d") == true)
            #expect(results[1].status == 400)
            #expect(results[1].reason?.contains("more than 1d in the future") == true)
            #expect(results[2..<10].allSatisfy { $0.status == 201 })
            #expect(results[10...].allSatisfy { $0.status == 400 && $0.reason?.contains("more than 8 distinct UTC days") == true })
            #expect(try await lineCount(client, job: "window") == 8)
        }
    }

    // MARK: Disk full

    @Test func diskFloorAnswers429NamingTheDisk() async throws {
        let first = try await TestServer.start()
        #expect(try await bulk(try RawClient(port: first.port), Self.knownBulk).status == 200)
        await first.stop(keepData: true)
        var options = ServerOptions()
        options.ingest.minFreeDiskBytes = UInt64.max
        let full = try await TestServer.start(options: options, directory: first.directory)
        let client = try RawClient(port: full.port)
        let response = try await bulk(client, Self.bulkBody([Self.document(job: "floor", "x")]))
        #expect(response.status == 429)
        #expect((response.json?["error"] as? [String: Any])?["type"] as? String == "cluster_block_exception")
        #expect(reason(response).contains("disk full: the disk holding the data directory \(first.directory)"))
        #expect(reason(response).contains("below the 18446744073709551615-byte floor"))
        let http = try await client.exchange(
            request("POST", "/v1/ingest", headers: [("Content-Type", "application/json")], body: Array(#"{"log":"x"}"#.utf8)))
        #expect(http.status == 429)
        try await expectKnownLines(port: full.port)
        await full.stop(keepData: true)
        let again = try await TestServer.start(directory: first.directory)
        try await expectKnownLines(port: again.port)
        #expect(try await lineCount(try RawClient(port: again.port), job: "floor") == 0)
        await again.stop()
    }

    @Test func enospcAnswers429NamingTheDisk() async throws {
        #expect(DiskFull.isDiskFull(LMDBError(code: 28, operation: "mdb_txn_commit"), directory: "/"))
        #expect(!DiskFull.isDiskFull(LMDBError(code: -30798, operation: "mdb_get"), directory: "/"))
        // A real full file system: a 12 MiB tmpfs, when this process may mount one.
        let mountPoint = NSTemporaryDirectory() + "logstore-tmpfs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=12m", "tmpfs", mountPoint]) else { return }
        defer { _ = run("/bin/umount", [mountPoint]) }
        var options = ServerOptions()
        options.ingest.minFreeDiskBytes = 0
        let directory = mountPoint + "/data"
        let server = try await TestServer.start(options: options, directory: directory)
        let client = try RawClient(port: server.port)
        #expect(try await bulk(client, Self.knownBulk).status == 200)
        var generator = SystemRandomNumberGenerator()
        var refused: RawResponse?
        for round in 0..<200 {
            // Incompressible text, ~256 KB a request.
            let documents = (0..<64).map { i in
                Self.document(job: "fill", (0..<500).map { _ in String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 36) }.joined() + " \(round)-\(i)")
            }
            let response = try await bulk(client, Self.bulkBody(documents))
            if response.status != 200 {
                refused = response
                break
            }
        }
        let answer = try #require(refused)
        #expect(answer.status == 429)
        #expect(reason(answer).contains("disk full: the disk holding the data directory \(directory)"))
        try await expectKnownLines(port: server.port)
        await server.stop(keepData: true)
        let again = try await TestServer.start(options: options, directory: directory)
        try await expectKnownLines(port: again.port)
        await again.stop(keepData: true)
    }

    /// What `socket` receives until the peer closes or `seconds` pass, read on a thread of its
    /// own: a blocking read on the shared pool could starve the server's handlers.
    static func receive(_ socket: HostileSocket, seconds: Int) async -> String {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: socket.receiveUntilClosed(seconds: seconds)) }.start()
        }
    }

    /// Runs `path` with `arguments`; whether it exited 0.
    func run(_ path: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.runGuarded()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    // MARK: Looser than OpenSearch

    @Test func duplicateKeysAndMissingActionLinesGetItems() async throws {
        try await withKnownData { server in
            let client = try RawClient(port: server.port)
            let body = "{\"create\":{}}\n{\"log\":\"a\",\"log\":\"b\",\"kubernetes.labels.job-name\":\"strict\"}\n"
                + "{\"create\":{}}\n" + Self.document(job: "strict", "first") + "\n"
                + Self.document(job: "strict", "orphan") + "\n"
                + "{\"create\":{}}\n" + Self.document(job: "strict", "second") + "\n"
            let response = try await bulk(client, Array(body.utf8), path: "/fluentbit-job_log/_bulk")
            let results = items(response)
            #expect(results.count == 4)
            #expect(results[0].type == "json_parse_exception")
            #expect(results[0].reason?.contains("Duplicate field 'log'") == true)
            #expect(results[1].status == 201)
            #expect(results[2].status == 400)
            #expect(results[2].reason?.contains("line 5") == true)
            #expect(results[3].status == 201)
            let text = try await client.exchange(request("GET", "/v1/logs?job=strict&format=text")).text
            #expect(text == "first\nsecond\n")
        }
    }

    @Test func oversizedRequestsGetABody() async throws {
        var options = ServerOptions()
        options.ingest.maxBodyBytes = 4096
        try await withKnownData(options: options) { server in
            // A chunked bulk body over the limit: the server answers before reading all of it,
            // then closes gracefully (lingering), so the client reads the 413, not a reset.
            let chunked = try HostileSocket(port: server.port)
            let chunk = String(repeating: "x", count: 5000)
            try chunked.send(
                "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n0\r\n\r\n")
            let answer = await Self.receive(chunked, seconds: 15)
            #expect(answer.hasPrefix("HTTP/1.1 413"))
            #expect(answer.contains("content_too_long_exception"))
            // A _search body over 1 MiB.
            let client = try RawClient(port: server.port)
            let big = #"{"query":{"match":{"log":""# + String(repeating: "y", count: 1_100_000) + #""}}}"#
            let search = try await search(client, big)
            #expect(search.status == 413)
            #expect(reason(search).contains("request body is over 1048576 bytes"))
            // A header, and a URL, over the decoder's 80 KB.
            for head in [
                "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "h", count: 100_000))\r\n\r\n",
                "GET /health?\(String(repeating: "u", count: 100_000)) HTTP/1.1\r\nHost: x\r\n\r\n",
            ] {
                let socket = try HostileSocket(port: server.port)
                try? socket.send(head)
                let text = await Self.receive(socket, seconds: 5)
                #expect(text.hasPrefix("HTTP/1.1 400"))
                #expect(text.contains("\"reason\":"), "\(text.prefix(300))")
            }
        }
    }
}
