import Foundation

extension Writer {
    /// Writes one day's new lines (and seals the heads of `seal`) in one transaction, except
    /// the lines of `drop` (refused or replaced client ids), recording `documents`' ids.
    /// Returns the statistics the new lines add per stream. The lines' bytes must stay valid
    /// for the call (the commit's arena).
    func write(
        segment: Segment, group inputGroup: [StreamID: [LineView]], seal: Set<StreamID>, drop: Set<LSN> = [],
        documents: [(key: [UInt8], lsn: LSN, stream: StreamID)] = [], chunks: [ChunkWrite] = [], arrival: Int64 = 0
    ) throws -> [StreamID: StreamStats] {
        let day = segment.day
        var plan = DayWrite()
        (plan.members, plan.keyOf, plan.chunks, plan.arrival) = (segmentStreams[day] ?? [], keyOf, chunks, arrival)
        var group = inputGroup
        if !drop.isEmpty {
            for (stream, lines) in group where lines.contains(where: { drop.contains($0.lsn) }) {
                let kept = lines.filter { !drop.contains($0.lsn) }
                group[stream] = kept.isEmpty ? nil : kept
            }
        }
        plan.documents = documents
        do {
            let dayHeads = heads[day] ?? [:]
            (plan.toSeal, plan.toHead) = planSeal(group, seal: seal, heads: dayHeads)
            plan.sealedThrough = plan.toSeal.map { id in dayHeads[id].flatMap { $0.count > 0 ? $0.last : nil } }
            plan.blocks = plan.toSeal.isEmpty ? [] : try encodeSealed(plan.toSeal, group: group, segment: segment)
            for id in plan.toHead {
                for line in group[id] ?? [] { plan.headLines.append((id, line)) }
            }
            if plan.toHead.count > 1 { plan.headLines.sort { $0.line.lsn < $1.line.lsn } }
            if !plan.toSeal.isEmpty {
                // After sealing, the head below the oldest unsealed line of any stream can go (the
                // head states are plain values: scanning thousands of them copies nothing).
                let sealing = Set(plan.toSeal)
                var oldest = plan.headLines.first?.line.lsn ?? LSN.max
                for (id, head) in dayHeads where !sealing.contains(id) && head.count > 0 { oldest = min(oldest, head.first) }
                plan.truncateBelow = oldest
            }
        }
        for (id, lines) in group {
            var s = StreamStats()
            for i in lines.indices { s.add(timestamp: lines[i].timestamp, lsn: lines[i].lsn, rawBytes: lines[i].rawSize) }
            plan.deltas[id] = s
            plan.maxLSN = max(plan.maxLSN, s.lastLSN)
        }
        let numbered = try commitDay(plan, segment: segment)

        // Committed: index the new blocks, update the writer's view and the readers' head index.
        if options.fullTextIndex { for (number, tokens) in numbered { segment.pending.add(number, tokens) } }
        publishHeads(day: day, sealed: plan.toSeal, appended: plan.toHead, group: group)
        if !plan.deltas.isEmpty { segmentStreams[day, default: []].formUnion(plan.deltas.keys) }
        return plan.deltas
    }

    /// Which streams are sealed in this transaction (their head would reach `sealLines` or
    /// `sealBytes`, or `seal` asks) and which only append to the head. At most
    /// `sealBudgetStreams` streams / about `sealBudgetBytes` are sealed, the biggest heads
    /// first; the rest stay in the head for the next passes (`sealBacklog`).
    private func planSeal(
        _ group: [StreamID: [LineView]], seal: Set<StreamID>, heads dayHeads: [StreamID: HeadState]
    ) -> (toSeal: [StreamID], toHead: [StreamID]) {
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
        guard toSeal.count > Self.sealBudgetStreams else { return (toSeal, toHead) }
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
        return (kept, toHead)
    }

    /// Encodes the blocks of the streams in `toSeal`: their head lines, read through a
    /// snapshot of the segment (nobody else writes the head), plus their new lines in `group`.
    /// Encoding runs while the snapshot keeps the head values mapped.
    private func encodeSealed(_ toSeal: [StreamID], group: [StreamID: [LineView]], segment: Segment) throws -> [[SealedBlock]] {
        try SegmentSnapshot.read(segment, shared: shared, streams: toSeal, cache: nil) { snapshot in
            var sealLines: [[LineView]] = []
            sealLines.reserveCapacity(toSeal.count)
            for id in toSeal {
                let fresh = group[id] ?? []
                let expected = snapshot.heads[id]?.count ?? 0
                var lines: [LineView] = []
                lines.reserveCapacity(expected + fresh.count)
                let read = try snapshot.forEachHeadLine(of: id) { lines.append($0) }
                guard read == expected else {
                    throw CorruptDataError("\(expected - read) head lines of stream \(id) missing in \(segment.name)")
                }
                lines.append(contentsOf: fresh)
                sealLines.append(lines)
            }
            return encodeBlocks(sealLines)
        }
    }

