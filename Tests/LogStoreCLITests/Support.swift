import Foundation
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Synchronization

/// The built `logstore` binary next to the test bundle (SwiftPM builds every product before
/// running tests).
func logstoreBinary() throws -> String {
    var candidates: [String] = []
    let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = argv0.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("logstore").path)
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/logstore").path)
    for path in candidates where FileManager.default.isExecutableFile(atPath: path) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue { return path }
    }
    throw CLITestError("logstore binary not found (looked in \(candidates)); run `swift build` first")
}

struct CLITestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct TempDirectory {
    let path: String
    init(_ name: String = "logstore-cli") {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

let testLogger: Logger = {
    var logger = Logger(label: "logstore.cli-test")
    logger.logLevel = .warning
    return logger
}()

/// Result of running the binary to completion.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `logstore args…` to completion (bounded by `timeout` seconds).
func runLogstore(_ args: [String], stdin: Data? = nil, timeout: TimeInterval = 120) async throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try logstoreBinary())
    process.arguments = args
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.runGuarded()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try? input.fileHandleForWriting.close()
    let outData = LockedData()
    let errData = LockedData()
    let group = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        group.enter()
        Thread.detachNewThread {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            sink.value.withLock { $0 = data }
            group.leave()
        }
    }
    let deadline = Date().addingTimeInterval(timeout)
    // Poll without blocking a thread of the shared pool (other tests run on it).
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
    if process.isRunning {
        process.terminate()
        throw CLITestError("logstore \(args) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    while group.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(5)) }
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: outData.value.withLock { $0 }, as: UTF8.self),
        stderr: String(decoding: errData.value.withLock { $0 }, as: UTF8.self))
}

final class LockedData: Sendable {
    let value = Mutex(Data())
}

/// Starts `logstore serve` on `port` (a random one when nil) and waits until it answers.
func startServer(data: String, port: Int? = nil) async throws -> (Process, Int) {
    for _ in 0..<5 {
        let port = port ?? Int.random(in: 20_000...40_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try logstoreBinary())
        process.arguments = ["serve", "--data-dir", data, "--listen", "127.0.0.1:\(port)", "--log-level", "error"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.runGuarded()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline {
            if (try? await status("http://127.0.0.1:\(port)/health")) == 200 { return (process, port) }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
    }
    throw CLITestError("server did not come up")
}

func status(_ url: String) async throws -> Int {
    let (_, response) = try await URLSession.shared.data(from: URL(string: url)!)
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}

func stop(_ process: Process, signal: Int32 = SIGTERM) async throws {
    kill(process.processIdentifier, signal)
    let deadline = Date().addingTimeInterval(20)
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning {
        process.terminate()
        throw CLITestError("process did not stop on signal \(signal)")
    }
}

/// POSTs an NDJSON bulk body to `/_bulk`; returns once every document is acknowledged.
func postBulk(port: Int, body: String) async throws {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/_bulk")!)
    request.httpMethod = "POST"
    request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
    request.httpBody = Data(body.utf8)
    let (data, response) = try await URLSession.shared.data(for: request)
    guard (response as? HTTPURLResponse)?.statusCode == 200, String(decoding: data, as: UTF8.self).contains(#""errors":false"#) else {
        throw CLITestError("bulk failed: \(String(decoding: data.prefix(300), as: UTF8.self))")
    }
}
