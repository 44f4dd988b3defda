import Foundation
import Logging

/// StoreRecovery is what `Storage.open` rebuilds from the files, segments being the source of
/// truth: the newest generation of each day (older ones and unfinished compaction copies are
/// removed), the streams (the catalog's, plus any a segment holds that the catalog lacks — a
/// crash between the segment and the catalog commit), their statistics, the highest LSN, the
/// unsealed heads and the chunk keys of the dedup window. The catalog is brought up to date.
struct StoreRecovery {
    var segments: [Int32: Segment] = [:]
    /// Every stream id known, from the catalog and the segments.
    var keys: [StreamID: StreamKey]
    var streams: [StreamID: StreamInfo] = [:]
    var maxLSN: LSN = 0
    /// The writer's view of the unsealed heads, and the readers' head index.
    var heads: [Int32: [StreamID: Writer.HeadState]] = [:]
    var headLSNs: [Int32: [StreamID: [LSN]]] = [:]
    /// The streams with lines in each segment.
    var segmentStreams: [Int32: Set<StreamID>] = [:]
    var recentChunks: [ChunkKey: (receipt: AppendReceipt, arrival: Int64)] = [:]
    /// Chunks recorded by some of the days they list but not all (a crash between two days'
    /// commits): a resend stores the lines of the missing days only.
    var partialChunks: [ChunkKey: PartialChunk] = [:]
    /// Streams found in segments but not in the catalog.
    private var missingStreams: [(StreamID, StreamKey)] = []
    /// Chunk records by key: the days they list (`days`) and the days that hold one (`stored`).
    private var chunkRecords: [ChunkKey: PartialChunk] = [:]

    /// Opens the segments in `segmentsDirectory` and reads everything listed above from them.
    init(segmentsDirectory: String, catalog: Catalog, options: StorageOptions, pool: LMDBEnvironmentPool, logger: Logger) throws {
        keys = try catalog.loadStreams()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: segmentsDirectory)) ?? []
        let newest = Segment.newestGenerations(names)
        if !options.readOnly { Self.removeStale(names, newest: newest, in: segmentsDirectory) }
        for (day, generation) in newest.sorted(by: { $0.key < $1.key }) {
            segments[day] = try Segment(
                directory: segmentsDirectory, day: day, generation: generation, readOnly: options.readOnly, mapSize: options.segmentMapSize,
                pool: pool)
        }
        if options.fullTextIndex {
            for segment in segments.values {
                let recovered = try segment.recoverPendingIndex()
                if recovered > 0 {
                    logger.info(
                        "re-indexed blocks sealed after the last index flush", metadata: ["segment": "\(segment.name)", "blocks": "\(recovered)"])
                }
            }
        }
        let cutoff = options.dedupCutoff()
        for (day, segment) in segments.sorted(by: { $0.key < $1.key }) {
            try SegmentSnapshot.read(segment) { snapshot in try scan(snapshot, day: day, chunksFrom: cutoff) }
        }
        // A chunk whose lines went to several days is stored only if every day recorded it.
        for (key, record) in chunkRecords {
            if record.days.isSubset(of: record.stored) {
                recentChunks[key] = (record.receipt, record.arrival)
            } else {
                partialChunks[key] = record
            }
        }
        for (id, key) in keys where streams[id] == nil {
            // Known to the catalog but without lines (e.g. all its segments were dropped).
            streams[id] = StreamInfo(id: id, key: key, stats: StreamStats(), days: [])
        }
        if !options.readOnly { try reconcile(catalog, logger: logger) }
    }

    /// Removes older generations of a day (a compaction interrupted after its rename) and
    /// unfinished compaction copies with their lock files.
    private static func removeStale(_ names: [String], newest: [Int32: Int], in directory: String) {
        for name in names {
            let stale: Bool
            if let (day, generation) = Segment.parseFileName(name) {
                stale = generation < newest[day] ?? generation
            } else {
                stale = name.hasSuffix(Keys.segmentSuffix + ".tmp") || name.hasSuffix(Keys.segmentSuffix + ".tmp-lock")
                    || name.hasSuffix(Keys.segmentSuffix + ".tmp" + Writer.draftSuffix)
                    || name.hasSuffix(Keys.segmentSuffix + ".tmp" + Writer.draftSuffix + "-lock")
            }
            if stale {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
                try? FileManager.default.removeItem(atPath: directory + "/" + name + "-lock")
            }
        }
    }

    /// Reads one segment: its streams, their statistics, its unsealed head lines, its chunk
    /// records from `cutoff` on.
    private mutating func scan(_ snapshot: borrowing SegmentSnapshot, day: Int32, chunksFrom cutoff: Int64) throws {
        maxLSN = max(maxLSN, try snapshot.maxLSN())
        var members = Set<StreamID>()
        try snapshot.forEachStream { id, record in
            members.insert(id)
            if keys[id] == nil {
                let key = try Keys.decodeStreamKey(record)
                keys[id] = key
                missingStreams.append((id, key))
            }
        }
        try snapshot.forEachStreamStats { id, stats in
            // A compacted day's streams are recorded in the catalog only (`Keys.segmentStreams`).
            members.insert(id)
            guard let key = keys[id] else { throw CorruptDataError("segment \(snapshot.segment.name) has stats for unknown stream \(id)") }
            var info = streams[id] ?? StreamInfo(id: id, key: key, stats: StreamStats(), days: [])
            info.stats.merge(stats)
            info.days.append(day)
            streams[id] = info
        }
        segmentStreams[day] = members
        var dayHeads: [StreamID: Writer.HeadState] = [:]
        var dayLSNs: [StreamID: [LSN]] = [:]
        let now = ContinuousClock.now
        try snapshot.forEachUnsealedHeadEntry { id, lsn, _, value in
            var head = dayHeads[id] ?? Writer.HeadState(count: 0, bytes: 0, oldest: now, first: lsn, last: lsn)
            head.count += 1
            head.bytes += value.count
            head.last = lsn
            dayHeads[id] = head
            dayLSNs[id, default: []].append(lsn)
        }
        if !dayHeads.isEmpty {
            heads[day] = dayHeads
            headLSNs[day] = dayLSNs
        }
        try snapshot.forEachChunk(from: cutoff) { key, arrival, receipt, days in
            var record = chunkRecords[key] ?? PartialChunk(receipt: receipt, arrival: arrival, days: [], stored: [])
            record.arrival = min(record.arrival, arrival)
            record.days.formUnion(days)
            record.stored.insert(day)
            chunkRecords[key] = record
        }
    }

    /// Records in the catalog the streams and segments it lacks, and forgets segments whose
    /// files are gone.
    private func reconcile(_ catalog: Catalog, logger: Logger) throws {
        let recorded = Set(try catalog.recordedSegments())
        let newSegments = segments.keys.filter { !recorded.contains($0) }
        if !missingStreams.isEmpty || !newSegments.isEmpty {
            logger.info(
                "catalog reconciled from segments", metadata: ["streams": "\(missingStreams.count)", "segments": "\(newSegments.count)"])
        }
        try catalog.record(streams: missingStreams, segments: Array(newSegments))
        try catalog.forget(segments: recorded.filter { segments[$0] == nil })
    }
}
