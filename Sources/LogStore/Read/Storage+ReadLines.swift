import Foundation

extension Storage {
    /// Reads lines of `query.streams` in `(timestamp, LSN)` order across day segments, head
    /// and blocks alike. Never touches the index. Safe on any thread; blocks on I/O.
    public func read(_ query: LogQuery) throws -> LogPage {
        try readLines(query).logPage
    }

    /// `read`, with the lines left in place in their decoded blocks (what the HTTP answers use).
    ///
    /// Days are read one after another in the query's order, each through one
    /// `SegmentSnapshot`, until `limit` lines are found. Throws `StorageError.queryTimeout` past
    /// `query.deadline` (`queryDeadline()` when nil) and `queryCancelled` when it is cancelled:
    /// checked between blocks, never a partial page.
    public func readLines(_ query: LogQuery) throws -> LinePage {
        let deadline = query.deadline ?? queryDeadline()
        let limit = max(0, query.limit)
        let ascending = query.order == .ascending
        let plan = LogReadPlan(query, shared: shared)
        let window = LogWindow(query)
        let days = plan.segments.keys.filter { window.days.contains($0) }.sorted(by: ascending ? (<) : (>))
        var page = LinePageBuilder(limit: limit, maxBytes: options.maxReadBytes, shortPages: query.shortPages)
        for day in days {
            guard page.lines.count < limit else {
                page.truncated = true
                break
            }
            guard let segment = plan.segments[day] else { continue }
            try deadline.check()
            let needed = limit - page.lines.count
            var (candidates, more) = try SegmentSnapshot.read(segment, shared: shared, streams: plan.wanted, cache: blockCache) { snapshot in
                var candidates = try snapshot.logOrderHeadLines(plan, window, deadline: deadline, into: &page)
                let more = try snapshot.logOrderBlockLines(
                    plan, window, ascending: ascending, needed: needed, deadline: deadline, into: &candidates, page: &page)
                return (candidates, more)
            }
            if ascending {
                candidates.sort { $0.timestamp != $1.timestamp ? $0.timestamp < $1.timestamp : $0.lsn < $1.lsn }
            } else {
                candidates.sort { $0.timestamp != $1.timestamp ? $0.timestamp > $1.timestamp : $0.lsn > $1.lsn }
            }
            if candidates.count > needed || more || page.endedEarly { page.truncated = true }
            page.lines.append(contentsOf: candidates.prefix(needed))
            if page.endedEarly { break }
        }
        return page.build()
    }

    /// `read` on a background thread; cancelling the calling task stops it (between blocks).
    public func readAsync(_ query: LogQuery) async throws -> LogPage {
        try await blockingRead(within: query.deadline) { deadline in
            var query = query
            query.deadline = deadline
            return try self.read(query)
        }
    }

    /// `readLines` on a background thread; cancelling the calling task stops it (between blocks).
    public func readLinesAsync(_ query: LogQuery) async throws -> LinePage {
        try await blockingRead(within: query.deadline) { deadline in
            var query = query
            query.deadline = deadline
            return try self.readLines(query)
        }
    }
}

extension SegmentSnapshot {
    /// The blocks the full-text index leaves for `plan`'s filter, by stream and first LSN (the
    /// index only prunes the blocks of line-matched streams; blocks it does not cover yet are
    /// kept), or nil when it cannot narrow anything.
    fileprivate func indexedCandidates(_ plan: LogReadPlan) throws -> [StreamID: Set<LSN>]? {
        guard let planner = plan.planner else { return nil }
        let view = segment.pending.view(tokens: planner.tokens, prefixes: planner.prefixes)
        let (indexed, next) = try indexState()
        guard let candidates = try candidates(planner, indexed: indexed, next: next, pending: view) else { return nil }
        var keep: [StreamID: Set<LSN>] = [:]
        for posting in candidates {
            if let ref = try blockRef(posting.block) { keep[ref.stream, default: []].insert(ref.firstLSN) }
        }
        if indexed < next {
            try forEachBlockRef(from: indexed) { ref in
                if ref.number >= next { return false }
                if !view.covered.contains(ref.number) { keep[ref.stream, default: []].insert(ref.firstLSN) }
                return true
            }
        }
        return keep
    }

