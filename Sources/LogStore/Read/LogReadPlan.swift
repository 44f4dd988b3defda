import Foundation

/// LogReadPlan is what a log-order read settles before it opens any segment: the streams it
/// reads, the days they have lines in, and which of them need each line matched against the
/// query's filter (the others are decided by their stream key alone, e.g. REANA's `job:x`).
struct LogReadPlan {
    /// The streams read (those the filter rules out by their key are left out).
    var streams: [StreamID]
    /// The same, for membership tests.
    var wanted: Set<StreamID>
    /// The segment of each day that holds lines of `streams`.
    var segments: [Int32: Segment]
    /// The filter, when some stream needs it line by line.
    var matcher: QueryMatcher?
    /// Streams whose lines are matched one by one.
    var lineMatched: Set<StreamID>
    /// Stream keys, for the matcher (only filled when there is one).
    var keys: [StreamID: StreamKey]
    /// Only lines committed at or before this LSN (`.max`: all).
    var throughLSN: LSN
    /// The index plan of the filter, when the index can narrow the blocks of line-matched streams.
    var planner: IndexPlanner?

    static let noKey = StreamKey(index: "", workflow: "", job: "")

    init(_ query: LogQuery, shared: Shared) {
        throughLSN = query.throughLSN ?? .max
        let matcher = query.filter.flatMap { $0.isMatchAll ? nil : QueryMatcher($0) }
        let (segments, keys) = shared.state.withLock { s in
            var segments: [Int32: Segment] = [:]
            var keys: [StreamID: StreamKey] = [:]
            for id in query.streams {
                guard let info = s.streams[id] else { continue }
                for day in info.days where segments[day] == nil { segments[day] = s.segments[day] }
                if matcher != nil { keys[id] = info.key }
            }
            return (segments, keys)
        }
        self.segments = segments
        self.keys = keys
        var lineMatched = Set<StreamID>()
        var streams = query.streams
        if let matcher {
            streams = streams.filter { id in
                switch matcher.matches(stream: keys[id] ?? Self.noKey) {
                case .some(let verdict): return verdict
                case .none:
                    lineMatched.insert(id)
                    return true
                }
            }
        }
        self.streams = streams
        self.wanted = Set(streams)
        self.matcher = lineMatched.isEmpty ? nil : matcher
        self.lineMatched = lineMatched
        if let filter = query.filter, !lineMatched.isEmpty {
            let planner = IndexPlanner(filter.normalized())
            self.planner = planner.isUseless ? nil : planner
        }
    }

    /// The matcher `stream`'s lines must pass, or nil when every line of it is in.
    @inline(__always) func lineMatcher(_ stream: StreamID) -> QueryMatcher? {
        lineMatched.contains(stream) ? matcher : nil
    }

    /// The key of `stream` for the matcher.
    @inline(__always) func key(_ stream: StreamID) -> StreamKey { keys[stream] ?? Self.noKey }
}
