// loaddriver — the open-loop load driver of `make bench-load` (Benchmarks/load/README.md).
//
// Sends requests on a fixed schedule whatever the answers (open loop, like vegeta): request i is
// due at start + i / rate and is started then, even if earlier ones have not been answered; its
// latency counts from the due time, so queueing (in the server, or in the client's connection
// pool when every connection is busy) is never hidden. Latencies go into HDR histograms
// (hdrhistogram-swift, microseconds, 3 significant digits).
//
// Two kinds of target, driven from the same schedule and recorded the same way:
//   http      logstore (or anything else on 127.0.0.1) through async-http-client
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
    var mode = "open"  // open | sequential
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
            case "-h", "--help": throw DriverError.usage("")
            default: throw DriverError.usage("unknown argument \(args[i])")
            }
            i += 1
        }
        guard ["http", "postgres"].contains(o.target) else { throw DriverError.usage("--target must be http or postgres") }
        guard ["open", "sequential"].contains(o.mode) else { throw DriverError.usage("--mode must be open or sequential") }
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
func occurrences(of needle: [UInt8], in hay: UnsafeRawBufferPointer) -> Int {
    guard let base = hay.baseAddress, needle.count > 0, hay.count >= needle.count else { return 0 }
    var count = 0
    var at = 0
    needle.withUnsafeBytes { n in
        while at <= hay.count - needle.count,
            let p = memmem(base + at, hay.count - at, n.baseAddress!, n.count)
        {
            count += 1
            at = base.distance(to: UnsafeRawPointer(p)) + needle.count
        }
    }
    return count
}

/// The decompressed bytes of a gzip member (the answer's `Content-Encoding: gzip`), inflated
/// with the system zlib in one call into a buffer of the size the trailer states; nil when the
/// bytes are not one valid gzip member.
func gunzip(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
    guard data.count >= 18, let input = data.baseAddress else { return nil }
    let isize = Int(data[data.count - 4]) | Int(data[data.count - 3]) << 8 | Int(data[data.count - 2]) << 16
        | Int(data[data.count - 1]) << 24
    var out = [UInt8](repeating: 0, count: max(isize, 1))
    var z = z_stream()
    guard inflateInit2_(&z, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
    defer { inflateEnd(&z) }
    let rc = out.withUnsafeMutableBytes { o -> Int32 in
        z.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: UInt8.self))
        z.avail_in = UInt32(data.count)
        z.next_out = o.baseAddress!.assumingMemoryBound(to: UInt8.self)
        z.avail_out = UInt32(o.count)
        return inflate(&z, Z_FINISH)
    }
    guard rc == Z_STREAM_END, Int(z.total_out) == isize else { return nil }
    return out
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

protocol Target: Sendable {
    /// Runs one request; `done` is when the answer was received (and, for HTTP, decompressed):
    /// checking its count comes after and is not part of its latency.
    func execute(_ r: Prepared, timeout: Double) async -> (outcome: Outcome, done: ContinuousClock.Instant)
    func shutdown() async
}

final class HTTPTarget: Target {
    let client: HTTPClient
    let base: String
    static let lsnKey = Array("{\"lsn\":".utf8)
    static let idKey = Array("\"_id\":".utf8)

