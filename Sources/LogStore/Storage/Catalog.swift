import Foundation

/// The catalog environment `catalog.mdb`: format version, the streams (id ↔ key) and the
/// segments seen. Segments are the source of truth for lines, and `Storage.open` reconciles the
/// catalog from them (a crash may fall between the segment commit and the catalog commit); the
/// catalog is the record of the stream keys of compacted days, whose copies leave the stream
/// records out (compaction makes sure the catalog holds them first). Compaction rewrites it
/// (`Catalog+Compact`).
final class Catalog: Sendable {
    let env: LMDBEnvironment
    let meta: LMDBTable
    let streams: LMDBTable
    let streamKeys: LMDBTable
    let segments: LMDBTable
    /// nil only in a read-only catalog written before tombstones existed.
    let tombstones: LMDBTable?
    /// Streams of deleted indices and indices created empty; nil in a read-only catalog
    /// written before they existed.
    let deletedStreams: LMDBTable?
    let indices: LMDBTable?

    /// The tables are key ranges of one LMDB table (`Keys.catalogShared`).
    let shared: Bool

    /// Opens (creating when writable and missing) the catalog at `path`; a new one keeps its
    /// tables in one LMDB table unless `sharedTables` is false (format 3's layout, for tests).
    init(path: String, readOnly: Bool, sharedTables: Bool = true) throws {
        // An unfinished compacting rewrite (`Catalog+Compact`) is dropped; the catalog as it was stays.
        if !readOnly { Self.removeRewriteFiles(of: path) }
        let fresh = !readOnly && !FileManager.default.fileExists(atPath: path)
        env = try LMDBEnvironment(path: path, mapSize: Limits.catalogMapSize, readOnly: readOnly, maxReaders: Self.readers)
        // A catalog created by format 4 keeps its tables in one (`Keys.catalogShared`); one
        // created before keeps a table each, also after compaction.
        let shared = fresh && sharedTables ? try env.table(Keys.catalogShared) : try env.existingTable(Keys.catalogShared)
        self.shared = shared != nil
        let opened = env
        let table = { (name: String) throws -> LMDBTable in try opened.table(name, sharedIn: shared, prefixes: Keys.catalogSharedPrefixes) }
        meta = try table(Keys.catalogMeta)
        streams = try table(Keys.catalogStreams)
        streamKeys = try env.table(Keys.catalogStreamKeys)
        segments = try table(Keys.catalogSegments)
        tombstones = readOnly ? try? table(Keys.catalogTombstones) : try table(Keys.catalogTombstones)
        deletedStreams = readOnly ? try? table(Keys.catalogDeletedStreams) : try table(Keys.catalogDeletedStreams)
        indices = readOnly ? try? table(Keys.catalogIndices) : try table(Keys.catalogIndices)
        let (meta, env) = (self.meta, self.env)
        let format: UInt32? = try env.read { txn in
            guard let v = try txn.get(meta, Keys.metaFormat) else { return nil }
            var r = ByteReader(v)
            return try r.u32BE()
        }
        if let format, !Keys.readableFormats.contains(format) {
            throw StorageError.unsupportedFormat(found: format, supported: Keys.formatVersion)
        }
        // An older format is marked current: this build may write what older builds cannot read.
        if format != Keys.formatVersion && !readOnly {
            try env.write { txn in
                var w = ByteWriter()
                w.u32BE(Keys.formatVersion)
                try txn.put(meta, Keys.metaFormat, w.bytes)
            }
        }
    }

    /// Read transactions open on the catalog at once, all processes together (the writer, opens,
    /// backups): an 8 KiB lock file as a day's (`Segment.readers`). A catalog written with more
    /// slots keeps its bigger lock file until a compaction rewrites it.
    static let readers = Segment.readers

    /// The catalog's tables a copy carries over (`stream_keys` is copied empty: nothing reads it).
    var copiedTables: [LMDBTable] { [meta, streams, segments] + [tombstones, deletedStreams, indices].compactMap { $0 } }

    /// Every stream recorded in the catalog.
    func loadStreams() throws -> [StreamID: StreamKey] {
        var result: [StreamID: StreamKey] = [:]
        let table = streams
        try env.read { txn in
            try txn.scan(table) { key, value in
                result[try Keys.decodeU64(key)] = try Keys.decodeStreamKey(value)
                return true
            }
        }
        return result
    }

    /// Records new streams and segments (one transaction, synced).
    func record(streams newStreams: [(StreamID, StreamKey)], segments newSegments: [Int32]) throws {
        if newStreams.isEmpty && newSegments.isEmpty { return }
        let (streams, segments) = (self.streams, self.segments)
        try env.write { txn in
            for (id, key) in newStreams { try txn.put(streams, Keys.u64(id), Keys.encodeStreamKey(key)) }
            for day in newSegments { try txn.put(segments, Keys.day(day), [UInt8]()) }
        }
    }

    /// Forgets segments whose files are gone.
    func forget(segments days: [Int32]) throws {
        if days.isEmpty { return }
        let segments = self.segments
        try env.write { txn in
            for day in days { try txn.delete(segments, Keys.day(day)) }
        }
    }

    func recordedSegments() throws -> [Int32] {
        var days: [Int32] = []
        let table = segments
        try env.read { txn in
            try txn.scan(table) { key, _ in
                days.append(try Keys.decodeDay(key))
                return true
            }
        }
        return days
    }

    /// Deleted workflows.
    func loadTombstones() throws -> Set<String> {
        var result = Set<String>()
        guard let table = tombstones else { return result }
        try env.read { txn in
            try txn.scan(table) { key, _ in
                result.insert(String(decoding: key, as: UTF8.self))
                return true
            }
        }
        return result
    }

    func addTombstone(_ workflow: String, at time: Int64) throws {
        guard let table = tombstones else { throw StorageError.readOnly }
        try env.write { txn in try txn.put(table, Array(workflow.utf8), Keys.u64(UInt64(max(0, time)))) }
    }

    func close() { env.close() }
}
