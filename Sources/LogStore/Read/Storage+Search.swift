import Foundation
import Synchronization

extension Storage {
    /// A block or the head lines of one stream in one segment, as a unit of search work.
    struct SearchUnit {
        var segment: Segment
        var stream: StreamID
        var key: [UInt8]?  // block key; nil = the stream's head lines in this segment
        /// For head units: the matching head lines, read in the same transaction that listed
        /// the blocks (a line sealed later is then in a block this search does not know).
        var preloaded: [LogLine]
        /// Bounds of the LSNs of the unit's matching lines (from the index when it knows).
        var minLSN: LSN
        var maxLSN: LSN
        var minTimestamp: Int64
        var maxTimestamp: Int64
        /// For blocks: how many of its lines match, when the index (or the stream alone) says
        /// so exactly; nil when only decoding the block can tell.
        var exactCount: Int?
    }

    /// What a stream's fields say about a query.
    enum Verdict { case ruledOut, byMessage, everyLine }

    /// Every unit that can hold matching lines: streams the query rules out by their fields,
    /// blocks the full-text index rules out and blocks outside the time window are skipped
    /// without decompressing anything.
    func searchUnits(matcher: QueryMatcher, from: Int64?, to: Int64?) throws -> [SearchUnit] {
        let (segments, streams, heads, tombstones) = shared.state.withLock { s in (Array(s.segments.values), s.streams, s.heads, s.tombstones) }
        let lowDay = from.map(Day.of) ?? .min
        let highDay = to.map { Day.of($0 - 1) } ?? .max
        let planner = IndexPlanner(matcher.query)
        let countingTerm = planner.countingTerm != nil
        var units: [SearchUnit] = []
        for segment in segments where segment.day >= lowDay && segment.day <= highDay {
            var allowed: [StreamID: Verdict] = [:]
            func allow(_ id: StreamID) -> Verdict {
                if let known = allowed[id] { return known }
                var verdict = Verdict.ruledOut
                if let key = streams[id]?.key, !(tombstones.contains(key.workflow) && !key.workflow.isEmpty) {
                    switch matcher.matches(stream: key) {
                    case true?: verdict = .everyLine
                    case nil: verdict = .byMessage
                    case false?: break
                    }
                }
                allowed[id] = verdict
                return verdict
            }
            let view = planner.isUseless ? PendingView(covered: []) : segment.pending.view(tokens: planner.tokens, prefixes: planner.prefixes)
            try segment.env.read { txn in
                for (id, lsns) in heads[segment.day] ?? [:] where !lsns.isEmpty && allow(id) != .ruledOut {
                    guard let key = streams[id]?.key else { continue }
                    let sealedThrough = try txn.get(segment.sealed, Keys.u64(id)).map { try Keys.decodeU64($0) } ?? 0
                    var lines: [LogLine] = []
                    for lsn in lsns where lsn > sealedThrough {
                        guard let v = try txn.get(segment.head, Keys.u64(lsn)) else { continue }
                        let (_, line) = try Keys.decodeHeadLine(lsn: lsn, value: v)
                        if let from, line.timestamp < from { continue }
                        if let to, line.timestamp >= to { continue }
                        guard line.message.withUnsafeBytes({ matcher.matches(message: $0, stream: key) }) else { continue }
                        lines.append(
                            LogLine(lsn: lsn, timestamp: line.timestamp, stream: id, message: String(decoding: line.message, as: UTF8.self),
                                fields: String(decoding: line.fields, as: UTF8.self)))
                    }
                    if let first = lines.first, let last = lines.last {
                        units.append(
                            SearchUnit(
                                segment: segment, stream: id, key: nil, preloaded: lines, minLSN: first.lsn, maxLSN: last.lsn,
                                minTimestamp: .min, maxTimestamp: .max, exactCount: nil))
                    }
                }
                func add(_ ref: BlockRef, _ posting: Posting?) {
                    let verdict = allow(ref.stream)
                    if verdict == .ruledOut { return }
                    if let from, ref.maxTimestamp < from { return }
                    if let to, ref.minTimestamp >= to { return }
                    var exact: Int?
                    if verdict == .everyLine {
                        exact = ref.count
                    } else if countingTerm, let posting {
                        exact = Int(posting.count)
                    }
                    let maxLSN = posting.map { $0.maxLSN(firstLSN: ref.firstLSN, lastLSN: ref.lastLSN) } ?? ref.lastLSN
                    units.append(
                        SearchUnit(
                            segment: segment, stream: ref.stream, key: ref.key, preloaded: [], minLSN: ref.firstLSN, maxLSN: maxLSN,
                            minTimestamp: ref.minTimestamp, maxTimestamp: ref.maxTimestamp, exactCount: exact))
                }
                let (indexed, next) = try segment.indexState(txn)
                if let candidates = try planner.candidates(segment: segment, txn: txn, indexed: indexed, next: next, pending: view) {
                    for (number, posting) in candidates {
                        guard let v = try txn.get(segment.blockDir, Keys.u32(number)) else { continue }  // purged
                        add(try BlockRef(number: number, decoding: v), posting)
                    }
                    // Blocks neither in the stored postings nor in the pending index (sealed
                    // since the view was taken, or while indexing was off): scanned.
                    if indexed < next {
                        try txn.scan(segment.blockDir, from: Keys.u32(indexed)) { k, v in
                            let number = try Keys.decodeU32(k)
                            if number >= next { return false }
                            if !view.covered.contains(number) { add(try BlockRef(number: number, decoding: v), nil) }
                            return true
                        }
                    }
                } else {
                    try txn.scan(segment.blockDir) { k, v in
                        add(try BlockRef(number: try Keys.decodeU32(k), decoding: v), nil)
                        return true
                    }
                }
            }
        }
        return units
    }

