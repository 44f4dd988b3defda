// loaddriver — the open-loop load driver of `make bench-load` (Benchmarks/load/README.md).
//
// Sends requests on a fixed schedule whatever the answers (open loop, like vegeta): request i is
// due at start + i / rate and is started then, even if earlier ones have not been answered; its
// latency counts from the due time, so queueing (in the server, or in the client's connection
// pool when every connection is busy) is never hidden. Latencies go into HDR histograms
// (hdrhistogram-swift, microseconds, 3 significant digits).
//
// Two kinds of target, driven from the same schedule and recorded the same way:
//   http      logstore (or anything else on 127.0.0.1) through async-http-client's delegate API,
//             each answer taken, inflated and counted on its connection's event loop
//   postgres  a PostgreSQL server through postgres-nio (a pool of connections, extended protocol)
//
// Requests come from an NDJSON file written by Benchmarks/load/sidebyside.py; request i uses
// line i mod N. Each line says how to check the answer: how many log lines it must hold.
//
//   {"method":"GET","path":"/v1/logs?job=…&limit=5000","count":"lsn","expect":1000,"op":"ge"}
//   {"method":"POST","path":"/fluentbit-job_log/_search?size=5000","headers":{…},"body_b64":"…","count":"hits","expect":1000}
//   {"sql":"SELECT ts, line FROM logs WHERE job = $1 ORDER BY ts LIMIT 5000","params":["…"],"count":"rows","expect":1000}
//
// count: lsn (lines in a logstore /v1/logs or /v1/search answer), hits (hits in an OpenSearch
// _search answer), total (the integer after the first "total": — /v1/hits), rows (rows
// returned), scalar (the first column of the first row, an integer), none.
// op: eq (default) or ge.
//
// Output: one JSON object (stdout, or --json FILE) with p50/p90/p95/p99/p99.9/max/mean from the
// due time and from the actual send, achieved rate, errors by kind, count mismatches (with
// examples), bytes received and the driver's own CPU time.

import AsyncHTTPClient
import CZlibDriver
import Foundation
import Histogram
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Options

struct Options {
    var target = "http"
    var url = "http://127.0.0.1:9200"
    var pgHost = "127.0.0.1"
    var pgPort = 5432
    var pgUser = "postgres"
    var pgDatabase = "postgres"
    var requestsFile = ""
    var mode = "open"  // open | sequential | closed
    var path = "/_bulk"  // closed mode: the path bodies are posted to
    var contentType = "application/x-ndjson"  // closed mode
    var checkBulk = true  // closed mode: each answer must say "errors":false
    var rate = 10.0
    var seconds = 10.0
    var count = 10  // sequential mode
    var connections = 32
    var timeout = 30.0
    var grace = 10.0
    var label = ""
    var jsonPath: String?

