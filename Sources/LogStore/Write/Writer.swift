import Foundation
import Logging

/// The single writer: one thread that owns every LMDB write transaction.
///
/// `append` callers queue their lines; the thread takes everything queued (up to
/// `maxLinesPerCommit` lines), gives LSNs in queue order, writes one transaction per touched
/// day segment, syncs, records new streams/segments in the catalog, then resumes all callers
/// of that batch at once (group commit) and wakes observers. Heads are sealed into blocks in
/// the same transaction when they reach `sealLines`/`sealBytes`, and by age in between batches.
///
/// `@unchecked Sendable`: the queue fields are guarded by `condition`; every other field is
/// touched only by the writer thread (`run()` and what it calls).
final class Writer: @unchecked Sendable {
    /// A stream's unsealed head lines in a day segment. Plain values (copied freely while
    /// scanning thousands of heads); the LSN list itself is kept once, in `Shared`'s head index.
    struct HeadState {
        var count: Int
        var bytes: Int
        var oldest: ContinuousClock.Instant
        /// The first and last LSN of the head lines.
        var first: LSN
        var last: LSN
    }

    struct Pending {
        var lines: LineBatch
        var chunk: ChunkKey?
        var continuation: CheckedContinuation<AppendReceipt, Error>
    }

    /// A chunk written in this batch: its receipt and the days its lines went to.
    struct ChunkWrite {
        var key: ChunkKey
        var receipt: AppendReceipt
        var days: [Int32]
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var queuedLines = 0
    private var stopping = false
    private var sealAllWaiters: [CheckedContinuation<Void, Error>] = []
    private var tasks: [@Sendable (Writer) -> Void] = []
    private let finished = DispatchSemaphore(value: 0)

    // Writer thread only.
    let shared: Shared
    let catalog: Catalog
    let segmentsDirectory: String
    private var nextLSN: LSN
    private var nextStreamID: StreamID
    private var keys: [StreamKey: StreamID]
    private var keyOf: [StreamID: StreamKey]
    var heads: [Int32: [StreamID: HeadState]]
    var segmentStreams: [Int32: Set<StreamID>]
    let options: StorageOptions
    let logger: Logger
    private var lastAgeCheck = ContinuousClock.now
    /// True while heads that are due for sealing wait for a later pass (sealing is done in
    /// bounded passes between commits so a burst of due heads never stalls ingest).
    private var sealBacklog = false
    private var lastPrune = ContinuousClock.now
    /// When the last batch of lines was committed (an idle writer flushes the pending index).
    private var lastCommit = ContinuousClock.now
    private var recentChunks: [ChunkKey: (receipt: AppendReceipt, arrival: Int64)]

    /// Wall-clock time in nanoseconds (chunk arrival times survive restarts).
    static func wallClock() -> Int64 { Storage.now() }

    init(
        shared: Shared, catalog: Catalog, segmentsDirectory: String, nextLSN: LSN, nextStreamID: StreamID,
        keys: [StreamKey: StreamID], heads: [Int32: [StreamID: HeadState]], segmentStreams: [Int32: Set<StreamID>],
        recentChunks: [ChunkKey: (receipt: AppendReceipt, arrival: Int64)], options: StorageOptions, logger: Logger
    ) {
        self.recentChunks = recentChunks
        self.shared = shared
        self.catalog = catalog
        self.segmentsDirectory = segmentsDirectory
        self.nextLSN = nextLSN
        self.nextStreamID = nextStreamID
        self.keys = keys
        self.keyOf = Dictionary(uniqueKeysWithValues: keys.map { ($0.value, $0.key) })
        self.heads = heads
        self.segmentStreams = segmentStreams
        self.options = options
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            self.run()
            self.finished.signal()
        }
        thread.name = "logstore-writer"
        thread.start()
    }

