import Hummingbird
import LogStore
import LogStoreIngest

/// `GET /v1/workflows`: the workflows the store holds, most recently active first, with their
/// line and job counts and first and last line times (the web viewer's first page). Computed
/// from the streams' statistics in memory: no data file is read.
struct WorkflowsController {
    let storage: Storage

    static let maxLimit = 100_000

    func addRoutes(to group: RouterGroup<LogStoreContext>) {
        group.get("workflows") { request, _ in try workflows(request) }
    }

    /// One workflow's figures (`workflow` empty: the jobs whose lines carry no workflow id).
    struct Summary {
        var workflow: String
        var jobs = Set<String>()
        var streams = 0
        var lines: UInt64 = 0
        var first = Int64.max
        var last = Int64.min
    }

    /// WorkflowsController.summaries groups `streams` by workflow, most recent last line first
    /// (ties by id). `filter` keeps the workflows whose id or one of whose job names contains
    /// it, ignoring case.
    static func summaries(_ streams: [StreamInfo], filter: String?) -> [Summary] {
        var byWorkflow: [String: Summary] = [:]
        for stream in streams {
            var summary = byWorkflow[stream.key.workflow] ?? Summary(workflow: stream.key.workflow)
            if !stream.key.job.isEmpty { summary.jobs.insert(stream.key.job) }
            summary.streams += 1
            summary.lines += stream.stats.lines
            if stream.stats.lines > 0 {
                summary.first = min(summary.first, stream.stats.firstTimestamp)
                summary.last = max(summary.last, stream.stats.lastTimestamp)
            }
            byWorkflow[stream.key.workflow] = summary
        }
        var result = Array(byWorkflow.values)
        if let filter = filter?.lowercased(), !filter.isEmpty {
            result = result.filter { s in s.workflow.lowercased().contains(filter) || s.jobs.contains { $0.lowercased().contains(filter) } }
        }
        return result.sorted { $0.last != $1.last ? $0.last > $1.last : $0.workflow < $1.workflow }
    }

    func workflows(_ request: Request) throws -> Response {
        let q = LogParameters(request)
        try q.check(allowed: ["filter", "limit"])
        let limit = try q.integer("limit", in: 1...Self.maxLimit) ?? 1000
        let streams = storage.allStreams()
        let all = Self.summaries(streams, filter: q["filter"])
        var out = JSONText(capacity: min(all.count, limit) * 160 + 128)
        func time(_ ns: Int64, _ known: Bool) {
            if known { out.string(Timestamp.formatRFC3339(ns)) } else { out.raw("null") }
        }
        out.raw("{\"workflows\":[")
        for (i, s) in all.prefix(limit).enumerated() {
            if i > 0 { out.raw(",") }
            out.raw("{\"workflow\":")
            out.string(s.workflow)
            out.raw(",\"jobs\":")
            out.number(s.jobs.count)
            out.raw(",\"streams\":")
            out.number(s.streams)
            out.raw(",\"lines\":")
            out.number(s.lines)
            out.raw(",\"first\":")
            time(s.first, s.lines > 0)
            out.raw(",\"last\":")
            time(s.last, s.lines > 0)
            out.raw("}")
        }
        out.raw("],\"total\":")
        out.number(all.count)
        // The whole store's time span (every workflow, whatever the filter): a time picker's "all".
        let known = streams.filter { $0.stats.lines > 0 }
        out.raw(",\"first\":")
        time(known.map(\.stats.firstTimestamp).min() ?? 0, !known.isEmpty)
        out.raw(",\"last\":")
        time(known.map(\.stats.lastTimestamp).max() ?? 0, !known.isEmpty)
        out.raw("}")
        return JSONAnswer.answer(out.bytes, request: request)
    }
}