    /// Decodes one unit and calls `body` with each line that matches (and is in the window).
    func scan(_ unit: SearchUnit, matcher: QueryMatcher, key: StreamKey, from: Int64?, to: Int64?, _ body: (LogLine) -> Void) throws {
        try scan(unit, matcher: matcher, key: key, from: from, to: to, block: { body($0.logLine($1, stream: unit.stream)) }, head: body)
    }

    /// `scan` leaving matching block lines in place: `block` gets the decoded block and the
    /// row (counting needs only the timestamp, no strings), `head` the unit's head lines.
    func scan(
        _ unit: SearchUnit, matcher: QueryMatcher, key: StreamKey, from: Int64?, to: Int64?,
        block rowBody: (DecodedBlock, Int) -> Void, head: (LogLine) -> Void
    ) throws {
        let inTime = { (ts: Int64) in (from.map { ts >= $0 } ?? true) && (to.map { ts < $0 } ?? true) }
        try unit.segment.env.read { txn in
            if let blockKey = unit.key {
                guard let bytes = try unit.segment.block(txn, key: blockKey) else { return }
                let block = try BlockCodec.decode(bytes)
                for i in 0..<block.count where inTime(block.timestamps[i]) {
                    if block.withMessage(i, { matcher.matches(message: $0, stream: key) }) { rowBody(block, i) }
                }
            } else {
                for line in unit.preloaded { head(line) }
            }
        }
    }

    /// Lines matching `request.query`, newest (highest LSN) first by default, with an LSN cursor.
    ///
    /// Units are visited in LSN order and the scan stops as soon as no unvisited unit can hold
    /// a line that belongs on this page.
    public func search(_ request: SearchRequest) throws -> SearchPage {
        let matcher = QueryMatcher(request.query)
        let descending = request.order == .descending
        let limit = max(0, request.limit)
        var units = try searchUnits(matcher: matcher, from: request.from, to: request.to)
        if let cursor = request.cursor {
            units.removeAll { descending ? $0.minLSN >= cursor : $0.maxLSN <= cursor }
        }
        units.sort { descending ? $0.maxLSN > $1.maxLSN : $0.minLSN < $1.minLSN }
        let keys = shared.state.withLock { s in s.streams.mapValues(\.key) }
        var found: [LogLine] = []
        var blocksRead = 0
        for unit in units {
            if found.count >= limit {
                // The page is full once `limit` lines come before anything this unit holds.
                let bound = descending ? unit.maxLSN : unit.minLSN
                let settled = found.filter { descending ? $0.lsn > bound : $0.lsn < bound }.count
                if settled >= limit { break }
            }
            guard let key = keys[unit.stream] else { continue }
            if unit.key != nil { blocksRead += 1 }
            try scan(unit, matcher: matcher, key: key, from: request.from, to: request.to) { line in
                if let cursor = request.cursor, descending ? line.lsn >= cursor : line.lsn <= cursor { return }
                found.append(line)
            }
        }
        found.sort { descending ? $0.lsn > $1.lsn : $0.lsn < $1.lsn }
        let more = found.count > limit
        let page = Array(found.prefix(limit))
        return SearchPage(lines: page, next: more || (page.count == limit && limit > 0) ? page.last?.lsn : nil, blocksRead: blocksRead)
    }