    /// Commits what is queued, then ends the thread and waits for it.
    func stop() {
        condition.lock()
        if stopping {
            condition.unlock()
            return
        }
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    func enqueue(_ lines: LineBatch, chunk: ChunkKey?, continuation: CheckedContinuation<AppendReceipt, Error>) {
        condition.lock()
        if stopping {
            condition.unlock()
            continuation.resume(throwing: StorageError.closed)
            return
        }
        if queuedLines > 0 && queuedLines + lines.count > options.maxQueuedLines {
            let queued = queuedLines
            condition.unlock()
            continuation.resume(throwing: StorageError.overloaded(queuedLines: queued))
            return
        }
        queue.append(Pending(lines: lines, chunk: chunk, continuation: continuation))
        queuedLines += lines.count
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the writer thread between batches (maintenance: retention, compaction).
    func perform<T: Sendable>(_ body: @escaping @Sendable (Writer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(throwing: StorageError.closed)
                return
            }
            tasks.append { writer in continuation.resume(with: Result { try body(writer) }) }
            condition.signal()
            condition.unlock()
        }
    }

    func requestSealAll(_ continuation: CheckedContinuation<Void, Error>) {
        condition.lock()
        if stopping {
            condition.unlock()
            continuation.resume(throwing: StorageError.closed)
            return
        }
        sealAllWaiters.append(continuation)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && sealAllWaiters.isEmpty && tasks.isEmpty && !stopping && !sealBacklog {
                if !condition.wait(until: Date().addingTimeInterval(1)) { break }
            }
            var batch: [Pending] = []
            var lines = 0
            var bytes = 0
            while !queue.isEmpty
                && (lines == 0
                    || (lines + queue[0].lines.count <= options.maxLinesPerCommit
                        && bytes + queue[0].lines.bytes.count <= options.maxBytesPerCommit))
            {
                let next = queue.removeFirst()
                lines += next.lines.count
                bytes += next.lines.bytes.count
                batch.append(next)
            }
            queuedLines -= lines
            let sealWaiters = queue.isEmpty ? sealAllWaiters : []
            if queue.isEmpty { sealAllWaiters = [] }
            let work = tasks
            tasks = []
            let exit = stopping && queue.isEmpty && batch.isEmpty && work.isEmpty
            condition.unlock()

            if !batch.isEmpty {
                commit(batch)
                lastCommit = .now
            }
            for task in work { task(self) }
            if !sealWaiters.isEmpty {
                do {
                    while try sealHeads({ _, _ in true }) {}
                    for waiter in sealWaiters { waiter.resume() }
                } catch {
                    for waiter in sealWaiters { waiter.resume(throwing: error) }
                }
            }
            let now = ContinuousClock.now
            if now - lastPrune >= .seconds(60) {
                lastPrune = now
                pruneChunks()
            }
            if sealBacklog || now - lastAgeCheck >= .seconds(1) {
                lastAgeCheck = now
                do {
                    sealBacklog = try sealHeads { id, head in
                        head.count >= options.sealLines || head.bytes >= options.sealBytes || head.oldest <= now - sealAge(id)
                    }
                } catch {
                    sealBacklog = false
                    logger.error("sealing heads by age failed", metadata: ["error": "\(error)"])
                }
            }
            flushIndexes(all: exit, idle: now - lastCommit >= options.indexFlushIdle)
            if exit { return }
        }
    }

    /// The seal age of a stream, spread over [sealAge, 1.5 × sealAge) by its id so that streams
    /// that started together are not all sealed in the same pass.
    private func sealAge(_ id: StreamID) -> Duration {
        let spread = Double((id &* 0x9E37_79B9_7F4A_7C15) >> 54) / 1024.0  // [0, 1)
        return options.sealAge + options.sealAge * (spread * 0.5)
    }

    /// Most streams sealed in one transaction, and most raw bytes read for it.
    static let sealBudgetStreams = 16
    static let sealBudgetBytes = 8 << 20

    // MARK: Commit

