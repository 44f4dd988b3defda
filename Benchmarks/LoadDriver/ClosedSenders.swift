// Closed-loop senders (`--mode closed`): N senders, each with one keep-alive connection and one
// request in flight, as FluentBit's output workers send: the next chunk goes as soon as the
// previous one is acknowledged. Each sender is a thread with a blocking socket and prebuilt
// request bytes, so the driver's cost per request is a write, a read and a few comparisons
// (async-http-client cost several times more per small request than the server spent on it).
//
// The bodies file: records of a header line "SENDER DOCS LENGTH\n" followed by LENGTH bytes of
// body. Sender s sends the bodies of its records in file order (its streams, in time order) and
// stops when they run out or `--seconds` pass. Every answer must be 200 and, for a bulk answer
// (`--expect-errors-false`), start with `{"took":…,"errors":false`.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct ClosedBody {
    let docs: Int
    let request: [UInt8]
}

func loadClosedBodies(path: String, senders: Int, host: String, requestPath: String, contentType: String) throws -> [[ClosedBody]] {
    let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    var out = [[ClosedBody]](repeating: [], count: senders)
    var i = 0
    while i < data.count {
        guard let nl = data[i...].firstIndex(of: 0x0A) else { throw DriverError.input("truncated bodies file") }
        let fields = String(decoding: data[i..<nl], as: UTF8.self).split(separator: " ").compactMap { Int($0) }
        guard fields.count == 3, nl + 1 + fields[2] <= data.count else { throw DriverError.input("bad bodies record at \(i)") }
        let body = data[(nl + 1)..<(nl + 1 + fields[2])]
        var request = Array(
            ("POST \(requestPath) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: \(contentType)\r\n"
                + "User-Agent: Fluent-Bit\r\nContent-Length: \(body.count)\r\n\r\n").utf8)
        request.append(contentsOf: body)
        out[fields[0] % senders].append(ClosedBody(docs: fields[1], request: request))
        i = nl + 1 + fields[2]
    }
    return out
}

/// One sender's figures.
struct SenderTally {
    var requests = 0
    var lines = 0
    var errors: [String: Int] = [:]
    var latencies: [UInt32] = []  // µs
    var first: UInt64 = 0  // ns, monotonic
    var last: UInt64 = 0
    var reconnects = 0
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A blocking HTTP/1.1 keep-alive connection to 127.0.0.1.
final class BlockingConnection {
    let port: UInt16
    var fd: Int32 = -1
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var filled = 0

    init(port: UInt16) { self.port = port }

    deinit { if fd >= 0 { close(fd) } }

    func connectIfNeeded() -> Bool {
        if fd >= 0 { return true }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            drop()
            return false
        }
        filled = 0
        return true
    }

    func drop() {
        if fd >= 0 { close(fd) }
        fd = -1
        filled = 0
    }

    func sendAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }

    private func fill() -> Bool {
        if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, $0.count - filled, 0) }
        if n <= 0 { return false }
        filled += n
        return true
    }

    /// Reads one answer: (status, body, close requested), nil on a broken connection.
    func readAnswer() -> (status: Int, body: ArraySlice<UInt8>, close: Bool)? {
        var headEnd = -1
        var scanFrom = 0
        while headEnd < 0 {
            if filled >= 4 {
                var k = max(3, scanFrom)
                while k < filled {
                    if buffer[k] == 0x0A && buffer[k - 1] == 0x0D && buffer[k - 2] == 0x0A && buffer[k - 3] == 0x0D {
                        headEnd = k + 1
                        break
                    }
                    k += 1
                }
                scanFrom = filled
            }
            if headEnd < 0 && !fill() { return nil }
        }
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self).lowercased()
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else { return nil }
        var length = -1
        var chunked = false
        var closeAfter = false
        for line in lines.dropFirst() {
            if line.hasPrefix("content-length:") { length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? -1 }
            if line.hasPrefix("transfer-encoding:") && line.contains("chunked") { chunked = true }
            if line.hasPrefix("connection:") && line.contains("close") { closeAfter = true }
        }
        var body: [UInt8] = []
        var consumed = headEnd
        if chunked {
            while true {
                // chunk size line
                var lineEnd = -1
                while lineEnd < 0 {
                    if let e = buffer[consumed..<filled].firstIndex(of: 0x0A) { lineEnd = e } else if !fill() { return nil }
                }
                let sizeText = String(decoding: buffer[consumed..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { return nil }
                consumed = lineEnd + 1
                while filled < consumed + size + 2 { if !fill() { return nil } }
                body.append(contentsOf: buffer[consumed..<(consumed + size)])
                consumed += size + 2
                if size == 0 { break }
            }
        } else {
            guard length >= 0 else { return nil }
            while filled < headEnd + length { if !fill() { return nil } }
            body = Array(buffer[headEnd..<(headEnd + length)])
            consumed = headEnd + length
        }
        // keep what follows (nothing, with one request in flight)
        let rest = filled - consumed
        if rest > 0 { buffer.replaceSubrange(0..<rest, with: buffer[consumed..<filled]) }
        filled = rest
        return (status, body[...], closeAfter)
    }
}

