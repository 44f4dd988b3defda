import Foundation

/// SearchScope is what a search or a `hits` count settles once before reading segments: the
/// query's matcher and index plan, its time window, and the streams (keys, deleted workflows)
/// as they were when it started, and the deadline that stops it.
struct SearchScope: Sendable {
    let matcher: QueryMatcher
    let planner: IndexPlanner
    let from: Int64?
    let to: Int64?
    let keys: [StreamID: StreamKey]
    let tombstones: Set<String>
    let segments: [Segment]
    /// Checked between units of work (a segment, a block, a stream's head lines).
    let deadline: QueryDeadline

    init(_ query: Query, from: Int64?, to: Int64?, deadline: QueryDeadline, shared: Shared) {
        matcher = QueryMatcher(query)
        planner = IndexPlanner(query)
        self.from = from
        self.to = to
        self.deadline = deadline
        let lowDay = from.map(Day.of) ?? .min
        let highDay = to.map { Day.of($0 - 1) } ?? .max
        (keys, tombstones, segments) = shared.state.withLock { s in
            // Streams of deleted indices are left out (ruled out like deleted workflows').
            (
                (s.deletedStreams.isEmpty ? s.streams : s.streams.filter { !s.deletedStreams.contains($0.key) }).mapValues(\.key), s.tombstones,
                s.segments.values.filter { $0.day >= lowDay && $0.day <= highDay }
            )
        }
    }

    /// True when a line at `timestamp` is in the window.
    @inline(__always) func inTime(_ timestamp: Int64) -> Bool {
        (from.map { timestamp >= $0 } ?? true) && (to.map { timestamp < $0 } ?? true)
    }

    /// What `stream`'s key says about the query (deleted workflows' streams are ruled out).
    func verdict(_ stream: StreamID) -> SearchUnit.Verdict {
        guard let key = keys[stream], !(tombstones.contains(key.workflow) && !key.workflow.isEmpty) else { return .ruledOut }
        switch matcher.matches(stream: key) {
        case true?: return .everyLine
        case nil: return .byMessage
        case false?: return .ruledOut
        }
    }
}
