import Foundation

/// A line of a commit that carries a client `_id`, as the writer planned it.
struct PlannedDocument {
    var lsn: LSN
    var day: Int32
    var stream: StreamID
    /// `Keys.documentID(index:id:)`.
    var key: [UInt8]
    /// Bulk `index` (replace a stored document) rather than `create` (refuse the line).
    var overwrite: Bool
    /// The pending append it belongs to, and its index in that append's batch.
    var pending: Int
    var line: Int32
}

/// Where a stored document is: its day, LSN and stream (stable across compaction, which keeps
/// both; a replaced document gets a new LSN).
struct DocumentLocation: Equatable {
    var day: Int32
    var lsn: LSN
    /// nil for a record written before streams were recorded.
    var stream: StreamID?
}

/// What a commit does with its documents' ids, settled before any transaction: the lines not
/// stored (conflicts, and earlier versions replaced within the batch), the id records each day
/// writes, the stored versions to remove first, and what each append's items report.
struct DocumentResolution {
    var drop: Set<LSN> = []
    var records: [Int32: [(key: [UInt8], lsn: LSN, stream: StreamID)]] = [:]
    var removals: [Int32: [(key: [UInt8], location: DocumentLocation)]] = [:]
    var conflicts: [Int: [Int32]] = [:]
    var replaced: [Int: [Int32]] = [:]
}

extension Writer {
    /// Decides, in LSN order (the order of the requests and of their items), what happens to
    /// each line with an id: a `create` of an id stored (or earlier in the batch) is a
    /// conflict; an `index` of one replaces it (the stored version is removed, an earlier line
    /// of the batch is not stored). Writer thread only.
    func resolveDocuments(_ documents: [PlannedDocument]) throws -> DocumentResolution {
        var resolution = DocumentResolution()
        let stored = try storedDocuments(Set(documents.map(\.key)))
        // The current version of each key: stored, or a line of this batch (`inBatch`).
        var current: [[UInt8]: (location: DocumentLocation, inBatch: Bool)] = [:]
        for (key, location) in stored { current[key] = (location, false) }
        var final: [[UInt8]: PlannedDocument] = [:]
        for document in documents {
            if let existing = current[document.key] {
                guard document.overwrite else {
                    resolution.drop.insert(document.lsn)
                    resolution.conflicts[document.pending, default: []].append(document.line)
                    continue
                }
                if existing.inBatch {
                    resolution.drop.insert(existing.location.lsn)
                } else {
                    resolution.removals[existing.location.day, default: []].append((document.key, existing.location))
                }
                resolution.replaced[document.pending, default: []].append(document.line)
            }
            current[document.key] = (DocumentLocation(day: document.day, lsn: document.lsn, stream: document.stream), true)
            final[document.key] = document
        }
        for (key, document) in final {
            resolution.records[document.day, default: []].append((key, document.lsn, document.stream))
        }
        return resolution
    }

    /// The stored location of each of `keys` (index, 0x00, id) that some day segment of its
    /// index holds, ignoring records of deleted streams.
    private func storedDocuments(_ keys: Set<[UInt8]>) throws -> [[UInt8]: DocumentLocation] {
        var byIndex: [String: [[UInt8]]] = [:]
        for key in keys {
            let index = String(decoding: key.prefix { $0 != 0 }, as: UTF8.self)
            byIndex[index, default: []].append(key)
        }
        let (segments, days, deleted) = shared.state.withLock { s -> ([Int32: Segment], [String: Set<Int32>], Set<StreamID>) in
            var days: [String: Set<Int32>] = [:]
            for index in byIndex.keys {
                var set = Set<Int32>()
                for id in s.byIndex[index] ?? [] { set.formUnion(s.streams[id]?.days ?? []) }
                days[index] = set
            }
            return (s.segments, days, s.deletedStreams)
        }
        var found: [[UInt8]: DocumentLocation] = [:]
        var keysByDay: [Int32: [[UInt8]]] = [:]
        for (index, indexKeys) in byIndex {
            for day in days[index] ?? [] { keysByDay[day, default: []].append(contentsOf: indexKeys) }
        }
        for (day, dayKeys) in keysByDay {
            guard let segment = segments[day] else { continue }
            try segment.env.read { txn in
                guard try txn.count(segment.ids) > 0 else { return }  // a day without ids (most)
                for key in dayKeys {
                    guard let value = try txn.get(segment.ids, key) else { continue }
                    let (lsn, stream) = try Keys.decodeDocumentRecord(value)
                    // Records of deleted indices and of lines removed by retention do not count.
                    if let stream {
                        if deleted.contains(stream) { continue }
                        if try txn.get(segment.stats, u64: stream) == nil { continue }
                    }
                    if let known = found[key], known.lsn > lsn { continue }
                    found[key] = DocumentLocation(day: day, lsn: lsn, stream: stream)
                }
            }
        }
        return found
    }

    /// Removes the stored versions of replaced documents, one transaction per day: head lines
    /// are deleted, blocks holding one are written again without it (new block numbers, their
    /// postings pending), and the statistics, id records and head index follow. Runs before
    /// the new versions are written, so a crash in between loses the old version of a document
    /// whose replacement was not acknowledged (its resend stores it), never keeps both.
    func removeDocuments(_ removals: [Int32: [(key: [UInt8], location: DocumentLocation)]]) throws {
        for (day, documents) in removals.sorted(by: { $0.key < $1.key }) {
            guard let segment = shared.state.withLock({ $0.segments[day] }) else { continue }
            try removeDocuments(documents, from: segment)
        }
    }

