import LogStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// LineBatchBuilder collects the parsed documents of one request into the parts of the engine's
/// ``LineBatch``: every document's fields object and message in one buffer, documents as plain
/// records pointing into it, each distinct (index, workflow, job) once.
///
/// The parsers append to it (``DocumentParser/parseObject(_:at:index:arrivalTime:into:wholeInput:)``)
/// and ``finish()`` hands the batch to `Storage.append` without copying. A document's stream is
/// found by comparing its key bytes with the previous document's, by hash otherwise, so no string
/// is made per line; a fields object byte-for-byte equal to the previous one of the same stream
/// (FluentBit repeats a container's labels on every line) is stored once.
public struct LineBatchBuilder: Sendable {
    /// Fields objects and decoded messages of the lines so far.
    public internal(set) var bytes: [UInt8] = []
    /// The lines so far, in parse order.
    public internal(set) var lines: [LineBatch.Line] = []
    /// Distinct streams of the lines, in first-seen order.
    public internal(set) var streams: [StreamKey] = []
    /// Bulk `_id`s, referenced by ``LineBatch/Line/id``.
    public internal(set) var ids: [String] = []
    /// Per id: true when a stored document with that id is replaced (bulk `index`), false when
    /// the line is refused (bulk `create`).
    public internal(set) var overwrites: [Bool] = []

    /// Stream lookup state: the key bytes of each stream, their hash table, the last hit.
    var keys: [StreamKeyBytes] = []
    var lookup: [UInt64: Int32] = [:]
    var lastStream: Int32 = -1
    /// Distinct UTC days of the lines so far (``TimeWindow/day(_:)``), for the days limit.
    var days: Set<Int64> = []
    /// The day of the previous line (most documents share their neighbour's day).
    var lastDay: Int64 = .min
    /// Key of the document being parsed (`index 0x00 workflow 0x00 job`, reused between documents).
    var scratch: [UInt8] = []

    /// Creates an empty builder with room for about `lines` lines of `bytes` bytes in all.
    public init(lines: Int = 0, bytes: Int = 0) {
        self.lines.reserveCapacity(lines)
        self.bytes.reserveCapacity(bytes)
    }

    /// Number of lines so far.
    public var count: Int { lines.count }

    /// The batch of every line added (the buffers are moved, not copied).
    public consuming func finish() -> LineBatch {
        LineBatch(bytes: bytes, lines: lines, streams: streams, ids: ids, overwrites: overwrites)
    }

    /// Gives the last line added the bulk `_id` `id`; `overwrite` replaces a stored document
    /// with that id (bulk `index`) instead of refusing the line (bulk `create`).
    mutating func setLastID(_ id: String, overwrite: Bool = false) {
        guard !lines.isEmpty else { preconditionFailure("BUG: an id for a batch without lines") }
        lines[lines.count - 1].id = Int32(ids.count)
        ids.append(id)
        overwrites.append(overwrite)
    }

    /// The stream whose key is in `scratch` (with the given part lengths), added when new.
    mutating func resolveStream(indexCount: Int, workflowCount: Int, index: String) -> Int32 {
        let n = scratch.count
        if lastStream >= 0 && keys[Int(lastStream)].matches(scratch, indexCount, workflowCount) { return lastStream }
        let h = scratch.withUnsafeBytes { Self.hash($0) }
        if let found = lookup[h] {
            if keys[Int(found)].matches(scratch, indexCount, workflowCount) {
                lastStream = found
                return found
            }
            // A hash collision (practically never): search every key.
            if let k = keys.firstIndex(where: { $0.matches(scratch, indexCount, workflowCount) }) {
                lastStream = Int32(k)
                return Int32(k)
            }
        }
        let id = Int32(streams.count)
        let workflowStart = indexCount + 1
        let jobStart = workflowStart + workflowCount + 1
        streams.append(
            StreamKey(
                index: index,
                workflow: String(decoding: scratch[workflowStart..<(workflowStart + workflowCount)], as: UTF8.self),
                job: String(decoding: scratch[jobStart..<n], as: UTF8.self)))
        keys.append(StreamKeyBytes(key: scratch, indexCount: indexCount, workflowCount: workflowCount))
        if lookup[h] == nil { lookup[h] = id }
        lastStream = id
        return id
    }

    /// Whether `bytes[start..<start+count]` equals `bytes[other..<other+count]`.
    func sameBytes(_ start: Int, _ other: Int, count: Int) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return count == 0 }
            return memcmp(base + start, base + other, count) == 0
        }
    }

    /// Moves `count` bytes at `from` down to `to` (overlapping allowed).
    mutating func moveBytes(from: Int, to: Int, count: Int) {
        guard count > 0 else { return }
        bytes.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            _ = memmove(base + to, base + from, count)
        }
    }

    /// A fast 64-bit hash of short keys (8 bytes at a time, multiply-xorshift).
    static func hash(_ data: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(data.count)
        var i = 0
        while i + 8 <= data.count {
            h = (h ^ data.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < data.count {
            tail |= UInt64(data[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }
}
