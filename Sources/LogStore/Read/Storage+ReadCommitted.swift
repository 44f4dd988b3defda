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
        // Streams the filter rules out by their fields are not read at all.
        let wanted = keys.filter { matcher?.matches(stream: $0.value) != false }

        var found: [LogLine] = []
        var cut = false
        for (day, dayStreams) in days {
            guard let segment = segments[day] else { continue }
            let ids = dayStreams.filter { wanted[$0] != nil }
            if ids.isEmpty { continue }
            // Taken before the transaction: a line sealed in between is in a block of its snapshot.
            let headLSNs: [(StreamID, [LSN])] = shared.state.withLock { s in
                guard let dayHeads = s.heads[day] else { return [] }
                return ids.compactMap { id in dayHeads[id].map { (id, $0) } }
            }
            try segment.env.read { txn in
                // Units of work: each stream's head lines, and blocks by their LSN span.
                var candidates: [LogLine] = []
                var blocks: [(stream: StreamID, first: LSN, last: LSN, key: [UInt8])] = []
                for (id, lsns) in headLSNs {
                    let key = wanted[id]!
                    let sealedThrough = try txn.get(segment.sealed, Keys.u64(id)).map { try Keys.decodeU64($0) } ?? 0
                    for lsn in lsns where lsn > sealedThrough && lsn > low && lsn <= committed {
                        guard let v = try txn.get(segment.head, Keys.u64(lsn)) else { continue }
                        let (_, line) = try Keys.decodeHeadLine(lsn: lsn, value: v)
                        if let matcher, !line.message.withUnsafeBytes({ matcher.matches(message: $0, stream: key) }) { continue }
                        candidates.append(
                            LogLine(
                                lsn: lsn, timestamp: line.timestamp, stream: id, message: String(decoding: line.message, as: UTF8.self),
                                fields: String(decoding: line.fields, as: UTF8.self)))
                    }
                }
                for id in ids {
                    try txn.scan(segment.blocks, prefix: Keys.u64(id)) { k, v in
                        let header = try BlockHeader(parsing: segment.blockBytes(txn, v))
                        if header.lastLSN > low && header.firstLSN <= committed {
                            blocks.append((id, header.firstLSN, header.lastLSN, k.array))
                        }
                        return true
                    }
                }
                // Nearest blocks first; stop once `limit` lines are settled before the next block.
                if ascending {
                    blocks.sort { $0.first < $1.first }
                } else {
                    blocks.sort { $0.last > $1.last }
                }
                for block in blocks {
                    if candidates.count >= limit {
                        var settled = 0
                        for c in candidates where ascending ? c.lsn < block.first : c.lsn > block.last { settled += 1 }
                        if settled >= limit {
                            cut = true
                            break
                        }
                    }
                    guard let bytes = try segment.block(txn, key: block.key) else {
                        throw CorruptDataError("block vanished during read")
                    }
                    let decoded = try BlockCodec.decode(bytes)
                    let key = wanted[block.stream]!
                    for i in 0..<decoded.count {
                        let lsn = decoded.lsns[i]
                        guard lsn > low && lsn <= committed else { continue }
                        if let matcher, !decoded.messageBytes(i).withUnsafeBytes({ matcher.matches(message: $0, stream: key) }) { continue }
                        candidates.append(decoded.logLine(i, stream: block.stream))
                    }
                }
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
