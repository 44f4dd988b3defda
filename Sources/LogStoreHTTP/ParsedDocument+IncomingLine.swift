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
