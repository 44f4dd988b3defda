import Foundation

extension Storage {
    /// Reads lines of `streams` in LSN order — the order the writer committed them, whatever
    /// their timestamps — up to the LSN that is durable and published when the read starts.
    ///
    /// Only lines with an LSN at or below that published LSN are returned, so a commit that has
    /// written one day segment but not yet another cannot expose a later line before an earlier
    /// one; and head lines are read like `read(_:)` does (the in-memory head index is taken
    /// before the transaction, lines sealed since are found in that snapshot's blocks), so every
    /// line is seen exactly once across a seal. Safe on any thread; blocks on I/O.
    ///
    /// - Parameters:
    ///   - streams: the streams to read.
    ///   - range: after an LSN (up to a limit), or the last lines.
    ///   - filter: only lines this query matches, when set.
    /// - Returns: the lines, ascending by LSN, and the LSN to continue after.
    public func readCommitted(streams: [StreamID], range: CommitOrderRange, filter: Query? = nil) throws -> CommitOrderPage {
        let matcher = filter.flatMap { $0.isMatchAll ? nil : QueryMatcher($0) }
        let (committed, keys, days, segments) = shared.state.withLock { s -> (LSN, [StreamID: StreamKey], [Int32: [StreamID]], [Int32: Segment]) in
            var keys: [StreamID: StreamKey] = [:]
            var days: [Int32: [StreamID]] = [:]
            var segments: [Int32: Segment] = [:]
            for id in streams {
                guard let info = s.streams[id] else { continue }
                keys[id] = info.key
                for day in info.days {
                    days[day, default: []].append(id)
                    if segments[day] == nil { segments[day] = s.segments[day] }
                }
            }
            return (s.committedLSN, keys, days, segments)
        }
        let ascending: Bool
        let low: LSN  // exclusive
        let limit: Int
        switch range {
        case .after(let after, let n):
            guard after < committed, n > 0 else { return CommitOrderPage(lines: [], next: after, truncated: false) }
            (ascending, low, limit) = (true, after, n)
        case .last(let n):
            guard n > 0 else { return CommitOrderPage(lines: [], next: committed, truncated: false) }
            (ascending, low, limit) = (false, 0, n)
        }
        guard committed > low else { return CommitOrderPage(lines: [], next: committed, truncated: false) }
        let lsns = (low + 1)...committed
        // Streams the filter rules out by their fields are not read at all.
        let wanted = keys.filter { matcher?.matches(stream: $0.value) != false }

        var found: [LogLine] = []
        var cut = false
        for (day, dayStreams) in days {
            guard let segment = segments[day] else { continue }
            let ids = dayStreams.filter { wanted[$0] != nil }
            if ids.isEmpty { continue }
            try SegmentSnapshot.read(segment, shared: shared, streams: ids, cache: blockCache) { snapshot in
                var candidates: [LogLine] = []
                try snapshot.commitOrderHeadLines(ids, lsns: lsns, keys: wanted, matcher: matcher, into: &candidates)
                cut = try snapshot.commitOrderBlockLines(
                    ids, lsns: lsns, ascending: ascending, limit: limit, keys: wanted, matcher: matcher, into: &candidates) || cut
                found.append(contentsOf: candidates)
            }
        }
        if ascending {
            found.sort { $0.lsn < $1.lsn }
        } else {
            found.sort { $0.lsn > $1.lsn }
        }
        if found.count > limit {
            cut = true
            found.removeLast(found.count - limit)
        }
        if ascending {
            // Cut: continue after the last line given; otherwise everything up to `committed` is seen.
            return CommitOrderPage(lines: found, next: cut ? found.last?.lsn ?? low : committed, truncated: cut)
        }
        found.reverse()
        return CommitOrderPage(lines: found, next: committed, truncated: cut)
    }

    /// `readCommitted` on a background thread.
    public func readCommittedAsync(streams: [StreamID], range: CommitOrderRange, filter: Query? = nil) async throws -> CommitOrderPage {
        try await blocking { try self.readCommitted(streams: streams, range: range, filter: filter) }
    }
}

extension SegmentSnapshot {
    /// Adds the head lines of `streams` with an LSN in `lsns` that pass `matcher`.
    fileprivate func commitOrderHeadLines(
        _ streams: [StreamID], lsns: ClosedRange<LSN>, keys: [StreamID: StreamKey], matcher: QueryMatcher?, into found: inout [LogLine]
    ) throws {
        for id in streams where heads[id] != nil {
            guard let key = keys[id] else { continue }
            try forEachHeadLine(of: id, lsns: lsns) { line in
                if let matcher, !matcher.matches(message: line.message, fields: line.fields, timestamp: line.timestamp, stream: key, lsn: line.lsn) { return }
                found.append(
                    LogLine(
                        lsn: line.lsn, timestamp: line.timestamp, stream: id, message: String(decoding: line.message, as: UTF8.self),
                        fields: String(decoding: line.fields, as: UTF8.self)))
            }
        }
    }

    /// Adds the block lines of `streams` with an LSN in `lsns` that pass `matcher`, nearest
    /// blocks first, stopping once `limit` lines are settled before the next block. Returns
    /// true when it stopped before a block.
    fileprivate func commitOrderBlockLines(
        _ streams: [StreamID], lsns: ClosedRange<LSN>, ascending: Bool, limit: Int, keys: [StreamID: StreamKey], matcher: QueryMatcher?,
        into found: inout [LogLine]
    ) throws -> Bool {
        var blocks: [StoredBlock] = []
        for id in streams {
            try forEachBlock(of: id) { block in
                if block.header.lastLSN >= lsns.lowerBound && block.header.firstLSN <= lsns.upperBound { blocks.append(block) }
                return true
            }
        }
        if ascending {
            blocks.sort { $0.header.firstLSN < $1.header.firstLSN }
        } else {
            blocks.sort { $0.header.lastLSN > $1.header.lastLSN }
        }
        for block in blocks {
            if found.count >= limit {
                var settled = 0
                for c in found where ascending ? c.lsn < block.header.firstLSN : c.lsn > block.header.lastLSN { settled += 1 }
                if settled >= limit { return true }
            }
            guard let key = keys[block.stream] else { continue }
            let decoded = try decode(block)
            for i in 0..<decoded.count {
                guard lsns.contains(decoded.lsns[i]) else { continue }
                if let matcher,
                    !decoded.withMessageAndFields(i, { matcher.matches(message: $0, fields: $1, timestamp: decoded.timestamps[i], stream: key, lsn: decoded.lsns[i]) })
                {
                    continue
                }
                found.append(decoded.logLine(i, stream: block.stream))
            }
        }
        return false
    }
}