    private func commit(_ batch: [Pending]) {
        var lsn = nextLSN
        var newStreams: [(StreamID, StreamKey)] = []
        // The batch's bytes in one arena that outlives the day writes below: lines point into
        // it (`LineView`), so a message is copied only into its head value or block payload.
        let arena = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(1, batch.reduce(0) { $0 + $1.lines.bytes.count }), alignment: 8)
        defer { arena.deallocate() }
        var arenaUsed = 0
        var groups: [Int32: [StreamID: [LineView]]] = [:]
        var ids: [Int32: [LSN: String]] = [:]
        var receipts: [AppendReceipt?] = []
        var sameAs: [Int: Int] = [:]  // pending index → earlier pending index with the same chunk
        var firstWithChunk: [ChunkKey: Int] = [:]
        var chunkDays: [Int: Set<Int32>] = [:]
        receipts.reserveCapacity(batch.count)
        // Lines of the batch's main day (its first line's), per stream, appended in place and
        // moved into `groups` at the end; lines of other days go to `groups` directly.
        var mainDay: Int32?
        var slotOf: [StreamID: Int] = [:]
        var slots: [[LineView]] = []
        var slotIDs: [StreamID] = []
        for (p, pending) in batch.enumerated() {
            if let chunk = pending.chunk {
                if let known = recentChunks[chunk] {
                    var receipt = known.receipt
                    receipt.duplicateChunk = true
                    receipts.append(receipt)
                    continue
                }
                if let earlier = firstWithChunk[chunk] {
                    sameAs[p] = earlier
                    receipts.append(nil)
                    continue
                }
                firstWithChunk[chunk] = p
            }
            let first = lsn
            var days = Set<Int32>()
            let batch = pending.lines
            // Stream ids (and slots) are resolved once per distinct stream of the batch.
            var streamIDs = [StreamID?](repeating: nil, count: batch.streams.count)
            var streamSlots = [Int](repeating: -1, count: batch.streams.count)
            var sawMainDay = false
            let base = arena.baseAddress! + arenaUsed
            batch.bytes.withUnsafeBytes { bytes in
                if bytes.count > 0 { base.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            }
            arenaUsed += batch.bytes.count
            do {
                for line in batch.lines {
                    let s = Int(line.stream)
                    let id: StreamID
                    if let known = streamIDs[s] {
                        id = known
                    } else {
                        let key = batch.streams[s]
                        if let known = keys[key] {
                            id = known
                        } else {
                            id = nextStreamID
                            nextStreamID += 1
                            keys[key] = id
                            keyOf[id] = key
                            newStreams.append((id, key))
                        }
                        streamIDs[s] = id
                    }
                    let blockLine = LineView(
                        timestamp: line.timestamp, lsn: lsn,
                        message: UnsafeRawBufferPointer(start: base + line.messageStart, count: line.messageCount),
                        fields: UnsafeRawBufferPointer(start: base + line.fieldsStart, count: line.fieldsCount))
                    let day = Day.of(line.timestamp)
                    if mainDay == nil { mainDay = day }
                    if day == mainDay {
                        sawMainDay = true
                        var slot = streamSlots[s]
                        if slot < 0 {
                            if let known = slotOf[id] {
                                slot = known
                            } else {
                                slot = slots.count
                                slotOf[id] = slot
                                slots.append([])
                                slotIDs.append(id)
                            }
                            streamSlots[s] = slot
                        }
                        slots[slot].append(blockLine)
                    } else {
                        days.insert(day)
                        groups[day, default: [:]][id, default: []].append(blockLine)
                    }
                    if line.id >= 0 { ids[day, default: [:]][lsn] = batch.ids[Int(line.id)] }
                    lsn += 1
                }
            }
            if sawMainDay, let mainDay { days.insert(mainDay) }
            if pending.chunk != nil { chunkDays[p] = days }
            receipts.append(AppendReceipt(firstLSN: first, lastLSN: lsn - 1, count: batch.lines.count))
        }
        nextLSN = lsn
        if let mainDay {
            var dayGroup = [StreamID: [LineView]](minimumCapacity: slots.count)
            for (k, id) in slotIDs.enumerated() { swap(&slots[k], &dayGroup[id, default: []]) }
            groups[mainDay] = dayGroup
        }

        let arrival = Self.wallClock()
        var chunksByDay: [Int32: [ChunkWrite]] = [:]
        for (p, days) in chunkDays {
            guard let key = batch[p].chunk, let receipt = receipts[p] else { continue }
            let sortedDays = days.sorted()
            for day in sortedDays { chunksByDay[day, default: []].append(ChunkWrite(key: key, receipt: receipt, days: sortedDays)) }
        }

        var created: [Segment] = []
        var stats: [Int32: [StreamID: StreamStats]] = [:]
        var duplicateLSNs = Set<LSN>()
        var failure: Error?
        for day in groups.keys.sorted() {
            do {
                let segment = try segmentFor(day, created: &created)
                let result = try write(
                    segment: segment, group: groups[day]!, seal: [], ids: ids[day] ?? [:], chunks: chunksByDay[day] ?? [],
                    arrival: arrival)
                stats[day] = result.stats
                duplicateLSNs.formUnion(result.duplicates)
            } catch {
                failure = error
                logger.error("commit failed", metadata: ["segment": "\(Day.name(day))", "error": "\(error)"])
                break
            }
        }
        do {
            try catalog.record(streams: newStreams, segments: created.map(\.day))
        } catch {
            // The segments hold the stream records too; the next open reconciles the catalog.
            logger.error("catalog update failed", metadata: ["error": "\(error)"])
        }
        shared.publish(newStreams: newStreams, segments: created, stats: stats, lastLSN: failure == nil ? lsn - 1 : 0)
        if failure == nil {
            for (p, _) in chunkDays {
                if let key = batch[p].chunk, let receipt = receipts[p] { recentChunks[key] = (receipt, arrival) }
            }
        }
        for (p, pending) in batch.enumerated() {
            if let failure {
                pending.continuation.resume(throwing: failure)
                continue
            }
            var receipt: AppendReceipt
            if let earlier = sameAs[p], let first = receipts[earlier] {
                receipt = first
                receipt.duplicateChunk = true
            } else if let own = receipts[p] {
                receipt = own
                if !duplicateLSNs.isEmpty && !receipt.duplicateChunk {
                    receipt.duplicateIDs = (receipt.firstLSN...receipt.lastLSN).reduce(0) { $0 + (duplicateLSNs.contains($1) ? 1 : 0) }
                }
            } else {
                preconditionFailure("BUG: pending \(p) has no receipt")
            }
            pending.continuation.resume(returning: receipt)
        }
    }

