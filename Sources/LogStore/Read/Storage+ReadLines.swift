import Foundation

extension Storage {
    /// Reads lines of `query.streams` in `(timestamp, LSN)` order across day segments, head
    /// and blocks alike. Never touches the index. Safe on any thread; blocks on I/O.
    public func read(_ query: LogQuery) throws -> LogPage {
        try readLines(query).logPage
    }

    /// `read`, with the lines left in place in their decoded blocks (what the HTTP answers use).
    public func readLines(_ query: LogQuery) throws -> LinePage {
        let limit = max(0, query.limit)
        let ascending = query.order == .ascending
        let (days, segments) = shared.state.withLock { s -> ([Int32], [Int32: Segment]) in
            var days = Set<Int32>()
            for id in query.streams { s.streams[id]?.days.forEach { days.insert($0) } }
            var segments: [Int32: Segment] = [:]
            for day in days { segments[day] = s.segments[day] }
            return (Array(days), segments)
        }
        var streamIDs = query.streams
        let matcher = query.filter.flatMap { $0.isMatchAll ? nil : QueryMatcher($0) }
        let keys: [StreamID: StreamKey] = matcher == nil ? [:] : shared.state.withLock { s in
            var keys: [StreamID: StreamKey] = [:]
            for id in query.streams { keys[id] = s.streams[id]?.key }
            return keys
        }
        // Streams the filter decides from their key alone (a job log's `job:x`) are read
        // without matching each line, or not at all.
        var lineMatched = Set<StreamID>()
        if let matcher {
            streamIDs = streamIDs.filter { id in
                switch matcher.matches(stream: keys[id] ?? StreamKey(index: "", workflow: "", job: "")) {
                case .some(let verdict): return verdict
                case .none:
                    lineMatched.insert(id)
                    return true
                }
            }
        }
        let wanted = Set(streamIDs)
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
        let noKey = StreamKey(index: "", workflow: "", job: "")

        var sources: [DecodedBlock] = []
        var sourceIDs: [BlockID?] = []
        var result: [LinePage.Ref] = []
        result.reserveCapacity(min(limit, 10_000))
        var truncated = false
        for day in ordered {
            guard limit > result.count else {
                truncated = true
                break
            }
            guard let segment = segments[day] else { continue }
            let needed = limit - result.count
            var candidates: [LinePage.Ref] = []
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
                var head = HeadLinesBuilder()
                var headStreams: [StreamID] = []
                for (id, lsns) in headLSNs {
                    // Lines sealed since the index was read are in a block of this snapshot.
                    let sealedThrough = try txn.get(segment.sealed, Keys.u64(id)).map { try Keys.decodeU64($0) } ?? 0
                    let key = keys[id] ?? noKey
                    for lsn in lsns where lsn > sealedThrough {
                        guard let v = try txn.get(segment.head, u64: lsn) else { continue }
                        let line = try Keys.headLineView(lsn: lsn, value: v)
                        if inWindow(LogPosition(timestamp: line.timestamp, lsn: lsn)),
                            !lineMatched.contains(id) || matcher!.matches(message: line.message, stream: key)
                        {
                            head.append(timestamp: line.timestamp, lsn: lsn, message: line.message, fields: line.fields)
                            headStreams.append(id)
                        }
                    }
                }
                if head.count > 0 {
                    let source = Int32(sources.count)
                    sources.append(head.build())
                    sourceIDs.append(nil)
                    for i in 0..<head.count {
                        candidates.append(
                            LinePage.Ref(
                                timestamp: head.timestamps[i], lsn: head.lsns[i], stream: headStreams[i], source: source, index: Int32(i)))
                    }
                }
                for id in streamIDs {
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
                    let id = BlockID(segment: segment.path, key: block.key, crc: block.header.crc, payloadSize: block.header.payloadSize)
                    let decoded = try blockCache.decoded(id, bytes: bytes)
                    let key = keys[block.stream] ?? noKey
                    let perLine = lineMatched.contains(block.stream) ? matcher : nil
                    let source = Int32(sources.count)
                    var used = false
                    for i in 0..<decoded.count {
                        let p = LogPosition(timestamp: decoded.timestamps[i], lsn: decoded.lsns[i])
                        guard inWindow(p) else { continue }
                        if let perLine, !decoded.withMessage(i, { perLine.matches(message: $0, stream: key) }) { continue }
                        candidates.append(LinePage.Ref(timestamp: p.timestamp, lsn: p.lsn, stream: block.stream, source: source, index: Int32(i)))
                        used = true
                    }
                    if used {
                        sources.append(decoded)
                        sourceIDs.append(id)
                    }
                }
            }
            if ascending {
                candidates.sort { $0.timestamp != $1.timestamp ? $0.timestamp < $1.timestamp : $0.lsn < $1.lsn }
            } else {
                candidates.sort { $0.timestamp != $1.timestamp ? $0.timestamp > $1.timestamp : $0.lsn > $1.lsn }
            }
            if candidates.count > needed || more {
                truncated = true
            }
            result.append(contentsOf: candidates.prefix(needed))
        }
        return LinePage(lines: result, sources: sources, sourceIDs: sourceIDs, next: result.last?.position, truncated: truncated)
    }

    /// `read` on a background thread.
    public func readAsync(_ query: LogQuery) async throws -> LogPage {
        try await blocking { try self.read(query) }
    }

    /// `readLines` on a background thread.
    public func readLinesAsync(_ query: LogQuery) async throws -> LinePage {
        try await blocking { try self.readLines(query) }
    }
}
