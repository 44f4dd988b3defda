import Foundation

/// A request for lines of some streams in log order.
public struct LogQuery: Sendable {
    /// The streams to read (one job, or every job of a workflow…).
    public var streams: [StreamID]
    /// Continue after (ascending) or before (descending) this position.
    public var after: LogPosition?
    /// At most this many lines.
    public var limit: Int
    public var order: ReadOrder
    /// Only lines with `from ≤ timestamp < to` (nanoseconds), when set.
    public var from: Int64?
    public var to: Int64?
    /// Only lines this query matches (full-text and field predicates), when set.
    public var filter: Query?

    public init(
        streams: [StreamID], after: LogPosition? = nil, limit: Int = 1000, order: ReadOrder = .ascending, from: Int64? = nil,
        to: Int64? = nil, filter: Query? = nil
    ) {
        self.streams = streams
        self.after = after
        self.limit = limit
        self.order = order
        self.from = from
        self.to = to
        self.filter = filter
    }
}

/// A page of lines and the cursor to pass as `after` for the next page.
public struct LogPage: Sendable {
    public var lines: [LogLine]
    /// Position of the last line returned; nil when the page is empty.
    public var next: LogPosition?
    /// True when the page was cut by the limit (more lines may follow).
    public var truncated: Bool
}

extension Storage {
    /// Reads lines of `query.streams` in `(timestamp, LSN)` order across day segments, head
    /// and blocks alike. Never touches the index. Safe on any thread; blocks on I/O.
    public func read(_ query: LogQuery) throws -> LogPage {
        let limit = max(0, query.limit)
        let ascending = query.order == .ascending
        let (days, segments) = shared.state.withLock { s -> ([Int32], [Int32: Segment]) in
            var days = Set<Int32>()
            for id in query.streams { s.streams[id]?.days.forEach { days.insert($0) } }
            var segments: [Int32: Segment] = [:]
            for day in days { segments[day] = s.segments[day] }
            return (Array(days), segments)
        }
        let wanted = Set(query.streams)
        let matcher = query.filter.flatMap { $0.isMatchAll ? nil : QueryMatcher($0) }
        let keys: [StreamID: StreamKey] = matcher == nil ? [:] : shared.state.withLock { s in
            var keys: [StreamID: StreamKey] = [:]
            for id in query.streams { keys[id] = s.streams[id]?.key }
            return keys
        }
        // Positions outside this window are skipped: the cursor and the time range together.
        var low = LogPosition.minimum  // exclusive for ascending cursor
        var high = LogPosition.maximum
        if let from = query.from { low = max(low, LogPosition(timestamp: from, lsn: 0)) }
        if let to = query.to { high = min(high, LogPosition(timestamp: to, lsn: 0)) }
        var lowInclusive = true
        var highInclusive = query.to == nil
        if let after = query.after {
            if ascending {
                if after >= low {
                    low = after
                    lowInclusive = false
                }
            } else if after <= high {
                high = after
                highInclusive = false
            }
        }
        @inline(__always) func inWindow(_ p: LogPosition) -> Bool {
            (lowInclusive ? p >= low : p > low) && (highInclusive ? p <= high : p < high)
        }
        let lowDay = low.timestamp == .min ? Int32.min : Day.of(low.timestamp)
        let highDay = high.timestamp == .max ? Int32.max : Day.of(high.timestamp)
        let ordered = days.filter { $0 >= lowDay && $0 <= highDay }.sorted(by: ascending ? (<) : (>))

        var result: [LogLine] = []
        result.reserveCapacity(min(limit, 10_000))
        var truncated = false
        for day in ordered {
            guard limit > result.count else {
                truncated = true
                break
            }
            guard let segment = segments[day] else { continue }
            let needed = limit - result.count
            var candidates: [LogLine] = []
            var more = false
            // The head index is read before the transaction opens: a line sealed in between is
            // then missing from the head but present as a block in the transaction's snapshot.
            let headLSNs: [(StreamID, [LSN])] = shared.state.withLock { s in
                guard let dayHeads = s.heads[day] else { return [] }
                return wanted.count <= dayHeads.count
                    ? wanted.compactMap { id in dayHeads[id].map { (id, $0) } }
                    : dayHeads.filter { wanted.contains($0.key) }.map { ($0.key, $0.value) }
            }
            try segment.env.read { txn in
                var blocks: [(stream: StreamID, header: BlockHeader, key: [UInt8])] = []
                for (id, lsns) in headLSNs {
                    // Lines sealed since the index was read are in a block of this snapshot.
                    let sealedThrough = try txn.get(segment.sealed, Keys.u64(id)).map { try Keys.decodeU64($0) } ?? 0
                    for lsn in lsns where lsn > sealedThrough {
                        guard let v = try txn.get(segment.head, Keys.u64(lsn)) else { continue }
                        let (_, line) = try Keys.decodeHeadLine(lsn: lsn, value: v)
                        if inWindow(line.position), matcher.map({ m in
                            line.message.withUnsafeBytes { m.matches(message: $0, stream: keys[id] ?? StreamKey(index: "", workflow: "", job: "")) }
                        }) ?? true {
                            candidates.append(
                                LogLine(
                                    lsn: line.lsn, timestamp: line.timestamp, stream: id,
                                    message: String(decoding: line.message, as: UTF8.self),
                                    fields: String(decoding: line.fields, as: UTF8.self)))
                        }
                    }
                }
                for id in query.streams {
                    let prefix = Keys.u64(id)
                    try txn.scan(segment.blocks, prefix: prefix) { k, v in
                        let header = try BlockHeader(parsing: segment.blockBytes(txn, v))
                        // Skip blocks wholly outside the window.
                        if header.maxPosition < low || (!lowInclusive && header.maxPosition == low) { return true }
                        if header.minPosition > high || (!highInclusive && header.minPosition == high) { return true }
                        blocks.append((id, header, k.array))
                        return true
                    }
                }
                if ascending {
                    blocks.sort { $0.header.minPosition < $1.header.minPosition }
                } else {
                    blocks.sort { $0.header.maxPosition > $1.header.maxPosition }
                }
                for block in blocks {
                    // Stop when `needed` candidates already come before anything this block holds.
                    if candidates.count >= needed {
                        let bound = ascending ? block.header.minPosition : block.header.maxPosition
                        var before = 0
                        for c in candidates where ascending ? c.position < bound : c.position > bound { before += 1 }
                        if before >= needed {
                            more = true
                            break
                        }
                    }
                    guard let bytes = try segment.block(txn, key: block.key) else {
                        throw CorruptDataError("block vanished during read")
                    }
                    let decoded = try BlockCodec.decode(bytes)
                    let key = keys[block.stream] ?? StreamKey(index: "", workflow: "", job: "")
                    for i in 0..<decoded.count {
                        let p = LogPosition(timestamp: decoded.timestamps[i], lsn: decoded.lsns[i])
                        guard inWindow(p) else { continue }
                        if let matcher, !decoded.messageBytes(i).withUnsafeBytes({ matcher.matches(message: $0, stream: key) }) { continue }
                        candidates.append(decoded.logLine(i, stream: block.stream))
                    }
                }
            }
            if ascending {
                candidates.sort { $0.position < $1.position }
            } else {
                candidates.sort { $0.position > $1.position }
            }
            if candidates.count > needed || more {
                truncated = true
            }
            result.append(contentsOf: candidates.prefix(needed))
        }
        return LogPage(lines: result, next: result.last?.position, truncated: truncated)
    }

    /// `read` on a background thread.
    public func readAsync(_ query: LogQuery) async throws -> LogPage {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.read(query) })
            }
        }
    }
}
