/// Lines handed to `Storage.append` together, their bytes in one buffer (an arena).
///
/// The ingest path builds one per request: the messages and fields objects of all its lines sit
/// in `bytes`, lines are plain records pointing into it (several may share one fields object),
/// and each distinct stream is named once in `streams`, so the writer resolves a stream id once
/// per distinct stream and the request costs a handful of allocations, not several per line.
public struct LineBatch: Sendable {
    /// Messages and fields objects of the lines.
    public var bytes: [UInt8]
    /// The lines, in the order they were received.
    public var lines: [Line]
    /// The distinct streams of the lines.
    public var streams: [StreamKey]
    /// Document ids (bulk `_id`), referenced by ``Line/id``.
    public var ids: [String]
    /// Per id: true when the line replaces a stored document with the same id in its index
    /// (bulk `index`); false or absent when it is refused then (bulk `create`: a conflict).
    public var overwrites: [Bool]

    /// Whether the line with id number `id` replaces a stored document.
    public func replaces(_ id: Int32) -> Bool { Int(id) < overwrites.count && overwrites[Int(id)] }

    /// One line: where its message and fields are in `bytes`.
    public struct Line: Sendable, Equatable {
        /// Event time, nanoseconds since the Unix epoch, UTC.
        public var timestamp: Int64
        /// Index into ``LineBatch/streams``.
        public var stream: Int32
        /// Index into ``LineBatch/ids`` (the client `_id`: a line whose id is stored in its index
        /// already is refused, or replaces it, see ``LineBatch/overwrites``), or -1.
        public var id: Int32
        public var messageStart: Int
        public var messageCount: Int
        /// The compact JSON object of the other fields (`{}` when none).
        public var fieldsStart: Int
        public var fieldsCount: Int

        public init(
            timestamp: Int64, stream: Int32, id: Int32 = -1, messageStart: Int, messageCount: Int, fieldsStart: Int,
            fieldsCount: Int
        ) {
            self.timestamp = timestamp
            self.stream = stream
            self.id = id
            self.messageStart = messageStart
            self.messageCount = messageCount
            self.fieldsStart = fieldsStart
            self.fieldsCount = fieldsCount
        }

        /// Bytes this line counts as in "raw bytes" statistics.
        public var rawSize: Int { messageCount + fieldsCount }
    }

    /// Creates a batch from its parts; every range must lie in `bytes` and every stream and id
    /// index must be valid (checked: a bad batch is a bug of the caller).
    public init(bytes: [UInt8], lines: [Line], streams: [StreamKey], ids: [String] = [], overwrites: [Bool] = []) {
        for line in lines {
            precondition(
                line.stream >= 0 && Int(line.stream) < streams.count && line.id < ids.count && line.messageStart >= 0
                    && line.messageCount >= 0 && line.messageStart + line.messageCount <= bytes.count
                    && line.fieldsStart >= 0 && line.fieldsCount >= 0 && line.fieldsStart + line.fieldsCount <= bytes.count,
                "BUG: line batch entry out of range")
        }
        self.bytes = bytes
        self.lines = lines
        self.streams = streams
        self.ids = ids
        self.overwrites = overwrites
    }

    /// Copies `lines` into one batch.
    public init(_ lines: [IncomingLine]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.message.count + $1.fields.count })
        var records: [Line] = []
        records.reserveCapacity(lines.count)
        var streams: [StreamKey] = []
        var streamIndex: [StreamKey: Int32] = [:]
        var ids: [String] = []
        var overwrites: [Bool] = []
        var lastKey: StreamKey?
        var lastStream: Int32 = 0
        for line in lines {
            let stream: Int32
            if let lastKey, lastKey == line.stream {
                // Consecutive lines mostly share a stream: comparing is cheaper than hashing.
                stream = lastStream
            } else if let known = streamIndex[line.stream] {
                stream = known
            } else {
                stream = Int32(streams.count)
                streams.append(line.stream)
                streamIndex[line.stream] = stream
            }
            lastKey = line.stream
            lastStream = stream
            var id: Int32 = -1
            if let documentID = line.id {
                id = Int32(ids.count)
                ids.append(documentID)
                overwrites.append(line.overwrite)
            }
            let messageStart = bytes.count
            bytes.append(contentsOf: line.message)
            let fieldsStart = bytes.count
            bytes.append(contentsOf: line.fields)
            records.append(
                Line(
                    timestamp: line.timestamp, stream: stream, id: id, messageStart: messageStart,
                    messageCount: line.message.count, fieldsStart: fieldsStart, fieldsCount: line.fields.count))
        }
        self.bytes = bytes
        self.lines = records
        self.streams = streams
        self.ids = ids
        self.overwrites = overwrites
    }

    /// Number of lines.
    public var count: Int { lines.count }

    /// Line `i` as a stand-alone ``IncomingLine`` (its bytes copied): for tests and tools, not
    /// for the ingest path. `i` must be a valid line index.
    public func line(at i: Int) -> IncomingLine {
        let line = lines[i]
        return IncomingLine(
            stream: streams[Int(line.stream)], timestamp: line.timestamp,
            message: Array(bytes[line.messageStart..<(line.messageStart + line.messageCount)]),
            fields: Array(bytes[line.fieldsStart..<(line.fieldsStart + line.fieldsCount)]),
            id: line.id >= 0 ? ids[Int(line.id)] : nil, overwrite: line.id >= 0 && replaces(line.id))
    }
}