    static let usage = """
        usage: loaddriver --target http|postgres --requests FILE [--mode open|sequential]
                          [--rate R --seconds S] [--count N] [--url http://127.0.0.1:PORT]
                          [--pg-host H --pg-port P --pg-user U --pg-db D] [--connections C]
                          [--timeout S] [--grace S] [--label L] [--json FILE]
               loaddriver --mode closed --requests BODIES --connections SENDERS --seconds S
                          [--url http://127.0.0.1:PORT] [--path /_bulk] [--content-type T] [--no-bulk-check]
        """

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw DriverError.usage("missing value for \(args[i - 1])") }
            return args[i]
        }
        func number(_ s: String) throws -> Double {
            guard let d = Double(s), d.isFinite else { throw DriverError.usage("not a number: \(s)") }
            return d
        }
        while i < args.count {
            switch args[i] {
            case "--target": o.target = try value()
            case "--url": o.url = try value()
            case "--pg-host": o.pgHost = try value()
            case "--pg-port": o.pgPort = Int(try number(value()))
            case "--pg-user": o.pgUser = try value()
            case "--pg-db": o.pgDatabase = try value()
            case "--requests": o.requestsFile = try value()
            case "--mode": o.mode = try value()
            case "--rate": o.rate = try number(value())
            case "--seconds": o.seconds = try number(value())
            case "--count": o.count = Int(try number(value()))
            case "--connections": o.connections = Int(try number(value()))
            case "--timeout": o.timeout = try number(value())
            case "--grace": o.grace = try number(value())
            case "--label": o.label = try value()
            case "--json": o.jsonPath = try value()
            case "--path": o.path = try value()
            case "--content-type": o.contentType = try value()
            case "--no-bulk-check": o.checkBulk = false
            case "-h", "--help": throw DriverError.usage("")
            default: throw DriverError.usage("unknown argument \(args[i])")
            }
            i += 1
        }
        guard ["http", "postgres"].contains(o.target) else { throw DriverError.usage("--target must be http or postgres") }
        guard ["open", "sequential", "closed"].contains(o.mode) else {
            throw DriverError.usage("--mode must be open, sequential or closed")
        }
        guard !o.requestsFile.isEmpty else { throw DriverError.usage("--requests FILE is required") }
        guard o.rate > 0, o.rate <= 100_000, o.seconds > 0, o.seconds <= 3600 else {
            throw DriverError.usage("--rate must be in (0, 100000], --seconds in (0, 3600]")
        }
        guard o.count >= 1, o.count <= 1_000_000, o.connections >= 1, o.connections <= 1024 else {
            throw DriverError.usage("--count must be 1..1e6, --connections 1..1024")
        }
        if o.target == "http" {
            guard let u = URL(string: o.url), u.scheme == "http",
                ["127.0.0.1", "localhost", "::1"].contains(u.host ?? "")
            else { throw DriverError.usage("--url must be http://127.0.0.1:PORT (local targets only)") }
        } else {
            guard ["127.0.0.1", "localhost", "::1"].contains(o.pgHost) else {
                throw DriverError.usage("--pg-host must be local")
            }
        }
        return o
    }
}

enum DriverError: Error {
    case usage(String)
    case input(String)
}

// MARK: - Requests

struct RequestSpec: Decodable, Sendable {
    var method: String?
    var path: String?
    var headers: [String: String]?
    var body_b64: String?
    var sql: String?
    var params: [String]?
    var count: String?
    var expect: Int?
    var op: String?
}

struct Prepared: Sendable {
    let spec: RequestSpec
    let body: [UInt8]?
}

func loadRequests(_ path: String) throws -> [Prepared] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var out: [Prepared] = []
    let decoder = JSONDecoder()
    for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
        let spec = try decoder.decode(RequestSpec.self, from: Data(line))
        var body: [UInt8]? = nil
        if let b = spec.body_b64 {
            guard let d = Data(base64Encoded: b) else { throw DriverError.input("bad body_b64") }
            body = [UInt8](d)
        }
        out.append(Prepared(spec: spec, body: body))
    }
    guard !out.isEmpty else { throw DriverError.input("no requests in \(path)") }
    return out
}

enum Outcome: Sendable {
    case ok(count: Int?, bytes: Int)
    case failure(String)
}

/// Occurrences of `needle` in `hay` (a JSON answer: an unescaped `{"lsn":` can only be a key).
/// Looks for the needle's byte at `anchor` with `memchr` (chosen rare: `{` of `{"lsn":`, `_` of
/// `"_id":`) and compares the rest; glibc's `memmem` took 14 % of the driver's CPU.
func occurrences(of needle: [UInt8], anchor: Int, in hay: UnsafeRawBufferPointer) -> Int {
    guard let base = hay.baseAddress, needle.count > 0, hay.count >= needle.count else { return 0 }
    var count = 0
    let first = Int32(needle[anchor])
    let end = base + hay.count
    var at = base + anchor
    needle.withUnsafeBytes { n in
        while at < end, let p = memchr(at, first, end - at) {
            let start = UnsafeRawPointer(p) - anchor
            if end - start >= n.count, memcmp(start, n.baseAddress!, n.count) == 0 {
                count += 1
                at = start + n.count + anchor
            } else {
                at = UnsafeRawPointer(p) + 1
            }
        }
    }
    return count
}

/// Counts `needle` in an answer that arrives in parts, without keeping the parts: a match that
/// spans two parts is found in the last `needle.count - 1` bytes of one joined to the start of
/// the next.
struct PartCounter {
    let needle: [UInt8]
    let anchor: Int
    var count = 0
    var tail: [UInt8] = []

    init(needle: [UInt8], anchor: Int) {
        self.needle = needle
        self.anchor = anchor
    }

