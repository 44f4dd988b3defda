import Foundation

/// LineVisit names the lines an aggregation (or any whole-result computation) reads: those
/// matching `query` in `[from, to)`, of `streams` (all when nil), committed at or before
/// `throughLSN` (a point-in-time snapshot; all when nil).
public struct LineVisit: Sendable {
    public var query: Query
    public var streams: Set<StreamID>?
    public var from: Int64?
    public var to: Int64?
    public var throughLSN: LSN?
    /// Stops the visit when it passes (`Storage.queryDeadline()` when nil).
    public var deadline: QueryDeadline?

    public init(
        query: Query, streams: Set<StreamID>? = nil, from: Int64? = nil, to: Int64? = nil, throughLSN: LSN? = nil,
        deadline: QueryDeadline? = nil
    ) {
        self.query = query
        self.streams = streams
        self.from = from
        self.to = to
        self.throughLSN = throughLSN
        self.deadline = deadline
    }
}

/// One line a visit found. Its bytes are lent for the duration of the call only: copy what
/// must outlive it.
public struct VisitedLine {
    public let timestamp: Int64
    public let lsn: LSN
    public let stream: StreamID
    public let key: StreamKey
    /// The message bytes (UTF-8).
    public let message: UnsafeRawBufferPointer
    /// The stored fields: a compact JSON object of every member besides the message and time.
    public let fields: UnsafeRawBufferPointer

    init(
        timestamp: Int64, lsn: LSN, stream: StreamID, key: StreamKey, message: UnsafeRawBufferPointer, fields: UnsafeRawBufferPointer
    ) {
        self.timestamp = timestamp
        self.lsn = lsn
        self.stream = stream
        self.key = key
        self.message = message
        self.fields = fields
    }
}

extension Storage {
    /// Calls `body` with every line `visit` names, segment by segment through one
    /// `SegmentSnapshot` each (blocks the index or the time window rule out are not decoded),
    /// in no particular order. Each line is seen once.
    ///
    /// Throws `StorageError.queryTimeout` past the deadline and `queryCancelled` when it is
    /// cancelled: checked between blocks and every 128 lines.
    public func visitLines(_ visit: LineVisit, _ body: (VisitedLine) throws -> Void) throws {
        let scope = SearchScope(visit.query, from: visit.from, to: visit.to, deadline: visit.deadline ?? queryDeadline(), shared: shared)
        let through = visit.throughLSN ?? .max
        for segment in scope.segments {
            try scope.deadline.check()
            try SegmentSnapshot.read(segment, shared: shared, streams: nil as [StreamID]?, cache: blockCache) { snapshot in
                for unit in try snapshot.searchUnits(scope) {
                    if let wanted = visit.streams, !wanted.contains(unit.stream) { continue }
                    if unit.minLSN > through { continue }
                    guard let key = scope.keys[unit.stream] else { continue }
                    try scope.deadline.check()
                    guard let first = unit.blockFirstLSN else {
                        for line in unit.preloaded where line.lsn <= through {
                            var message = line.message
                            var fields = line.fields
                            try message.withUTF8 { m in
                                try fields.withUTF8 { f in
                                    try body(
                                        VisitedLine(
                                            timestamp: line.timestamp, lsn: line.lsn, stream: unit.stream, key: key,
                                            message: UnsafeRawBufferPointer(m), fields: UnsafeRawBufferPointer(f)))
                                }
                            }
                        }
                        continue
                    }
                    guard let stored = try snapshot.block(stream: unit.stream, firstLSN: first) else { continue }
                    let block = try snapshot.decode(stored)
                    var counted = 0
                    let everyLine = scope.verdict(unit.stream) == .everyLine
                    var cache = QueryMatcher.FieldsCache()
                    try block.payload.withUnsafeBytes { payload in
                        for i in 0..<block.count where scope.inTime(block.timestamps[i]) && block.lsns[i] <= through {
                            try scope.deadline.check(counting: &counted)
                            let (m, f) = block.ranges(i)
                            let message = UnsafeRawBufferPointer(rebasing: payload[m])
                            let fields = UnsafeRawBufferPointer(rebasing: payload[f])
                            if !everyLine
                                && !scope.matcher.matches(
                                    message: message, fields: fields, timestamp: block.timestamps[i], stream: key, lsn: block.lsns[i], cache: &cache)
                            {
                                continue
                            }
                            try body(
                                VisitedLine(
                                    timestamp: block.timestamps[i], lsn: block.lsns[i], stream: unit.stream, key: key, message: message,
                                    fields: fields))
                        }
                    }
                }
            }
        }
    }

    /// Runs `work` (which calls `visitLines`) on a background thread with `visit`'s deadline
    /// (`queryDeadline()` when it has none), cancelling it when the calling task is cancelled.
    public func visitLinesAsync<T: Sendable>(
        _ visit: LineVisit, _ work: @escaping @Sendable (Storage, LineVisit) throws -> T
    ) async throws -> T {
        var visit = visit
        let deadline = visit.deadline ?? queryDeadline()
        visit.deadline = deadline
        let bound = visit
        return try await blocking(cancelling: deadline) { try work(self, bound) }
    }
}
