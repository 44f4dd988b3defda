import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP
import LogStoreIngest

/// `logstore hits`: how many lines match, over time and per job.
struct HitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hits",
        abstract: "Count lines matching a query per time bucket (and per job with --by job)."
    )

    @OptionGroup var data: DataOptions
    @Argument(help: "The query (see docs/QUERY.md).") var query: String
    @Option(help: "Bucket width, e.g. 1m, 1h, 1d.") var step: String = "1h"
    @Option(help: "Also count per: job, workflow.") var by: String?
    @Option(help: "Only lines at or after this time.") var from: String?
    @Option(help: "Only lines before this time.") var to: String?
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Also count this many times and print the median time and the blocks decoded to stderr.")
    var timing: Int?
    @Option(help: "Count on a running server (e.g. http://127.0.0.1:9200) instead of the data directory.") var server: String?
    @OptionGroup(title: "Server access") var client: ClientOptions

    func validate() throws {
        guard let d = DurationText.parse(step), d > .zero else { throw ValidationError("--step '\(step)' is not a duration (e.g. 1m, 1h)") }
        if let by, by != "job" && by != "workflow" { throw ValidationError("--by must be job or workflow") }
        if server != nil, timing != nil { throw ValidationError("--timing times the data directory; it does not go with --server") }
    }

    func run() async throws {
        if let server {
            try await remote(server)
            return
        }
        let parsed = try parseQuery(query)
        guard let width = DurationText.parse(step) else { throw ValidationError("--step '\(step)' is not a duration (e.g. 1m, 1h)") }
        let stepNs = width.components.seconds * 1_000_000_000 + width.components.attoseconds / 1_000_000_000
        let store = try Storage.open(directory: data.dataDirectory, options: StorageOptions(readOnly: true), logger: data.logger())
        defer { store.close() }
        let window = (try from.map { try parseTime($0, option: "--from") }, try to.map { try parseTime($0, option: "--to") })
        let hits = try store.hits(parsed, from: window.0, to: window.1, step: stepNs)
        if let timing, timing > 0 {
            let median = try medianMilliseconds(timing) { _ = try store.hits(parsed, from: window.0, to: window.1, step: stepNs) }
            printError(String(format: "hits: median %.2f ms of %d runs, %d blocks decoded", median, timing, hits.blocksRead))
        }
        let grouping = by.flatMap(HitsGrouping.init(rawValue:))
        let groups = grouping.map { store.group(hits, by: $0) } ?? [:]
        if json {
            FileHandle.standardOutput.write(Data(hits.json(groups: grouping.map { ($0, groups) }) + [0x0A]))
            return
        }
        for b in hits.buckets { print("\(Timestamp.formatRFC3339(b.start))  \(b.count)") }
        print("total  \(hits.total)")
        if by != nil {
            print("")
            for (name, count) in groups.sorted(by: { $0.value > $1.value }) { print("\(count)  \(name.isEmpty ? "-" : name)") }
        }
    }
}
