import LogStore

extension LogLine {
    /// Appends the line as one JSON object in the shape ``LogLineWriter`` writes (with its
    /// `fields` when `fields`): for a single line; an answer of many uses one writer.
    public func appendJSON(key: StreamKey?, fields: Bool = true, to out: inout JSONText) {
        var writer = LogLineWriter(keys: key.map { [stream: $0] } ?? [:], fields: fields)
        writer.append(self, to: &out)
    }
}
