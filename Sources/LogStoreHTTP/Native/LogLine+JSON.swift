import LogStore
import LogStoreIngest

extension LogLine {
    /// Appends the line as one JSON object, the shape of `/v1/logs`, `logstore logs --json` and
    /// `logstore search --json`: lsn, timestamp, log, index, workflow, job, fields (when
    /// `fields`), cursor.
    public func appendJSON(key: StreamKey?, fields withFields: Bool = true, to out: inout JSONText) {
        out.raw("{\"lsn\":")
        out.number(lsn)
        out.raw(",\"timestamp\":")
        out.string(Timestamp.formatRFC3339(timestamp))
        out.raw(",\"log\":")
        out.string(message)
        out.raw(",\"index\":")
        out.string(key?.index ?? "")
        out.raw(",\"workflow\":")
        out.string(key?.workflow ?? "")
        out.raw(",\"job\":")
        out.string(key?.job ?? "")
        if withFields {
            out.raw(",\"fields\":")
            out.raw(fields.isEmpty ? "{}" : fields)
        }
        out.raw(",\"cursor\":")
        out.string(position.description)
        out.raw("}")
    }
}