    /// Deletes chunk records older than the dedup window (one transaction per segment that has any).
    private func pruneChunks() {
        let cutoff = Self.wallClock() - Int64(options.dedupWindow.components.seconds) * 1_000_000_000
        recentChunks = recentChunks.filter { $0.value.arrival >= cutoff }
        let segments = shared.state.withLock { Array($0.segments.values) }
        let cutoffKey = Keys.chunk(arrival: cutoff, key: ChunkKey(high: 0, low: 0))
        for segment in segments {
            do {
                var stale = false
                try segment.env.read { txn in
                    try txn.scan(segment.chunks) { k, _ in
                        stale = k.lexicographicallyPrecedes(cutoffKey)
                        return false
                    }
                }
                guard stale else { continue }
                _ = try segment.env.write { txn in
                    try txn.deleteWhile(segment.chunks) { key in key.lexicographicallyPrecedes(cutoffKey) }
                }
            } catch {
                logger.error("pruning chunk records failed", metadata: ["segment": "\(segment.name)", "error": "\(error)"])
            }
        }
    }

    private func segmentFor(_ day: Int32, created: inout [Segment]) throws -> Segment {
        if let segment = shared.state.withLock({ $0.segments[day] }) { return segment }
        if let segment = created.first(where: { $0.day == day }) { return segment }
        let segment = try Segment(directory: segmentsDirectory, day: day, readOnly: false, mapSize: options.segmentMapSize)
        syncDirectory(segmentsDirectory)
        created.append(segment)
        logger.info("segment created", metadata: ["segment": "\(segment.name)"])
        return segment
    }

