/// Every file name, LMDB table and key layout of a data directory, in one place.
///
/// Integers in keys are big-endian so that LMDB's byte order is numeric order. Change
/// `formatVersion` whenever a layout here changes.
public enum Keys {
    /// The on-disk format this build writes and reads. Must be updated when a layout changes.
    public static let formatVersion: UInt32 = 4
    /// Formats this build reads: 3 differs from 4 only in that no compacted day shares its
    /// tables (`segmentShared`); a writable open of the catalog marks the directory 4.
    public static let readableFormats: ClosedRange<UInt32> = 3...4

    // MARK: Files
    /// The catalog environment, directly in the data directory.
    public static let catalogFile = "catalog.mdb"
    /// Day segments live in this subdirectory as `YYYY-MM-DD.mdb`.
    public static let segmentsDirectory = "segments"
    /// Held with `flock` by the process that writes the directory.
    public static let lockFile = "LOCK"
    public static let segmentSuffix = ".mdb"

    // MARK: Catalog tables
    /// `"format"` → u32 BE format version.
    public static let catalogMeta = "meta"
    /// streamID (u64 BE) → stream record (`encodeStreamKey`).
    public static let catalogStreams = "streams"
    /// stream record bytes → streamID (u64 BE): no longer written (the writer keeps this map in
    /// memory, built from `streams` at open); compaction's copy of the catalog leaves it empty.
    public static let catalogStreamKeys = "stream_keys"
    /// day (u32 BE, days since epoch + 2^31) → empty: the segments this catalog has seen.
    public static let catalogSegments = "segments"
    /// workflow id (UTF-8) → deletion time ns (u64 BE): deleted workflows, hidden from every
    /// read at once and removed from the files by compaction.
    public static let catalogTombstones = "tombstones"
    /// streamID (u64 BE) → deletion time ns (u64 BE): streams of deleted indices, hidden from
    /// every read at once and removed from the files by compaction; the index's next line gets
    /// a new stream.
    public static let catalogDeletedStreams = "deleted_streams"
    /// index name (UTF-8) → creation time ns (u64 BE): indices created empty (`PUT /{index}`).
    public static let catalogIndices = "indices"

    /// A catalog created by format 4 keeps its tables (but `stream_keys`, never written) as key
    /// ranges of this one LMDB table, each after its byte in `catalogSharedPrefixes`. `streams`
    /// is the last range: a new stream's id is the highest, so its record goes at the end of the
    /// last page, which LMDB splits full (inside a page it would split in half).
    public static let catalogShared = "shared"
    public static let catalogSharedPrefixes: [(name: String, prefix: UInt8)] = [
        (catalogMeta, 0x01), (catalogSegments, 0x02), (catalogTombstones, 0x03), (catalogDeletedStreams, 0x04),
        (catalogIndices, 0x05), (catalogStreams, 0x06),
    ]

    // MARK: Segment tables
    /// `"format"` → u32 BE; `"maxLSN"` → u64 BE highest LSN committed to this segment.
    public static let segmentMeta = "meta"
    /// streamID (u64 BE) → stream record: the streams with lines in this segment (self-describing,
    /// so the catalog can be rebuilt from segments after a crash between the two commits). Empty
    /// in a compacted copy (layout 2): compaction first makes sure the catalog holds them, and
    /// the segment's streams are then the keys of `stream_stats`.
    public static let segmentStreams = "streams"
    /// streamID (u64 BE) → `StreamStats` of this segment (varints).
    public static let segmentStreamStats = "stream_stats"
    /// LSN u64 BE → head line (`encodeHeadLine`): fresh lines, appended in LSN order (so a
    /// commit dirties only the last pages). A stream's head lines are found through the
    /// in-memory head index, rebuilt from this table at open.
    public static let segmentHead = "head"
    /// streamID u64 BE → LSN u64 BE: every head line of the stream up to this LSN is sealed in
    /// a block (the head is truncated later, below the oldest unsealed line of any stream).
    public static let segmentSealed = "sealed"
    /// (streamID u64 BE, firstLSN u64 BE) → block (`BlockCodec`).
    public static let segmentBlocks = "blocks"
    /// (arrival ns u64 BE, chunk key 16 bytes) → chunk record (`encodeChunk`): request bodies
    /// stored recently, so a resent chunk is recognised (pruned after the dedup window).
    public static let segmentChunks = "chunks"
    /// index, 0x00, document id (UTF-8) → LSN u64 BE, then stream id u64 BE (8 bytes in
    /// segments written before the stream was recorded): the client `_id`s of the lines stored
    /// in this segment (`Documents/`). A replaced document's record moves with it.
    public static let segmentIDs = "ids"
    /// LSN u64 BE → index, 0x00, document id (UTF-8): the client `_id` of each line that has one
    /// (what hits and `GET _doc` answer); absent from segments written before it existed.
    public static let segmentDocIDs = "docids"

