import LogStore
import LogStoreIngest
import NIOCore

/// LogLineWriter is the one writer of the line shape of `/v1/logs`, `/v1/tail`, `/v1/search`,
/// `logstore logs --json` and `logstore search --json`:
/// `{"lsn":…,"timestamp":"…","log":"…","index":…,"workflow":…,"job":…[,"fields":{…}],"cursor":"<ns>-<lsn>"}`.
///
/// Lines read in place (``LinePage``) and materialized ``LogLine``s go through the same code.
/// The `index`/`workflow`/`job` members of each stream are written once per writer, so one
/// writer serves one answer.
struct LogLineWriter {
    let keys: [StreamID: StreamKey]
    /// Whether lines carry their `fields`.
    let fields: Bool
    private var cache: [StreamID: [UInt8]] = [:]
    private var lastStream: StreamID?
    private var lastMembers: [UInt8] = []
    /// Writes the lines' timestamps (keeps the date of the previous one).
    private var clock = RFC3339Writer()

    /// A writer for lines of the streams in `keys` (a stream not in it gets empty names).
    init(keys: [StreamID: StreamKey], fields: Bool) {
        self.keys = keys
        self.fields = fields
    }

    /// Writes the line `line` of `page` into `out`, after `separator` and before `terminator`
    /// when given.
    mutating func write(_ line: LinePage.Ref, of page: LinePage, separator: UInt8?, terminator: UInt8?, to out: inout ByteBuffer) {
        page.withMessageAndFields(line) { message, fieldBytes in
            let most = maxCount(message: message.count, fields: fieldBytes.count, stream: line.stream)
            out.writeJSON(maxCount: most) { c in
                write(
                    lsn: line.lsn, timestamp: line.timestamp, stream: line.stream, message: message, fields: fieldBytes,
                    separator: separator, terminator: terminator, to: &c)
            }
        }
    }

    /// Appends `line` to `out`.
    mutating func append(_ line: LogLine, to out: inout JSONText) {
        var message = line.message
        var fieldText = line.fields
        message.withUTF8 { message in
            fieldText.withUTF8 { fieldBytes in
                let most = maxCount(message: message.count, fields: fieldBytes.count, stream: line.stream)
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: most) { buffer in
                    guard let start = buffer.baseAddress else { return }
                    var c = JSONCursor(start)
                    write(
                        lsn: line.lsn, timestamp: line.timestamp, stream: line.stream, message: UnsafeRawBufferPointer(message),
                        fields: UnsafeRawBufferPointer(fieldBytes), separator: nil, terminator: nil, to: &c)
                    let written = c.position - start
                    precondition(written <= most, "BUG: LogLineWriter wrote \(written) bytes into room for \(most)")
                    out.raw(UnsafeRawBufferPointer(start: start, count: written))
                }
            }
        }
    }

    /// The most bytes one line takes: lsn and cursor 2 × 20 + 20 + 1 digits, keys and
    /// punctuation < 64, the timestamp, the escaped message, the stream's members, the fields.
    private mutating func maxCount(message: Int, fields fieldCount: Int, stream: StreamID) -> Int {
        128 + JSONCursor.maxTimestampCount + JSONCursor.maxStringCount(message) + members(stream).count
            + (fields ? fieldCount + 2 : 0)
    }

    private mutating func write(
        lsn: LSN, timestamp: Int64, stream: StreamID, message: UnsafeRawBufferPointer, fields fieldBytes: UnsafeRawBufferPointer,
        separator: UInt8?, terminator: UInt8?, to c: inout JSONCursor
    ) {
        let fields = fields
        var clock = clock
        defer { self.clock = clock }
        members(stream).withUnsafeBytes { members in
            if let separator { c.byte(separator) }
            c.raw("{\"lsn\":")
            c.number(lsn)
            c.raw(",\"timestamp\":\"")
            c.timestamp(timestamp, &clock)
            c.raw("\",\"log\":")
            c.string(message)
            c.raw(members)
            if fields {
                if fieldBytes.isEmpty {
                    c.raw("{}")
                } else if StoredSource.isTemplate(fieldBytes) {
                    // The members other than the message and the timestamp.
                    StoredSource.writeOtherFields(StoredSource.Template(fieldBytes), fields: fieldBytes, to: &c)
                } else {
                    c.raw(fieldBytes)
                }
            }
            c.raw(",\"cursor\":\"")
            c.number(timestamp)
            c.byte(UInt8(ascii: "-"))
            c.number(lsn)
            c.raw("\"}")
            if let terminator { c.byte(terminator) }
        }
    }

    /// `,"index":…,"workflow":…,"job":…` (and `,"fields":` when lines carry them) of `id`.
    private mutating func members(_ id: StreamID) -> [UInt8] {
        if id == lastStream { return lastMembers }
        let bytes: [UInt8]
        if let found = cache[id] {
            bytes = found
        } else {
            let key = keys[id]
            var out = JSONText(capacity: 96)
            out.raw(",\"index\":")
            out.string(key?.index ?? "")
            out.raw(",\"workflow\":")
            out.string(key?.workflow ?? "")
            out.raw(",\"job\":")
            out.string(key?.job ?? "")
            if fields { out.raw(",\"fields\":") }
            cache[id] = out.bytes
            bytes = out.bytes
        }
        lastStream = id
        lastMembers = bytes
        return bytes
    }
}