    private func removeDocuments(_ documents: [(key: [UInt8], location: DocumentLocation)], from segment: Segment) throws {
        let day = segment.day
        let targets = Set(documents.map(\.location.lsn))
        let headLists = shared.headIndex(day: day, streams: nil as [StreamID]?)
        // Head lines: their LSN in the stream's head list (above its sealed mark).
        var inHead: [StreamID: [LSN]] = [:]
        for (stream, lsns) in headLists {
            for lsn in lsns where targets.contains(lsn) { inHead[stream, default: []].append(lsn) }
        }
        let headTargets = Set(inHead.values.joined())
        // Blocks holding a target: decoded now, written again in the transaction.
        var rewrites: [(ref: BlockRef, kept: [BlockLine], removed: StreamStats)] = []
        var removedStats: [StreamID: StreamStats] = [:]
        var headRemoved: [StreamID: (count: Int, bytes: Int)] = [:]
        try SegmentSnapshot.read(segment) { snapshot in
            var refs: [BlockRef] = []
            try snapshot.forEachBlockRef { ref in
                if targets.contains(where: { $0 >= ref.firstLSN && $0 <= ref.lastLSN && !headTargets.contains($0) }) { refs.append(ref) }
                return true
            }
            for ref in refs {
                guard let stored = try snapshot.block(stream: ref.stream, firstLSN: ref.firstLSN) else { continue }
                let block = try snapshot.decode(stored)
                var kept: [BlockLine] = []
                var removed = StreamStats()
                for i in 0..<block.count {
                    let line = block.line(i)
                    if targets.contains(line.lsn) {
                        removed.add(timestamp: line.timestamp, lsn: line.lsn, rawBytes: line.message.count + line.fields.count)
                    } else {
                        kept.append(line)
                    }
                }
                if removed.lines > 0 { rewrites.append((ref, kept, removed)) }
            }
            for (stream, lsns) in inHead {
                for lsn in lsns {
                    guard let value = try snapshot.txn.get(segment.head, u64: lsn) else { continue }
                    let (_, line) = try Keys.headLineAsView(lsn: lsn, value: value)
                    removedStats[stream, default: StreamStats()].add(timestamp: line.timestamp, lsn: lsn, rawBytes: line.rawSize)
                    var entry = headRemoved[stream] ?? (0, 0)
                    entry.count += 1
                    entry.bytes += line.rawSize
                    headRemoved[stream] = entry
                }
            }
        }
        for rewrite in rewrites { removedStats[rewrite.ref.stream, default: StreamStats()].merge(rewrite.removed) }
        // (`encodeBlocks` wants at least one line.)
        let encoded = rewrites.contains { !$0.kept.isEmpty } ? encodeBlocks(rewrites.map(\.kept)) : rewrites.map { _ in [] }
        var numbered: [(UInt32, BlockTokens)] = []
        try segment.env.write { txn in
            numbered = []
            for lsns in inHead.values { for lsn in lsns { _ = try txn.delete(segment.head, Keys.u64(lsn)) } }
            var next = try segment.indexState(txn).next
            for (i, rewrite) in rewrites.enumerated() {
                _ = try txn.delete(segment.blocks, rewrite.ref.key)
                _ = try txn.delete(segment.blockDir, Keys.u32(rewrite.ref.number))
                for block in encoded[i] {
                    try txn.put(segment.blocks, Keys.streamLSN(rewrite.ref.stream, block.header.firstLSN), block.bytes)
                    try txn.put(
                        segment.blockDir, Keys.u32(next), BlockRef(number: next, stream: rewrite.ref.stream, header: block.header).encoded(),
                        append: true)
                    numbered.append((next, block.tokens))
                    next += 1
                }
            }
            if !rewrites.isEmpty { try txn.put(segment.meta, Keys.metaNextBlock, Keys.u32(next)) }
            for (stream, removed) in removedStats {
                let key = Keys.u64(stream)
                guard let old = try txn.get(segment.stats, key) else { continue }
                var stats = try Keys.decodeStats(old)
                stats.lines -= min(stats.lines, removed.lines)
                stats.rawBytes -= min(stats.rawBytes, removed.rawBytes)
                try txn.put(segment.stats, key, Keys.encodeStats(stats))
            }
            for (key, location) in documents {
                // The record may already name a newer line of this day (not in this case: the
                // new version is written after this transaction).
                _ = try txn.delete(segment.ids, key)
                if let docIDs = segment.docIDs { _ = try txn.delete(docIDs, Keys.u64(location.lsn)) }
            }
        }
        if options.fullTextIndex { for (number, tokens) in numbered { segment.pending.add(number, tokens) } }
        // The writer's head states and the readers' head index lose the removed head lines.
        var published: [StreamID: Shared.HeadUpdate] = [:]
        for (stream, lsns) in inHead {
            guard var head = heads[day]?[stream], let removed = headRemoved[stream] else { continue }
            head.count -= removed.count
            head.bytes -= removed.bytes
            if head.count <= 0 {
                heads[day]?[stream] = nil
                published[stream] = .removed
            } else {
                heads[day]?[stream] = head
                published[stream] = .dropped(Set(lsns))
            }
        }
        if heads[day]?.isEmpty == true { heads[day] = nil }
        shared.updateHeads(day: day, published)
        shared.state.withLock { s in
            for (stream, removed) in removedStats {
                guard var info = s.streams[stream] else { continue }
                info.stats.lines -= min(info.stats.lines, removed.lines)
                info.stats.rawBytes -= min(info.stats.rawBytes, removed.rawBytes)
                s.streams[stream] = info
            }
        }
    }
}
