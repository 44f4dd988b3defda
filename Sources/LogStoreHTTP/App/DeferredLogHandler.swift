import Logging

/// Standard error logging like swift-log's `StreamLogHandler`, with the same output, but the
/// metadata is formatted when a record is written rather than whenever it changes: the HTTP
/// server gives every request's logger a request id, and `StreamLogHandler` formatted all the
/// metadata again on each (2 % of the server's CPU on small bulk requests, none of which log).
public struct DeferredLogHandler: LogHandler {
    let label: String
    public var logLevel: Logger.Level = .info
    public var metadata = Logger.Metadata()
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String) {
        self.label = label
        metadataProvider = LoggingSystem.metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        handler.logLevel = logLevel
        handler.metadata = metadata
        handler.log(event: event)
    }
}