let errorsFalse = Array("\"errors\":false".utf8)

func runClosed(
    url: String, senders: Int, seconds: Double, label: String, bodiesPath: String, requestPath: String, contentType: String,
    checkBulk: Bool
) -> [String: Any] {
    guard let u = URL(string: url), let port = u.port else { return ["error": "bad url"] }
    let perSender: [[ClosedBody]]
    do {
        perSender = try loadClosedBodies(
            path: bodiesPath, senders: senders, host: "127.0.0.1:\(port)", requestPath: requestPath, contentType: contentType)
    } catch {
        return ["error": "cannot read bodies: \(error)"]
    }
    let tallies = UnsafeMutablePointer<SenderTally>.allocate(capacity: senders)
    tallies.initialize(repeating: SenderTally(), count: senders)
    defer {
        tallies.deinitialize(count: senders)
        tallies.deallocate()
    }
    let cpu0 = cpuSeconds()
    let start = monotonicNanos() + 100_000_000
    let end = start + UInt64(seconds * 1e9)
    let done = DispatchGroup()
    nonisolated(unsafe) let tallyBase = tallies
    for s in 0..<senders {
        let bodies = perSender[s]
        done.enter()
        let thread = Thread {
            var tally = SenderTally()
            tally.latencies.reserveCapacity(bodies.count)
            let connection = BlockingConnection(port: UInt16(port))
            while monotonicNanos() < start { usleep(1000) }
            for body in bodies {
                let t0 = monotonicNanos()
                if t0 >= end { break }
                if tally.first == 0 { tally.first = t0 }
                var outcome: String? = nil
                var attempts = 0
                while true {
                    attempts += 1
                    guard connection.connectIfNeeded() else {
                        outcome = "connect failed"
                        break
                    }
                    if !connection.sendAll(body.request) {
                        connection.drop()
                        tally.reconnects += 1
                        if attempts < 3 { continue }
                        outcome = "send failed"
                        break
                    }
                    guard let answer = connection.readAnswer() else {
                        connection.drop()
                        tally.reconnects += 1
                        // a keep-alive connection closed by the server before it read the request
                        if attempts < 3 { continue }
                        outcome = "no answer"
                        break
                    }
                    if answer.close { connection.drop() }
                    if answer.status != 200 {
                        outcome = "status \(answer.status)"
                    } else if checkBulk {
                        let window = answer.body.prefix(64)
                        let ok = window.count >= errorsFalse.count
                            && (0...(window.count - errorsFalse.count)).contains { k in
                                window[(window.startIndex + k)..<(window.startIndex + k + errorsFalse.count)].elementsEqual(errorsFalse)
                            }
                        if !ok { outcome = "errors in answer" }
                    }
                    break
                }
                let t1 = monotonicNanos()
                tally.last = t1
                if let outcome {
                    tally.errors[outcome, default: 0] += 1
                } else {
                    tally.requests += 1
                    tally.lines += body.docs
                    tally.latencies.append(UInt32(min(UInt64(UInt32.max), (t1 - t0) / 1000)))
                }
            }
            tallyBase[s] = tally
            done.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
    let cpu = cpuSeconds() - cpu0
    var requests = 0
    var lines = 0
    var errors: [String: Int] = [:]
    var latencies: [UInt32] = []
    var first = UInt64.max
    var last: UInt64 = 0
    var reconnects = 0
    var unsentBodies = 0
    for s in 0..<senders {
        let t = tallies[s]
        requests += t.requests
        lines += t.lines
        for (k, v) in t.errors { errors[k, default: 0] += v }
        latencies.append(contentsOf: t.latencies)
        if t.first > 0 { first = min(first, t.first) }
        last = max(last, t.last)
        reconnects += t.reconnects
        unsentBodies += perSender[s].count - t.requests - t.errors.values.reduce(0, +)
    }
    latencies.sort()
    func pct(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let i = min(latencies.count - 1, Int((Double(latencies.count) * p / 100).rounded(.up)) - 1)
        return (Double(latencies[max(0, i)]) / 10).rounded() / 100
    }
    let wall = first == .max ? 0 : Double(last - first) / 1e9
    return [
        "label": label, "mode": "closed", "senders": senders, "requests": requests, "lines": lines,
        "errors": errors.values.reduce(0, +), "error_kinds": errors, "reconnects": reconnects,
        "bodies_left": unsentBodies, "wall_seconds": (wall * 1000).rounded() / 1000,
        "lines_per_second": wall > 0 ? (Double(lines) / wall).rounded() : 0,
        "requests_per_second": wall > 0 ? (Double(requests) / wall).rounded() : 0,
        "latency_ms": ["p50": pct(50), "p90": pct(90), "p99": pct(99), "max": pct(100)],
        "client_cpu_seconds": (cpu * 1000).rounded() / 1000,
        "client_cpu_us_per_request": requests > 0 ? (cpu / Double(requests) * 1e7).rounded() / 10 : 0,
    ]
}