    /// The head lines of `plan`'s streams in `window` (and passing the filter), packed into one
    /// block-shaped source of `page`; returns their refs, unsorted.
    fileprivate func logOrderHeadLines(
        _ plan: LogReadPlan, _ window: LogWindow, deadline: QueryDeadline, into page: inout LinePageBuilder
    ) throws -> [LinePage.Ref] {
        var head = HeadLinesBuilder()
        var headStreams: [StreamID] = []
        for id in plan.streams where heads[id] != nil {
            try deadline.check()
            let matcher = plan.lineMatcher(id)
            let key = plan.key(id)
            var counted = 0
            var cache = QueryMatcher.FieldsCache()
            try forEachHeadLine(of: id) { line in
                if matcher != nil { try deadline.check(counting: &counted) }
                guard window.contains(LogPosition(timestamp: line.timestamp, lsn: line.lsn)), line.lsn <= plan.throughLSN else { return }
                if let matcher,
                    !matcher.matches(message: line.message, fields: line.fields, timestamp: line.timestamp, stream: key, lsn: line.lsn, cache: &cache)
                {
                    return
                }
                head.append(timestamp: line.timestamp, lsn: line.lsn, message: line.message, fields: line.fields)
                headStreams.append(id)
            }
        }
        guard head.count > 0 else { return [] }
        let source = page.add(head.build(), id: nil)
        if page.overLimit && !page.shortPages { throw StorageError.answerTooLarge(limit: page.maxBytes) }
        var refs: [LinePage.Ref] = []
        refs.reserveCapacity(head.count)
        for i in 0..<head.count {
            refs.append(LinePage.Ref(timestamp: head.timestamps[i], lsn: head.lsns[i], stream: headStreams[i], source: source, index: Int32(i)))
        }
        return refs
    }

    /// Adds to `candidates` the block lines of `plan`'s streams in `window`, decoding blocks in
    /// the read's order only while they can still contribute one of the `needed` first lines.
    /// Returns true when it stopped before a block that may hold more lines.
    fileprivate func logOrderBlockLines(
        _ plan: LogReadPlan, _ window: LogWindow, ascending: Bool, needed: Int, deadline: QueryDeadline, into candidates: inout [LinePage.Ref],
        page: inout LinePageBuilder
    ) throws -> Bool {
        let keep = try indexedCandidates(plan)
        var blocks: [StoredBlock] = []
        for id in plan.streams {
            func add(_ block: StoredBlock) -> Bool {
                if !window.excludes(block.header) && block.header.firstLSN <= plan.throughLSN { blocks.append(block) }
                return true
            }
            if let keep, plan.lineMatched.contains(id) {
                // Blocks the index rules out are skipped by their key, their headers unread.
                guard let kept = keep[id] else { continue }
                try forEachBlock(of: id, where: { kept.contains($0) }, add)
            } else {
                try forEachBlock(of: id, add)
            }
        }
        if ascending {
            blocks.sort { $0.header.minPosition < $1.header.minPosition }
        } else {
            blocks.sort { $0.header.maxPosition > $1.header.maxPosition }
        }
        for (b, block) in blocks.enumerated() {
            // Stop when `needed` candidates already come before anything this block holds.
            if candidates.count >= needed {
                let bound = ascending ? block.header.minPosition : block.header.maxPosition
                var before = 0
                for c in candidates where ascending ? c.position < bound : c.position > bound { before += 1 }
                if before >= needed { return true }
            }
            try deadline.check()
            let decoded = try decode(block)
            let matcher = plan.lineMatcher(block.stream)
            let key = plan.key(block.stream)
            let source = page.nextSource
            let first = candidates.count
            var counted = 0
            var cache = QueryMatcher.FieldsCache()
            for i in 0..<decoded.count {
                if matcher != nil { try deadline.check(counting: &counted) }
                let p = LogPosition(timestamp: decoded.timestamps[i], lsn: decoded.lsns[i])
                guard window.contains(p), p.lsn <= plan.throughLSN else { continue }
                if let matcher,
                    !decoded.withMessageAndFields(i, {
                        matcher.matches(message: $0, fields: $1, timestamp: decoded.timestamps[i], stream: key, lsn: decoded.lsns[i], cache: &cache)
                    })
                {
                    continue
                }
                candidates.append(LinePage.Ref(timestamp: p.timestamp, lsn: p.lsn, stream: block.stream, source: source, index: Int32(i)))
            }
            let used = candidates.count - first
            guard used > 0 else { continue }
            if used * 4 < decoded.count {
                // A few lines of a big block: copied out, so that a page of sparse matches holds
                // its lines, not every block they came from.
                var copied = HeadLinesBuilder()
                for c in first..<candidates.count {
                    let ref = candidates[c]
                    decoded.withMessageAndFields(Int(ref.index)) { copied.append(timestamp: ref.timestamp, lsn: ref.lsn, message: $0, fields: $1) }
                    candidates[c] = LinePage.Ref(timestamp: ref.timestamp, lsn: ref.lsn, stream: ref.stream, source: source, index: Int32(c - first))
                }
                _ = page.add(copied.build(), id: nil)
            } else {
                _ = page.add(decoded, id: block.id(in: segment))
            }
            if page.overLimit {
                guard page.shortPages else { throw StorageError.answerTooLarge(limit: page.maxBytes) }
                // End the page before the next block: the lines found so far that come before
                // everything it (and every later block) holds are the read's first lines.
                guard b + 1 < blocks.count else {
                    page.endedEarly = true
                    return false
                }
                let bound = ascending ? blocks[b + 1].header.minPosition : blocks[b + 1].header.maxPosition
                let kept = candidates.filter { ascending ? $0.position < bound : $0.position > bound }
                if !kept.isEmpty {
                    candidates = kept
                    page.endedEarly = true
                    return true
                }
            }
        }
        return false
    }
}
