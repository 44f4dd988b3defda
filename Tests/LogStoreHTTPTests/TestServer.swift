import Foundation
import Hummingbird
import LogStore
import LogStoreHTTP
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let testLogger: Logger = {
    var logger = Logger(label: "logstore.http-test")
    logger.logLevel = .warning
    return logger
}()

/// The repository's Tests/Fixtures directory.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

/// A real logstore server on 127.0.0.1 (an ephemeral port) over a temporary data directory.
final class TestServer: Sendable {
    let directory: String
    let storage: Storage
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, Error>

    /// Starts a server on `directory` (a new temporary one when nil).
    static func start(
        options: ServerOptions = ServerOptions(), storageOptions: StorageOptions = StorageOptions(), directory: String? = nil,
        logger: Logger = testLogger
    ) async throws -> TestServer {
        let directory = directory ?? NSTemporaryDirectory() + "logstore-http-\(UUID().uuidString)"
        let storage = try Storage.open(directory: directory, options: storageOptions, logger: testLogger)
        var serverOptions = options
        serverOptions.host = "127.0.0.1"
        serverOptions.port = 0
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(storage: storage, options: serverOptions, logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
        let task = Task { try await group.run() }
        var port = 0
        for await p in stream { port = p }
        guard port > 0 else { throw TestError("server did not start") }
        return TestServer(directory: directory, storage: storage, port: port, group: group, task: task)
    }

    private init(directory: String, storage: Storage, port: Int, group: ServiceGroup, task: Task<Void, Error>) {
        self.directory = directory
        self.storage = storage
        self.port = port
        self.group = group
        self.task = task
    }

    /// Graceful shutdown (the store is closed by the application), then removes the directory
    /// unless `keepData`.
    func stop(keepData: Bool = false) async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        storage.close()
        if !keepData { try? FileManager.default.removeItem(atPath: directory) }
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// An HTTP/1.1 response as read off the socket.
struct RawResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
}

/// A TCP socket connected to 127.0.0.1:`port`.
func connectLoopback(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestError("socket failed") }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw TestError("connect to 127.0.0.1:\(port) failed")
    }
    return fd
}

/// A blocking TCP client that writes requests byte for byte (as captured from FluentBit) and
/// reads `Content-Length`-framed answers, on a kept-alive connection. Runs its I/O on a thread
/// of its own so tests do not block the shared pool.
final class RawClient: @unchecked Sendable {
    // Used by one test at a time; every call runs to completion before the next.
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends `bytes` as they are and reads one response.
    func exchange(_ bytes: [UInt8]) async throws -> RawResponse {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try self.exchangeBlocking(bytes) })
            }
        }
    }

    private func exchangeBlocking(_ bytes: [UInt8]) throws -> RawResponse {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestError("send failed") }
            sent += n
        }
        // Headers.
        var headerEnd: Int?
        while headerEnd == nil {
            if let range = find([13, 10, 13, 10]) { headerEnd = range } else { try fill() }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
        buffer.removeFirst(headerEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw TestError("bad status line \(statusLine)") }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        guard let lengthText = headers.first(where: { $0.0.lowercased() == "content-length" })?.1, let length = Int(lengthText) else {
            throw TestError("response without Content-Length (FluentBit needs it): \(head)")
        }
        while buffer.count < length { try fill() }
        let body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return RawResponse(status: status, headers: headers, body: body)
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for i in 0...(buffer.count - pattern.count) where buffer[i] == pattern[0] && Array(buffer[i..<(i + pattern.count)]) == pattern {
            return i
        }
        return nil
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw TestError("connection closed or timed out while reading") }
        buffer.append(contentsOf: chunk[..<n])
    }
}

/// Builds a request: `method path`, headers, and a body with its Content-Length.
func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) -> [UInt8] {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    text += "Content-Length: \(body.count)\r\n\r\n"
    return Array(text.utf8) + body
}

/// The captured request `name` (headers file + body file), exactly as the client sent it.
func capturedRequest(_ name: String) throws -> [UInt8] {
    var head = try fixture(name + ".headers.txt")
    // The capture keeps each header line with its CRLF; the blank line ends the head.
    if !(head.suffix(2) == [13, 10]) { head += [13, 10] }
    return head + [13, 10] + (try fixture(name + ".body.raw"))
}
