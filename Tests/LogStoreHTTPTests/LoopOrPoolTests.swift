import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@testable import LogStoreHTTP

/// Where requests are answered: a connection is handled on its event loop, small ingest
/// requests are answered there, everything else (reads, large or compressed bodies, other
/// methods and paths) on the cooperative pool, so CPU-heavy work never runs on a loop.
@Suite("Requests on the event loop or the pool")
struct LoopOrPoolTests {
    /// A real server with the production channel (`guardedHTTP1`) and `LoopOrPool`, whose
    /// routes answer "loop" or "pool" by the thread they run on.
    static func withServer(_ body: (Int) async throws -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(LoopOrPool())
        let whereAmI: @Sendable (Request, BasicRequestContext) async throws -> String = { request, _ in
            _ = try await request.body.collect(upTo: 1 << 20)
            return MultiThreadedEventLoopGroup.currentEventLoop != nil ? "loop" : "pool"
        }
        for path in ["_bulk", ":index/_bulk", "/", "ingest", "v1/ingest", "v1/logs", ":index/_search"] {
            router.post(RouterPath(path), use: whereAmI)
            router.put(RouterPath(path), use: whereAmI)
            router.get(RouterPath(path), use: whereAmI)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, server: .guardedHTTP1(configuration: .init(), connections: ConnectionOptions(), tls: nil),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: testLogger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
        let task = Task { try await group.run() }
        var port = 0
        for await p in stream { port = p }
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    @Test func smallIngestOnTheLoopTheRestOnThePool() async throws {
        try await Self.withServer { port in
            let small = [UInt8](repeating: 0x61, count: 900)
            let large = [UInt8](repeating: 0x61, count: LoopOrPool<BasicRequestContext>.loopBodyBytes + 1)
            let json = [("Content-Type", "application/x-ndjson")]
            let cases: [(String, String, [(String, String)], [UInt8], String)] = [
                ("POST", "/_bulk", json, small, "loop"),
                ("PUT", "/_bulk", json, small, "loop"),
                ("POST", "/fluentbit-job_log/_bulk", json, small, "loop"),
                ("POST", "/", json, small, "loop"),
                ("POST", "/v1/ingest", json, small, "loop"),
                ("POST", "/_bulk", json, large, "pool"),
                ("POST", "/_bulk", json + [("Content-Encoding", "gzip")], small, "pool"),
                ("PUT", "/", json, small, "pool"),
                ("GET", "/_bulk", [], [], "pool"),
                ("GET", "/v1/logs", [], [], "pool"),
                ("POST", "/fluentbit-job_log/_search", [("Content-Type", "application/json")], small, "pool"),
            ]
            // One keep-alive connection for all of them, then each on a connection of its own.
            let shared = try RawClient(port: port)
            for (method, path, headers, body, expected) in cases {
                for client in [shared, try RawClient(port: port)] {
                    let r = try await client.exchange(request(method, path, headers: headers, body: body))
                    #expect(r.status == 200, "\(method) \(path): \(r.status)")
                    #expect(r.text == expected, "\(method) \(path) \(headers) \(body.count) bytes: \(r.text)")
                }
            }
        }
    }

    /// A body without Content-Length (chunked) is never parsed on the loop.
    @Test func chunkedBodiesOnThePool() async throws {
        try await Self.withServer { port in
            let raw = Array("POST /_bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8)
            let r = try await RawClient(port: port).exchange(raw)
            #expect(r.status == 200)
            #expect(r.text == "pool")
        }
    }
}