    /// Writes one day's new lines (and seals the heads of `seal`) in one transaction.
    /// Returns the statistics the new lines add per stream. The lines' bytes must stay valid
    /// for the call (the commit's arena).
    func write(
        segment: Segment, group inputGroup: [StreamID: [LineView]], seal: Set<StreamID>, ids: [LSN: String] = [:],
        chunks: [ChunkWrite] = [], arrival: Int64 = 0
    ) throws -> (stats: [StreamID: StreamStats], duplicates: Set<LSN>) {
        let day = segment.day
        var dayHeads = heads[day] ?? [:]
        // Lines whose document id was stored before (or earlier in this batch) are dropped.
        var group = inputGroup
        var duplicates = Set<LSN>()
        var idKeys: [(key: [UInt8], lsn: LSN)] = []
        if !ids.isEmpty {
            var seen = Set<[UInt8]>()
            try segment.env.read { txn in
                for (stream, lines) in inputGroup {
                    guard let index = self.keyOf[stream]?.index else { continue }
                    for line in lines {
                        guard let documentID = ids[line.lsn] else { continue }
                        let key = Keys.documentID(index: index, id: documentID)
                        let storedBefore = try txn.get(segment.ids, key) != nil
                        if !seen.insert(key).inserted || storedBefore {
                            duplicates.insert(line.lsn)
                        } else {
                            idKeys.append((key, line.lsn))
                        }
                    }
                }
            }
            if !duplicates.isEmpty {
                for (stream, lines) in group {
                    let kept = lines.filter { !duplicates.contains($0.lsn) }
                    group[stream] = kept.isEmpty ? nil : kept
                }
            }
        }
        var toSeal: [StreamID] = []
        var toHead: [StreamID] = []
        for (id, lines) in group {
            let head = dayHeads[id]
            var bytes = 0
            for i in lines.indices { bytes += lines[i].rawSize }
            if (head?.count ?? 0) + lines.count >= options.sealLines || (head?.bytes ?? 0) + bytes >= options.sealBytes
                || seal.contains(id)
            {
                toSeal.append(id)
            } else {
                toHead.append(id)
            }
        }
        for id in seal where group[id] == nil && (dayHeads[id]?.count ?? 0) > 0 { toSeal.append(id) }
        // Bounded work per transaction: the biggest heads first, the rest stay in the head and
        // are sealed by the next passes (`sealBacklog`).
        if toSeal.count > Self.sealBudgetStreams {
            // Sizes looked up once (a comparator that looks both up costs n log n lookups).
            let sized = toSeal.map { id in (id: id, head: dayHeads[id]?.bytes ?? 0) }.sorted { $0.head > $1.head }
            var budget = Self.sealBudgetBytes
            var kept: [StreamID] = []
            for (id, headBytes) in sized {
                let bytes = headBytes + (group[id]?.reduce(0) { $0 + $1.rawSize } ?? 0)
                if kept.count < Self.sealBudgetStreams && (kept.isEmpty || bytes <= budget) {
                    kept.append(id)
                    budget -= bytes
                } else if group[id] != nil {
                    toHead.append(id)
                }
            }
            if kept.count < toSeal.count { sealBacklog = true }
            toSeal = kept
        }

        // Read what the sealed streams already have in the head (nobody else writes it) and
        // encode the blocks while the read transaction keeps those values mapped.
        var blocks: [[SealedBlock]] = []
        if !toSeal.isEmpty {
            // The LSN lists are the readers' (the writer alone changes them, after commits).
            let headLSNs = shared.state.withLock { s in toSeal.map { s.heads[day]?[$0] ?? [] } }
            try segment.env.read { txn in
                var sealLines: [[LineView]] = []
                sealLines.reserveCapacity(toSeal.count)
                var key = ByteWriter(capacity: 8)
                for (k, id) in toSeal.enumerated() {
                    let lsns = headLSNs[k]
                    let fresh = group[id] ?? []
                    var lines: [LineView] = []
                    lines.reserveCapacity(lsns.count + fresh.count)
                    for lsn in lsns {
                        key.bytes.removeAll(keepingCapacity: true)
                        key.u64BE(lsn)
                        guard let v = try txn.get(segment.head, key.bytes) else {
                            throw CorruptDataError("head line \(lsn) of stream \(id) missing in \(segment.name)")
                        }
                        lines.append(try Keys.headLineAsView(lsn: lsn, value: v).1)
                    }
                    lines.append(contentsOf: fresh)
                    sealLines.append(lines)
                }
                blocks = encodeBlocks(sealLines)
            }
        }

        var deltas: [StreamID: StreamStats] = [:]
        var maxLSN: LSN = 0
        for (id, lines) in group {
            var s = StreamStats()
            for i in lines.indices { s.add(timestamp: lines[i].timestamp, lsn: lines[i].lsn, rawBytes: lines[i].rawSize) }
            deltas[id] = s
            maxLSN = max(maxLSN, s.lastLSN)
        }
        let members = segmentStreams[day] ?? []
        let keyOf = self.keyOf
        // Head lines go in LSN order, appended at the end of the table (sorted as plain records
        // pointing into `headGroups`: no reference counting while sorting).
        let headGroups = toHead.map { group[$0]! }
        var headOrder: [(lsn: LSN, group: Int32, line: Int32)] = []
        headOrder.reserveCapacity(headGroups.reduce(0) { $0 + $1.count })
        for (g, lines) in headGroups.enumerated() {
            for i in lines.indices { headOrder.append((lines[i].lsn, Int32(g), Int32(i))) }
        }
        headOrder.sort { $0.lsn < $1.lsn }
        // After sealing, the head below the oldest unsealed line of any stream can go (the
        // head states are plain values: scanning thousands of them copies nothing).
        var truncateBelow: LSN?
        if !toSeal.isEmpty {
            let sealing = Set(toSeal)
            var oldest = LSN.max
            for (id, head) in dayHeads where !sealing.contains(id) && head.count > 0 { oldest = min(oldest, head.first) }
            if let first = headOrder.first { oldest = min(oldest, first.lsn) }
            truncateBelow = oldest
        }
        var numbered: [(UInt32, BlockTokens)] = []
        try segment.env.write { txn in
            numbered = []  // the closure runs again after a map resize
            var key = ByteWriter(capacity: 8)
            var value = ByteWriter(capacity: 4096)
            for entry in headOrder {
                let g = Int(entry.group)
                headGroups[g].withUnsafeBufferPointer { lines in
                    let i = Int(entry.line)
                    Keys.encodeHeadLine(
                        into: &value, stream: toHead[g], timestamp: lines[i].timestamp, message: lines[i].message,
                        fields: lines[i].fields)
                }
                key.bytes.removeAll(keepingCapacity: true)
                key.u64BE(entry.lsn)
                try txn.put(segment.head, key.bytes, value.bytes, append: true)
            }
            var nextBlock = toSeal.isEmpty ? 0 : try segment.indexState(txn).next
            for (i, id) in toSeal.enumerated() {
                if let head = dayHeads[id], head.count > 0 { try txn.put(segment.sealed, Keys.u64(id), Keys.u64(head.last)) }
                for block in blocks[i] {
                    try txn.put(segment.blocks, Keys.streamLSN(id, block.header.firstLSN), block.bytes)
                    let ref = BlockRef(number: nextBlock, stream: id, header: block.header)
                    try txn.put(segment.blockDir, Keys.u32(nextBlock), ref.encoded(), append: true)
                    numbered.append((nextBlock, block.tokens))
                    nextBlock += 1
                }
            }
            if !numbered.isEmpty { try txn.put(segment.meta, Keys.metaNextBlock, Keys.u32(nextBlock)) }
            if let truncateBelow {
                let bound = Keys.u64(truncateBelow)
                try txn.deleteWhile(segment.head) { key in key.lexicographicallyPrecedes(bound) }
            }
            for (id, delta) in deltas {
                let key = Keys.u64(id)
                var merged = delta
                if let old = try txn.get(segment.stats, key) { merged.merge(try Keys.decodeStats(old)) }
                try txn.put(segment.stats, key, Keys.encodeStats(merged))
                if !members.contains(id), let streamKey = keyOf[id] {
                    try txn.put(segment.streams, key, Keys.encodeStreamKey(streamKey))
                }
            }
            if maxLSN > 0 {
                let old = try segment.maxLSN(txn)
                if maxLSN > old { try txn.put(segment.meta, Keys.metaMaxLSN, Keys.u64(maxLSN)) }
            }
            for (key, lsn) in idKeys { try txn.put(segment.ids, key, Keys.u64(lsn)) }
            for chunk in chunks {
                try txn.put(segment.chunks, Keys.chunk(arrival: arrival, key: chunk.key), Keys.encodeChunk(chunk.receipt, days: chunk.days))
            }
        }

        // Committed: index the new blocks, update the writer's view and the readers' head index.
        if options.fullTextIndex { for (number, tokens) in numbered { segment.pending.add(number, tokens) } }
        // Moved out of `heads` so that the update is in place (a copy of every stream's entry per
        // commit was measurable with thousands of streams).
        heads[day] = nil
        var updated = dayHeads
        dayHeads = [:]
        var published: [StreamID: Shared.HeadUpdate] = [:]
        let now = ContinuousClock.now
        for id in toSeal {
            if updated[id] != nil { published[id] = .removed }
            updated[id] = nil
        }
        for id in toHead {
            let lines = group[id]!
            var bytes = 0
            for i in lines.indices { bytes += lines[i].rawSize }
            let lsns = lines.map(\.lsn)
            if updated[id] == nil { updated[id] = HeadState(count: 0, bytes: 0, oldest: now, first: lsns[0], last: lsns[0]) }
            updated[id]!.count += lines.count
            updated[id]!.bytes += bytes
            updated[id]!.last = lsns.last!  // ascending: assigned in order
            published[id] = .appended(lsns)
        }
        heads[day] = updated.isEmpty ? nil : updated
        shared.updateHeads(day: day, published)
        if !deltas.isEmpty { segmentStreams[day, default: []].formUnion(deltas.keys) }
        return (deltas, duplicates)
    }

