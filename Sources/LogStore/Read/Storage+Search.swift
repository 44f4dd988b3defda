import Foundation

extension Storage {
    /// Lines matching `request.query`, newest (highest LSN) first by default, with an LSN cursor.
    ///
    /// Each segment is read through one `SegmentSnapshot`: its units (head lines, blocks the
    /// index leaves) are listed and visited in LSN order in that snapshot, and the scan of a
    /// segment stops as soon as `limit` lines found so far come before anything its next unit
    /// can hold.
    ///
    /// Throws `StorageError.queryTimeout` past `request.deadline` (`queryDeadline()` when nil)
    /// and `queryCancelled` when it is cancelled: checked between blocks, never a partial page.
    public func search(_ request: SearchRequest) throws -> SearchPage {
        let scope = SearchScope(request.query, from: request.from, to: request.to, deadline: request.deadline ?? queryDeadline(), shared: shared)
        let descending = request.order == .descending
        let limit = max(0, request.limit)
        var found: [LogLine] = []
        var blocksRead = 0
        for segment in scope.segments.sorted(by: { descending ? $0.day > $1.day : $0.day < $1.day }) {
            try scope.deadline.check()
            try SegmentSnapshot.read(segment, shared: shared, streams: nil as [StreamID]?, cache: blockCache) { snapshot in
                var units = try snapshot.searchUnits(scope)
                if let cursor = request.cursor {
                    units.removeAll { descending ? $0.minLSN >= cursor : $0.maxLSN <= cursor }
                }
                units.sort { descending ? $0.maxLSN > $1.maxLSN : $0.minLSN < $1.minLSN }
                for unit in units {
                    if found.count >= limit {
                        // The page is full once `limit` lines come before anything this unit holds.
                        let bound = descending ? unit.maxLSN : unit.minLSN
                        let settled = found.filter { descending ? $0.lsn > bound : $0.lsn < bound }.count
                        if settled >= limit { break }
                    }
                    guard let key = scope.keys[unit.stream] else { continue }
                    try scope.deadline.check()
                    if unit.isBlock { blocksRead += 1 }
                    try snapshot.scan(
                        unit, scope: scope, key: key,
                        block: { block, row in
                            let lsn = block.lsns[row]
                            if let cursor = request.cursor, descending ? lsn >= cursor : lsn <= cursor { return }
                            found.append(block.logLine(row, stream: unit.stream))
                        },
                        head: { line in
                            if let cursor = request.cursor, descending ? line.lsn >= cursor : line.lsn <= cursor { return }
                            found.append(line)
                        })
                }
            }
        }
        found.sort { descending ? $0.lsn > $1.lsn : $0.lsn < $1.lsn }
        let more = found.count > limit
        let page = Array(found.prefix(limit))
        return SearchPage(lines: page, next: more || (page.count == limit && limit > 0) ? page.last?.lsn : nil, blocksRead: blocksRead)
    }
}

