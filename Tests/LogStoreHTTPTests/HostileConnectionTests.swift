import Foundation
import LogStore
import Testing

@testable import LogStoreHTTP

#if canImport(Glibc)
import Glibc
#endif

/// The connection cases past the head's deadline: a body trickled too slowly, an error answer
/// to a body still being sent (lingering close), and the per-address connection limit. Real
/// sockets against a real server holding the known lines (`withKnownData`).
extension HostileClientTests {
    @Test func trickledBodyGets408() async throws {
        var options = Self.tightConnections
        options.connections.bodyTimeout = .seconds(1)
        try await withKnownData(options: options) { server in
            let socket = try HostileSocket(port: server.port)
            let start = ContinuousClock.now
            try socket.send("POST /_bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n")
            // One body byte every 200 ms: each within the idle timeout, all 1000 would take 200 s.
            let (answer, reset) = await Self.onThread {
                var answer = ""
                for _ in 0..<40 {
                    try? socket.send("{")
                    if let text = socket.receiveAvailable(waitingMilliseconds: 200), !text.isEmpty {
                        answer += text
                        break
                    }
                }
                let (rest, reset) = socket.receiveUntilEnd(seconds: 10, sendingMeanwhile: "{")
                return (answer + rest, reset)
            }
            #expect(answer.hasPrefix("HTTP/1.1 408"))
            #expect(answer.contains("the request body was not complete within 1 s (--body-timeout)"))
            #expect(!reset, "the connection was reset instead of closed")
            // Without the body timeout the client would trickle for 8 s and then 10 s more.
            #expect(ContinuousClock.now - start < .seconds(16))
        }
    }

    @Test func errorAnswerToAnUnreadBodyClosesGracefully() async throws {
        var options = Self.tightConnections
        options.connections.idleTimeout = .seconds(30)
        options.ingest.maxBodyBytes = 64 << 10
        try await withKnownData(options: options) { server in
            let socket = try HostileSocket(port: server.port)
            // Announces 8 MiB, over the 64 KiB limit, and keeps sending while it waits.
            try socket.send("POST /_bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(8 << 20)\r\n\r\n")
            let chunk = String(repeating: "x", count: 16 << 10)
            let start = ContinuousClock.now
            let (answer, reset) = await Self.onThread { socket.receiveUntilEnd(seconds: 40, sendingMeanwhile: chunk) }
            #expect(answer.hasPrefix("HTTP/1.1 413"))
            #expect(answer.lowercased().contains("connection: close"))
            #expect(answer.contains("over the 65536-byte limit"))
            #expect(!reset, "the connection was reset before the client read its end")
            // Closed by the server: a client left open would be sending until its 40 s end (the
            // bound leaves room for a loaded machine).
            #expect(ContinuousClock.now - start < .seconds(30))
            // A chunked body over the limit: the same.
            let chunked = try HostileSocket(port: server.port)
            try chunked.send("POST /_bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
            let piece = String(16 << 10, radix: 16) + "\r\n" + chunk + "\r\n"
            let (second, secondReset) = await Self.onThread { chunked.receiveUntilEnd(seconds: 20, sendingMeanwhile: piece) }
            #expect(second.hasPrefix("HTTP/1.1 413"))
            #expect(!secondReset)
            // A refused request does not cost the server its next client.
            let client = try RawClient(port: server.port)
            #expect(try await client.exchange(request("GET", "/health")).status == 200)
        }
    }

    @Test func connectionsPerClientAddressAreLimited() async throws {
        var options = Self.tightConnections
        options.connections.idleTimeout = .seconds(30)
        options.connections.maxConnectionsPerClient = 3
        try await withKnownData(options: options) { server in
            // `withKnownData`'s own client may still hold one of the three.
            let port = server.port
            var (held, refusedAnswer) = await Self.onThread { () -> ([HostileSocket], String) in
                var held: [HostileSocket] = []
                for _ in 0..<40 {
                    guard let socket = try? HostileSocket(port: port) else { break }
                    if let text = socket.receiveAvailable(waitingMilliseconds: 300), !text.isEmpty {
                        return (held, text + socket.receiveUntilEnd(seconds: 5, sendingMeanwhile: nil).text)
                    }
                    held.append(socket)
                }
                return (held, "")
            }
            #expect(held.count == 2 || held.count == 3)
            #expect(refusedAnswer.hasPrefix("HTTP/1.1 429"))
            #expect(refusedAnswer.contains("too many connections from 127.0.0.1: at most 3 per client address (--max-client-connections)"))
            // The held connections close: the address may connect again.
            held.removeAll()
            var status = 0
            for _ in 0..<50 where status != 200 {
                try await Task.sleep(for: .milliseconds(100))
                let client = try RawClient(port: server.port)
                status = (try? await client.exchange(request("GET", "/health")))?.status ?? 0
            }
            #expect(status == 200)
        }
    }
}

extension HostileClientTests {
    /// Runs blocking socket code on a thread of its own: the server's handlers run on the
    /// tasks' shared threads, which a test polling a socket must not hold.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}

extension HostileSocket {
    /// Reads until the peer closes (`reset` false) or resets (`reset` true) the connection, or
    /// `seconds` pass; sends `sendingMeanwhile` before each poll when given (send errors,
    /// a full window included, are ignored).
    func receiveUntilEnd(seconds: Int, sendingMeanwhile: String?) -> (text: String, reset: Bool) {
        var text = ""
        let bytes = sendingMeanwhile.map { Array($0.utf8) }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let bytes {
                _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                text += String(decoding: chunk[..<n], as: UTF8.self)
            } else if n == 0 {
                return (text, false)
            } else if errno != EINTR && errno != EAGAIN {
                return (text, true)
            }
        }
        return (text, false)
    }
}