    /// block number (u32 BE) → `BlockRef` (44 bytes): every sealed block of the segment, numbered
    /// in sealing order; the full-text index refers to blocks by these numbers.
    public static let segmentBlockDir = "blockdir"
    /// token (UTF-8, no 0x00), 0x00, first block number (u32 BE) → postings (`Postings`): for each
    /// block holding the token, the block number delta, how many of its lines hold the token and
    /// the highest such LSN as an offset from the block's first LSN (varints).
    public static let segmentPostings = "postings"

    /// pack number u32 BE → blocks concatenated (compacted segments): a `blocks` value is then a
    /// `BlockPointer` (at most 16 bytes) into a pack instead of the block itself.
    public static let segmentPacks = "packs"
    /// run's first token (UTF-8) → packed postings run (`PostingRuns`): the postings of the
    /// blocks a compaction saw, prefix-shared and zlib-compressed. Read together with `postings`.
    public static let segmentPostingRuns = "postruns"

    /// Compacted days (format 4) keep their tables as key ranges of this one LMDB table, each
    /// after its byte in `segmentSharedPrefixes`, so that the dozen small tables of a quiet day
    /// share leaf pages instead of taking at least a page each. `ids` keeps a table of its own
    /// (its keys may take LMDB's whole 511 bytes).
    public static let segmentShared = "shared"
    public static let segmentSharedPrefixes: [(name: String, prefix: UInt8)] = [
        (segmentMeta, 0x01), (segmentStreams, 0x02), (segmentStreamStats, 0x03), (segmentHead, 0x04), (segmentSealed, 0x05),
        (segmentBlockDir, 0x06), (segmentBlocks, 0x07), (segmentChunks, 0x08), (segmentDocIDs, 0x09), (segmentPostings, 0x0A),
        (segmentPostingRuns, 0x0B), (segmentPacks, 0x0C),
    ]
    /// The segment tables a compacted day keeps as tables of their own.
    public static let segmentSeparate = [segmentIDs]

    public static let metaFormat: [UInt8] = Array("format".utf8)
    public static let metaMaxLSN: [UInt8] = Array("maxLSN".utf8)
    /// u32 BE: the number the next sealed block gets.
    public static let metaNextBlock: [UInt8] = Array("nextBlock".utf8)
    /// u32 BE: blocks numbered below this are in `postings`; later ones are indexed in memory
    /// (`PendingIndex`) and rebuilt from their blocks at open.
    public static let metaIndexedBlocks: [UInt8] = Array("indexedBlocks".utf8)
    /// Present (empty value) when the day keeps no token index: a compaction found it smaller
    /// than `StorageOptions.minIndexedDayBytes`. `indexedBlocks` is then 0, every block is read
    /// by the searches that reach the day, and the writer indexes none of its blocks.
    public static let metaUnindexed: [UInt8] = Array("unindexed".utf8)

    /// u32 BE: 1 once a compaction wrote the segment in the compacted layout (packs, runs);
    /// 2 when that copy also left out the `streams` records (the catalog holds them) and the
    /// `sealed` marks of streams without head lines.
    public static let metaLayout: [UInt8] = Array("layout".utf8)
    public static let layoutCompacted: UInt32 = 1
    public static let layoutCompactedCatalogStreams: UInt32 = 2

