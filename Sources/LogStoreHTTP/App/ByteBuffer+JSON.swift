import LogStore
import LogStoreIngest
import NIOCore

extension ByteBuffer {
    /// Writes at most `maxCount` bytes through a `JSONCursor` straight into the buffer (which
    /// grows geometrically when it must): one capacity check per call, not per piece.
    @inlinable mutating func writeJSON(maxCount: Int, _ body: (inout JSONCursor) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: maxCount) { raw in
            let start = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var cursor = JSONCursor(start)
            body(&cursor)
            let written = cursor.position - start
            precondition(written <= raw.count, "BUG: JSONCursor wrote \(written) bytes into room for \(raw.count)")
            return written
        }
    }
}

extension JSONCursor {
    /// The most bytes `timestamp` writes.
    static let maxTimestampCount = 30

    /// `nanos` in RFC 3339 (see `Timestamp.formatRFC3339`), unquoted; `writer` keeps the date
    /// of the previous timestamp of the answer.
    @inlinable mutating func timestamp(_ nanos: Int64, _ writer: inout RFC3339Writer) {
        position += writer.write(nanos, to: position)
    }
}