    init(url: String, connections: Int, timeout: Double) {
        var cfg = HTTPClient.Configuration()
        cfg.connectionPool = .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        cfg.decompression = .disabled  // gzip answers are inflated in `execute` with the system zlib
        // connect also bounds the wait for a free pooled connection: as long as a request may take
        cfg.timeout = .init(connect: .milliseconds(Int64(timeout * 1000)), read: .milliseconds(Int64(timeout * 1000)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: cfg)
        base = url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    func execute(_ r: Prepared, timeout: Double) async -> (outcome: Outcome, done: ContinuousClock.Instant) {
        var req = HTTPClientRequest(url: base + (r.spec.path ?? "/"))
        req.method = .init(rawValue: r.spec.method ?? "GET")
        for (k, v) in r.spec.headers ?? [:] { req.headers.add(name: k, value: v) }
        if let b = r.body { req.body = .bytes(ByteBuffer(bytes: b)) }
        do {
            let resp = try await client.execute(req, timeout: .milliseconds(Int64(timeout * 1000)))
            let buf = try await resp.body.collect(upTo: 512 << 20)
            // REANA's reads ask for gzip: the answer counts as received once decompressed, as a
            // client (opensearch-py through urllib3 and the system zlib) would have it.
            let gzipped = resp.headers["content-encoding"].contains { $0.lowercased() == "gzip" }
            let inflated = gzipped ? buf.withUnsafeReadableBytes { gunzip($0) } : nil
            let done = ContinuousClock.now
            guard resp.status == .ok else { return (.failure("status \(resp.status.code)"), done) }
            if gzipped && inflated == nil { return (.failure("bad gzip answer"), done) }
            let count: (UnsafeRawBufferPointer) -> Int? = { raw in
                switch r.spec.count ?? "none" {
                case "lsn": occurrences(of: Self.lsnKey, in: raw)
                case "hits": occurrences(of: Self.idKey, in: raw)
                case "total": firstTotal(in: raw)
                default: nil
                }
            }
            let n = inflated.map { $0.withUnsafeBytes(count) } ?? buf.withUnsafeReadableBytes(count)
            return (.ok(count: n, bytes: buf.readableBytes), done)
        } catch {
            return (.failure(Self.describe(error)), ContinuousClock.now)
        }
    }

    static func describe(_ error: Error) -> String {
        let s = String(describing: error)
        return s.count > 80 ? String(s.prefix(80)) : s
    }

    func shutdown() async { try? await client.shutdown() }
}

final class PostgresTarget: Target {
    let client: PostgresClient
    let logger = Logger(label: "loaddriver.pg")
    let runner: Task<Void, Never>

    init(host: String, port: Int, user: String, database: String, connections: Int, timeout: Double) {
        var cfg = PostgresClient.Configuration(host: host, port: port, username: user, password: nil,
                                               database: database, tls: .disable)
        cfg.options.maximumConnections = connections
        cfg.options.minimumConnections = 0
        // the server cancels a statement running longer than the request timeout
        cfg.options.additionalStartupParameters = [("statement_timeout", String(Int(timeout * 1000)))]
        let client = PostgresClient(configuration: cfg, backgroundLogger: Logger(label: "loaddriver.pg.pool"))
        self.client = client
        runner = Task { await client.run() }
    }

    func execute(_ r: Prepared, timeout: Double) async -> (outcome: Outcome, done: ContinuousClock.Instant) {
        var binds = PostgresBindings()
        for p in r.spec.params ?? [] { binds.append(p) }
        let query = PostgresQuery(unsafeSQL: r.spec.sql ?? "SELECT 1", binds: binds)
        do {
            let rows = try await client.query(query, logger: logger)
            var n = 0
            var scalar: Int? = nil
            var bytes = 0
            for try await row in rows {
                for (k, cell) in row.enumerated() {
                    if n == 0, k == 0, r.spec.count == "scalar" { scalar = try cell.decode(Int.self, context: .default) }
                    bytes += cell.bytes?.readableBytes ?? 0
                }
                n += 1
            }
            return (.ok(count: r.spec.count == "scalar" ? scalar : (r.spec.count == "none" ? nil : n), bytes: bytes), .now)
        } catch {
            return (.failure(HTTPTarget.describe(error)), .now)
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
    var lastDone: ContinuousClock.Instant?
}

final class Recorder: Sendable {
    let box = NIOLockedValueBox(Stats())

    func sent(lag: Duration) {
        box.withLockedValue {
            $0.sent += 1
            $0.maxSendLagMicros = max($0.maxSendLagMicros, micros(lag))
        }
    }

    func record(due: ContinuousClock.Instant, sent: ContinuousClock.Instant, done: ContinuousClock.Instant,
                outcome: Outcome, spec: RequestSpec)
    {
        box.withLockedValue { s in
            s.lastDone = max(s.lastDone ?? done, done)
            switch outcome {
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
        }
    }
}

func micros(_ d: Duration) -> UInt64 {
    let (s, atto) = d.components
    if s < 0 { return 0 }
    return UInt64(s) * 1_000_000 + UInt64(atto / 1_000_000_000_000)
}

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
        let requests: [Prepared]
        do {
            requests = try loadRequests(opts.requestsFile)
        } catch {
            FileHandle.standardError.write(Data("error: cannot read requests: \(error)\n".utf8))
            exit(2)
        }
        let target: any Target =
            opts.target == "http"
            ? HTTPTarget(url: opts.url, connections: opts.connections, timeout: opts.timeout)
            : PostgresTarget(host: opts.pgHost, port: opts.pgPort, user: opts.pgUser, database: opts.pgDatabase,
                             connections: opts.connections, timeout: opts.timeout)
        let rec = Recorder()
        let clock = ContinuousClock()
        let cpu0 = cpuSeconds()
        let wall0 = clock.now
        var unsent = 0
        var planned = 0
        var start = clock.now

        if opts.mode == "sequential" {
            // one request at a time (search latency on an otherwise idle server)
            planned = opts.count
            let hardEnd = clock.now + .seconds(opts.seconds + opts.grace)
            for i in 0..<opts.count {
                if clock.now >= hardEnd {
                    unsent = opts.count - i
                    break
                }
                let r = requests[i % requests.count]
                let t0 = clock.now
                rec.sent(lag: .zero)
                let (out, done) = await target.execute(r, timeout: opts.timeout)
                rec.record(due: t0, sent: t0, done: done, outcome: out, spec: r.spec)
            }
        } else {
            planned = Int((opts.rate * opts.seconds).rounded())
            start = clock.now + .milliseconds(200)
            let stopSending = start + .seconds(opts.seconds + opts.grace)
            let rate = opts.rate
            let timeout = opts.timeout
            await withDiscardingTaskGroup { group in
                for i in 0..<planned {
                    let due = start + .nanoseconds(Int64((Double(i) / rate * 1e9).rounded()))
                    if due > clock.now { try? await Task.sleep(until: due, clock: clock) }
                    let now = clock.now
                    if now >= stopSending {
                        unsent = planned - i
                        break
                    }
                    rec.sent(lag: now - due)
                    let r = requests[i % requests.count]
                    group.addTask {
                        let t0 = clock.now
                        let (out, done) = await target.execute(r, timeout: timeout)
                        rec.record(due: due, sent: t0, done: done, outcome: out, spec: r.spec)
                    }
                }
            }
        }
        let wall = clock.now - wall0
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
