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
    /// True when every line of the block matches: `timestamps` are then the matching lines'.
    public let everyLine: Bool
    /// Lines the block holds (matching or not).
    let lines: Int
    /// The one value every line of the block holds at the visit's value path, as the field
    /// index proves it (see `SegmentSnapshot.singleValues`); nil when it cannot.
    public let value: String?
    /// The timestamps of all the block's lines, ascending, when the visit's `wantsTimestamps`
    /// asked for them (only the block's first column is inflated, kept in a cache bounded by
    /// bytes); nil otherwise.
    public internal(set) var timestamps: [Int64]?
}

extension Storage {
    /// A block's timestamp column in the cache: its segment object and its block number.
    struct ColumnKey: Hashable {
        let segment: UInt64
        let number: UInt32
    }

    /// Timestamp columns kept for the next aggregation.
    static let timestampColumns = ByteBoundedLRU<ColumnKey, [Int64]>(capacity: 64 << 20)

    /// Visits what `visit` names like `visitLines`, but offers each sealed block whose matching
    /// lines are known without decoding (`VisitedBlock`) to `block` first; when `block` returns
    /// false, the block's lines go to `line` one by one. Head lines and the other blocks always
    /// go to `line`. `valuePath` (a dotted document path) asks for `VisitedBlock.value`;
    /// `wantsTimestamps` says which offers need `VisitedBlock.timestamps` (read on every core).
    ///
    /// Per block, nothing is allocated or looked up in the segment unless its timestamp column
    /// or its lines are needed: the offer comes from the block directory entry the index
    /// planner read.
    ///
    /// Throws `StorageError.queryTimeout` past the deadline and `queryCancelled` when it is
    /// cancelled: checked between blocks and every 128 lines.
    public func visitBlocks(
        _ visit: LineVisit, valuePath: String? = nil, wantsTimestamps: ((VisitedBlock) -> Bool)? = nil,
        block blockBody: (VisitedBlock) throws -> Bool, line body: (VisitedLine) throws -> Void
    ) throws {
        let scope = SearchScope(visit.query, from: visit.from, to: visit.to, deadline: visit.deadline ?? queryDeadline(), shared: shared)
        let through = visit.throughLSN ?? .max
        for segment in scope.segments {
            try scope.deadline.check()
            try SegmentSnapshot.read(segment, shared: shared, streams: nil as [StreamID]?, cache: blockCache) { snapshot in
                let units = try snapshot.searchUnits(scope)
                var values: [UInt32: String] = [:]
                if let valuePath { values = try snapshot.provenValues(path: valuePath) }
                // In pieces of at most `columnLines` timestamps read ahead: per unit its
                // stream's key (nil: skipped) and, when its matching lines are known, the offer.
                var keys: [StreamKey?] = []
                var offers: [VisitedBlock?] = []
                var columns: [Int] = []  // offers (by position in the piece) that want their timestamp column
                var lastStream: StreamID?
                var lastKey: StreamKey?
                var start = 0
                while start < units.count {
                    keys.removeAll(keepingCapacity: true)
                    offers.removeAll(keepingCapacity: true)
                    columns.removeAll(keepingCapacity: true)
                    var columnLines = 0
                    var end = start
                    while end < units.count && columnLines < Self.columnLines {
                        let i = end
                        end += 1
                        keys.append(nil)
                        offers.append(nil)
                        let stream = units[i].stream
                        if let wanted = visit.streams, !wanted.contains(stream) { continue }
                        if units[i].minLSN > through { continue }
                        if stream != lastStream {
                            lastStream = stream
                            lastKey = scope.keys[stream]
                        }
                        guard let key = lastKey else { continue }
                        guard units[i].blockFirstLSN != nil else {
                            keys[i - start] = key
                            continue
                        }
                        if units[i].exactCount == 0 { continue }
                        keys[i - start] = key
                        guard let exact = units[i].exactCount, units[i].lastLSN <= through, scope.inTime(units[i].minTimestamp),
                            scope.inTime(units[i].maxTimestamp)
                        else { continue }
                        let offer = VisitedBlock(
                            stream: stream, key: key, count: exact, minTimestamp: units[i].minTimestamp, maxTimestamp: units[i].maxTimestamp,
                            everyLine: exact == units[i].lines, lines: units[i].lines, value: values[units[i].number], timestamps: nil)
                        if let wantsTimestamps, wantsTimestamps(offer) {
                            columns.append(i - start)
                            columnLines += units[i].lines
                        }
                        offers[i - start] = offer
                    }
                    if !columns.isEmpty {
                        let found = try Self.timestampColumns(of: columns.map { units[start + $0] }, snapshot: snapshot, deadline: scope.deadline)
                        for (k, i) in columns.enumerated() { offers[i]!.timestamps = found[k] }
                    }
                    for i in start..<end {
                        guard let key = keys[i - start] else { continue }
                        try scope.deadline.check()
                        guard let first = units[i].blockFirstLSN else {
                            try Self.visitHead(units[i], key: key, through: through, body)
                            continue
                        }
                        if let offer = offers[i - start], try blockBody(offer) { continue }
                        guard let stored = try snapshot.block(stream: units[i].stream, firstLSN: first) else { continue }
                        try Self.visitBlockLines(stored, snapshot: snapshot, scope: scope, key: key, through: through, body)
                    }
                    start = end
                }
            }
        }
    }

    /// The most timestamps a visit reads ahead at once (8 bytes each).
    static let columnLines = 1 << 21