    /// Splits each stream's lines into blocks of at most `sealLines` lines / `sealBytes` bytes
    /// and encodes them (zlib `level`, by default `options.compressionLevel`), on all cores
    /// when there is enough work.
    func encodeBlocks<Line: SealableLine & Sendable>(_ streams: [[Line]], level: Int32? = nil) -> [[SealedBlock]] {
        if streams.isEmpty { return [] }
        var chunks: [(stream: Int, lines: [Line])] = []
        for (i, lines) in streams.enumerated() {
            let sorted = lines.sorted { $0.position < $1.position }
            var current: [Line] = []
            var bytes = 0
            for line in sorted {
                let size = line.rawSize
                // Blocks never straddle a UTC hour, so `hits` with hourly (or coarser) buckets
                // counts one-word queries from the index alone.
                if !current.isEmpty
                    && (current.count >= options.sealLines || bytes + size > options.sealBytes
                        || Self.hour(line.timestamp) != Self.hour(current[0].timestamp))
                {
                    chunks.append((i, current))
                    current = []
                    bytes = 0
                }
                current.append(line)
                bytes += size
            }
            if !current.isEmpty { chunks.append((i, current)) }
        }
        let level = level ?? options.compressionLevel
        let encoded = UnsafeMutableBufferPointer<SealedBlock>.allocate(capacity: chunks.count)
        defer { encoded.deallocate() }
        nonisolated(unsafe) let output = encoded
        let work = chunks
        let index = options.fullTextIndex
        if chunks.count > 1 {
            DispatchQueue.concurrentPerform(iterations: work.count) { i in
                (output.baseAddress! + i).initialize(to: SealedBlock(lines: work[i].lines, level: level, index: index))
            }
        } else {
            (output.baseAddress!).initialize(to: SealedBlock(lines: work[0].lines, level: level, index: index))
        }
        var result = [[SealedBlock]](repeating: [], count: streams.count)
        for (i, chunk) in chunks.enumerated() {
            result[chunk.stream].append(output[i])
        }
        _ = output.deinitialize()
        return result
    }

