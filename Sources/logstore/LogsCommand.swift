import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP

/// `logstore logs`: one job's or workflow's log, in log order.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the log of a job or a workflow in log order (@timestamp, then arrival).",
        discussion: """
            A job is found by its name alone when its documents carry no workflow id (as REANA's \
            job documents do today). With --limit, the cursor for the next page is printed on \
            standard error; pass it back with --after.
            """
    )

    @OptionGroup var data: DataOptions

    @Option(help: "Workflow id.") var workflow: String?
    @Option(help: "Job name.") var job: String?
    @Option(help: "Index (e.g. fluentbit-job_log).") var index: String?
    @Option(help: "Continue after this cursor (printed by an earlier --limit run).") var after: String?
    @Option(help: "At most this many lines (default: all).") var limit: Int?
    @Flag(help: "Newest first.") var reverse = false
    @Option(help: "Read from a running server (e.g. http://127.0.0.1:9200) instead of the data directory.") var server: String?
    @Flag(help: "One JSON object per line (lsn, timestamp, log, index, workflow, job, fields, cursor).") var json = false
    @OptionGroup(title: "Server access") var client: ClientOptions

    func validate() throws {
        if workflow == nil && job == nil && index == nil {
            throw ValidationError("give --workflow, --job or --index")
        }
        if let after, LogPosition(after) == nil {
            throw ValidationError("--after '\(after)' is not a cursor (expected <timestamp ns>-<lsn>)")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        if let server {
            try await runRemote(server)
            return
        }
        let store = try Storage.open(directory: data.dataDirectory, options: StorageOptions(readOnly: true), logger: data.logger())
        defer { store.close() }
        let streams = store.streams(matching: StreamSelector(index: index, workflow: workflow, job: job))
        let byID = Dictionary(uniqueKeysWithValues: streams.map { ($0.id, $0.key) })
        var cursor = after.flatMap(LogPosition.init)
        var remaining = limit ?? Int.max
        let out = FileHandle.standardOutput
        while remaining > 0 {
            let page = try store.read(
                LogQuery(streams: streams.map(\.id), after: cursor, limit: min(remaining, 5000), order: reverse ? .descending : .ascending))
            var text = JSONText(capacity: 1 << 16)
            for line in page.lines {
                if json {
                    line.appendJSON(key: byID[line.stream], to: &text)
                    text.raw("\n")
                } else {
                    text.raw(line.message)
                    if !line.message.hasSuffix("\n") { text.raw("\n") }
                }
            }
            out.write(Data(text.bytes))
            remaining -= page.lines.count
            cursor = page.next ?? cursor
            if page.lines.isEmpty || !page.truncated { break }
        }
        if limit != nil, let cursor { printError("next: \(cursor)") }
    }

    /// Pages through `/v1/logs` of a running server.
    func runRemote(_ server: String) async throws {
        let client = RemoteClient(endpoint: try self.client.endpoint(server))
        var cursor = after
        var remaining = limit ?? Int.max
        while remaining > 0 {
            let json = try await client.get(
                "/v1/logs",
                [("workflow", workflow), ("job", job), ("index", index), ("after", cursor), ("limit", String(min(remaining, 5000))),
                 ("order", reverse ? "desc" : "asc"), ("fields", json ? "true" : nil)])
            let lines = json["lines"] as? [[String: Any]] ?? []
            var out = ""
            for line in lines {
                if json_ {
                    out += String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self) + "\n"
                } else {
                    let message = line["log"] as? String ?? ""
                    out += message.hasSuffix("\n") ? message : message + "\n"
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            remaining -= lines.count
            cursor = json["next"] as? String ?? cursor
            if lines.isEmpty || json["truncated"] as? Bool != true { break }
        }
        if limit != nil, let cursor { printError("next: \(cursor)") }
    }

    private var json_: Bool { json }
}