    /// The timestamp columns of the block units `blocks` (nil for one not stored): from the
    /// column cache, else their first column inflated on every core (or the whole block
    /// decoded, for a codec the prefix reader does not know) and kept.
    private static func timestampColumns(
        of blocks: [SearchUnit], snapshot: borrowing SegmentSnapshot, deadline: QueryDeadline
    ) throws -> [[Int64]?] {
        let segment = snapshot.segment
        var out: [[Int64]?] = Array(repeating: nil, count: blocks.count)
        var missing: [(at: Int, key: ColumnKey, stored: StoredBlock)] = []
        for (k, unit) in blocks.enumerated() {
            let key = ColumnKey(segment: segment.serial, number: unit.number)
            if let known = timestampColumns.get(key) {
                out[k] = known
                continue
            }
            // Not stored: skipped like its lines would be.
            guard let stored = try snapshot.block(stream: unit.stream, firstLSN: unit.blockFirstLSN!) else { continue }
            missing.append((k, key, stored))
        }
        if missing.isEmpty { return out }
        let cache = snapshot.cache
        nonisolated(unsafe) let work = missing  // block bytes in the map, valid while the caller's snapshot is open
        let columns = Mutex<[[Int64]]>(Array(repeating: [], count: work.count))
        let next = Mutex(0)
        let failure = Mutex<(any Error)?>(nil)
        let workers = max(1, min(work.count / 4, Processors.active))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.withLock { n in
                    defer { n += 1 }
                    return n
                }
                if i >= work.count { return }
                do {
                    try deadline.check()
                    let column = try timestampColumn(work[i].stored, cache: cache, segment: segment)
                    timestampColumns.put(work[i].key, column, size: column.count * 8 + 48)
                    columns.withLock { $0[i] = column }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    next.withLock { $0 = work.count }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        let inflated = columns.withLock { $0 }
        for (i, m) in work.enumerated() { out[m.at] = inflated[i] }
        return out
    }

    /// A block's timestamp column, ascending: its first column inflated (or the whole block
    /// decoded, for a codec the prefix reader does not know). Blocks are written sorted by
    /// time; one that is not (none known) is sorted here, the column being its lines' times.
    private static func timestampColumn(_ stored: StoredBlock, cache: BlockCache?, segment: Segment) throws -> [Int64] {
        var column = try inflatedColumn(stored, cache: cache, segment: segment)
        if zip(column, column.dropFirst()).contains(where: { $0 > $1 }) { column.sort() }
        return column
    }

    private static func inflatedColumn(_ stored: StoredBlock, cache: BlockCache?, segment: Segment) throws -> [Int64] {
        // A block of a shared frame: the frame is inflated whole anyway (and kept for the next).
        if stored.frame != nil { return try stored.decode(cache: cache, segment: segment).timestamps }
        switch stored.header.codec {
        case 0, 1, 2: return try BlockCodec.timestamps(stored.bytes)
        case 3:
            guard let dictionary = try segment.dictionary.bytes() else {
                throw CorruptDataError("block codec 3 in a day without a preset dictionary")
            }
            return try dictionary.withUnsafeBytes { d throws(CorruptDataError) in try BlockCodec.timestamps(stored.bytes, dictionary: d) }
        default: return try stored.decode(cache: cache, segment: segment).timestamps
        }
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
    /// Proven values (`singleValues`) of the stored index, per segment object and path, while
    /// the index holds every block (none pending): a block number's lines and postings never
    /// change, so they stand until the index moves on.
    private struct ProvenKey: Hashable {
        let segment: UInt64
        let path: String
        let indexed: UInt32
    }
    private static let proven = Mutex<[ProvenKey: [UInt32: String]]>([:])
    private static let provenEntries = 32

    /// `singleValues(path:)`, from the cache when the index has not moved since.
    func provenValues(path: String) throws -> [UInt32: String] {
        let (indexed, next) = try indexState()
        guard indexed == next else { return try singleValues(path: path) }
        let key = ProvenKey(segment: segment.serial, path: path, indexed: indexed)
        if let known = Self.proven.withLock({ $0[key] }) { return known }
        let values = try singleValues(path: path)
        Self.proven.withLock { cache in
            if cache.count >= Self.provenEntries { cache.removeAll() }
            cache[key] = values
        }
        return values
    }

    /// The blocks of this snapshot (by number) whose every line holds exactly one value at
    /// `path`, a string (not a date), with that value, as the field tokens prove it
    /// (`FieldTokens`): the block carries field tokens and no template-slot token for `path`,
    /// its only type token for `path` is `text`, and its only value token for `path` counts
    /// every line of the block. Values the index cuts (`FieldTokens.maxValueBytes` bytes and
    /// longer) or that hold a backslash or a control character prove nothing. Blocks not
    /// indexed yet prove nothing.
    func singleValues(path: String) throws -> [UInt32: String] {
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
        var out: [UInt32: String] = [:]
        for (number, found) in values where found.count == 1 && marked.contains(number) && !slotted.contains(number) {
            guard types[number] == ["text"], found[0].1 > 0, let ref = try blockRef(number), Int(found[0].1) == ref.count else { continue }
            out[number] = found[0].0
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
            try PostingRuns.scanTokens(txn, runs, packs: segment.packs, prefix: prefix) { token, postings in
                for posting in postings where posting.block < indexed { body(token, posting) }
            }
        }
        for (token, postings) in segment.pending.entries(prefix: prefix) {
            for posting in postings where posting.block >= indexed { body(token[...], posting) }
        }
    }
}