extension SegmentSnapshot {
    /// Every unit of this segment that can hold lines matching `scope`: streams the query rules
    /// out by their key, blocks the full-text index rules out and blocks outside the time window
    /// are skipped without decompressing anything. Head units carry their matching lines.
    /// Ordered by last LSN.
    func searchUnits(_ scope: SearchScope) throws -> [SearchUnit] {
        var verdicts: [StreamID: SearchUnit.Verdict] = [:]
        func verdict(_ id: StreamID) -> SearchUnit.Verdict {
            if let known = verdicts[id] { return known }
            let v = scope.verdict(id)
            verdicts[id] = v
            return v
        }
        var units = try searchHeadUnits(scope, verdict: verdict)
        var counts: ExactCounts?
        func add(_ ref: BlockRef, _ posting: Posting?) {
            let v = verdict(ref.stream)
            if v == .ruledOut { return }
            if let from = scope.from, ref.maxTimestamp < from { return }
            if let to = scope.to, ref.minTimestamp >= to { return }
            var exact: Int?
            if v == .everyLine {
                exact = ref.count
            } else if posting != nil, let counts {
                exact = counts.count(block: ref.number, lines: ref.count, streamPasses: true)
            }
            let maxLSN = posting.map { $0.maxLSN(firstLSN: ref.firstLSN, lastLSN: ref.lastLSN) } ?? ref.lastLSN
            units.append(
                SearchUnit(
                    stream: ref.stream, blockFirstLSN: ref.firstLSN, preloaded: [], minLSN: ref.firstLSN, maxLSN: maxLSN,
                    minTimestamp: ref.minTimestamp, maxTimestamp: ref.maxTimestamp, exactCount: exact, number: ref.number, lines: ref.count,
                    lastLSN: ref.lastLSN))
        }
        let planner = scope.planner
        let view = planner.isUseless ? PendingView(covered: []) : segment.pending.view(tokens: planner.tokens, prefixes: planner.prefixes)
        let (indexed, next) = try indexState()
        let found = try candidatesAndCounts(planner, indexed: indexed, next: next, pending: view)
        counts = found.counts
        if let candidates = found.candidates {
            for posting in candidates {
                guard let ref = try blockRef(posting.block) else { continue }  // merged or purged
                add(ref, posting)
            }
            // Blocks neither in the stored postings nor in the pending index (sealed since the
            // view was taken, or while indexing was off): scanned.
            if indexed < next {
                try forEachBlockRef(from: indexed) { ref in
                    if ref.number >= next { return false }
                    if !view.covered.contains(ref.number) { add(ref, nil) }
                    return true
                }
            }
        } else {
            try forEachBlockRef { ref in
                add(ref, nil)
                return true
            }
        }
        // By last LSN, the order compaction fills shared frames in (`SharedFrame.swift`): a
        // visit of the day's small blocks inflates each frame once, not once per block.
        units.sort { ($0.lastLSN, $0.number) < ($1.lastLSN, $1.number) }
        return units
    }

    /// One unit per stream with matching head lines in this snapshot, the lines read now.
    private func searchHeadUnits(_ scope: SearchScope, verdict: (StreamID) -> SearchUnit.Verdict) throws -> [SearchUnit] {
        var units: [SearchUnit] = []
        for (id, lsns) in heads where !lsns.isEmpty && verdict(id) != .ruledOut {
            guard let key = scope.keys[id] else { continue }
            try scope.deadline.check()
            var lines: [LogLine] = []
            var counted = 0
            try forEachHeadLine(of: id) { line in
                try scope.deadline.check(counting: &counted)
                guard scope.inTime(line.timestamp), scope.matcher.matches(message: line.message, fields: line.fields, timestamp: line.timestamp, stream: key, lsn: line.lsn) else { return }
                lines.append(
                    LogLine(
                        lsn: line.lsn, timestamp: line.timestamp, stream: id, message: String(decoding: line.message, as: UTF8.self),
                        fields: String(decoding: line.fields, as: UTF8.self)))
            }
            if let first = lines.first, let last = lines.last {
                units.append(
                    SearchUnit(
                        stream: id, blockFirstLSN: nil, preloaded: lines, minLSN: first.lsn, maxLSN: last.lsn, minTimestamp: .min,
                        maxTimestamp: .max, exactCount: nil))
            }
        }
        return units
    }

    /// Calls `block` with each matching row in the window of a block unit (decoded through the
    /// cache; counting needs only the timestamp, no strings), or `head` with a head unit's lines.
    func scan(
        _ unit: SearchUnit, scope: SearchScope, key: StreamKey, block rowBody: (DecodedBlock, Int) -> Void, head: (LogLine) -> Void
    ) throws {
        guard let first = unit.blockFirstLSN else {
            for line in unit.preloaded { head(line) }
            return
        }
        guard let stored = try block(stream: unit.stream, firstLSN: first) else { return }
        try Self.scan(try decode(stored), scope: scope, key: key, rowBody)
    }

    /// Calls `body` with each row of `block` in `scope`'s window whose message matches.
    static func scan(_ block: DecodedBlock, scope: SearchScope, key: StreamKey, _ body: (DecodedBlock, Int) -> Void) throws {
        var counted = 0
        var cache = QueryMatcher.FieldsCache()
        for i in 0..<block.count where scope.inTime(block.timestamps[i]) {
            try scope.deadline.check(counting: &counted)
            if block.withMessageAndFields(i, {
                scope.matcher.matches(message: $0, fields: $1, timestamp: block.timestamps[i], stream: key, lsn: block.lsns[i], cache: &cache)
            }) {
                body(block, i)
            }
        }
    }
}
