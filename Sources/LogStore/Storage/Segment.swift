import CLMDB
import Foundation

/// One UTC day of lines: an LMDB environment `segments/YYYY-MM-DD.mdb` holding the head,
/// the blocks and the per-stream statistics of that day (see `Keys`).
///
/// Retention drops whole segment files, so disk is really freed.
public final class Segment: Sendable {
    /// Days since the epoch (UTC).
    public let day: Int32
    /// Incremented by each compaction, which writes a fresh file `YYYY-MM-DD.gN.mdb`.
    public let generation: Int
    public let path: String
    /// Unique to this object in the process: caches of what a block number holds key by it
    /// (numbers are never reused within one file; a file reopened is another object).
    let serial = Segment.newSerial()
    let env: LMDBEnvironment
    let meta: LMDBTable
    let streams: LMDBTable
    let stats: LMDBTable
    let head: LMDBTable
    let blocks: LMDBTable
    let chunks: LMDBTable
    let sealed: LMDBTable
    let ids: LMDBTable
    /// LSN → client `_id` (`Keys.segmentDocIDs`); nil in a read-only segment written before it existed.
    let docIDs: LMDBTable?
    let blockDir: LMDBTable
    let postings: LMDBTable
    /// Compacted layout (`Packed.swift`); nil in a read-only segment written before it existed.
    let packs: LMDBTable?
    let postingRuns: LMDBTable?
    /// Postings of blocks sealed since the last index flush; refuses them when the day keeps no token
    /// index (`Keys.metaUnindexed`).
    let pending: PendingIndex
    /// The preset dictionary of a compacted day (block codec 3), read on first use.
    let dictionary: SegmentDictionary
    /// Inflated shared frames (`SharedFrame.swift`) by pack and offset, for the next block of
    /// the same frame: the file's packs never change.
    let frames = ByteBoundedLRU<UInt64, [UInt8]>(capacity: 8 * (SharedFrames.targetBytes + SharedFrames.smallBlockBytes + 4096))

    /// Read transactions open on one day at once, all processes together: LMDB's default. Its
    /// lock file is then 8 KiB (`du -sb`) instead of the 64 KiB of 1,024 slots, which was a
    /// third of a quiet compacted day; a read finding every slot taken waits for one
    /// (`LMDBEnvironment.read`). A day's older, bigger lock file is used as it is.
    static let readers: UInt32 = 126
    /// A compacted day (generation 1 on) is read far less often than the current one: half the
    /// slots, and a lock file of one page, 4 KiB, where a quiet compacted day's file is tens of
    /// KiB. The lock file's creator sets its size; later openers read the slot count from it.
    static let compactedReaders: UInt32 = 62

    /// Reader slots of the lock file of a day's `generation`.
    static func readers(generation: Int) -> UInt32 { generation > 0 ? compactedReaders : readers }

    /// The size of the lock file LMDB creates for `readers` slots (64 bytes each, the first in
    /// its 192-byte header).
    static func lockFileBytes(readers: UInt32) -> Int { Int(readers - 1) * 64 + 192 }

