import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP
import LogStoreIngest

/// Parses `--from`/`--to`: RFC 3339, epoch milliseconds, or a duration ago (`15m`, `2h`, `7d`).
func parseTime(_ text: String, option: String) throws -> Int64 {
    if let ms = Int64(text) { return ms * 1_000_000 }
    if let ns = Timestamp.parse(text) { return ns }
    if let ago = DurationText.parse(text) {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        return now - Int64(ago.components.seconds) * 1_000_000_000
    }
    throw ValidationError("\(option) '\(text)' is not a time (RFC 3339, epoch milliseconds, or a duration ago like 2h)")
}

func parseQuery(_ text: String) throws -> Query {
    do {
        return try QueryParser.parse(text)
    } catch {
        throw ValidationError("query: \(error)\n  \(text)\n  \(String(repeating: " ", count: error.position))^")
    }
}

/// `logstore search`: lines matching a query.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Print lines matching a query, newest first (see docs/QUERY.md).",
        discussion: """
            Words are AND-ed; "phrases", OR, NOT/-word, parentheses, word* and the fields \
            workflow:, job:, index: are supported. With --limit, the cursor for the next page is \
            printed on standard error; pass it back with --cursor.
            """
    )

    @OptionGroup var data: DataOptions
    @Argument(help: "The query, e.g. 'error \"connection refused\" -retry job:reana-run-job-1'.") var query: String
    @Option(help: "Only lines at or after this time (RFC 3339, epoch ms, or 2h = two hours ago).") var from: String?
    @Option(help: "Only lines before this time.") var to: String?
    @Option(help: "At most this many lines.") var limit: Int = 100
    @Option(help: "Continue from this cursor (printed by an earlier run).") var cursor: UInt64?
    @Flag(help: "Oldest first.") var oldestFirst = false
    @Flag(help: "One JSON object per line.") var json = false
    @Option(help: "Search a running server (e.g. http://127.0.0.1:9200) instead of the data directory.") var server: String?
    @OptionGroup(title: "Server access") var client: ClientOptions
    @Option(help: "Also run the search this many times and print the median time and the blocks decoded to stderr.")
    var timing: Int?

    func run() async throws {
        let parsed = try parseQuery(query)
        let fromNs = try from.map { try parseTime($0, option: "--from") }
        let toNs = try to.map { try parseTime($0, option: "--to") }
        if let server {
            let answer = try await RemoteClient(endpoint: try client.endpoint(server)).get(
                "/v1/search",
                [("q", query), ("from", fromNs.map { String($0 / 1_000_000) }), ("to", toNs.map { String($0 / 1_000_000) }), ("limit", String(limit)),
                 ("cursor", cursor.map(String.init)), ("order", oldestFirst ? "asc" : "desc"), ("fields", json ? "true" : nil)])
            var out = ""
            for line in answer["lines"] as? [[String: Any]] ?? [] {
                if json {
                    out += String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self) + "\n"
                } else {
                    let message = line["log"] as? String ?? ""
                    let who = (line["job"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? line["workflow"] as? String ?? ""
                    out += "\(line["timestamp"] as? String ?? "") \(who) " + (message.hasSuffix("\n") ? message : message + "\n")
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            if let next = answer["next"] as? Int { printError("next: --cursor \(next)") }
            return
        }
        let store = try Storage.open(directory: data.dataDirectory, options: StorageOptions(readOnly: true), logger: data.logger())
        defer { store.close() }
        let request = SearchRequest(query: parsed, from: fromNs, to: toNs, limit: limit, order: oldestFirst ? .ascending : .descending, cursor: cursor)
        let page = try store.search(request)
        if let timing, timing > 0 {
            let median = try medianMilliseconds(timing) { _ = try store.search(request) }
            printError(String(format: "search: median %.2f ms of %d runs, %d blocks decoded", median, timing, page.blocksRead))
        }
        var out = JSONText(capacity: 1 << 16)
        for line in page.lines {
            let key = store.stream(line.stream)?.key
            if json {
                line.appendJSON(key: key, to: &out)
                out.raw("\n")
            } else {
                out.raw(Timestamp.formatRFC3339(line.timestamp) + " " + (key?.job.isEmpty == false ? key!.job : key?.workflow ?? "") + " ")
                out.raw(line.message)
                if !line.message.hasSuffix("\n") { out.raw("\n") }
            }
        }
        FileHandle.standardOutput.write(Data(out.bytes))
        if let next = page.next { printError("next: --cursor \(next)") }
    }
}

/// Median wall time of `runs` calls of `body`, in milliseconds.
func medianMilliseconds(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        times.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
    times.sort()
    return times[times.count / 2]
}
