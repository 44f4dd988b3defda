import Foundation
import Synchronization

/// A sealed block whose matching lines a visit knows without reading their messages: all of
/// them are in the visit's window and LSN bound, and the index (or the stream's key) gives
/// their number exactly.
public struct VisitedBlock {
    public let stream: StreamID
    public let key: StreamKey
    /// Lines of the block that match the visit's query.
    public let count: Int
    public let minTimestamp: Int64
    public let maxTimestamp: Int64
    /// True when every line of the block matches: `timestamps()` are then the matching lines'.
    public let everyLine: Bool
    /// Lines the block holds (matching or not).
    let lines: Int
    /// The one value every line of the block holds at the visit's value path, as the field
    /// index proves it (see `SegmentSnapshot.singleValues`); nil when it cannot.
    public let value: String?
    let load: () throws -> [Int64]

    /// The timestamps of all the block's lines, ascending (only its first column is inflated;
    /// kept in a cache bounded by bytes).
    public func timestamps() throws -> [Int64] { try load() }
}

extension Storage {
    /// Timestamp columns kept for the next aggregation, keyed by block identity.
    static let timestampColumns = ByteBoundedLRU<BlockID, [Int64]>(capacity: 64 << 20)

    /// Visits what `visit` names like `visitLines`, but offers each sealed block whose matching
    /// lines are known without decoding (`VisitedBlock`) to `block` first; when `block` returns
    /// false, the block's lines go to `line` one by one. Head lines and the other blocks always
    /// go to `line`. `valuePath` (a dotted document path) asks for `VisitedBlock.value`.
    ///
    /// Throws `StorageError.queryTimeout` past the deadline and `queryCancelled` when it is
    /// cancelled: checked between blocks and every 128 lines.
    public func visitBlocks(
        _ visit: LineVisit, valuePath: String? = nil, prefetch: ((VisitedBlock) -> Bool)? = nil, block blockBody: (VisitedBlock) throws -> Bool,
        line body: (VisitedLine) throws -> Void
    ) throws {
        let scope = SearchScope(visit.query, from: visit.from, to: visit.to, deadline: visit.deadline ?? queryDeadline(), shared: shared)
        let through = visit.throughLSN ?? .max
        for segment in scope.segments {
            try scope.deadline.check()
            try SegmentSnapshot.read(segment, shared: shared, streams: nil as [StreamID]?, cache: blockCache) { snapshot in
                let units = try snapshot.searchUnits(scope)
                var values: [BlockKey: String] = [:]
                if let valuePath { values = try snapshot.singleValues(path: valuePath) }
                let cache = snapshot.cache
                // Each unit: its stored block and, when its matching lines are known, the offer.
                var work: [(unit: SearchUnit, key: StreamKey, stored: StoredBlock?, offer: VisitedBlock?)] = []
                work.reserveCapacity(units.count)
                for unit in units {
                    if let wanted = visit.streams, !wanted.contains(unit.stream) { continue }
                    if unit.minLSN > through { continue }
                    guard let key = scope.keys[unit.stream] else { continue }
                    guard let first = unit.blockFirstLSN else {
                        work.append((unit, key, nil, nil))
                        continue
                    }
                    if unit.exactCount == 0 { continue }
                    guard let stored = try snapshot.block(stream: unit.stream, firstLSN: first) else { continue }
                    let h = stored.header
                    var offer: VisitedBlock?
                    if let exact = unit.exactCount, h.lastLSN <= through, scope.inTime(h.minTimestamp), scope.inTime(h.maxTimestamp) {
                        let id = stored.id(in: segment)
                        offer = VisitedBlock(
                            stream: unit.stream, key: key, count: exact, minTimestamp: h.minTimestamp, maxTimestamp: h.maxTimestamp,
                            everyLine: exact == h.count, lines: h.count, value: values[BlockKey(stream: unit.stream, firstLSN: first)],
                            load: { try Self.timestampColumn(stored, id: id, cache: cache, segment: segment) })
                    }
                    work.append((unit, key, stored, offer))
                }
                if let prefetch {
                    try Self.prefetchTimestamps(work.compactMap { $0.offer.flatMap { prefetch($0) ? $0 : nil } }, deadline: scope.deadline)
                }
                for (unit, key, stored, offer) in work {
                    try scope.deadline.check()
                    guard let stored else {
                        try Self.visitHead(unit, key: key, through: through, body)
                        continue
                    }
                    if let offer, try blockBody(offer) { continue }
                    try Self.visitBlockLines(stored, snapshot: snapshot, scope: scope, key: key, through: through, body)
                }
            }
        }
    }

