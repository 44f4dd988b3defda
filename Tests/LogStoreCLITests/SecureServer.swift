import Foundation
import TestSupport

/// SecureServer is a real `logstore serve` guarded the way a deployment is: TLS with a
/// certificate for 127.0.0.1 signed by a test CA (both made here with `openssl`), a users file
/// made with `logstore user add` (`admin` with role admin, `reader` with role read and an API
/// key) and the path prefix `/opensearch`. Its data directory is filled with `logstore import`
/// before it starts: 20 lines of job `reana-run-job-1`, "line 0" to "line 19".
struct SecureServer {
    static let adminPassword = "admin-secret-1"
    static let readerPassword = "reader-secret-1"

    let directory: TempDirectory
    let process: Process
    let port: Int
    /// The reader's API key, `reader.SECRET`.
    let readerKey: String

    var url: String { "https://127.0.0.1:\(port)" }
    var data: String { directory.path + "/data" }
    var caCertificate: String { directory.path + "/ca.crt" }

    /// SecureServer.start makes the certificates, the users and the data, starts the server
    /// and returns once it answers over TLS.
    static func start() async throws -> SecureServer {
        let directory = TempDirectory("logstore-secure")
        do {
            try makeCertificates(in: directory.path)
            let users = directory.path + "/users.json"
            for (name, role, password) in [("admin", "admin", adminPassword), ("reader", "read", readerPassword)] {
                try await check(run(["user", "add", name, "--role", role, "--password", password, "--users", users]))
            }
            let key = try await check(run(["user", "key", "reader", "--users", users])).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try await importLines(into: directory.path)
            let (process, port) = try await serve(directory: directory.path)
            return SecureServer(directory: directory, process: process, port: port, readerKey: key)
        } catch {
            directory.cleanup()
            throw error
        }
    }

    /// SecureServer.stop ends the server (SIGTERM) and removes its files.
    func stop() async throws {
        defer { directory.cleanup() }
        try await LogStoreCLITests.stop(process)
    }

    /// A CA and a server certificate for IP 127.0.0.1 and localhost signed by it.
    static func makeCertificates(in path: String) throws {
        let ext = path + "/server.ext"
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".write(toFile: ext, atomically: true, encoding: .utf8)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path + "/ca.key", "-out", path + "/ca.crt", "-days", "2", "-subj", "/CN=logstore test CA"])
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", path + "/server.key", "-out", path + "/server.csr", "-subj", "/CN=logstore-test"])
        try openssl([
            "x509", "-req", "-in", path + "/server.csr", "-CA", path + "/ca.crt", "-CAkey", path + "/ca.key", "-CAcreateserial",
            "-days", "2", "-out", path + "/server.crt", "-extfile", ext,
        ])
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.runGuarded()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw CLITestError("openssl \(arguments.first ?? "") failed (\(process.terminationStatus))") }
    }

    static func importLines(into path: String) async throws {
        var body = ""
        for i in 0..<20 {
            body += #"{"create":{"_index":"fluentbit-job_log"}}"# + "\n"
            body += #"{"@timestamp":"2024-09-24T11:49:58.\#(String(format: "%03d", i))Z","log":"line \#(i)","kubernetes.labels.job-name":"reana-run-job-1"}"# + "\n"
        }
        try body.write(toFile: path + "/lines.ndjson", atomically: true, encoding: .utf8)
        try await check(run(["import", "--data-dir", path + "/data", "--log-level", "error", path + "/lines.ndjson"]))
    }

    /// Starts the server on a random port; ready when `stats` with the admin's login answers.
    static func serve(directory path: String) async throws -> (Process, Int) {
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...40_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try logstoreBinary())
            process.arguments = [
                "serve", "--data-dir", path + "/data", "--listen", "127.0.0.1:\(port)", "--log-level", "error",
                "--tls-cert", path + "/server.crt", "--tls-key", path + "/server.key", "--users", path + "/users.json",
                "--path-prefix", "/opensearch",
            ]
            process.environment = childEnvironment([:])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.runGuarded()
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < deadline {
                let probe = try await run(
                    ["stats", "--server", "https://127.0.0.1:\(port)", "--ca-cert", path + "/ca.crt", "--user", "admin"],
                    environment: ["LOGSTORE_PASSWORD": adminPassword], timeout: 15)
                if probe.status == 0 { return (process, port) }
                try await Task.sleep(for: .milliseconds(100))
            }
            if process.isRunning { process.terminate() }
        }
        throw CLITestError("the TLS server did not come up")
    }

    /// This process's environment without any `LOGSTORE_` variable, plus `extra`.
    static func childEnvironment(_ extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LOGSTORE_") }.merging(extra) { $1 }
    }

    /// SecureServer.run runs `logstore args…` to completion with only `environment` as its
    /// `LOGSTORE_` variables and standard input closed (no terminal: no password prompt).
    static func run(_ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) async throws -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try logstoreBinary())
        process.arguments = args
        process.environment = childEnvironment(environment)
        let directory = TempDirectory("logstore-run")
        defer { directory.cleanup() }
        // Files rather than pipes: nothing to drain while waiting.
        let outPath = directory.path + "/out", errPath = directory.path + "/err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.runGuarded()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning {
            process.terminate()
            throw CLITestError("logstore \(args) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        return RunResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// SecureServer.check returns `result` when the command exited 0, else throws its stderr.
    @discardableResult
    static func check(_ result: RunResult) throws -> RunResult {
        if result.status != 0 { throw CLITestError("exit \(result.status): \(result.stderr)") }
        return result
    }
}