    /// The write transaction of `plan`; returns the numbers given to the new blocks with their
    /// tokens (for the pending index, once committed).
    private func commitDay(_ plan: DayWrite, segment: Segment) throws -> [(UInt32, BlockTokens)] {
        let syncEach = options.durability == .fsync
        defer { if !syncEach { noteUnsynced(segment.env) } }
        return try segment.env.write(sync: syncEach) { txn in
            var numbered: [(UInt32, BlockTokens)] = []
            var key = ByteWriter(capacity: 8)
            var value = ByteWriter(capacity: 4096)
            for (stream, line) in plan.headLines {
                Keys.encodeHeadLine(into: &value, stream: stream, timestamp: line.timestamp, message: line.message, fields: line.fields)
                key.bytes.removeAll(keepingCapacity: true)
                key.u64BE(line.lsn)
                try txn.put(segment.head, key.bytes, value.bytes, append: true)
            }
            var nextBlock = plan.toSeal.isEmpty ? 0 : try segment.indexState(txn).next
            for (i, id) in plan.toSeal.enumerated() {
                if let last = plan.sealedThrough[i] { try txn.put(segment.sealed, Keys.u64(id), Keys.u64(last)) }
                for block in plan.blocks[i] {
                    try txn.put(segment.blocks, Keys.streamLSN(id, block.header.firstLSN), block.bytes)
                    let ref = BlockRef(number: nextBlock, stream: id, header: block.header)
                    try txn.put(segment.blockDir, Keys.u32(nextBlock), ref.encoded(), append: true)
                    numbered.append((nextBlock, block.tokens))
                    nextBlock += 1
                }
            }
            if !numbered.isEmpty { try txn.put(segment.meta, Keys.metaNextBlock, Keys.u32(nextBlock)) }
            if let truncateBelow = plan.truncateBelow {
                let bound = Keys.u64(truncateBelow)
                try txn.deleteWhile(segment.head) { key in key.lexicographicallyPrecedes(bound) }
            }
            try Self.storeRecords(plan, segment: segment, txn: txn)
            return numbered
        }
    }

    /// Stores the per-stream statistics, new stream records, highest LSN, document ids and
    /// chunk records of `plan` in `txn`.
    private static func storeRecords(_ plan: DayWrite, segment: Segment, txn: borrowing LMDBTransaction) throws {
        for (id, delta) in plan.deltas {
            let key = Keys.u64(id)
            var merged = delta
            if let old = try txn.get(segment.stats, key) { merged.merge(try Keys.decodeStats(old)) }
            try txn.put(segment.stats, key, Keys.encodeStats(merged))
            if !plan.members.contains(id), let streamKey = plan.keyOf[id] {
                try txn.put(segment.streams, key, Keys.encodeStreamKey(streamKey))
            }
        }
        if plan.maxLSN > 0 {
            let old = try segment.maxLSN(txn)
            if plan.maxLSN > old { try txn.put(segment.meta, Keys.metaMaxLSN, Keys.u64(plan.maxLSN)) }
        }
        for (key, lsn, stream) in plan.documents {
            try txn.put(segment.ids, key, Keys.documentRecord(lsn: lsn, stream: stream))
            if let docIDs = segment.docIDs { try txn.put(docIDs, Keys.u64(lsn), key) }
        }
        for chunk in plan.chunks {
            try txn.put(
                segment.chunks, Keys.chunk(arrival: plan.arrival, key: chunk.key), Keys.encodeChunk(chunk.receipt, days: chunk.days))
        }
    }

    /// Updates the writer's head states of `day` and publishes the change to the readers' head
    /// index (before callers are resumed): `sealed` streams lost their head, `appended` streams
    /// gained their lines of `group`.
    private func publishHeads(day: Int32, sealed: [StreamID], appended: [StreamID], group: [StreamID: [LineView]]) {
        // Moved out of `heads` so that the update is in place (a copy of every stream's entry per
        // commit was measurable with thousands of streams).
        var updated = heads.removeValue(forKey: day) ?? [:]
        var published: [StreamID: Shared.HeadUpdate] = [:]
        let now = ContinuousClock.now
        for id in sealed {
            if updated[id] != nil { published[id] = .removed }
            updated[id] = nil
        }
        for id in appended {
            guard let lines = group[id], let first = lines.first, let last = lines.last else { continue }
            var bytes = 0
            for i in lines.indices { bytes += lines[i].rawSize }
            var head = updated[id] ?? HeadState(count: 0, bytes: 0, oldest: now, first: first.lsn, last: first.lsn)
            head.count += lines.count
            head.bytes += bytes
            head.last = last.lsn  // ascending: assigned in order
            updated[id] = head
            published[id] = .appended(lines.map(\.lsn))
        }
        heads[day] = updated.isEmpty ? nil : updated
        if !updated.isEmpty { daysWithHeads[day] = Self.checksAfterHeads }
        shared.updateHeads(day: day, published)
    }
}
