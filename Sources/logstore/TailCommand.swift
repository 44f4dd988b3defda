import ArgumentParser
import Dispatch
import Foundation

/// `logstore tail`: the end of a job's or workflow's log from a running server, and with `-f`
/// every line committed after it, through the long-poll `/v1/tail`.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print the last lines of a job's or workflow's log; with -f, keep printing new lines as they arrive.",
        discussion: """
            Reads from a running server (--server, env LOGSTORE_SERVER, default http://127.0.0.1:9200). \
            Lines come in the order the server stored them (commit order), so a line whose \
            @timestamp is older than lines already shown is still shown, once. With -f the command \
            long-polls GET /v1/tail with the cursor of the last answer; after a network error or a \
            server restart it reconnects (waiting 0.2 s, then up to 5 s between tries) and resumes \
            from that cursor, so no line is missed or printed twice. Ctrl-C (SIGINT) or SIGTERM stops \
            it; it exits 0.
            """
    )

    @Option(help: "Workflow id.") var workflow: String?
    @Option(help: "Job name.") var job: String?
    @Option(help: "Index (e.g. fluentbit-job_log).") var index: String?
    @Option(help: "Only lines matching this query (docs/QUERY.md), e.g. 'error -debug'.") var query: String?
    @Option(name: [.customShort("n"), .customLong("lines")], help: "Start with the last N lines (0: only new lines with -f).") var lines = 10
    @Flag(name: [.short, .customLong("follow")], help: "Keep following the log until interrupted.") var follow = false
    @Option(help: "The server (env LOGSTORE_SERVER).")
    var server: String = ProcessInfo.processInfo.environment["LOGSTORE_SERVER"] ?? "http://127.0.0.1:9200"
    @Flag(help: "One JSON object per line (lsn, timestamp, log, index, workflow, job, fields, cursor).") var json = false
    @OptionGroup(title: "Server access") var client: ClientOptions
    @Option(help: .hidden) var wait: Double = 25

    func validate() throws {
        if workflow == nil && job == nil && index == nil { throw ValidationError("give --workflow, --job or --index") }
        if lines < 0 || lines > 10_000 { throw ValidationError("-n must be from 0 to 10000") }
        if wait < 0 || wait > 60 { throw ValidationError("--wait must be from 0 to 60 seconds") }
        if URL(string: server)?.host == nil { throw ValidationError("--server '\(server)' is not a URL") }
    }

    func run() async throws {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let follow = Task { try await self.follow() }
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { follow.cancel() }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await follow.value
        } catch is CancellationError {
            return  // interrupted: a clean stop
        }
    }

    /// The first answer, then (with -f) long-polls from each answer's cursor until cancelled.
    func follow() async throws {
        let client = TailClient(endpoint: try self.client.endpoint(server), timeout: wait + 30)
        var selection: [(String, String?)] = [("workflow", workflow), ("job", job), ("index", index), ("q", query)]
        selection.append(("format", json ? "ndjson" : "text"))
        if json { selection.append(("fields", "true")) }
        var cursor: String?
        var delay = 0.2
        while !Task.isCancelled {
            var parameters = selection
            if let cursor {
                parameters += [("after", cursor), ("wait", String(wait))]
            } else {
                parameters += [("tail", String(lines)), ("wait", follow ? String(wait) : "0")]
            }
            let answer: TailClient.Answer
            do {
                answer = try await client.get("/v1/tail", parameters)
            } catch let error as TailClient.Refused {
                printError(error.description)
                throw ExitCode(1)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                // The server is restarting, overloaded or unreachable: retry from the same cursor.
                guard follow else {
                    printError("error: \(server): \(error)")
                    throw ExitCode(1)
                }
                printError("logstore tail: \(errorText(error)); retrying in \(String(format: "%.1f", delay)) s")
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 5)
                continue
            }
            delay = 0.2
            if !answer.body.isEmpty { FileHandle.standardOutput.write(answer.body) }
            cursor = answer.next
            if !follow { return }
        }
        throw CancellationError()
    }

    func errorText(_ error: any Error) -> String {
        if let error = error as? TailClient.Unavailable { return "server answered \(error.status)" }
        if let error = error as? HTTPFetch.Unreachable { return error.description }
        return "\(error)"
    }
}