    mutating func feed(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        let k = needle.count - 1
        if !tail.isEmpty {
            // only a match that starts in the tail fits in the tail and k bytes of this part
            let joined = tail + raw.prefix(k)
            count += joined.withUnsafeBytes { occurrences(of: needle, anchor: anchor, in: $0) }
        }
        count += occurrences(of: needle, anchor: anchor, in: raw)
        tail = raw.count >= k ? Array(raw.suffix(k)) : Array((tail + raw).suffix(k))
    }
}

/// Inflates one gzip member as its parts arrive (the system zlib, as opensearch-py's urllib3
/// uses), handing each inflated piece to `sink`; `finished` once the member's end, CRC and
/// length have been checked.
final class GzipStream {
    private let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)  // zlib keeps its address
    private var scratch = [UInt8](repeating: 0, count: 128 << 10)
    private let initialized: Bool
    private(set) var finished = false
    private(set) var failed = false

    init() {
        z.initialize(to: z_stream())
        initialized = inflateInit2_(z, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        failed = !initialized
    }

    deinit {
        if initialized { inflateEnd(z) }
        z.deallocate()
    }

    func feed(_ raw: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Void) {
        guard !failed, !finished, let input = raw.baseAddress, raw.count > 0 else {
            if finished && raw.count > 0 { failed = true }  // bytes after the member
            return
        }
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: UInt8.self))
        z.pointee.avail_in = UInt32(raw.count)
        scratch.withUnsafeMutableBytes { out in
            repeat {
                z.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                z.pointee.avail_out = UInt32(out.count)
                let rc = inflate(z, Z_NO_FLUSH)
                let produced = out.count - Int(z.pointee.avail_out)
                if produced > 0 { sink(UnsafeRawBufferPointer(rebasing: out[0..<produced])) }
                if rc == Z_STREAM_END {
                    finished = true
                    if z.pointee.avail_in > 0 { failed = true }
                    return
                }
                if rc != Z_OK && rc != Z_BUF_ERROR {
                    failed = true
                    return
                }
                if rc == Z_BUF_ERROR && produced == 0 { return }
            } while z.pointee.avail_in > 0 || z.pointee.avail_out == 0
        }
    }
}