    public static func u32(_ v: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: 4)
        w.u32BE(v)
        return w.bytes
    }

    public static func decodeU32(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> UInt32 {
        var r = ByteReader(bytes)
        return try r.u32BE()
    }

    /// Postings key: token, 0x00, first block number.
    public static func postingsKey(_ token: some Collection<UInt8>, firstBlock: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: token.count + 5)
        w.append(token)
        w.u8(0)
        w.u32BE(firstBlock)
        return w.bytes
    }

    // MARK: Encoders
    @inline(__always)
    public static func u64(_ v: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        w.u64BE(v)
        return w.bytes
    }

    @inline(__always)
    public static func streamLSN(_ stream: StreamID, _ lsn: LSN) -> [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.u64BE(stream)
        w.u64BE(lsn)
        return w.bytes
    }

    public static func day(_ day: Int32) -> [UInt8] {
        var w = ByteWriter(capacity: 4)
        w.u32BE(UInt32(bitPattern: day) ^ (1 << 31))
        return w.bytes
    }

    public static func decodeDay(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> Int32 {
        var r = ByteReader(bytes)
        return Int32(bitPattern: try r.u32BE() ^ (1 << 31))
    }

    public static func decodeU64(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> UInt64 {
        var r = ByteReader(bytes)
        return try r.u64BE()
    }

    /// Stream record (`StreamRecord`): index, workflow and job, a trailing UUID in 16 bytes;
    /// records written before are three length-prefixed UTF-8 strings, read as well.
    public static func encodeStreamKey(_ key: StreamKey) -> [UInt8] { StreamRecord.encode(key) }

    public static func decodeStreamKey(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> StreamKey {
        try StreamRecord.decode(bytes)
    }

    public static func encodeStats(_ s: StreamStats) -> [UInt8] {
        var w = ByteWriter(capacity: 40)
        w.varint(s.lines)
        w.varint(s.rawBytes)
        w.zigzag(s.firstTimestamp)
        w.zigzag(s.lastTimestamp)
        w.varint(s.lastLSN)
        return w.bytes
    }

    public static func decodeStats(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> StreamStats {
        var r = ByteReader(bytes)
        var s = StreamStats()
        s.lines = try r.varint()
        s.rawBytes = try r.varint()
        s.firstTimestamp = try r.zigzag()
        s.lastTimestamp = try r.zigzag()
        s.lastLSN = try r.varint()
        return s
    }

    /// Chunk record: first LSN, last LSN, count (varints), then the days the chunk's lines went
    /// to (zig-zag varints); a chunk counts as stored only when every listed day has its record.
    public static func encodeChunk(_ receipt: AppendReceipt, days: [Int32]) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.varint(receipt.firstLSN)
        w.varint(receipt.lastLSN)
        w.varint(UInt64(receipt.count))
        w.varint(UInt64(days.count))
        for day in days { w.zigzag(Int64(day)) }
        return w.bytes
    }

    public static func decodeChunk(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> (AppendReceipt, [Int32]) {
        var r = ByteReader(bytes)
        let first = try r.varint()
        let last = try r.varint()
        let count = Int(try r.varint())
        let n = try r.varint()
        guard n <= 100_000 else { throw CorruptDataError("chunk record lists \(n) days") }
        var days: [Int32] = []
        for _ in 0..<n { days.append(Int32(clamping: try r.zigzag())) }
        return (AppendReceipt(firstLSN: first, lastLSN: last, count: count), days)
    }

    public static func chunk(arrival: Int64, key: ChunkKey) -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.u64BE(UInt64(max(0, arrival)))
        w.append(key.bytes)
        return w.bytes
    }

    /// `ids` value: LSN, stream.
    public static func documentRecord(lsn: LSN, stream: StreamID) -> [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.u64BE(lsn)
        w.u64BE(stream)
        return w.bytes
    }

    /// An `ids` value: its LSN and stream (nil in a record written before streams were recorded).
    public static func decodeDocumentRecord(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> (LSN, StreamID?) {
        var r = ByteReader(bytes)
        let lsn = try r.u64BE()
        guard r.remaining >= 8 else { return (lsn, nil) }
        return (lsn, try r.u64BE())
    }

    public static func documentID(index: String, id: String) -> [UInt8] {
        var bytes = Array(index.utf8)
        bytes.append(0)
        bytes.append(contentsOf: id.utf8)
        return bytes
    }

    /// Head line: stream id (u64 LE), timestamp (i64 LE), message length (varint), message,
    /// fields (the rest); written into `w`, replacing what it held (reuses its buffer).
    static func encodeHeadLine(
        into w: inout ByteWriter, stream: StreamID, timestamp: Int64, message: UnsafeRawBufferPointer, fields: UnsafeRawBufferPointer
    ) {
        w.bytes.removeAll(keepingCapacity: true)
        w.u64LE(stream)
        w.u64LE(UInt64(bitPattern: timestamp))
        w.varint(UInt64(message.count))
        w.bytes.append(contentsOf: message)
        w.bytes.append(contentsOf: fields)
    }

    /// A head line's parts pointing into `value` (valid while `value` is: inside its transaction).
    static func headLineAsView(lsn: LSN, value: UnsafeRawBufferPointer) throws(CorruptDataError) -> (StreamID, LineView) {
        let (stream, ts, message, fields) = try headLineView(lsn: lsn, value: value)
        return (stream, LineView(timestamp: ts, lsn: lsn, message: message, fields: fields))
    }

    /// A head line's parts in place (valid while `value` is).
    static func headLineView(lsn: LSN, value: UnsafeRawBufferPointer) throws(CorruptDataError)
        -> (stream: StreamID, timestamp: Int64, message: UnsafeRawBufferPointer, fields: UnsafeRawBufferPointer)
    {
        var r = ByteReader(value)
        let stream = try r.u64LE()
        let ts = Int64(bitPattern: try r.u64LE())
        let n = try r.length()
        let message = try r.bytes(n)
        let fields = try r.bytes(r.remaining)
        return (stream, ts, message, fields)
    }

    public static func decodeHeadLine(lsn: LSN, value: UnsafeRawBufferPointer) throws(CorruptDataError) -> (StreamID, BlockLine) {
        var r = ByteReader(value)
        let stream = try r.u64LE()
        let ts = Int64(bitPattern: try r.u64LE())
        let n = try r.length()
        let message = try r.bytes(n).array
        let fields = try r.bytes(r.remaining).array
        return (stream, BlockLine(timestamp: ts, lsn: lsn, message: message, fields: fields))
    }
}