    @inline(__always) static func hour(_ ts: Int64) -> Int64 { ts >= 0 ? ts / 3_600_000_000_000 : (ts + 1) / 3_600_000_000_000 - 1 }

    /// One block ready to store: its bytes, header and tokens.
    struct SealedBlock {
        var bytes: [UInt8]
        var header: BlockHeader
        var tokens: BlockTokens

        /// `lines` sorted by `(timestamp, LSN)`.
        init<Line: SealableLine>(lines: [Line], level: Int32, index: Bool) {
            (bytes, header) = BlockCodec.encodeSorted(lines, level: level)
            tokens = index ? BlockTokens(lines: lines) : BlockTokens()
        }
    }

    /// Seals heads that `shouldSeal` picks, at most `sealBudgetStreams` streams (and about
    /// `sealBudgetBytes`) in this pass. Returns true when more are due.
    private func sealHeads(_ shouldSeal: (StreamID, HeadState) -> Bool) throws -> Bool {
        var due: [(day: Int32, id: StreamID, bytes: Int)] = []
        for (day, dayHeads) in heads {
            for (id, head) in dayHeads where head.count > 0 && shouldSeal(id, head) { due.append((day, id, head.bytes)) }
        }
        if due.isEmpty { return false }
        due.sort { $0.bytes > $1.bytes }
        var picked: [Int32: Set<StreamID>] = [:]
        var count = 0
        var bytes = 0
        for item in due where count < Self.sealBudgetStreams && (count == 0 || bytes + item.bytes <= Self.sealBudgetBytes) {
            picked[item.day, default: []].insert(item.id)
            count += 1
            bytes += item.bytes
        }
        for (day, ids) in picked.sorted(by: { $0.key < $1.key }) {
            guard let segment = shared.state.withLock({ $0.segments[day] }) else { continue }
            _ = try write(segment: segment, group: [:], seal: ids)
        }
        return count < due.count
    }
}
