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

/// A page of lines referenced in place in their decoded blocks: no string or array per line.
/// The HTTP answers write straight from it; `logPage` materializes `LogLine`s.
public struct LinePage: Sendable {
    /// One line: its position, its stream and where its bytes are.
    public struct Ref: Sendable {
        public let timestamp: Int64
        public let lsn: LSN
        public let stream: StreamID
        @usableFromInline let source: Int32
        @usableFromInline let index: Int32

        public var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
        /// True for the first line of its block (where `wholeBlock` can start).
        public var startsSource: Bool { index == 0 }
    }

    public var lines: [Ref]
    /// The decoded blocks (and head lines, packed the same way) the refs point into.
    @usableFromInline let sources: [DecodedBlock]
    /// Each source's block identity (nil for head lines).
    let sourceIDs: [BlockID?]
    /// Position of the last line returned; nil when the page is empty.
    public var next: LogPosition?
    /// True when the page was cut by the limit (more lines may follow).
    public var truncated: Bool

    /// Calls `body` with the message bytes of `ref`.
    @inlinable
    public func withMessage<R>(_ ref: Ref, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withMessageAndFields(ref) { message, _ in try body(message) }
    }

    /// Calls `body` with the message and the fields bytes of `ref` (the block is borrowed, not
    /// copied: the answers' per-line loops use this).
    @inlinable
    public func withMessageAndFields<R>(_ ref: Ref, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        // Only the payload is held across `body`: a whole `DecodedBlock` would be copied (five
        // retains and releases per line, ~10 % of a read).
        let block = Int(ref.source)
        let (message, fields) = sources[block].ranges(Int(ref.index))
        let payload = sources[block].payload
        return try payload.withUnsafeBytes {
            try body(UnsafeRawBufferPointer(rebasing: $0[message]), UnsafeRawBufferPointer(rebasing: $0[fields]))
        }
    }

    /// `ref` as a `LogLine` (two strings).
    public func logLine(_ ref: Ref) -> LogLine {
        sources[Int(ref.source)].logLine(Int(ref.index), stream: ref.stream)
    }

    /// No lines.
    public static let empty = LinePage(lines: [], sources: [], sourceIDs: [], next: nil, truncated: false)

    /// When `lines[i...]` starts with every line of one sealed block, in the block's order (and
    /// nothing else in between): the block's identity and line count. Answers cache what they
    /// build from a whole block under its identity.
    public func wholeBlock(startingAt i: Int, in lines: ArraySlice<Ref>) -> (id: BlockID, count: Int)? {
        let first = lines[i]
        guard first.index == 0, let id = sourceIDs[Int(first.source)] else { return nil }
        let n = sources[Int(first.source)].count
        let lastIndex = i + n - 1
        guard lastIndex < lines.endIndex else { return nil }
        let last = lines[lastIndex]
        // Lines of one source come in increasing index order (both are in position order), so
        // the first and the last at these places put all n lines of the block in between.
        guard last.source == first.source, Int(last.index) == n - 1 else { return nil }
        return (id, n)
    }

    /// The page with materialized lines.
    public var logPage: LogPage {
        LogPage(lines: lines.map(logLine), next: next, truncated: truncated)
    }
}

/// Head lines of a read, packed like a decoded block (messages, then fields, in one buffer;
/// fields equal to the previous line's are kept once).
struct HeadLinesBuilder {
    var messages: [UInt8] = []
    var fields: [UInt8] = []
    var timestamps: [Int64] = []
    var lsns: [LSN] = []
    var messageOffsets: [Int] = [0]
    var fieldEnds: [Int] = [0]
    var fieldSlots: [Int32] = []

    var count: Int { timestamps.count }

    mutating func append(timestamp: Int64, lsn: LSN, message: UnsafeRawBufferPointer, fields f: UnsafeRawBufferPointer) {
        timestamps.append(timestamp)
        lsns.append(lsn)
        messages.append(contentsOf: message)
        messageOffsets.append(messages.count)
        let last = fieldEnds.count - 2
        let start = fieldEnds[fieldEnds.count - 1] - f.count
        if last >= 0, start == fieldEnds[last],
            f.isEmpty || fields.withUnsafeBytes({ memcmp($0.baseAddress! + start, f.baseAddress!, f.count) == 0 })
        {
            fieldSlots.append(Int32(last))
        } else {
            fieldSlots.append(Int32(fieldEnds.count - 1))
            fields.append(contentsOf: f)
            fieldEnds.append(fields.count)
        }
    }

    func build() -> DecodedBlock {
        let shift = messages.count
        return DecodedBlock(
            packed: messages + fields, timestamps: timestamps, lsns: lsns, messageOffsets: messageOffsets,
            fieldOffsets: fieldEnds.map { $0 + shift }, fieldSlots: fieldSlots)
    }
}

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
