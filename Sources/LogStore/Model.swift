/// Identifies a stream inside one data directory (assigned by the writer, never reused).
public typealias StreamID = UInt64

/// Log sequence number: assigned by the writer in commit order, global to a data directory.
public typealias LSN = UInt64

/// One log file's worth of lines: the index it was sent to, its workflow and its job.
///
/// Empty strings mean "not given" (REANA's job documents carry no workflow id today).
public struct StreamKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var index: String
    public var workflow: String
    public var job: String

    public init(index: String, workflow: String, job: String) {
        self.index = index
        self.workflow = workflow
        self.job = job
    }

    public static func < (a: StreamKey, b: StreamKey) -> Bool {
        (a.index, a.workflow, a.job) < (b.index, b.workflow, b.job)
    }

    public var description: String { "\(index)/\(workflow.isEmpty ? "-" : workflow)/\(job.isEmpty ? "-" : job)" }
}

/// A line handed to `Storage.append`, before it has an LSN.
public struct IncomingLine: Sendable {
    public var stream: StreamKey
    /// Event time, nanoseconds since the Unix epoch, UTC.
    public var timestamp: Int64
    /// The message (`log` field), UTF-8.
    public var message: [UInt8]
    /// The document's other fields as a compact JSON object (`{}` when none).
    public var fields: [UInt8]
    /// The document id the sender gave (bulk `_id`): a second line with the same id in the same
    /// index and day is a duplicate and is not stored.
    public var id: String?

    public init(stream: StreamKey, timestamp: Int64, message: [UInt8], fields: [UInt8] = Array("{}".utf8), id: String? = nil) {
        self.stream = stream
        self.timestamp = timestamp
        self.message = message
        self.fields = fields
        self.id = id
    }

    public init(stream: StreamKey, timestamp: Int64, message: String, fields: String = "{}") {
        self.init(stream: stream, timestamp: timestamp, message: Array(message.utf8), fields: Array(fields.utf8))
    }

    /// Bytes this line counts as in "raw bytes" statistics.
    public var rawSize: Int { message.count + fields.count }
}

/// A stored line as read back.
public struct LogLine: Sendable, Equatable {
    public var lsn: LSN
    public var timestamp: Int64
    public var stream: StreamID
    public var message: String
    public var fields: String

    public init(lsn: LSN, timestamp: Int64, stream: StreamID, message: String, fields: String) {
        self.lsn = lsn
        self.timestamp = timestamp
        self.stream = stream
        self.message = message
        self.fields = fields
    }

    /// The line's position in log order.
    public var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
}

/// A position in log order: `(@timestamp, LSN)`. Used as the cursor for paging a log.
///
/// Its text form is `"<timestamp ns>-<lsn>"`, e.g. `1727178598253000000-42`.
public struct LogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var timestamp: Int64
    public var lsn: LSN

    public init(timestamp: Int64, lsn: LSN) {
        self.timestamp = timestamp
        self.lsn = lsn
    }

    /// Parses the text form; nil when it is not one.
    public init?(_ text: String) {
        guard let dash = text.lastIndex(of: "-"), dash != text.startIndex,
            let ts = Int64(text[..<dash]), let lsn = LSN(text[text.index(after: dash)...])
        else { return nil }
        self.init(timestamp: ts, lsn: lsn)
    }

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.lsn < b.lsn
    }

    public var description: String { "\(timestamp)-\(lsn)" }

    public static let minimum = LogPosition(timestamp: .min, lsn: 0)
    public static let maximum = LogPosition(timestamp: .max, lsn: .max)
}

/// Line counts and time range of a stream (in one segment, or in all of them).
public struct StreamStats: Sendable, Equatable {
    public var lines: UInt64 = 0
    public var rawBytes: UInt64 = 0
    public var firstTimestamp: Int64 = .max
    public var lastTimestamp: Int64 = .min
    public var lastLSN: LSN = 0

    public init() {}

    public mutating func add(timestamp: Int64, lsn: LSN, rawBytes: Int) {
        lines += 1
        self.rawBytes += UInt64(rawBytes)
        firstTimestamp = min(firstTimestamp, timestamp)
        lastTimestamp = max(lastTimestamp, timestamp)
        lastLSN = max(lastLSN, lsn)
    }

    public mutating func merge(_ other: StreamStats) {
        lines += other.lines
        rawBytes += other.rawBytes
        firstTimestamp = min(firstTimestamp, other.firstTimestamp)
        lastTimestamp = max(lastTimestamp, other.lastTimestamp)
        lastLSN = max(lastLSN, other.lastLSN)
    }
}

/// A stream as the store knows it.
public struct StreamInfo: Sendable, Equatable {
    public var id: StreamID
    public var key: StreamKey
    public var stats: StreamStats
    /// The days (UTC, days since the epoch) holding lines of this stream, ascending.
    public var days: [Int32]
}

/// What a successful `append` reports.
public struct AppendReceipt: Sendable, Equatable {
    /// LSNs given to the lines, in the order they were passed (0…0 for an empty append).
    public var firstLSN: LSN
    public var lastLSN: LSN
    /// Lines passed.
    public var count: Int
    /// True when the chunk key was seen before: nothing was stored this time, and the LSNs are
    /// those of the first time.
    public var duplicateChunk: Bool = false
    /// Lines not stored because a line with the same `id` was stored before.
    public var duplicateIDs: Int = 0

    public init(firstLSN: LSN, lastLSN: LSN, count: Int, duplicateChunk: Bool = false, duplicateIDs: Int = 0) {
        self.firstLSN = firstLSN
        self.lastLSN = lastLSN
        self.count = count
        self.duplicateChunk = duplicateChunk
        self.duplicateIDs = duplicateIDs
    }
}

/// Which way a log is read.
public enum ReadOrder: String, Sendable, CaseIterable {
    case ascending = "asc"
    case descending = "desc"
}
