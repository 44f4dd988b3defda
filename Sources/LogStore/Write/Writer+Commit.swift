import Foundation

extension Writer {
    /// Commits `batch` (group commit): gives LSNs in queue order, writes one transaction per
    /// touched day, records new streams and segments in the catalog, publishes the committed
    /// LSN and the statistics, and resumes every caller. Writer thread only.
    func commit(_ batch: [Pending]) {
        // The batch's bytes in one arena that outlives the day writes below: lines point into
        // it (`LineView`), so a message is copied only into its head value or block payload.
        let arena = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(1, batch.reduce(0) { $0 + $1.lines.bytes.count }), alignment: 8)
        defer { arena.deallocate() }
        let plan = planCommit(batch, arena: arena)
        let arrival = Self.wallClock()
        var chunksByDay: [Int32: [ChunkWrite]] = [:]
        for (p, days) in plan.chunkDays {
            guard let key = batch[p].chunk, let receipt = plan.receipts[p] else { continue }
            // A resend of a partly stored chunk lists the days stored before too, so that the
            // records of all days together say the chunk is complete.
            let listed = partialChunks.isEmpty ? days : days.union(partialChunks[key]?.days ?? [])
            let sortedDays = listed.sorted()
            for day in days.sorted() { chunksByDay[day, default: []].append(ChunkWrite(key: key, receipt: receipt, days: sortedDays)) }
        }
        var documents = DocumentResolution()
        var documentFailure: Error?
        if !plan.documents.isEmpty {
            do {
                documents = try resolveDocuments(plan.documents)
                try removeDocuments(documents.removals)
            } catch {
                logger.error("replacing documents failed", metadata: ["error": "\(error)"])
                documentFailure = error
            }
        }
        let written =
            documentFailure.map { (created: [Segment](), stats: [Int32: [StreamID: StreamStats]](), failure: Optional($0)) }
            ?? writeDays(plan, chunks: chunksByDay, arrival: arrival, documents: documents)
        do {
            try catalog.record(streams: plan.newStreams, segments: written.created.map(\.day))
        } catch {
            // The segments hold the stream records too; the next open reconciles the catalog.
            logger.error("catalog update failed", metadata: ["error": "\(error)"])
        }
        shared.publish(
            newStreams: plan.newStreams, segments: written.created, stats: written.stats, lastLSN: written.failure == nil ? plan.lastLSN : 0)
        var answered = plan
        for (p, lines) in documents.conflicts { answered.receipts[p]?.conflicts = lines }
        for (p, lines) in documents.replaced { answered.receipts[p]?.replaced = lines }
        rememberChunks(batch, answered, committedDays: Set(written.stats.keys), failed: written.failure != nil, arrival: arrival)
        resume(batch, answered, failure: written.failure)
    }

    /// Remembers the chunks of `batch` the commit stored: whole (`recentChunks`) when it
    /// succeeded, or, when it `failed` after committing some of their days, partly
    /// (`partialChunks`: a resend stores the other days' lines only).
    private func rememberChunks(_ batch: [Pending], _ plan: CommitPlan, committedDays: Set<Int32>, failed: Bool, arrival: Int64) {
        for (p, days) in plan.chunkDays {
            guard let key = batch[p].chunk, let receipt = plan.receipts[p] else { continue }
            if !failed {
                recentChunks[key] = (receipt, arrival)
                if !partialChunks.isEmpty { partialChunks[key] = nil }
                continue
            }
            let stored = days.intersection(committedDays)
            if stored.isEmpty { continue }
            var partial = partialChunks[key] ?? PartialChunk(receipt: receipt, arrival: arrival, days: [], stored: [])
            partial.days.formUnion(days)
            partial.stored.formUnion(stored)
            partialChunks[key] = partial
        }
    }

    /// Gives the lines of `batch` LSNs in queue order and groups them by day and stream, their
    /// bytes copied once into `arena`; appends repeating a chunk get no LSNs.
    private func planCommit(_ batch: [Pending], arena: UnsafeMutableRawBufferPointer) -> CommitPlan {
        var plan = CommitPlan()
        plan.receipts.reserveCapacity(batch.count)
        var grouping = CommitGrouping()
        var firstWithChunk: [ChunkKey: Int] = [:]
        var lsn = nextLSN
        var arenaUsed = 0
        for (p, pending) in batch.enumerated() {
            if let chunk = pending.chunk {
                if let known = recentChunks[chunk] {
                    var receipt = known.receipt
                    receipt.duplicateChunk = true
                    plan.receipts.append(receipt)
                    continue
                }
                if let earlier = firstWithChunk[chunk] {
                    plan.sameAs[p] = earlier
                    plan.receipts.append(nil)
                    continue
                }
                firstWithChunk[chunk] = p
            }
            // Days that already hold this chunk (a resend after a partial commit) are skipped.
            let storedDays = partialChunks.isEmpty ? nil : pending.chunk.flatMap { partialChunks[$0]?.stored }
            guard let arenaStart = arena.baseAddress else { preconditionFailure("BUG: commit arena without memory") }
            let base = arenaStart + arenaUsed
            pending.lines.bytes.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress, bytes.count > 0 { base.copyMemory(from: source, byteCount: bytes.count) }
            }
            arenaUsed += pending.lines.bytes.count
            let first = lsn
            let (days, skipped) = place(
                pending.lines, pending: p, base: base, skippingDays: storedDays, lsn: &lsn, into: &grouping, plan: &plan)
            if pending.chunk != nil { plan.chunkDays[p] = days }
            plan.receipts.append(
                AppendReceipt(firstLSN: first, lastLSN: lsn - 1, count: pending.lines.lines.count, linesStoredBefore: skipped))
        }
        nextLSN = lsn
        plan.lastLSN = lsn - 1
        plan.groups = grouping.groups()
        return plan
    }

    /// Gives each line of one request an LSN from `lsn` on and adds it to `grouping` (its bytes
    /// at `base`, the request's copy in the arena), except the lines of `skippingDays` (days
    /// that hold the request's chunk already). Returns the days its lines went to and how many
    /// lines were skipped.
    private func place(
        _ lines: LineBatch, pending p: Int, base: UnsafeMutableRawPointer, skippingDays: Set<Int32>?, lsn: inout LSN,
        into grouping: inout CommitGrouping, plan: inout CommitPlan
    ) -> (days: Set<Int32>, skipped: Int) {
        var skipped = 0
        var days = Set<Int32>()
        // Stream ids (and slots) are resolved once per distinct stream of the request.
        var streamIDs = [StreamID?](repeating: nil, count: lines.streams.count)
        var streamSlots = [Int](repeating: -1, count: lines.streams.count)
        var sawMainDay = false
        for (i, line) in lines.lines.enumerated() {
            if let skippingDays, skippingDays.contains(Day.of(line.timestamp)) {
                skipped += 1
                continue
            }
            let s = Int(line.stream)
            let id: StreamID
            if let known = streamIDs[s] {
                id = known
            } else {
                id = streamID(lines.streams[s], newStreams: &plan.newStreams)
                streamIDs[s] = id
            }
            let view = LineView(
                timestamp: line.timestamp, lsn: lsn,
                message: UnsafeRawBufferPointer(start: base + line.messageStart, count: line.messageCount),
                fields: UnsafeRawBufferPointer(start: base + line.fieldsStart, count: line.fieldsCount))
            let day = Day.of(line.timestamp)
            if grouping.add(view, stream: id, day: day, slot: &streamSlots[s]) {
                sawMainDay = true
            } else {
                days.insert(day)
            }
            if line.id >= 0 {
                plan.documents.append(
                    PlannedDocument(
                        lsn: lsn, day: day, stream: id, key: Keys.documentID(index: lines.streams[s].index, id: lines.ids[Int(line.id)]),
                        overwrite: lines.replaces(line.id), pending: p, line: Int32(i)))
            }
            lsn += 1
        }
        if sawMainDay, let mainDay = grouping.mainDay { days.insert(mainDay) }
        return (days, skipped)
    }

    /// The id of the stream `key`, given a new one (recorded in `newStreams`) when it is unknown.
    private func streamID(_ key: StreamKey, newStreams: inout [(StreamID, StreamKey)]) -> StreamID {
        if let known = keys[key] { return known }
        let id = nextStreamID
        nextStreamID += 1
        keys[key] = id
        keyOf[id] = key
        newStreams.append((id, key))
        return id
    }

    /// Writes each day of `plan` in its own transaction, in day order, stopping at the first
    /// failure. Returns the segments created, the statistics added and the failure.
    private func writeDays(_ plan: CommitPlan, chunks: [Int32: [ChunkWrite]], arrival: Int64, documents: DocumentResolution) -> (
        created: [Segment], stats: [Int32: [StreamID: StreamStats]], failure: Error?
    ) {
        var created: [Segment] = []
        var stats: [Int32: [StreamID: StreamStats]] = [:]
        for (day, group) in plan.groups.sorted(by: { $0.key < $1.key }) {
            do {
                let segment = try segmentFor(day, created: &created)
                stats[day] = try write(
                    segment: segment, group: group, seal: [], drop: documents.drop, documents: documents.records[day] ?? [],
                    chunks: chunks[day] ?? [], arrival: arrival)
            } catch {
                logger.error("commit failed", metadata: ["segment": "\(Day.name(day))", "error": "\(error)"])
                return (created, stats, error)
            }
        }
        return (created, stats, nil)
    }

    /// Resumes every caller of `batch` with its receipt (or the failure).
    private func resume(_ batch: [Pending], _ plan: CommitPlan, failure: Error?) {
        for (p, pending) in batch.enumerated() {
            if let failure {
                pending.continuation.resume(throwing: failure)
                continue
            }
            var receipt: AppendReceipt
            if let earlier = plan.sameAs[p], let first = plan.receipts[earlier] {
                receipt = first
                receipt.duplicateChunk = true
            } else if let own = plan.receipts[p] {
                receipt = own
                receipt.duplicateIDs = receipt.conflicts.count
            } else {
                preconditionFailure("BUG: pending \(p) has no receipt")
            }
            pending.continuation.resume(returning: receipt)
        }
    }

    /// The segment of `day`: the open one, one created earlier in this commit, or a new one
    /// (added to `created`; published after the commit).
    func segmentFor(_ day: Int32, created: inout [Segment]) throws -> Segment {
        if let segment = shared.state.withLock({ $0.segments[day] }) { return segment }
        if let segment = created.first(where: { $0.day == day }) { return segment }
        let segment = try Segment(directory: segmentsDirectory, day: day, readOnly: false, mapSize: options.segmentMapSize, pool: shared.segmentPool)
        syncDirectory(segmentsDirectory)
        created.append(segment)
        logger.info("segment created", metadata: ["segment": "\(segment.name)"])
        return segment
    }
}