    /// Opens (or, when writable, creates) the segment of `day` in `directory`.
    /// `pool` bounds the segments open at once (`StorageOptions.maxOpenSegments`): it closes
    /// idle ones, which their next transaction reopens.
    init(directory: String, day: Int32, generation: Int = 0, readOnly: Bool, mapSize: Int, pool: LMDBEnvironmentPool? = nil) throws {
        self.day = day
        self.generation = generation
        path = directory + "/" + Self.fileName(day: day, generation: generation)
        env = try LMDBEnvironment(path: path, mapSize: mapSize, readOnly: readOnly, maxReaders: Self.readers(generation: generation), pool: pool)
        // A compacted day of format 4 keeps its tables in one (`Keys.segmentShared`).
        let opened = env
        let shared = generation > 0 ? try opened.existingTable(Keys.segmentShared) : nil
        let table = { (name: String) throws -> LMDBTable in try opened.table(name, sharedIn: shared, prefixes: Keys.segmentSharedPrefixes) }
        let optionalTable = { (name: String) throws -> LMDBTable? in
            shared != nil ? try table(name) : try Self.optionalTable(opened, name, readOnly: readOnly)
        }
        meta = try table(Keys.segmentMeta)
        dictionary = SegmentDictionary(env: env, meta: meta)
        let (metaTable, environment) = (meta, env)
        let (found, unindexed): (UInt32?, Bool) = try environment.read { txn in
            let unindexed = try txn.get(metaTable, Keys.metaUnindexed) != nil
            guard let v = try txn.get(metaTable, Keys.metaFormat) else { return (nil, unindexed) }
            var r = ByteReader(v)
            return (try r.u32BE(), unindexed)
        }
        pending = PendingIndex(accepts: !unindexed)
        if let found, !Keys.readableFormats.contains(found) {
            throw StorageError.unsupportedFormat(found: found, supported: Keys.formatVersion)
        }
        streams = try table(Keys.segmentStreams)
        stats = try table(Keys.segmentStreamStats)
        head = try table(Keys.segmentHead)
        blocks = try table(Keys.segmentBlocks)
        chunks = try table(Keys.segmentChunks)
        sealed = try table(Keys.segmentSealed)
        ids = try table(Keys.segmentIDs)
        docIDs = try optionalTable(Keys.segmentDocIDs)
        blockDir = try table(Keys.segmentBlockDir)
        postings = try table(Keys.segmentPostings)
        packs = try optionalTable(Keys.segmentPacks)
        postingRuns = try optionalTable(Keys.segmentPostingRuns)
        if !readOnly {
            let (meta, env) = (self.meta, self.env)
            try env.write { txn in
                if let v = try txn.get(meta, Keys.metaFormat) {
                    var r = ByteReader(v)
                    let found = try r.u32BE()
                    if !Keys.readableFormats.contains(found) { throw StorageError.unsupportedFormat(found: found, supported: Keys.formatVersion) }
                } else {
                    var w = ByteWriter()
                    w.u32BE(Keys.formatVersion)
                    try txn.put(meta, Keys.metaFormat, w.bytes)
                }
            }
        }
    }

    /// A table that older segments lack: created when writable, nil when read-only and absent.
    private static func optionalTable(_ env: LMDBEnvironment, _ name: String, readOnly: Bool) throws -> LMDBTable? {
        do {
            return try env.table(name)
        } catch let error as LMDBError where readOnly && error.code == MDB_NOTFOUND {
            return nil
        }
    }

    /// `YYYY-MM-DD.mdb`, or `YYYY-MM-DD.gN.mdb` after compactions.
    static func fileName(day: Int32, generation: Int) -> String {
        Day.name(day) + (generation == 0 ? "" : ".g\(generation)") + Keys.segmentSuffix
    }

    /// Parses a segment file name back to (day, generation).
    static func parseFileName(_ name: String) -> (day: Int32, generation: Int)? {
        guard name.hasSuffix(Keys.segmentSuffix) else { return nil }
        let stem = name.dropLast(Keys.segmentSuffix.count)
        let parts = stem.split(separator: ".")
        guard let day = Day.parse(parts[0]) else { return nil }
        if parts.count == 1 { return (day, 0) }
        guard parts.count == 2, parts[1].hasPrefix("g"), let generation = Int(parts[1].dropFirst()), generation > 0 else { return nil }
        return (day, generation)
    }

    /// The newest generation of each day among segment file names (an older one is a
    /// compaction's leftover; other names are ignored).
    static func newestGenerations(_ names: [String]) -> [Int32: Int] {
        var newest: [Int32: Int] = [:]
        for name in names {
            if let (day, generation) = parseFileName(name) { newest[day] = max(newest[day] ?? 0, generation) }
        }
        return newest
    }

    /// Removes the segment's files (the environment stays usable by whoever still holds it:
    /// an unlinked file lives until its last mapping is closed; it is no longer parked).
    func unlink() {
        env.pin()
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + "-lock")
    }

    /// The name of the segment (`YYYY-MM-DD`).
    public var name: String { Day.name(day) }

    /// Highest LSN committed to this segment (0 when none).
    func maxLSN(_ txn: borrowing LMDBTransaction) throws -> LSN {
        guard let v = try txn.get(meta, Keys.metaMaxLSN) else { return 0 }
        return try Keys.decodeU64(v)
    }

    /// Bytes of LMDB's free pages inside the file (reused by later writes; a copy leaves them out).
    func freeBytes() throws -> Int {
        try env.read { txn in try txn.freePages() } * env.info().pageSize
    }

    /// Size of the file on disk.
    public var fileBytes: Int { DiskUsage.file(path) }

    /// Size of LMDB's lock file beside it (`-lock`; 0 when there is none).
    public var lockBytes: Int { DiskUsage.file(path + "-lock") }

    /// What the day costs on disk as `du -sb` counts it: the file and its lock file.
    public var diskBytes: Int { fileBytes + lockBytes }

    func close() { env.close() }
}