    /// Counts lines matching `query` in `[from, to)` per `step`-wide time bucket and per stream.
    ///
    /// Blocks whose count the index knows are added up; the others are decoded and matched on
    /// every core (a phrase's or an AND's candidate blocks: hundreds of milliseconds of work).
    public func hits(_ query: Query, from: Int64? = nil, to: Int64? = nil, step: Int64) throws -> HitsResult {
        precondition(step > 0, "BUG: hits step must be positive")
        let matcher = QueryMatcher(query)
        let units = try searchUnits(matcher: matcher, from: from, to: to)
        let keys = shared.state.withLock { s in s.streams.mapValues(\.key) }
        @Sendable func bucketOf(_ ts: Int64) -> Int64 { ts >= 0 ? ts / step * step : ((ts + 1) / step - 1) * step }
        var counts = HitCounts()
        var toScan: [(unit: SearchUnit, key: StreamKey)] = []
        for unit in units {
            guard let key = keys[unit.stream] else { continue }
            // A block inside the window and inside one bucket whose count the index knows.
            if let exact = unit.exactCount, unit.key != nil, from.map({ unit.minTimestamp >= $0 }) ?? true,
                to.map({ unit.maxTimestamp < $0 }) ?? true, bucketOf(unit.minTimestamp) == bucketOf(unit.maxTimestamp)
            {
                if exact > 0 { counts.add(bucketOf(unit.minTimestamp), unit.stream, exact) }
                continue
            }
            toScan.append((unit, key))
        }
        @Sendable func count(_ item: (unit: SearchUnit, key: StreamKey), into c: inout HitCounts) throws {
            if item.unit.key != nil { c.blocksRead += 1 }
            let stream = item.unit.stream
            try scan(
                item.unit, matcher: matcher, key: item.key, from: from, to: to,
                block: { block, row in c.add(bucketOf(block.timestamps[row]), stream, 1) },
                head: { line in c.add(bucketOf(line.timestamp), stream, 1) })
        }
        let workers = min(toScan.count / 2, ProcessInfo.processInfo.activeProcessorCount)
        if workers <= 1 {
            for item in toScan { try count(item, into: &counts) }
        } else {
            // Each worker takes the next unit until none is left, then its partial counts are merged.
            let parts = UnsafeMutableBufferPointer<(counts: HitCounts, error: (any Error)?)>.allocate(capacity: workers)
            parts.initialize(repeating: (HitCounts(), nil))
            defer {
                _ = parts.deinitialize()
                parts.deallocate()
            }
            nonisolated(unsafe) let output = parts
            let work = toScan
            let next = Mutex(0)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var mine = HitCounts()
                do {
                    while true {
                        let i = next.withLock { n in
                            defer { n += 1 }
                            return n
                        }
                        if i >= work.count { break }
                        try count(work[i], into: &mine)
                    }
                } catch {
                    output[w].error = error
                    next.withLock { $0 = work.count }  // the others stop too
                }
                output[w].counts = mine
            }
            if let error = parts.lazy.compactMap(\.error).first { throw error }
            for part in parts { counts.merge(part.counts) }
        }
        return HitsResult(
            buckets: counts.buckets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, byStream: counts.byStream,
            total: counts.total, blocksRead: counts.blocksRead)
    }
}