/// The integer after the first `"total":` (the /v1/hits answer).
func firstTotal(in raw: UnsafeRawBufferPointer) -> Int? {
    let key = Array("\"total\":".utf8)
    do {
        let bytes = raw.bindMemory(to: UInt8.self)
        guard bytes.count >= key.count else { return nil }
        var i = 0
        while i + key.count <= bytes.count {
            if bytes[i] == key[0], Array(bytes[i..<(i + key.count)]) == key {
                var j = i + key.count
                var v = 0
                var digits = 0
                while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 {
                    v = v * 10 + Int(bytes[j] - 48)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? v : nil
            }
            i += 1
        }
        return nil
    }
}

// MARK: - Targets

/// The outcome of one request and when its answer was complete (for HTTP: received,
/// decompressed and counted, part by part as it arrived).
struct Answer: Sendable {
    var outcome: Outcome
    var done: NIODeadline
}

protocol Target: Sendable {
    /// Starts request `index` (of the loaded list) and calls `finish` once, on any thread.
    /// Returns at once: an open-loop schedule never waits for an answer.
    func start(_ index: Int, timeout: Double, finish: @escaping @Sendable (Answer) -> Void)
    func shutdown() async
}

/// logstore (or anything else on 127.0.0.1) through async-http-client's delegate API.
///
/// Everything about a request after it is started runs on the event loop of its connection:
/// the answer is gathered, decompressed and counted there, with no hop through Swift
/// concurrency or Dispatch. The async API (`execute` + `body.collect`) cost the driver ~0.9 ms of
/// CPU per thousand-line answer, as much as the server spent answering it, on the two cores
/// both share.
final class HTTPTarget: Target {
    let client: HTTPClient
    let requests: [HTTPClient.Request]
    let specs: [RequestSpec]
    static let lsnKey = Array("{\"lsn\":".utf8)
    static let idKey = Array("\"_id\":".utf8)

    init(url: String, requests prepared: [Prepared], connections: Int, timeout: Double) throws {
        var cfg = HTTPClient.Configuration()
        cfg.connectionPool = .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        cfg.decompression = .disabled  // gzip answers are inflated by `AnswerCollector` with the system zlib
        // connect also bounds the wait for a free pooled connection: as long as a request may take
        cfg.timeout = .init(connect: .milliseconds(Int64(timeout * 1000)), read: .milliseconds(Int64(timeout * 1000)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: cfg)
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        // built once: a request's URL is parsed here, not at send time
        requests = try prepared.map { p in
            var headers = HTTPHeaders()
            for (k, v) in p.spec.headers ?? [:] { headers.add(name: k, value: v) }
            return try HTTPClient.Request(
                url: base + (p.spec.path ?? "/"), method: .init(rawValue: p.spec.method ?? "GET"), headers: headers,
                body: p.body.map { .bytes($0) })
        }
        specs = prepared.map(\.spec)
    }

    func start(_ index: Int, timeout: Double, finish: @escaping @Sendable (Answer) -> Void) {
        let collector = AnswerCollector(count: specs[index].count ?? "none")
        let task = client.execute(
            request: requests[index], delegate: collector, deadline: .now() + .milliseconds(Int64(timeout * 1000)))
        task.futureResult.whenComplete { result in
            switch result {
            case .success(let answer): finish(answer)
            case .failure(let error): finish(Answer(outcome: .failure(Self.describe(error)), done: .now()))
            }
        }
    }

    static func describe(_ error: Error) -> String {
        let s = String(describing: error)
        return s.count > 80 ? String(s.prefix(80)) : s
    }

    func shutdown() async { try? await client.shutdown() }
}

/// Takes one answer on its connection's event loop (async-http-client calls a delegate's
/// methods one at a time, on that loop): inflates it and counts its lines part by part, as the
/// parts arrive, keeping only what a `total` count needs.
final class AnswerCollector: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = Answer
    let kind: String
    var status: UInt = 0
    var gzip: GzipStream?
    var counter: PartCounter?
    var kept: [UInt8] = []  // a `total` answer (/v1/hits, small)
    var bytes = 0

    init(count: String) {
        kind = count
        switch count {
        case "lsn": counter = PartCounter(needle: HTTPTarget.lsnKey, anchor: 0)
        case "hits": counter = PartCounter(needle: HTTPTarget.idKey, anchor: 1)
        default: break
        }
    }

    func didReceiveHead(task: HTTPClient.Task<Answer>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        status = head.status.code
        // REANA's reads ask for gzip: the answer counts as received once decompressed, as a
        // client (opensearch-py through urllib3 and the system zlib) would have it.
        if head.headers["content-encoding"].contains(where: { $0.lowercased() == "gzip" }) { gzip = GzipStream() }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Answer>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        bytes += buffer.readableBytes
        buffer.withUnsafeReadableBytes { raw in
            if let gzip { gzip.feed(raw) { take($0) } } else { take(raw) }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    private func take(_ raw: UnsafeRawBufferPointer) {
        if kind == "total" {
            kept.append(contentsOf: raw)
        } else {
            counter?.feed(raw)
        }
    }

    func didFinishRequest(task: HTTPClient.Task<Answer>) throws -> Answer {
        let done = NIODeadline.now()
        guard status == 200 else { return Answer(outcome: .failure("status \(status)"), done: done) }
        if let gzip, gzip.failed || !gzip.finished { return Answer(outcome: .failure("bad gzip answer"), done: done) }
        let n = kind == "total" ? kept.withUnsafeBytes { firstTotal(in: $0) } : counter?.count
        return Answer(outcome: .ok(count: n, bytes: bytes), done: done)
    }
}

/// A PostgreSQL server through postgres-nio (a pool of connections, extended protocol).
final class PostgresTarget: Target {
    let client: PostgresClient
    let specs: [RequestSpec]
    let logger = Logger(label: "loaddriver.pg")
    let runner: Task<Void, Never>

    init(host: String, port: Int, user: String, database: String, requests: [Prepared], connections: Int,
         timeout: Double)
    {
        var cfg = PostgresClient.Configuration(host: host, port: port, username: user, password: nil,
                                               database: database, tls: .disable)
        cfg.options.maximumConnections = connections
        cfg.options.minimumConnections = 0
        // the server cancels a statement running longer than the request timeout
        cfg.options.additionalStartupParameters = [("statement_timeout", String(Int(timeout * 1000)))]
        let client = PostgresClient(configuration: cfg, backgroundLogger: Logger(label: "loaddriver.pg.pool"))
        self.client = client
        specs = requests.map(\.spec)
        runner = Task { await client.run() }
    }

    func start(_ index: Int, timeout: Double, finish: @escaping @Sendable (Answer) -> Void) {
        let spec = specs[index]
        Task { finish(await self.execute(spec)) }
    }

    func execute(_ spec: RequestSpec) async -> Answer {
        var binds = PostgresBindings()
        for p in spec.params ?? [] { binds.append(p) }
        let query = PostgresQuery(unsafeSQL: spec.sql ?? "SELECT 1", binds: binds)
        let wantScalar = spec.count == "scalar"
        // Rows are counted as they arrive, on the connection's event loop (postgres-nio's
        // callback API), instead of one async step per row: that cost the driver ~1 ms per
        // thousand-row answer, CPU taken from the server it measures.
        let tally = NIOLockedValueBox((rows: 0, bytes: 0, scalar: Int?.none))
        let logger = logger
        do {
            try await client.withConnection { connection in
                _ = try await connection.query(query, logger: logger) { row in
                    var first: PostgresCell?
                    var bytes = 0
                    for cell in row {
                        if first == nil { first = cell }
                        bytes += cell.bytes?.readableBytes ?? 0
                    }
                    let scalar = wantScalar && first != nil ? try first!.decode(Int.self, context: .default) : nil
                    tally.withLockedValue { t in
                        if t.rows == 0 { t.scalar = scalar }
                        t.rows += 1
                        t.bytes += bytes
                    }
                }.get()
            }
            let t = tally.withLockedValue { $0 }
            let count = wantScalar ? t.scalar : (spec.count == "none" ? nil : t.rows)
            return Answer(outcome: .ok(count: count, bytes: t.bytes), done: .now())
        } catch {
            return Answer(outcome: .failure(HTTPTarget.describe(error)), done: .now())
        }
    }

    func shutdown() async {
        runner.cancel()
        _ = await runner.value
    }
}

// MARK: - Recording

struct Stats {
    var fromDue = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    var service = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    var sent = 0
    var finished = 0
    var ok = 0
    var errors: [String: Int] = [:]
    var mismatches = 0
    var mismatchExamples: [String] = []
    var bytes = 0
    var countSum = 0
    var countMin = Int.max
    var countMax = 0
    var counted = 0
    var maxSendLagMicros: UInt64 = 0
    var lastDone: NIODeadline?
    /// Set when the schedule has sent its last request: completed once every sent one is answered.
    var allAnswered: EventLoopPromise<Void>?
}

final class Recorder: Sendable {
    let box = NIOLockedValueBox(Stats())

    func sent(lag: TimeAmount) {
        box.withLockedValue {
            $0.sent += 1
            $0.maxSendLagMicros = max($0.maxSendLagMicros, micros(lag))
        }
    }

    /// The schedule is over: `promise` succeeds once every sent request has been answered.
    func sendingFinished(_ promise: EventLoopPromise<Void>) {
        let now = box.withLockedValue { s -> Bool in
            if s.finished == s.sent { return true }
            s.allAnswered = promise
            return false
        }
        if now { promise.succeed() }
    }

    func record(due: NIODeadline, sent: NIODeadline, answer: Answer, spec: RequestSpec) {
        let done = answer.done
        let last = box.withLockedValue { s -> EventLoopPromise<Void>? in
            s.finished += 1
            s.lastDone = max(s.lastDone ?? done, done)
            switch answer.outcome {
            case .failure(let why):
                s.errors[why, default: 0] += 1
            case .ok(let count, let bytes):
                s.ok += 1
                s.bytes += bytes
                _ = s.fromDue.record(max(1, micros(done - due)))
                _ = s.service.record(max(1, micros(done - sent)))
                if let c = count {
                    s.counted += 1
                    s.countSum += c
                    s.countMin = min(s.countMin, c)
                    s.countMax = max(s.countMax, c)
                    if let e = spec.expect {
                        let good = (spec.op ?? "eq") == "ge" ? c >= e : c == e
                        if !good {
                            s.mismatches += 1
                            if s.mismatchExamples.count < 5 {
                                s.mismatchExamples.append("got \(c), expected \(spec.op ?? "eq") \(e): \(spec.path ?? spec.params?.first ?? "")")
                            }
                        }
                    }
                } else if spec.expect != nil {
                    s.mismatches += 1
                    if s.mismatchExamples.count < 5 { s.mismatchExamples.append("no count in the answer") }
                }
            }
            guard s.finished == s.sent, let p = s.allAnswered else { return nil }
            s.allAnswered = nil
            return p
        }
        last?.succeed()
    }
}

func micros(_ t: TimeAmount) -> UInt64 { t.nanoseconds < 0 ? 0 : UInt64(t.nanoseconds / 1000) }

func cpuSeconds() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6 + Double(ru.ru_stime.tv_sec)
        + Double(ru.ru_stime.tv_usec) / 1e6
}

func ms(_ micros: UInt64) -> Double { (Double(micros) / 10).rounded() / 100 }

func summary(_ h: Histogram<UInt64>) -> [String: Any] {
    guard h.totalCount > 0 else { return [:] }
    return [
        "p50": ms(h.valueAtPercentile(50)), "p90": ms(h.valueAtPercentile(90)),
        "p95": ms(h.valueAtPercentile(95)), "p99": ms(h.valueAtPercentile(99)),
        "p999": ms(h.valueAtPercentile(99.9)), "max": ms(h.max), "min": ms(h.min),
        "mean": (h.mean / 10).rounded() / 100,
    ]
}

// MARK: - Schedule

/// Sends request i at `start + i / rate` from a thread of its own (an event loop that does
/// nothing else, so answers being gathered never delay a send), until `planned` are sent or
/// `stopSending` passes; `unsent` then counts those left, and `over` succeeds once every sent
/// request is answered.
final class OpenSchedule: @unchecked Sendable {
    let loop: EventLoop
    let target: any Target
    let rec: Recorder
    let specs: [RequestSpec]
    let start: NIODeadline
    let rate: Double
    let planned: Int
    let stopSending: NIODeadline
    let timeout: Double
    // touched only on `loop`
    var next = 0
    var unsent = 0
    let over: EventLoopPromise<Void>

    init(loop: EventLoop, target: any Target, rec: Recorder, specs: [RequestSpec], start: NIODeadline, rate: Double,
         planned: Int, stopSending: NIODeadline, timeout: Double)
    {
        self.loop = loop
        self.target = target
        self.rec = rec
        self.specs = specs
        self.start = start
        self.rate = rate
        self.planned = planned
        self.stopSending = stopSending
        self.timeout = timeout
        over = loop.makePromise()
    }

    func due(_ i: Int) -> NIODeadline { start + .nanoseconds(Int64((Double(i) / rate * 1e9).rounded())) }

    /// Sends every request that is due, then sleeps until the next one is.
    func tick() {
        while next < planned {
            let due = due(next)
            let now = NIODeadline.now()
            if due > now {
                loop.scheduleTask(deadline: due) { self.tick() }
                return
            }
            if now >= stopSending {
                unsent = planned - next
                break
            }
            rec.sent(lag: now - due)
            let index = next % specs.count
            let spec = specs[index]
            let rec = rec
            target.start(index, timeout: timeout) { answer in
                rec.record(due: due, sent: now, answer: answer, spec: spec)
            }
            next += 1
        }
        rec.sendingFinished(over)
    }
}

// MARK: - Main

@main
struct LoadDriver {
    static func main() async {
        let opts: Options
        do {
            opts = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch DriverError.usage(let why) {
            if !why.isEmpty { FileHandle.standardError.write(Data("error: \(why)\n".utf8)) }
            FileHandle.standardError.write(Data((Options.usage + "\n").utf8))
            exit(why.isEmpty ? 0 : 2)
        } catch {
            exit(2)
        }
        if opts.mode == "closed" {
            let out = runClosed(
                url: opts.url, senders: opts.connections, seconds: opts.seconds, label: opts.label, bodiesPath: opts.requestsFile, requestPath: opts.path, contentType: opts.contentType,
                checkBulk: opts.checkBulk)
            do {
                let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
                if let p = opts.jsonPath { try data.write(to: URL(fileURLWithPath: p)) } else {
                    FileHandle.standardOutput.write(data + Data("\n".utf8))
                }
            } catch {
                exit(1)
            }
            exit(out["error"] == nil ? 0 : 2)
        }
        let requests: [Prepared]
        let target: any Target
        do {
            requests = try loadRequests(opts.requestsFile)
            target =
                opts.target == "http"
                ? try HTTPTarget(url: opts.url, requests: requests, connections: opts.connections, timeout: opts.timeout)
                : PostgresTarget(host: opts.pgHost, port: opts.pgPort, user: opts.pgUser, database: opts.pgDatabase,
                                 requests: requests, connections: opts.connections, timeout: opts.timeout)
        } catch {
            FileHandle.standardError.write(Data("error: cannot read requests: \(error)\n".utf8))
            exit(2)
        }
        let specs = requests.map(\.spec)
        let rec = Recorder()
        let cpu0 = cpuSeconds()
        let wall0 = NIODeadline.now()
        var unsent = 0
        var planned = 0
        var start = NIODeadline.now()

        if opts.mode == "sequential" {
            // one request at a time (search latency on an otherwise idle server)
            planned = opts.count
            let hardEnd = NIODeadline.now() + .nanoseconds(Int64((opts.seconds + opts.grace) * 1e9))
            for i in 0..<opts.count {
                if NIODeadline.now() >= hardEnd {
                    unsent = opts.count - i
                    break
                }
                let index = i % requests.count
                let t0 = NIODeadline.now()
                rec.sent(lag: .zero)
                let answer = await withCheckedContinuation { c in
                    target.start(index, timeout: opts.timeout) { c.resume(returning: $0) }
                }
                rec.record(due: t0, sent: t0, answer: answer, spec: specs[index])
            }
        } else {
            planned = Int((opts.rate * opts.seconds).rounded())
            start = NIODeadline.now() + .milliseconds(200)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let schedule = OpenSchedule(
                loop: group.next(), target: target, rec: rec, specs: specs, start: start, rate: opts.rate,
                planned: planned, stopSending: start + .nanoseconds(Int64((opts.seconds + opts.grace) * 1e9)),
                timeout: opts.timeout)
            schedule.loop.execute { schedule.tick() }
            try? await schedule.over.futureResult.get()
            unsent = try! await schedule.loop.submit { schedule.unsent }.get()
            try? await group.shutdownGracefully()
        }
        let wall = NIODeadline.now() - wall0
        let cpu = cpuSeconds() - cpu0
        await target.shutdown()

        let s = rec.box.withLockedValue { $0 }
        var span = opts.mode == "open" ? opts.seconds : Double(micros(wall)) / 1e6
        if opts.mode == "open", let last = s.lastDone {
            span = max(span, Double(micros(last - start)) / 1e6)
        }
        var out: [String: Any] = [
            "label": opts.label, "target": opts.target, "mode": opts.mode,
            "planned": planned, "sent": s.sent, "ok": s.ok, "unsent": unsent,
            "errors": s.errors.values.reduce(0, +), "error_kinds": s.errors,
            "count_mismatches": s.mismatches, "mismatch_examples": s.mismatchExamples,
            "latency_ms": summary(s.fromDue), "service_ms": summary(s.service),
            "bytes_received": s.bytes, "wall_seconds": Double(micros(wall)) / 1e6,
            "client_cpu_seconds": (cpu * 1000).rounded() / 1000,
            "max_send_lag_ms": ms(s.maxSendLagMicros), "connections": opts.connections,
        ]
        if opts.mode == "open" {
            out["rate"] = opts.rate
            out["seconds"] = opts.seconds
            out["achieved_rps"] = (Double(s.ok) / span * 10).rounded() / 10
        } else {
            out["count"] = opts.count
        }
        if s.counted > 0 {
            out["lines_per_answer"] = [
                "min": s.countMin, "max": s.countMax,
                "mean": (Double(s.countSum) / Double(s.counted) * 10).rounded() / 10,
            ]
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            if let p = opts.jsonPath {
                try data.write(to: URL(fileURLWithPath: p))
            } else {
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
        exit(0)
    }
}
