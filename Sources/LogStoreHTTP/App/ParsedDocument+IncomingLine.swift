import LogStore
import LogStoreIngest

extension IncomingLine {
    /// The line the engine stores for a parsed document.
    public init(_ document: ParsedDocument) {
        self.init(
            stream: StreamKey(index: document.index, workflow: document.workflow, job: document.job),
            timestamp: document.timestamp, message: document.message, fields: document.fields, id: document.id)
    }
}

extension LineBatch {
    /// The lines the engine stores for a parsed batch (the buffer is moved, not copied).
    public init(_ batch: consuming DocumentBatch) {
        let streams = batch.streams.map { StreamKey(index: $0.index, workflow: $0.workflow, job: $0.job) }
        let lines = batch.documents.map {
            LineBatch.Line(
                timestamp: $0.timestamp, stream: $0.stream, id: $0.id, messageStart: $0.messageStart,
                messageCount: $0.messageCount, fieldsStart: $0.fieldsStart, fieldsCount: $0.fieldsCount)
        }
        self.init(bytes: batch.bytes, lines: lines, streams: streams, ids: batch.ids)
    }
}