    /// Reads the timestamp columns of `blocks` into the column cache on every core (as many as
    /// fit in half of it). Must run while the blocks' snapshot is open.
    private static func prefetchTimestamps(_ blocks: [VisitedBlock], deadline: QueryDeadline) throws {
        var budget = timestampColumns.capacity / 2
        var wanted: [VisitedBlock] = []
        for b in blocks {
            budget -= b.lines * 8
            if budget < 0 { break }
            wanted.append(b)
        }
        let workers = min(wanted.count / 4, ProcessInfo.processInfo.activeProcessorCount)
        guard workers > 1 else { return }
        nonisolated(unsafe) let work = wanted  // block bytes in the map, valid while the caller's snapshot is open
        let next = Mutex(0)
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.withLock { n in
                    defer { n += 1 }
                    return n
                }
                if i >= work.count { return }
                do {
                    try deadline.check()
                    _ = try work[i].timestamps()
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    next.withLock { $0 = work.count }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// A block's timestamp column: from the column cache, else its first column inflated (or
    /// the whole block decoded, for a codec the prefix reader does not know).
    private static func timestampColumn(_ stored: StoredBlock, id: BlockID, cache: BlockCache?, segment: Segment) throws -> [Int64] {
        if let known = timestampColumns.get(id) { return known }
        let column: [Int64]
        switch stored.header.codec {
        case 0, 1, 2: column = try BlockCodec.timestamps(stored.bytes)
        case 3:
            guard let dictionary = try segment.dictionary.bytes() else { throw CorruptDataError("block codec 3 in a day without a preset dictionary") }
            column = try dictionary.withUnsafeBytes { d throws(CorruptDataError) in try BlockCodec.timestamps(stored.bytes, dictionary: d) }
        default: column = try stored.decode(cache: cache, segment: segment).timestamps
        }
        timestampColumns.put(id, column, size: column.count * 8 + id.memorySize + 32)
        return column
    }

    private static func visitHead(_ unit: SearchUnit, key: StreamKey, through: LSN, _ body: (VisitedLine) throws -> Void) throws {
        for line in unit.preloaded where line.lsn <= through {
            var message = line.message
            var fields = line.fields
            try message.withUTF8 { m in
                try fields.withUTF8 { f in
                    try body(
                        VisitedLine(
                            timestamp: line.timestamp, lsn: line.lsn, stream: unit.stream, key: key, message: UnsafeRawBufferPointer(m),
                            fields: UnsafeRawBufferPointer(f)))
                }
            }
        }
    }

    private static func visitBlockLines(
        _ stored: StoredBlock, snapshot: borrowing SegmentSnapshot, scope: SearchScope, key: StreamKey, through: LSN,
        _ body: (VisitedLine) throws -> Void
    ) throws {
        let block = try snapshot.decode(stored)
        var counted = 0
        let everyLine = scope.verdict(stored.stream) == .everyLine
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
                        timestamp: block.timestamps[i], lsn: block.lsns[i], stream: stored.stream, key: key, message: message, fields: fields))
            }
        }
    }
}

extension SegmentSnapshot {
    /// The blocks of this snapshot whose every line holds exactly one value at `path`, a string
    /// (not a date), with that value, as the field tokens prove it (`FieldTokens`): the block
    /// carries field tokens and no template-slot token for `path`, its only type token for
    /// `path` is `text`, and its only value token for `path` counts every line of the block.
    /// Values the index cuts (`FieldTokens.maxValueBytes` bytes and longer) or that hold a
    /// backslash or a control character prove nothing. Blocks not indexed yet prove nothing.
    func singleValues(path: String) throws -> [BlockKey: String] {
        let p = Array(path.utf8)
        let (indexed, _) = try indexState()
        var marked = Set<UInt32>()
        var slotted = Set<UInt32>()
        var types: [UInt32: [String]] = [:]
        var values: [UInt32: [(String, UInt32)]] = [:]
        try fieldPostings(indexed: indexed, prefix: [FieldTokens.marker]) { token, posting in
            if token.count == 1 { marked.insert(posting.block) }
        }
        try fieldPostings(indexed: indexed, prefix: FieldTokens.slotToken(p)) { token, posting in
            if token.count == p.count + 1 { slotted.insert(posting.block) }
        }
        let typePrefix = [FieldTokens.type] + p + [FieldTokens.separator]
        try fieldPostings(indexed: indexed, prefix: typePrefix) { token, posting in
            types[posting.block, default: []].append(String(decoding: token.dropFirst(typePrefix.count), as: UTF8.self))
        }
        let valuePrefix = [FieldTokens.value] + p + [FieldTokens.separator]
        try fieldPostings(indexed: indexed, prefix: valuePrefix) { token, posting in
            let text = token.dropFirst(valuePrefix.count)
            guard text.count < FieldTokens.maxValueBytes, !text.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\\") }),
                let s = String(validating: text, as: UTF8.self)
            else {
                values[posting.block, default: []].append(("", 0))  // proves nothing
                return
            }
            values[posting.block, default: []].append((s, posting.count))
        }
        var out: [BlockKey: String] = [:]
        for (number, found) in values where found.count == 1 && marked.contains(number) && !slotted.contains(number) {
            guard types[number] == ["text"], found[0].1 > 0, let ref = try blockRef(number), Int(found[0].1) == ref.count else { continue }
            out[BlockKey(stream: ref.stream, firstLSN: ref.firstLSN)] = found[0].0
        }
        return out
    }

    /// Calls `body` with each token starting with `prefix` and each of its postings: stored
    /// (blocks below `indexed`), packed, and pending (the others).
    private func fieldPostings(indexed: UInt32, prefix: [UInt8], _ body: (ArraySlice<UInt8>, Posting) -> Void) throws {
        try txn.scan(segment.postings, prefix: prefix) { k, v in
            let token = Postings.token(ofKey: k).array[...]
            try Postings.decode(key: k, value: v) { posting in if posting.block < indexed { body(token, posting) } }
            return true
        }
        if let runs = segment.postingRuns {
            try PostingRuns.scanTokens(txn, runs, prefix: prefix) { token, postings in
                for posting in postings where posting.block < indexed { body(token, posting) }
            }
        }
        for (token, postings) in segment.pending.entries(prefix: prefix) {
            for posting in postings where posting.block >= indexed { body(token[...], posting) }
        }
    }
}
