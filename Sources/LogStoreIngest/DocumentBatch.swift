#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The documents of one request, parsed into one buffer: every document's fields object and
/// message sit in `bytes` (an arena), documents are plain records pointing into it, and each
/// distinct (index, workflow, job) is kept once in `streams`.
///
/// This is what the server's ingest path hands to the store: no per-document arrays or strings.
/// A document whose fields object is byte-for-byte the one of the previous document of the same
/// stream (FluentBit's labels repeat on every line of a container) shares its bytes.
public struct DocumentBatch: Sendable {
    /// Fields objects and decoded messages of the documents.
    public var bytes: [UInt8] = []
    /// The documents, in parse order.
    public var documents: [Document] = []
    /// Distinct streams of the documents, in first-seen order.
    public var streams: [Stream] = []
    /// Bulk `_id`s, referenced by ``Document/id``.
    public var ids: [String] = []

    /// Stream lookup state: keys (`index 0x00 workflow 0x00 job`), their hash table, the last hit.
    var keys: [StreamKeyBytes] = []
    var lookup: [UInt64: Int32] = [:]
    var lastStream: Int32 = -1
    /// Key of the document being parsed (reused between documents).
    var scratch: [UInt8] = []

    /// One parsed document.
    public struct Document: Sendable, Equatable {
        /// Event time, ns since the Unix epoch, UTC.
        public var timestamp: Int64
        /// Index into ``DocumentBatch/streams``.
        public var stream: Int32
        /// Index into ``DocumentBatch/ids``, or -1.
        public var id: Int32
        /// The decoded message in `bytes`.
        public var messageStart: Int
        public var messageCount: Int
        /// The fields object (compact JSON, `{}` when none) in `bytes`.
        public var fieldsStart: Int
        public var fieldsCount: Int
    }

    /// The (index, workflow, job) of documents; empty strings when not found.
    public struct Stream: Sendable, Hashable {
        public var index: String
        public var workflow: String
        public var job: String
    }

    struct StreamKeyBytes {
        var key: [UInt8]
        var indexCount: Int
        var workflowCount: Int
        /// The fields object of the stream's last document (for sharing), or start -1.
        var lastFieldsStart = -1
        var lastFieldsCount = 0
    }

    public init() {}

    /// Number of documents.
    public var count: Int { documents.count }

    /// Document `i` as a stand-alone ``ParsedDocument``.
    public func parsedDocument(_ i: Int) -> ParsedDocument {
        let d = documents[i]
        let s = streams[Int(d.stream)]
        return ParsedDocument(
            index: s.index, workflow: s.workflow, job: s.job, timestamp: d.timestamp,
            message: Array(bytes[d.messageStart..<(d.messageStart + d.messageCount)]),
            fields: Array(bytes[d.fieldsStart..<(d.fieldsStart + d.fieldsCount)]),
            id: d.id >= 0 ? ids[Int(d.id)] : nil)
    }

    /// The stream whose key is in `scratch` (`index 0x00 workflow 0x00 job`, with the given part
    /// lengths), added when new.
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
            Stream(
                index: index,
                workflow: String(decoding: scratch[workflowStart..<(workflowStart + workflowCount)], as: UTF8.self),
                job: String(decoding: scratch[jobStart..<n], as: UTF8.self)))
        keys.append(StreamKeyBytes(key: scratch, indexCount: indexCount, workflowCount: workflowCount))
        if lookup[h] == nil { lookup[h] = id }
        lastStream = id
        return id
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

extension DocumentBatch.StreamKeyBytes {
    @inline(__always)
    func matches(_ other: [UInt8], _ indexCount: Int, _ workflowCount: Int) -> Bool {
        guard key.count == other.count, self.indexCount == indexCount, self.workflowCount == workflowCount else {
            return false
        }
        return key.withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
                return memcmp(pa, pb, a.count) == 0
            }
        }
    }
}
